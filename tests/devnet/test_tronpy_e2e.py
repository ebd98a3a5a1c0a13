"""Unmodified tronpy AsyncTron end to end against the in-process devnet."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from tronpy import AsyncTron
from tronpy.exceptions import (
    BadSignature,
    TaposError,
    TransactionError,
    TvmError,
    UnknownError,
    ValidationError,
)
from tronpy.keys import PrivateKey as TronpyKey

from trondevnet.server import DevnetServer

TRX = 1_000_000
Funder = Callable[..., TronpyKey]


def b58(key: TronpyKey) -> str:
    return str(key.public_key.to_base58check_address())


WAIT: dict[str, Any] = {"timeout": 10, "interval": 0.05}


async def send(txn: Any, key: TronpyKey) -> dict[str, Any]:
    ret = await txn.sign(key).broadcast()
    info: dict[str, Any] = await ret.wait(**WAIT)
    return info


async def wait_until_chain_time(devnet: DevnetServer, ts_ms: int) -> None:
    while devnet.chain.head.timestamp <= ts_ms:  # noqa: ASYNC110 - polling the chain clock
        await asyncio.sleep(0.02)


async def test_transfer_with_memo_to_new_and_existing_account(
    devnet: DevnetServer, tron: AsyncTron, funded: Funder
) -> None:
    alice = funded(100 * TRX)
    bob = TronpyKey.random()
    txn = await tron.trx.transfer(b58(alice), b58(bob), 5 * TRX).memo("order-42").build()
    assert txn.txid == __import__("tronproto.tx", fromlist=["txid"]).txid(txn._raw_data)
    info = await send(txn, alice)
    # new account: 1 TRX creation fee + 0.1 TRX (no staked bandwidth) + 1 TRX memo fee
    assert info["fee"] == 2_100_000
    assert info["receipt"] == {"net_fee": 100_000}
    assert await tron.get_account_balance(b58(bob)) == 5
    got = await tron.get_transaction(txn.txid)
    assert got["ret"] == [{"contractRet": "SUCCESS"}]
    assert got["raw_data"]["data"] == b"order-42".hex()
    # to an existing account, without memo: paid by free bandwidth
    txn = await tron.trx.transfer(b58(alice), b58(bob), 1 * TRX).build()
    info = await send(txn, alice)
    assert "fee" not in info
    assert 250 < info["receipt"]["net_usage"] < 300
    account = await tron.get_account(b58(alice))
    assert account["balance"] == 100 * TRX - 5 * TRX - 2_100_000 - 1 * TRX
    assert account["free_net_usage"] > 0
    assert await tron.get_bandwidth(b58(alice)) < 600


async def test_node_info_blocks_and_parameters(
    devnet: DevnetServer, tron: AsyncTron, funded: Funder
) -> None:
    num = await tron.get_latest_block_number()
    block = await tron.get_block(num)
    # java-tron's JSON omits proto3 defaults: the genesis block (num 0) has no "number"
    assert block["block_header"]["raw_data"].get("number", 0) == num
    assert await tron.get_latest_solid_block_id() == block["blockID"] or num < (
        await tron.get_latest_block_number()
    )
    params = {p["key"]: p.get("value", 0) for p in await tron.get_chain_parameters()}
    assert params["getEnergyFee"] == 100
    assert params["getTransactionFee"] == 1000
    assert params["getMaxDelegateLockPeriod"] > 0


async def test_freeze_gives_the_formula_energy_limit(
    devnet: DevnetServer, tron: AsyncTron, funded: Funder
) -> None:
    alice = funded(20_000 * TRX)
    txn = await tron.trx.freeze_balance(b58(alice), 10_000 * TRX, "ENERGY").build()
    await send(txn, alice)
    res = await tron.get_account_resource(b58(alice))
    expected = int(10_000 * (res["TotalEnergyLimit"] / res["TotalEnergyWeight"]))
    assert res["EnergyLimit"] == expected
    assert 9 * 10_000 < expected < 11 * 10_000  # ~10 energy per TRX, like mainnet
    account = await tron.get_account(b58(alice))
    assert account["frozenV2"] == [
        {},
        {"type": "ENERGY", "amount": 10_000 * TRX},
        {"type": "TRON_POWER"},
    ]
    size = await tron.get_can_delegated_max_size(b58(alice), "ENERGY")
    assert size == {"max_size": 10_000 * TRX}


async def test_delegate_with_and_without_lock(
    devnet: DevnetServer, tron: AsyncTron, funded: Funder
) -> None:
    owner = funded(20_000 * TRX)
    receiver = funded(1 * TRX)
    await send(await tron.trx.freeze_balance(b58(owner), 10_000 * TRX, "ENERGY").build(), owner)
    # without lock: undelegate right away is accepted
    txn = await tron.trx.delegate_resource(b58(owner), b58(receiver), 1_000 * TRX, "ENERGY").build()
    await send(txn, owner)
    res = await tron.get_account_resource(b58(receiver))
    assert res["EnergyLimit"] == int(1_000 * res["TotalEnergyLimit"] / res["TotalEnergyWeight"])
    txn = await tron.trx.undelegate_resource(
        b58(owner), b58(receiver), 1_000 * TRX, "ENERGY"
    ).build()
    await send(txn, owner)
    assert await tron.get_delegated_resource_v2(b58(owner), b58(receiver)) == {}
    # with a lock of 20 blocks (1 s with 50 ms blocks)
    txn = await tron.trx.delegate_resource(
        b58(owner), b58(receiver), 2_000 * TRX, "ENERGY", lock=True, lock_period=20
    ).build()
    info = await send(txn, owner)
    records = (await tron.get_delegated_resource_v2(b58(owner), b58(receiver)))["delegatedResource"]
    assert len(records) == 1
    expire = records[0]["expire_time_for_energy"]
    assert records[0]["frozen_balance_for_energy"] == 2_000 * TRX
    assert expire - info["blockTimeStamp"] <= 20 * 50
    index = await tron.get_delegated_resource_account_index_v2(b58(owner))
    assert index["toAccounts"] == [b58(receiver)]
    txn = await tron.trx.undelegate_resource(
        b58(owner), b58(receiver), 2_000 * TRX, "ENERGY"
    ).build()
    with pytest.raises(ValidationError) as exc:
        await txn.sign(owner).broadcast()
    assert str(exc.value) == (
        "Contract validate error : insufficient delegateFrozenBalance(Energy), "
        f"request={2_000 * TRX}, unlock_balance=0"
    )
    await wait_until_chain_time(devnet, expire)
    txn = await tron.trx.undelegate_resource(
        b58(owner), b58(receiver), 2_000 * TRX, "ENERGY"
    ).build()
    await send(txn, owner)
    assert (await tron.get_account(b58(owner)))["frozenV2"][1]["amount"] == 10_000 * TRX


async def usdt_transfer(
    tron: AsyncTron, devnet: DevnetServer, sender: TronpyKey, to: str, amount: int, fee_limit: int
) -> dict[str, Any]:
    contract = await tron.get_contract(devnet.config.usdt_address)
    method = await contract.functions.transfer(to, amount)
    txn = await method.with_owner(b58(sender)).fee_limit(fee_limit).build()
    ret = await txn.sign(sender).broadcast()
    info: dict[str, Any] = await ret.wait(**WAIT)
    return info


async def test_usdt_paid_by_delegated_energy_and_usage_transfer(
    devnet: DevnetServer, tron: AsyncTron, funded: Funder
) -> None:
    pool = funded(20_000 * TRX)
    payer = funded(1 * TRX, usdt_units=100 * TRX)
    holder = funded(0, usdt_units=1)
    await send(await tron.trx.freeze_balance(b58(pool), 10_000 * TRX, "ENERGY").build(), pool)
    await send(
        await tron.trx.delegate_resource(b58(pool), b58(payer), 7_000 * TRX, "ENERGY").build(), pool
    )
    contract = await tron.get_contract(devnet.config.usdt_address)
    assert await contract.functions.symbol() == "USDT"
    assert await contract.functions.decimals() == 6
    estimate = await tron.get_estimated_energy(
        b58(payer),
        devnet.config.usdt_address,
        "transfer(address,uint256)",
        "00" * 12 + bytes.fromhex(holder.public_key.to_hex_address())[1:].hex() + f"{10**6:064x}",
    )
    assert estimate == 64_285
    info = await usdt_transfer(tron, devnet, payer, b58(holder), 10**6, 30 * TRX)
    assert "fee" not in info  # paid by delegated energy and free bandwidth
    assert info["receipt"]["energy_usage"] == 64_285
    assert info["receipt"]["energy_usage_total"] == 64_285
    assert info["receipt"]["result"] == "SUCCESS"
    assert 300 < info["receipt"]["net_usage"] < 400
    assert info["log"][0]["topics"][0].startswith("ddf252ad")
    assert await contract.functions.balanceOf(b58(holder)) == 10**6 + 1
    assert await tron.get_account_balance(b58(payer)) == 1
    payer_used = (await tron.get_account_resource(b58(payer)))["EnergyUsed"]
    assert 64_000 < payer_used <= 64_285
    # undelegate everything: the receiver's unrecovered usage moves to the pool account
    txn = await tron.trx.undelegate_resource(b58(pool), b58(payer), 7_000 * TRX, "ENERGY").build()
    info = await send(txn, pool)
    pool_res = await tron.get_account_resource(b58(pool))
    payer_res = await tron.get_account_resource(b58(payer))
    assert 63_000 < pool_res["EnergyUsed"] <= payer_used
    assert payer_res.get("EnergyUsed", 0) == 0
    size = (await tron.get_can_delegated_max_size(b58(pool), "ENERGY"))["max_size"]
    assert size < 10_000 * TRX  # capacity only really back once that usage recovers


async def test_usdt_transfer_burns_trx_and_out_of_energy(
    devnet: DevnetServer, tron: AsyncTron, funded: Funder
) -> None:
    payer = funded(100 * TRX, usdt_units=50 * TRX)
    fresh = TronpyKey.random()
    info = await usdt_transfer(tron, devnet, payer, b58(fresh), 10**6, 30 * TRX)
    receipt = info["receipt"]
    assert receipt["energy_usage_total"] == 130_285  # new holder: a new storage slot
    assert receipt["energy_fee"] == 130_285 * 100
    assert info["fee"] == receipt["energy_fee"] + receipt.get("net_fee", 0)
    balance = (await tron.get_account(b58(payer)))["balance"]
    assert balance == 100 * TRX - info["fee"]
    # fee_limit too low: OUT_OF_ENERGY, included in a block as FAILED, fee_limit burnt
    contract = await tron.get_contract(devnet.config.usdt_address)
    method = await contract.functions.transfer(b58(fresh), 10**6)
    txn = await method.with_owner(b58(payer)).fee_limit(1 * TRX).build()
    ret = await txn.sign(payer).broadcast()
    with pytest.raises(TvmError):
        await ret.result(**WAIT)
    info = await tron.get_transaction_info(ret.txid)
    assert info["result"] == "FAILED"
    assert info["receipt"]["result"] == "OUT_OF_ENERGY"
    assert info["receipt"]["energy_fee"] == 1 * TRX
    assert (await tron.get_transaction(ret.txid))["ret"] == [{"contractRet": "OUT_OF_ENERGY"}]
    assert await contract.functions.balanceOf(b58(fresh)) == 10**6


async def test_bad_signature(devnet: DevnetServer, tron: AsyncTron, funded: Funder) -> None:
    alice = funded(10 * TRX)
    mallory = TronpyKey.random()
    txn = await tron.trx.transfer(b58(alice), b58(mallory), 1 * TRX).build()
    txn._signature.append(mallory.sign_msg_hash(bytes.fromhex(txn.txid)).hex())
    with pytest.raises(BadSignature) as exc:
        await txn.broadcast()
    assert str(exc.value).startswith("Validate signature error: ")
    assert f"is signed by {b58(mallory)} but it is not contained of permission." in str(exc.value)


async def test_expired_transaction(devnet: DevnetServer, tron: AsyncTron, funded: Funder) -> None:
    alice = funded(10 * TRX)
    txn = await tron.trx.transfer(b58(alice), b58(TronpyKey.random()), 1 * TRX).build()
    txn._raw_data["expiration"] = devnet.chain.head.timestamp - 1
    await txn.check_sign_weight()  # the node hands back the new txID
    txn._signature.append(alice.sign_msg_hash(bytes.fromhex(txn.txid)).hex())
    with pytest.raises(TransactionError) as exc:
        await txn.broadcast()
    assert str(exc.value) == "Transaction expired"


async def test_duplicate_and_tapos(devnet: DevnetServer, tron: AsyncTron, funded: Funder) -> None:
    alice = funded(10 * TRX)
    txn = await tron.trx.transfer(b58(alice), b58(TronpyKey.random()), 1 * TRX).build()
    txn.sign(alice)
    await txn.broadcast()
    with pytest.raises(UnknownError) as exc:
        await txn.broadcast()
    assert exc.value.args == ("Dup transaction.", "DUP_TRANSACTION_ERROR")
    txn = await tron.trx.transfer(b58(alice), b58(TronpyKey.random()), 1 * TRX).build()
    txn._raw_data["ref_block_hash"] = "00" * 8
    await txn.check_sign_weight()
    txn.sign(alice)
    with pytest.raises(TaposError) as exc2:
        await txn.broadcast()
    assert str(exc2.value) == "Tapos check error."


async def test_insufficient_balance(devnet: DevnetServer, tron: AsyncTron, funded: Funder) -> None:
    alice = funded(10 * TRX)
    txn = await tron.trx.transfer(b58(alice), b58(TronpyKey.random()), 10 * TRX).build()
    with pytest.raises(ValidationError) as exc:
        await txn.sign(alice).broadcast()
    assert str(exc.value) == (
        "Contract validate error : Validate TransferContract error, balance is not sufficient."
    )
    txn = await tron.trx.freeze_balance(b58(alice), 20 * TRX, "ENERGY").build()
    with pytest.raises(ValidationError, match="frozenBalance must be less than or equal to"):
        await txn.sign(alice).broadcast()
    txn = await tron.trx.delegate_resource(b58(alice), b58(alice), 1 * TRX, "ENERGY").build()
    with pytest.raises(ValidationError, match="delegateBalance must be less than or equal"):
        await txn.sign(alice).broadcast()
