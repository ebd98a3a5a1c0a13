"""Account creation as java-tron does it: a TRX transfer to a new address, AccountCreateContract,
the fees read from getchainparameters, and delegation to a missing account - through unmodified
tronpy and through the HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tronpy import AsyncTron
from tronpy.exceptions import TransactionError, UnknownError, ValidationError
from tronpy.keys import PrivateKey as TronpyKey

from trondevnet.server import DevnetServer
from trondevnet.testing import build_raw, sign_raw
from tronproto import keys, tx

TRX = 1_000_000
Funder = Callable[..., TronpyKey]
WAIT: dict[str, Any] = {"timeout": 10, "interval": 0.05}
EXC = "class org.tron.core.exception.ContractValidateException : "


def b58(key: TronpyKey) -> str:
    return str(key.public_key.to_base58check_address())


def hex_of(key: TronpyKey) -> str:
    return str(key.public_key.to_hex_address())


async def chain_parameters(tron: AsyncTron) -> dict[str, int]:
    return {p["key"]: p.get("value", 0) for p in await tron.get_chain_parameters()}


async def post(http: httpx.AsyncClient, url: str, /, **body: object) -> Any:
    r = await http.post(url, json=body)
    assert r.status_code == 200, r.text
    return r.json()


async def send(txn: Any, key: TronpyKey) -> dict[str, Any]:
    ret = await txn.sign(key).broadcast()
    info: dict[str, Any] = await ret.wait(**WAIT)
    return info


def bandwidth_bytes(devnet: DevnetServer, txid: str) -> int:
    """java-tron's bandwidth size of a transaction: its bytes without ``ret`` + 64."""
    record = devnet.chain.txs[bytes.fromhex(txid)]
    return len(tx.transaction_to_bytes(record.raw, record.signatures)) + 64


def create_account_txn(tron: AsyncTron, owner: TronpyKey, account: TronpyKey) -> Any:
    # tronpy has no helper for it: its generic builder, as the brief allows
    return tron.trx._build_transaction(
        "AccountCreateContract",
        {"owner_address": hex_of(owner), "account_address": hex_of(account)},
    )


async def test_transfer_to_new_address_without_stake_burns_both_fees(
    devnet: DevnetServer, tron: AsyncTron, funded: Funder
) -> None:
    params = await chain_parameters(tron)
    fee = params["getCreateNewAccountFeeInSystemContract"]
    bandwidth_fee = params["getCreateAccountFee"]
    assert (fee, bandwidth_fee) == (1 * TRX, 100_000)  # mainnet's values
    alice, bob = funded(10 * TRX), TronpyKey.random()
    info = await send(await tron.trx.transfer(b58(alice), b58(bob), 2 * TRX).build(), alice)
    assert info["fee"] == fee + bandwidth_fee
    # net_fee is the creation bandwidth fee; no byte is consumed, free bandwidth untouched
    assert info["receipt"] == {"net_fee": bandwidth_fee}
    sender = await tron.get_account(b58(alice))
    assert sender["balance"] == 10 * TRX - 2 * TRX - fee - bandwidth_fee
    assert "free_net_usage" not in sender
    created = await tron.get_account(b58(bob))
    assert created["balance"] == 2 * TRX
    assert 0 < created["create_time"] <= info["blockTimeStamp"]


async def test_transfer_to_new_address_with_staked_bandwidth_and_changed_parameters(
    devnet: DevnetServer, tron: AsyncTron, http: httpx.AsyncClient, funded: Funder
) -> None:
    alice = funded(5_000 * TRX)
    await send(await tron.trx.freeze_balance(b58(alice), 2_000 * TRX, "BANDWIDTH").build(), alice)
    # the fees follow the chain parameters (changed like a committee proposal would)
    changed = await post(
        http,
        "devnet/chain_parameters",
        getCreateNewAccountFeeInSystemContract=700_000,
        getCreateAccountFee=250_000,
        getCreateNewAccountBandwidthRate=3,
    )
    assert changed["parameters"]["getCreateNewAccountBandwidthRate"] == 3
    params = await chain_parameters(tron)
    assert params["getCreateNewAccountFeeInSystemContract"] == 700_000
    assert params["getCreateAccountFee"] == 250_000
    rate = params["getCreateNewAccountBandwidthRate"]
    assert rate == 3
    before = (await tron.get_account_resource(b58(alice))).get("NetUsed", 0)
    bob = TronpyKey.random()
    txn = await tron.trx.transfer(b58(alice), b58(bob), 1 * TRX).build()
    info = await send(txn, alice)
    # staked bandwidth pays bytes x rate; only the system-contract fee is burnt
    assert info["fee"] == 700_000
    assert info["receipt"] == {"net_usage": bandwidth_bytes(devnet, txn.txid) * rate}
    after = (await tron.get_account_resource(b58(alice)))["NetUsed"]
    # (usage recovers linearly over 28,800 slots: a few 50 ms blocks may have passed)
    assert 0.99 * info["receipt"]["net_usage"] <= after - before <= info["receipt"]["net_usage"]
    assert (await tron.get_account(b58(alice)))["balance"] == 3_000 * TRX - 1 * TRX - 700_000


async def test_staked_bandwidth_too_small_burns_the_creation_fee_free_bandwidth_unused(
    devnet: DevnetServer, tron: AsyncTron, funded: Funder
) -> None:
    alice = funded(100 * TRX)
    await send(await tron.trx.freeze_balance(b58(alice), 1 * TRX, "BANDWIDTH").build(), alice)
    res = await tron.get_account_resource(b58(alice))
    assert 0 < res["NetLimit"] < 100  # a little staked bandwidth, far below a transaction
    params = await chain_parameters(tron)
    info = await send(
        await tron.trx.transfer(b58(alice), b58(TronpyKey.random()), 1 * TRX).build(), alice
    )
    assert info["fee"] == (
        params["getCreateNewAccountFeeInSystemContract"] + params["getCreateAccountFee"]
    )
    assert info["receipt"] == {"net_fee": params["getCreateAccountFee"]}


async def test_create_account_contract_with_tronpy(
    devnet: DevnetServer, tron: AsyncTron, funded: Funder
) -> None:
    params = await chain_parameters(tron)
    alice, bob = funded(10 * TRX), TronpyKey.random()
    txn = await create_account_txn(tron, alice, bob).build()
    assert txn.txid == tx.txid(txn._raw_data)
    info = await send(txn, alice)
    fee = params["getCreateNewAccountFeeInSystemContract"] + params["getCreateAccountFee"]
    assert info["fee"] == fee
    assert info["receipt"] == {"net_fee": params["getCreateAccountFee"]}
    created = await tron.get_account(b58(bob))
    assert created["address"] == b58(bob) and "balance" not in created
    assert (await tron.get_account(b58(alice)))["balance"] == 10 * TRX - fee
    got = await tron.get_transaction(txn.txid)
    contract = got["raw_data"]["contract"][0]
    assert contract["type"] == "AccountCreateContract"
    assert contract["parameter"]["value"] == {
        "owner_address": b58(alice),
        "account_address": b58(bob),
    }
    # a second one: java-tron's CreateAccountActuator message, nothing charged
    again = await create_account_txn(tron, alice, bob).build()
    with pytest.raises(ValidationError) as exc2:
        await again.sign(alice).broadcast()
    assert str(exc2.value) == "Contract validate error : Account has existed"
    assert (await tron.get_account(b58(alice)))["balance"] == 10 * TRX - fee


async def test_create_account_contract_rules_through_http(
    devnet: DevnetServer, http: httpx.AsyncClient
) -> None:
    chain = devnet.chain
    owner, new = keys.PrivateKey.random(), keys.PrivateKey.random()
    chain.faucet(owner.address, 5 * TRX)
    built = await post(
        http,
        "wallet/createaccount",
        owner_address=owner.address_base58,
        account_address=new.address_base58,
        visible=True,
    )
    raw = bytes.fromhex(built["raw_data_hex"])
    assert tx.txid_bytes(raw).hex() == built["txID"]
    assert built["raw_data"]["contract"][0]["type"] == "AccountCreateContract"
    # ContractType 0 is the proto3 default: the type field is left out of the bytes
    assert tx.raw_data_to_bytes(built["raw_data"]) == raw
    signed = tx.transaction_to_bytes(raw, [owner.sign_hash(tx.txid_bytes(raw))])
    assert (await post(http, "wallet/broadcasthex", transaction=signed.hex()))["result"] is True
    account = await post(http, "wallet/getaccount", address=new.address_base58, visible=True)
    assert account["address"] == new.address_base58
    # the node-built endpoint validates like java-tron
    err = await post(
        http,
        "wallet/createaccount",
        owner_address=owner.address_base58,
        account_address=new.address_base58,
        visible=True,
    )
    assert err == {"Error": EXC + "Account has existed"}
    missing = keys.PrivateKey.random()
    err = await post(
        http,
        "wallet/createaccount",
        owner_address=missing.address_hex,
        account_address=keys.PrivateKey.random().address_hex,
    )
    assert err == {"Error": EXC + f"Account[{missing.address_hex}] not exists"}
    # 0.5 TRX pays the 0.1 TRX bandwidth fee, not the 1 TRX creation fee
    poor = keys.PrivateKey.random()
    chain.faucet(poor.address, TRX // 2)
    err = await post(
        http,
        "wallet/createaccount",
        owner_address=poor.address_hex,
        account_address=keys.PrivateKey.random().address_hex,
    )
    assert err == {"Error": EXC + "Validate CreateAccountActuator error, insufficient fee."}
    # below the 0.1 TRX bandwidth fee: java-tron's bandwidth error at broadcast
    poorer = keys.PrivateKey.random()
    chain.faucet(poorer.address, 50_000)
    raw = build_raw(
        chain,
        "AccountCreateContract",
        {"owner_address": poorer.address_hex, "account_address": new.address_hex},
    )
    body = {
        "raw_data_hex": raw.hex(),
        "raw_data": tx.raw_data_from_bytes(raw),
        "txID": tx.txid_bytes(raw).hex(),
        "signature": [s.hex() for s in sign_raw(raw, poorer)],
        "visible": True,
    }
    answer = await post(http, "wallet/broadcasttransaction", **body)
    assert answer["code"] == "BANDWITH_ERROR"
    assert answer["message"] == "Account resource insufficient error."


async def test_delegation_to_missing_account_is_rejected_with_java_tron_message(
    devnet: DevnetServer, tron: AsyncTron, http: httpx.AsyncClient, funded: Funder
) -> None:
    owner, missing = funded(2_000 * TRX), TronpyKey.random()
    await send(await tron.trx.freeze_balance(b58(owner), 1_000 * TRX, "ENERGY").build(), owner)
    txn = await tron.trx.delegate_resource(b58(owner), b58(missing), 100 * TRX, "ENERGY").build()
    with pytest.raises(ValidationError) as exc:
        await txn.sign(owner).broadcast()
    assert str(exc.value) == f"Contract validate error : Account[{hex_of(missing)}] not exists"
    err = await post(
        http,
        "wallet/delegateresource",
        owner_address=b58(owner),
        receiver_address=b58(missing),
        balance=100 * TRX,
        resource="ENERGY",
        visible=True,
    )
    assert err == {"Error": EXC + f"Account[{hex_of(missing)}] not exists"}
    # once activated (a transfer creates it), the same delegation goes through
    await send(await tron.trx.transfer(b58(owner), b58(missing), 1).build(), owner)
    txn = await tron.trx.delegate_resource(b58(owner), b58(missing), 100 * TRX, "ENERGY").build()
    info = await send(txn, owner)
    assert "result" not in info


async def test_too_big_account_creating_transaction(
    devnet: DevnetServer, tron: AsyncTron, funded: Funder
) -> None:
    params = await chain_parameters(tron)
    alice, bob = funded(100 * TRX), TronpyKey.random()
    memo = "x" * params["getMaxCreateAccountTxSize"]
    txn = await tron.trx.transfer(b58(alice), b58(bob), 1 * TRX).memo(memo).build()
    with pytest.raises((TransactionError, UnknownError)) as exc:
        await txn.sign(alice).broadcast()
    size = len(tx.transaction_to_bytes(tx.raw_data_to_bytes(txn._raw_data), [b"s" * 65])) - 65
    assert exc.value.args[0] == (
        f"Too big new account transaction, TxId {txn.txid}, the size is {size} bytes, "
        f"maxTxSize {params['getMaxCreateAccountTxSize']}"
    )
    # the same memo to an existing account is fine (no creation-size limit)
    await send(await tron.trx.transfer(b58(alice), b58(bob), 1 * TRX).build(), alice)
    info = await send(
        await tron.trx.transfer(b58(alice), b58(bob), 1 * TRX).memo(memo).build(), alice
    )
    assert info["receipt"]["net_fee"] > 0  # over the free bandwidth: bytes burnt at the fee


async def test_chain_parameters_control_api_and_fork_replay(
    devnet: DevnetServer, http: httpx.AsyncClient
) -> None:
    got = (await http.get("devnet/chain_parameters")).json()["parameters"]
    assert got["getCreateAccountFee"] == 100_000
    r = await http.post("devnet/chain_parameters", json={"getWitnessPayPerBlock": 1})
    assert r.status_code == 400
    r = await http.post("devnet/chain_parameters", json={"getCreateAccountFee": -1})
    assert r.status_code == 400
    chain = devnet.chain
    devnet.node.paused = True
    owner = keys.PrivateKey.random()
    chain.faucet(owner.address, 10 * TRX)
    await post(http, "devnet/chain_parameters", getCreateNewAccountFeeInSystemContract=300_000)
    raw = build_raw(
        chain,
        "TransferContract",
        {
            "owner_address": owner.address_hex,
            "to_address": keys.PrivateKey.random().address_hex,
            "amount": TRX,
        },
    )
    record = chain.broadcast(raw, sign_raw(raw, owner))
    assert record.fee == 300_000 + 100_000
    await post(http, "devnet/produce")
    # a fork replays the journal: the parameter change applies again before the transfer
    chain.fork(1)
    assert chain.txs[record.txid].fee == 400_000
    assert chain.config.create_new_account_fee_in_system_contract == 300_000
