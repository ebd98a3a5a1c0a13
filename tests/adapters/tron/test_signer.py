"""The signer, offline: txID re-check, owner check, signatures tronpy agrees with."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from tronpy.keys import PrivateKey as TronpyKey

from tronproto.keys import PrivateKey, recover_address
from tronrent.adapters.tron.errors import SignerKeyMismatch, TransactionRejected, TxidMismatch
from tronrent.adapters.tron.port import SignedTx, UnsignedTx
from tronrent.adapters.tron.signer import compute_txid, sign_transaction, verified_unsigned

VECTORS = json.loads(
    (Path(__file__).resolve().parents[2] / "tronproto" / "data" / "vectors.json").read_text()
)
KEY = PrivateKey.from_hex("00" * 31 + "01")  # vectors.json privkey=1


def raw_for(owner_hex: str) -> dict[str, Any]:
    """The tronpy offline TransferContract vector with another owner."""
    [vector] = [v for v in VECTORS if v.get("name") == "tronpy offline TransferContract"]
    raw = copy.deepcopy(vector["raw_data"])
    raw["contract"][0]["parameter"]["value"]["owner_address"] = owner_hex
    return raw


class TestComputeTxid:
    @pytest.mark.parametrize(
        "vector",
        [v for v in VECTORS if v["kind"] == "unsigned_tx_json_to_txid"],
        ids=lambda v: v["name"],
    )
    def test_vectors(self, vector: dict[str, Any]) -> None:
        txid, raw_hex = compute_txid(vector["raw_data"])
        assert txid == vector["expected_txID"]
        assert raw_hex == vector["expected_raw_data_hex"]

    def test_garbage(self) -> None:
        with pytest.raises(TransactionRejected):
            compute_txid({"contract": [{"type": "NoSuchContract", "parameter": {"value": {}}}]})

    def test_node_txid_must_match(self) -> None:
        raw = raw_for(KEY.address_hex)
        txid, _ = compute_txid(raw)
        assert verified_unsigned(raw, txid.upper()).txid == txid
        with pytest.raises(TxidMismatch):
            verified_unsigned(raw, "00" * 32)


class TestSign:
    def test_signature_agrees_with_tronpy(self) -> None:
        raw = raw_for(KEY.address_hex)
        unsigned = verified_unsigned(raw, compute_txid(raw)[0])
        signed = sign_transaction(unsigned, KEY.hex())
        expected = TronpyKey(KEY.secret).sign_msg_hash(bytes.fromhex(unsigned.txid)).hex()
        assert signed.signature == (expected,)
        assert recover_address(bytes.fromhex(expected), bytes.fromhex(signed.txid)) == KEY.address
        assert sign_transaction(unsigned, KEY.secret) == signed  # bytes or hex, deterministic

    def test_tampered_raw_data_refused(self) -> None:
        raw = raw_for(KEY.address_hex)
        unsigned = verified_unsigned(raw, compute_txid(raw)[0])
        tampered = copy.deepcopy(raw)
        tampered["contract"][0]["parameter"]["value"]["amount"] = 10**12
        with pytest.raises(TxidMismatch):
            sign_transaction(UnsignedTx(unsigned.txid, tampered, unsigned.raw_data_hex), KEY.secret)

    def test_key_must_own_the_transaction(self) -> None:
        raw = raw_for(PrivateKey.random().address_hex)
        unsigned = verified_unsigned(raw, compute_txid(raw)[0])
        with pytest.raises(SignerKeyMismatch):
            sign_transaction(unsigned, KEY.secret)

    def test_malformed_key_is_not_echoed(self) -> None:
        raw = raw_for(KEY.address_hex)
        unsigned = verified_unsigned(raw, compute_txid(raw)[0])
        secret_looking = "zz" + "ab" * 31
        with pytest.raises(SignerKeyMismatch) as exc:
            sign_transaction(unsigned, secret_looking)
        assert "ab" * 8 not in str(exc.value) and "ab" * 8 not in repr(exc.value)

    def test_storable_round_trip(self) -> None:
        raw = raw_for(KEY.address_hex)
        signed = sign_transaction(verified_unsigned(raw, compute_txid(raw)[0]), KEY.secret)
        assert SignedTx.from_json(signed.to_json()) == signed
        assert signed.expiration_ms == raw["expiration"]
        assert signed.contract_type == "TransferContract"
        assert signed.owner_address_hex == KEY.address_hex
