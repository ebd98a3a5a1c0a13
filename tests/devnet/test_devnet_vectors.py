"""Every vector of vectors.json that a node can see, passed through the devnet's HTTP API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from trondevnet.config import DevnetConfig
from trondevnet.server import DevnetServer
from trondevnet.testing import build_raw, sign_raw, submit
from tronproto import address, block, keys, tx

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "tronproto" / "data" / "vectors.json").read_text()
)
TRX = 1_000_000


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [v for v in VECTORS if v["kind"] == kind]


@pytest.mark.parametrize("v", by_kind("unsigned_tx_json_to_txid"), ids=lambda v: v["name"])
async def test_unsigned_tx_vectors(http: httpx.AsyncClient, v: dict[str, Any]) -> None:
    body = {"txID": "", "raw_data": v["raw_data"], "signature": [], "permission": None}
    weight = (await http.post("wallet/getsignweight", json=body)).json()
    inner = weight["transaction"]["transaction"]
    assert inner["txID"] == v["expected_txID"]
    assert inner["raw_data_hex"] == v["expected_raw_data_hex"]
    # broadcast: refused (unknown reference block) but with the right txid
    out = (await http.post("wallet/broadcasttransaction", json=body)).json()
    assert out["txid"] == v["expected_txID"]
    assert out["code"] == "TAPOS_ERROR"
    assert bytes.fromhex(out["message"]).decode() == "Tapos check error."


@pytest.mark.parametrize("v", by_kind("signed_tx_parts") + by_kind("signed_tx_protobuf"))
async def test_signed_tx_vectors(
    devnet: DevnetServer, http: httpx.AsyncClient, v: dict[str, Any]
) -> None:
    raw_hex = v.get("raw_data_hex") or v["expected_raw_data_hex"]
    signature = v.get("signature") or v["expected_signature"]
    devnet.chain.faucet(bytes.fromhex(v["expected_signer_hex"]), 1 * TRX)
    raw = bytes.fromhex(raw_hex)
    signed = tx.transaction_to_bytes(raw, [bytes.fromhex(signature)])
    out = (await http.post("wallet/broadcasthex", json={"transaction": signed.hex()})).json()
    assert out["txid"] == v["expected_txID"]
    assert out["code"] == "TAPOS_ERROR"
    body = {
        "raw_data": tx.raw_data_from_bytes(raw, visible=True),
        "signature": [signature],
        "visible": True,
    }
    weight = (await http.post("wallet/getsignweight", json=body)).json()
    assert weight["transaction"]["transaction"]["txID"] == v["expected_txID"]
    assert weight["transaction"]["transaction"]["raw_data_hex"] == raw_hex
    assert weight["approved_list"] == [v["expected_signer_base58"]]
    assert weight["result"] == {"code": "ENOUGH_PERMISSION"}


@pytest.mark.parametrize("v", by_kind("address_hex_base58") + by_kind("privkey_to_address"))
async def test_address_vectors(
    devnet: DevnetServer, http: httpx.AsyncClient, v: dict[str, Any]
) -> None:
    hex_form = v.get("address_hex") or v["expected_address_hex"]
    b58_form = v.get("address_base58") or v["expected_address_base58"]
    r = await http.post("devnet/faucet", json={"address": b58_form, "trx_sun": 3 * TRX})
    assert r.json()["address"] == b58_form
    got = (await http.post("wallet/getaccount", json={"address": hex_form, "visible": True})).json()
    assert got["address"] == b58_form
    got = (await http.post("wallet/getaccount", json={"address": b58_form})).json()
    assert got["address"] == hex_form
    check = (await http.post("wallet/validateaddress", json={"address": b58_form})).json()
    assert check["result"] is True
    if "private_key_hex" in v:
        key = keys.PrivateKey.from_hex(v["private_key_hex"])
        record = submit(
            devnet.chain,
            key,
            "TransferContract",
            {
                "to_address": address.to_hex("TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5zru"),
                "amount": 1,
            },
        )
        assert keys.recover_address(record.signatures[0], record.txid).hex() == hex_form


async def test_block_vectors_rule_on_devnet_blocks(
    devnet: DevnetServer, http: httpx.AsyncClient
) -> None:
    v = by_kind("block_header_to_blockID")[0]
    raw = block.block_header_raw_to_bytes(v["block_header_raw_data"])
    assert block.block_id(v["block_header_raw_data"]["number"], raw).hex() == v["expected_blockID"]
    devnet.node.produce(2)
    for visible in (False, True):
        now = (await http.post("wallet/getnowblock", json={"visible": visible})).json()
        header = dict(now["block_header"]["raw_data"])
        header["witness_address"] = address.to_hex(header["witness_address"])
        raw = block.block_header_raw_to_bytes(header)
        assert block.block_id(header["number"], raw).hex() == now["blockID"]
        signer = keys.recover_address(
            bytes.fromhex(now["block_header"]["witness_signature"]), block.block_header_hash(raw)
        )
        assert signer.hex() == header["witness_address"]
        parent = (
            await http.post("wallet/getblockbynum", json={"num": header["number"] - 1})
        ).json()
        assert parent["blockID"] == header["parentHash"]
    info = (await http.post("wallet/getnodeinfo")).json()
    ref_id = info["solidityBlock"].split(",ID:")[1]
    ref_bytes, ref_hash = tx.ref_block_fields(ref_id)
    assert ref_bytes == f"{int(ref_id[:16], 16) & 0xFFFF:04x}"
    assert ref_hash == ref_id[16:32]


@pytest.mark.parametrize("case", by_kind("energy_share_formula")[0]["cases"])
async def test_energy_share_formula(case: dict[str, int]) -> None:
    v = by_kind("energy_share_formula")[0]
    async with DevnetServer(
        port=0,
        total_energy_limit=v["total_energy_limit"],
        virtual_energy_weight=0,
        produce_blocks=False,
    ) as node:
        key = keys.PrivateKey.random()
        node.chain.faucet(key.address, 10 * TRX)
        submit(
            node.chain,
            key,
            "FreezeBalanceV2Contract",
            {
                "frozen_balance": case["frozen_sun"],
                "resource": "ENERGY",
            },
        )
        staked_trx = case["frozen_sun"] // TRX
        async with httpx.AsyncClient(base_url=node.url) as http:
            await http.post(
                "devnet/energy_weight",
                json={"virtual_energy_weight": case["total_energy_weight_trx"] - staked_trx},
            )
            res = (
                await http.post(
                    "wallet/getaccountresource",
                    json={
                        "address": key.address_base58,
                        "visible": True,
                    },
                )
            ).json()
        assert res["TotalEnergyWeight"] == case["total_energy_weight_trx"]
        assert res["EnergyLimit"] == case["expected_energy_limit"]


def test_undelegate_usage_transfer_vector() -> None:
    v = by_kind("undelegate_usage_transfer")[0]
    # energy_per_trx 0.2: TotalEnergyLimit / TotalEnergyWeight = 1,000 / 5,000
    config = DevnetConfig(
        total_energy_limit=1_000,
        virtual_energy_weight=0,
        usdt_energy_existing_holder=50,
        usdt_energy_new_holder=75,
        memo_fee=0,
    )
    from trondevnet.chain import Chain

    chain = Chain(config, clock=lambda: 1_700_000_000_000)
    owner, receiver, other = (keys.PrivateKey.random() for _ in range(3))
    chain.faucet(owner.address, 10_000 * TRX, usdt_units=10)
    chain.faucet(receiver.address, 10_000 * TRX, usdt_units=10)
    chain.faucet(other.address, 1 * TRX, usdt_units=1)
    balance = v["undelegate_balance_sun"]
    recv_total = v["receiver_all_frozen_for_energy_sun"]
    submit(
        chain,
        owner,
        "FreezeBalanceV2Contract",
        {"frozen_balance": 4_500 * TRX, "resource": "ENERGY"},
    )
    submit(
        chain,
        receiver,
        "FreezeBalanceV2Contract",
        {
            "frozen_balance": recv_total - balance,
            "resource": "ENERGY",
        },
    )
    submit(
        chain,
        owner,
        "DelegateResourceContract",
        {
            "receiver_address": receiver.address_hex,
            "balance": balance,
            "resource": "ENERGY",
        },
    )
    assert chain.total_energy_weight == 5_000 - 200  # 4,500 + 300 TRX staked
    chain.set_virtual_energy_weight(200)
    assert chain.config.total_energy_limit / chain.total_energy_weight == v["energy_per_trx"]

    def data_to(k: keys.PrivateKey) -> str:
        return "a9059cbb" + "00" * 12 + k.address[1:].hex() + f"{1:064x}"

    fee = {"fee_limit": 10 * TRX}
    submit(
        chain,
        owner,
        "TriggerSmartContract",
        {  # owner: 75 energy (new holder)
            "contract_address": chain.usdt_address.hex(),
            "data": data_to(keys.PrivateKey.random()),
        },
        **fee,
    )
    submit(
        chain,
        receiver,
        "TriggerSmartContract",
        {  # receiver: 50 energy (existing holder)
            "contract_address": chain.usdt_address.hex(),
            "data": data_to(other),
        },
        **fee,
    )
    o, r = chain.accounts[owner.address], chain.accounts[receiver.address]
    assert (chain.energy_used(o), chain.energy_used(r)) == (75, v["receiver_energy_usage"])
    assert r.energy_stake() == recv_total
    record = submit(
        chain,
        owner,
        "UnDelegateResourceContract",
        {
            "receiver_address": receiver.address_hex,
            "balance": balance,
            "resource": "ENERGY",
        },
    )
    assert record.extra["usage_transferred"] == v["expected_transfer_usage"]
    assert chain.energy_used(o) == 95
    assert chain.energy_used(r) == 30
    raw = build_raw(
        chain,
        "TransferContract",
        {
            "owner_address": owner.address_hex,
            "to_address": other.address_hex,
            "amount": 1,
        },
    )
    assert len(sign_raw(raw, owner)[0]) == 65
