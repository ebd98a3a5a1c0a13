"""Every vector of /work/shared/tron/vectors.json against tronproto."""

from __future__ import annotations

import json
from collections import Counter
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest

from tronproto import address, block, keys, tx

VECTORS_PATH = Path(__file__).resolve().parent / "data" / "vectors.json"


def load_vectors() -> list[dict[str, Any]]:
    return json.loads(VECTORS_PATH.read_text())


VECTORS = load_vectors()
KNOWN_KINDS = {
    "privkey_to_address",
    "address_hex_base58",
    "unsigned_tx_json_to_txid",
    "signed_tx_parts",
    "signed_tx_protobuf",
    "message_signature_tip191",
    "block_header_to_blockID",
    "ref_block_from_block_id",
    "energy_share_formula",
    "undelegate_usage_transfer",
}


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [v for v in VECTORS if v["kind"] == kind]


def ids(vs: list[dict[str, Any]]) -> list[str]:
    return [
        str(v.get("name") or v.get("address_base58") or v.get("block_id") or i)
        for i, v in enumerate(vs)
    ]


def test_every_kind_is_covered() -> None:
    kinds = Counter(v["kind"] for v in VECTORS)
    assert set(kinds) <= KNOWN_KINDS, set(kinds) - KNOWN_KINDS
    assert sum(kinds.values()) == len(VECTORS)


@pytest.mark.parametrize("v", by_kind("privkey_to_address"), ids=ids(by_kind("privkey_to_address")))
def test_privkey_to_address(v: dict[str, Any]) -> None:
    key = keys.PrivateKey.from_hex(v["private_key_hex"])
    assert key.address_base58 == v["expected_address_base58"]
    assert key.address_hex == v["expected_address_hex"]
    assert address.to_base58(v["expected_address_hex"]) == v["expected_address_base58"]
    assert address.to_hex(v["expected_address_base58"]) == v["expected_address_hex"]


@pytest.mark.parametrize("v", by_kind("address_hex_base58"), ids=ids(by_kind("address_hex_base58")))
def test_address_hex_base58(v: dict[str, Any]) -> None:
    assert address.to_base58(v["address_hex"]) == v["address_base58"]
    assert address.to_hex(v["address_base58"]) == v["address_hex"]
    assert address.is_valid_base58(v["address_base58"])
    # one changed character breaks the checksum
    b58 = v["address_base58"]
    broken = b58[:-1] + ("2" if b58[-1] != "2" else "3")
    assert not address.is_valid_base58(broken)


@pytest.mark.parametrize(
    "v", by_kind("unsigned_tx_json_to_txid"), ids=ids(by_kind("unsigned_tx_json_to_txid"))
)
def test_unsigned_tx_json_to_txid(v: dict[str, Any]) -> None:
    raw = tx.raw_data_to_bytes(v["raw_data"])
    assert raw.hex() == v["expected_raw_data_hex"]
    assert tx.txid(v["raw_data"]) == v["expected_txID"]
    # decode back (hex and visible forms) and re-encode to the same bytes
    for visible in (False, True):
        decoded = tx.raw_data_from_bytes(raw, visible=visible)
        assert tx.raw_data_to_bytes(decoded) == raw
    decoded = tx.raw_data_from_bytes(raw)
    value = v["raw_data"]["contract"][0]["parameter"]["value"]
    got = decoded["contract"][0]["parameter"]["value"]
    assert {k: x for k, x in value.items() if x not in (0, False, "")} == got


@pytest.mark.parametrize("v", by_kind("signed_tx_parts"), ids=ids(by_kind("signed_tx_parts")))
def test_signed_tx_parts(v: dict[str, Any]) -> None:
    raw = bytes.fromhex(v["raw_data_hex"])
    assert sha256(raw).hexdigest() == v["expected_txID"]
    decoded = tx.raw_data_from_bytes(raw)
    assert tx.raw_data_to_bytes(decoded) == raw
    sig = bytes.fromhex(v["signature"])
    assert (
        keys.recover_public_key(sig, bytes.fromhex(v["expected_txID"])).hex()
        == v["signer_public_key"]
    )
    signer = keys.recover_address(sig, bytes.fromhex(v["expected_txID"]))
    assert signer.hex() == v["expected_signer_hex"]
    assert address.to_base58(signer) == v["expected_signer_base58"]
    assert decoded["contract"][0]["parameter"]["value"]["owner_address"] == signer.hex()


@pytest.mark.parametrize("v", by_kind("signed_tx_protobuf"), ids=ids(by_kind("signed_tx_protobuf")))
def test_signed_tx_protobuf(v: dict[str, Any]) -> None:
    raw, sigs = tx.transaction_from_bytes(bytes.fromhex(v["transaction_protobuf_hex"]))
    assert raw.hex() == v["expected_raw_data_hex"]
    assert tx.txid_bytes(raw).hex() == v["expected_txID"]
    assert [s.hex() for s in sigs] == [v["expected_signature"]]
    signer = keys.recover_address(sigs[0], tx.txid_bytes(raw))
    assert signer.hex() == v["expected_signer_hex"]
    assert address.to_base58(signer) == v["expected_signer_base58"]
    assert tx.transaction_to_bytes(raw, sigs).hex() == v["transaction_protobuf_hex"]


@pytest.mark.parametrize(
    "v", by_kind("message_signature_tip191"), ids=ids(by_kind("message_signature_tip191"))
)
def test_message_signature_tip191(v: dict[str, Any]) -> None:
    key = keys.PrivateKey.from_hex(v["private_key_hex"])
    message = bytes.fromhex(v["message_hex"])
    assert keys.tip191_hash(message).hex() == v["expected_message_hash"]
    assert key.sign_message(message).hex() == v["expected_signature_v27"]
    signer = keys.recover_message_address(message, bytes.fromhex(v["expected_signature_v27"]))
    assert address.to_base58(signer) == v["expected_address"]


@pytest.mark.parametrize(
    "v", by_kind("block_header_to_blockID"), ids=ids(by_kind("block_header_to_blockID"))
)
def test_block_header_to_block_id(v: dict[str, Any]) -> None:
    header = v["block_header_raw_data"]
    raw = block.block_header_raw_to_bytes(header)
    assert raw.hex() == v["expected_block_header_raw_hex"]
    assert block.block_id(header["number"], raw).hex() == v["expected_blockID"]
    signer = keys.recover_address(
        bytes.fromhex(v["witness_signature"]), block.block_header_hash(raw)
    )
    assert signer.hex() == header["witness_address"]


@pytest.mark.parametrize(
    "v", by_kind("ref_block_from_block_id"), ids=ids(by_kind("ref_block_from_block_id"))
)
def test_ref_block_from_block_id(v: dict[str, Any]) -> None:
    assert int(v["block_id"][:16], 16) == v["block_number"]
    assert tx.ref_block_fields(v["block_id"]) == (
        v["expected_ref_block_bytes"],
        v["expected_ref_block_hash"],
    )


def test_sign_is_deterministic_and_recovers() -> None:
    key = keys.PrivateKey.from_hex("11" * 32)
    digest = sha256(b"x").digest()
    sig = key.sign_hash(digest)
    assert sig == key.sign_hash(digest)
    assert len(sig) == 65 and sig[64] in (0, 1)
    assert keys.recover_address(sig, digest) == key.address
