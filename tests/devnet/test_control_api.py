"""Control API (/devnet/*), fault injection, forks, node-built transactions, TronGrid v1."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from trondevnet.config import DevnetConfig
from trondevnet.server import DevnetServer
from trondevnet.testing import submit
from tronproto import keys, tx

TRX = 1_000_000


async def post(http: httpx.AsyncClient, url: str, /, **body: object) -> dict:  # type: ignore[type-arg]
    r = await http.post(url, json=body)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_faucet_produce_pause_resume_and_counters(
    devnet: DevnetServer, http: httpx.AsyncClient
) -> None:
    key = keys.PrivateKey.random()
    out = await post(http, "devnet/faucet", address=key.address_base58, trx_sun=5 * TRX)
    assert out == {"address": key.address_base58, "balance": 5 * TRX, "usdt_units": 0}
    out = await post(http, "devnet/faucet", address=key.address_base58, usdt_units=7)
    assert out["balance"] == 5 * TRX and out["usdt_units"] == 7
    bad = await http.post("devnet/faucet", json={"address": "Tnot-an-address", "trx_sun": 1})
    assert bad.status_code == 400
    await post(http, "devnet/pause")
    await asyncio.sleep(0.05)
    head = devnet.chain.head.number
    await asyncio.sleep(0.2)
    assert devnet.chain.head.number == head  # paused
    out = await post(http, "devnet/produce", blocks=3)
    assert out["head"] == head + 3
    await post(http, "devnet/resume")
    await asyncio.sleep(0.3)
    assert devnet.chain.head.number > head + 3
    await post(http, "devnet/stats", reset=True)
    for _ in range(3):
        await post(http, "wallet/getnowblock")
    await post(http, "wallet/getnodeinfo/")  # trailing slash counts as the same path
    stats = (await http.get("devnet/stats")).json()
    assert stats["requests"]["/wallet/getnowblock"] == 3
    assert stats["requests"]["/wallet/getnodeinfo"] == 1
    batch = [{"address": keys.PrivateKey.random().address_base58, "trx_sun": 1} for _ in range(5)]
    assert (await post(http, "devnet/faucet", accounts=batch)) == {"accounts": 5}


async def test_virtual_energy_weight(devnet: DevnetServer, http: httpx.AsyncClient) -> None:
    out = await post(http, "devnet/energy_weight", virtual_energy_weight=1_000)
    assert out["TotalEnergyWeight"] == 1_000
    key = keys.PrivateKey.random()
    devnet.chain.faucet(key.address, 2_000 * TRX)
    submit(
        devnet.chain,
        key,
        "FreezeBalanceV2Contract",
        {"frozen_balance": 1_000 * TRX, "resource": "ENERGY"},
    )
    res = await post(http, "wallet/getaccountresource", address=key.address_base58, visible=True)
    assert res["TotalEnergyWeight"] == 2_000
    assert res["EnergyLimit"] == 180_000_000_000 // 2


async def test_fault_injection(devnet: DevnetServer, http: httpx.AsyncClient) -> None:
    await post(http, "devnet/faults", path="/wallet/getnowblock", error_rate=1.0)
    r = await http.post("wallet/getnowblock")
    assert r.status_code == 500
    assert (await http.post("wallet/getnodeinfo")).status_code == 200  # other paths unaffected
    await post(
        http, "devnet/faults", path="/wallet/getnowblock", rate_limit_rate=1.0, retry_after=7
    )
    r = await http.post("wallet/getnowblock")
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    await post(
        http, "devnet/faults", path="/wallet/getnowblock", timeout_rate=1.0, timeout_seconds=0.5
    )
    with pytest.raises(httpx.ReadTimeout):
        await http.post("wallet/getnowblock", timeout=0.2)
    await post(http, "devnet/faults", clear=True)
    await post(http, "devnet/faults", latency_ms=150)  # global
    started = time.perf_counter()
    assert (await http.post("wallet/getnowblock")).status_code == 200
    assert time.perf_counter() - started >= 0.15
    await post(http, "devnet/faults", clear=True)
    await post(http, "devnet/faults", path="/wallet", error_rate=0.5)
    statuses = [(await http.post("wallet/getnodeinfo")).status_code for _ in range(40)]
    assert 5 <= statuses.count(500) <= 35 and statuses.count(200) >= 5
    assert (await http.delete("devnet/faults")).json() == {"faults": []}
    assert (await http.post("wallet/getnowblock")).status_code == 200


async def test_fork_drops_blocks_and_excluded_transactions(
    devnet: DevnetServer, http: httpx.AsyncClient
) -> None:
    await post(http, "devnet/pause")
    await asyncio.sleep(0.06)
    alice = keys.PrivateKey.random()
    bob = keys.PrivateKey.random()
    devnet.chain.faucet(alice.address, 100 * TRX)
    devnet.chain.faucet(bob.address, 1 * TRX)
    kept = submit(
        devnet.chain, alice, "TransferContract", {"to_address": bob.address_hex, "amount": 2 * TRX}
    )
    dropped = submit(
        devnet.chain, alice, "TransferContract", {"to_address": bob.address_hex, "amount": 3 * TRX}
    )
    await post(http, "devnet/produce", blocks=2)
    old_head = devnet.chain.head
    info = await post(http, "wallet/gettransactioninfobyid", value=dropped.txid.hex())
    assert info["blockNumber"] == old_head.number - 1
    out = await post(http, "devnet/fork", blocks=2, exclude=[dropped.txid.hex()])
    assert out["head"] == old_head.number
    assert out["blockID"] != old_head.block_id.hex()
    assert await post(http, "wallet/gettransactioninfobyid", value=dropped.txid.hex()) == {}
    info = await post(http, "wallet/gettransactioninfobyid", value=kept.txid.hex())
    assert info["blockNumber"] == old_head.number - 1
    assert devnet.chain.accounts[bob.address].balance == 3 * TRX
    blocks = await post(
        http, "wallet/getblockbylimitnext", startNum=old_head.number - 1, endNum=old_head.number + 1
    )
    assert [b["blockID"] for b in blocks["block"]][-1] == out["blockID"]
    # the dropped transaction can be broadcast again
    again = devnet.chain.broadcast(dropped.raw, list(dropped.signatures))
    assert again.txid == dropped.txid


async def test_node_built_transactions_and_broadcasthex(
    devnet: DevnetServer, http: httpx.AsyncClient
) -> None:
    devnet.node.paused = True
    owner = keys.PrivateKey.random()
    receiver = keys.PrivateKey.random()
    devnet.chain.faucet(owner.address, 5_000 * TRX)
    devnet.chain.faucet(receiver.address, 1 * TRX)

    async def sign_and_send(built: dict) -> dict:  # type: ignore[type-arg]
        raw = bytes.fromhex(built["raw_data_hex"])
        assert tx.raw_data_to_bytes(built["raw_data"]) == raw
        assert tx.txid_bytes(raw).hex() == built["txID"]
        signed = tx.transaction_to_bytes(raw, [owner.sign_hash(tx.txid_bytes(raw))])
        return await post(http, "wallet/broadcasthex", transaction=signed.hex())

    async def energy_delegation(path: str, balance: int, **extra: object) -> dict:  # type: ignore[type-arg]
        """Build a (un)delegation of ENERGY from ``owner`` to ``receiver`` at ``wallet/<path>``."""
        return await post(
            http,
            f"wallet/{path}",
            owner_address=owner.address_hex,
            receiver_address=receiver.address_hex,
            balance=balance,
            resource="ENERGY",
            **extra,
        )

    built = await post(
        http,
        "wallet/freezebalancev2",
        owner_address=owner.address_base58,
        frozen_balance=1_000 * TRX,
        resource="ENERGY",
        visible=True,
    )
    assert (await sign_and_send(built))["result"] is True
    built = await energy_delegation("delegateresource", 100 * TRX, lock=True, lock_period=10)
    assert built["raw_data"]["contract"][0]["parameter"]["value"]["lock_period"] == 10
    assert (await sign_and_send(built))["result"] is True
    built = await post(
        http,
        "wallet/createtransaction",
        owner_address=owner.address_base58,
        to_address=receiver.address_base58,
        amount=TRX,
        visible=True,
    )
    assert (await sign_and_send(built))["result"] is True
    err = await energy_delegation("delegateresource", 10_000 * TRX)
    assert err["Error"] == (
        "class org.tron.core.exception.ContractValidateException : "
        "delegateBalance must be less than or equal to available FreezeEnergyV2 balance"
    )
    err = await energy_delegation("undelegateresource", 100 * TRX)
    assert "insufficient delegateFrozenBalance(Energy)" in err["Error"]
    await post(http, "devnet/produce")
    num = devnet.chain.head.number
    infos = (await http.post("wallet/gettransactioninfobyblocknum", json={"num": num})).json()
    assert len(infos) == 3
    prices = await post(http, "wallet/getenergyprices")
    assert prices["prices"].endswith(":100")
    assert (await post(http, "wallet/getbandwidthprices"))["prices"].endswith(":1000")
    net = await post(http, "wallet/getaccountnet", address=owner.address_base58, visible=True)
    assert net["freeNetLimit"] == 600
    assert (
        await post(http, "wallet/getaccount", address=keys.PrivateKey.random().address_base58) == {}
    )
    assert await post(http, "wallet/gettransactionbyid", value="ab" * 32) == {}
    assert (await post(http, "wallet/getaccount", address="nonsense"))["Error"].startswith("class ")


async def test_solid_lag_and_trongrid_endpoints() -> None:
    async with DevnetServer(
        port=0, block_interval_ms=50, solid_lag_blocks=3, produce_blocks=False
    ) as node:
        chain = node.chain
        alice = keys.PrivateKey.random()
        bob = keys.PrivateKey.random()
        chain.faucet(alice.address, 100 * TRX, usdt_units=50 * TRX)
        chain.faucet(bob.address, 1 * TRX)
        sent = [
            submit(
                chain,
                alice,
                "TransferContract",
                {"to_address": bob.address_hex, "amount": (i + 1) * TRX},
            )
            for i in range(3)
        ]
        data = "a9059cbb" + "00" * 12 + bob.address[1:].hex() + f"{5 * TRX:064x}"
        token_tx = submit(
            chain,
            alice,
            "TriggerSmartContract",
            {"contract_address": chain.usdt_address.hex(), "data": data},
            fee_limit=100 * TRX,
        )
        node.produce(1)
        async with httpx.AsyncClient(base_url=node.url) as http:
            assert (
                await post(http, "walletsolidity/gettransactioninfobyid", value=sent[0].txid.hex())
                == {}
            )
            assert (await post(http, "wallet/gettransactioninfobyid", value=sent[0].txid.hex()))[
                "id"
            ]
            r = (
                await http.get(
                    f"v1/accounts/{bob.address_base58}/transactions",
                    params={"only_confirmed": "true"},
                )
            ).json()
            assert r["success"] is True and r["data"] == []
            node.produce(3)
            solid = (await post(http, "walletsolidity/getnowblock"))["block_header"]["raw_data"][
                "number"
            ]
            assert solid == chain.head.number - 3
            info = await post(
                http, "walletsolidity/gettransactioninfobyid", value=sent[0].txid.hex()
            )
            assert info["id"] == sent[0].txid.hex()
            r = (
                await http.get(
                    f"v1/accounts/{bob.address_base58}/transactions",
                    params={"only_to": "true", "limit": 2},
                )
            ).json()
            assert [t["txID"] for t in r["data"]] == [sent[2].txid.hex(), sent[1].txid.hex()]
            fingerprint = r["meta"]["fingerprint"]
            r = (
                await http.get(
                    f"v1/accounts/{bob.address_base58}/transactions",
                    params={"only_to": "true", "limit": 2, "fingerprint": fingerprint},
                )
            ).json()
            assert [t["txID"] for t in r["data"]] == [sent[0].txid.hex()]
            assert "fingerprint" not in r["meta"]
            tx0 = r["data"][0]
            assert tx0["raw_data"]["contract"][0]["parameter"]["value"]["amount"] == TRX
            assert tx0["ret"][0]["contractRet"] == "SUCCESS"
            r = (
                await http.get(
                    f"v1/accounts/{bob.address_base58}/transactions",
                    params={"min_timestamp": chain.head.timestamp + 1},
                )
            ).json()
            assert r["data"] == []
            r = (
                await http.get(
                    f"v1/accounts/{bob.address_base58}/transactions/trc20",
                    params={"only_to": "true"},
                )
            ).json()
            assert r["data"] == [
                {
                    "transaction_id": token_tx.txid.hex(),
                    "token_info": {
                        "symbol": "USDT",
                        "address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
                        "decimals": 6,
                        "name": "Tether USD",
                    },
                    "block_timestamp": token_tx.block_ts,
                    "from": alice.address_base58,
                    "to": bob.address_base58,
                    "type": "Transfer",
                    "value": str(5 * TRX),
                }
            ]
            r = (
                await http.get(
                    f"v1/accounts/{bob.address_base58}/transactions/trc20",
                    params={"only_from": "true"},
                )
            ).json()
            assert r["data"] == []


def test_unfreeze_withdraw_cancel_and_multisig() -> None:
    from trondevnet.chain import Chain
    from trondevnet.errors import TxError
    from trondevnet.state import Permission

    clock = [1_700_000_000_000]
    chain = Chain(
        DevnetConfig(block_interval_ms=1000, unfreeze_delay_days=1, window_slots=100),
        clock=lambda: clock[0],
    )
    alice = keys.PrivateKey.random()
    chain.faucet(alice.address, 1_000 * TRX)

    def stake(contract: str, field: str, amount: int) -> None:
        submit(chain, alice, contract, {field: amount, "resource": "ENERGY"})

    stake("FreezeBalanceV2Contract", "frozen_balance", 300 * TRX)
    stake("UnfreezeBalanceV2Contract", "unfreeze_balance", 100 * TRX)
    with pytest.raises(TxError, match="no unFreeze balance to withdraw"):
        submit(chain, alice, "WithdrawExpireUnfreezeContract", {})
    acct = chain.accounts[alice.address]
    assert acct.unfrozen[0][2] == chain.head.timestamp + 100 * 1000  # 1 day = window of 100 slots
    clock[0] += 101_000
    chain.produce_block()
    record = submit(chain, alice, "WithdrawExpireUnfreezeContract", {})
    assert record.extra["withdraw_expire_amount"] == 100 * TRX
    stake("UnfreezeBalanceV2Contract", "unfreeze_balance", 50 * TRX)
    record = submit(chain, alice, "CancelAllUnfreezeV2Contract", {})
    assert acct.frozen_energy == 200 * TRX and acct.unfrozen == []
    assert record.extra["cancel_energy"] == 50 * TRX
    with pytest.raises(TxError, match="no frozenBalance\\(BANDWIDTH\\)"):
        submit(chain, alice, "UnfreezeBalanceV2Contract", {"unfreeze_balance": TRX})
    # 2-of-2 owner permission
    k1, k2 = keys.PrivateKey.random(), keys.PrivateKey.random()
    chain.set_permission(alice.address, Permission(2, [(k1.address, 1), (k2.address, 1)]), None)
    from trondevnet.testing import build_raw, sign_raw

    raw = build_raw(
        chain,
        "TransferContract",
        {"owner_address": alice.address_hex, "to_address": k1.address_hex, "amount": TRX},
    )
    with pytest.raises(TxError, match=r"is signed by .* but it is not contained of permission"):
        chain.broadcast(raw, sign_raw(raw, alice))
    with pytest.raises(TxError) as exc:
        chain.broadcast(raw, sign_raw(raw, k1))
    assert exc.value.code == "SIGERROR"
    assert chain.broadcast(raw, sign_raw(raw, k1, k2)).txid == tx.txid_bytes(raw)
