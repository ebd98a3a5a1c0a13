"""TronGateway against the in-process devnet (real tronpy, real HTTP)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from trondevnet.node import FaultRule
from trondevnet.server import DevnetServer
from tronproto.keys import PrivateKey
from tronproto.tx import txid
from tronrent.adapters.tron.errors import (
    ChainUnavailable,
    InvalidChainInput,
    SignerKeyMismatch,
    TransactionRejected,
    TxidMismatch,
)
from tronrent.adapters.tron.gateway import TronGateway, normalize_node_url, retry_after_seconds
from tronrent.adapters.tron.port import ChainPort, SignedTx, TxLookup, TxState
from tronrent.pool.energy import EnergyRatio, stake_sun_for_energy

TRX = 1_000_000

Funder = Callable[..., PrivateKey]


async def poll(predicate: Callable[[], Any], timeout_s: float = 10, every_s: float = 0.02) -> Any:
    """Await ``predicate()`` (sync or async) until it is truthy; return its value."""
    for _ in range(int(timeout_s / every_s)):
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(every_s)
    raise AssertionError("condition not met in time")


async def wait_for(gateway: TronGateway, txid: str) -> TxLookup:
    """Until the transaction is in a block."""

    async def found() -> TxLookup | None:
        lookup = await gateway.find_transaction(txid)
        return None if lookup.state is TxState.ABSENT else lookup

    result: TxLookup = await poll(found)
    return result


def dead_url() -> str:
    """A local port nobody listens on (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def send(gateway: TronGateway, tx: Any, key: PrivateKey) -> SignedTx:
    signed = gateway.sign(tx, key.secret)
    result = await gateway.broadcast(signed)
    assert result.txid == signed.txid
    found = await wait_for(gateway, signed.txid)
    assert found.state is TxState.CONFIRMED, found
    return signed


async def staked_pool(gateway: TronGateway, funded: Funder, stake_trx: int) -> PrivateKey:
    pool = funded((stake_trx + 100) * TRX)
    await send(gateway, await gateway.build_freeze(pool.address_base58, stake_trx * TRX), pool)
    return pool


def test_gateway_is_a_chain_port(gateway: TronGateway) -> None:
    port: ChainPort = gateway
    assert port is gateway


class TestConfiguration:
    def test_trailing_slash(self) -> None:
        assert normalize_node_url(" http://node:8090 ") == "http://node:8090/"
        assert normalize_node_url("https://api.trongrid.io/") == "https://api.trongrid.io/"

    @pytest.mark.parametrize("url", ["node:8090", "ftp://x/", "", "http://"])
    def test_bad_url(self, url: str) -> None:
        with pytest.raises(ValueError):
            normalize_node_url(url)

    def test_needs_a_url(self) -> None:
        with pytest.raises(ValueError):
            TronGateway([])

    def test_retry_after_forms(self) -> None:
        def resp(value: str) -> httpx.Response:
            return httpx.Response(429, headers={"Retry-After": value})

        assert retry_after_seconds(resp("3")) == 3
        assert retry_after_seconds(resp("Wed, 21 Oct 2015 07:28:00 GMT"), now=1445412470) == 10
        assert retry_after_seconds(resp("soon")) is None
        # "²" (latin-1 0xb2): a digit to str.isdigit(), not to int()
        assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": b"\xb2"})) is None
        assert retry_after_seconds(httpx.Response(429)) is None


class TestReads:
    async def test_account_and_resources(
        self, devnet: DevnetServer, gateway: TronGateway, funded: Funder
    ) -> None:
        key = funded(50 * TRX)
        account = await gateway.get_account(key.address_base58)
        assert account is not None
        assert account.balance_sun == 50 * TRX
        assert account.frozen_energy_sun == 0
        assert await gateway.get_account(PrivateKey.random().address_base58) is None
        res = await gateway.get_account_resource(key.address_base58)
        assert res.total_energy_limit == devnet.chain.config.total_energy_limit
        assert res.total_energy_weight == devnet.chain.total_energy_weight
        with pytest.raises(TransactionRejected) as exc:
            await gateway.get_account_resource(PrivateKey.random().address_base58)
        assert exc.value.java_code == "ACCOUNT_NOT_FOUND"

    async def test_trc20_balance(self, devnet: DevnetServer, gateway: TronGateway) -> None:
        holder = PrivateKey.random()
        devnet.chain.faucet(holder.address, 5 * TRX, 12_345_678)
        usdt = devnet.chain.config.usdt_address
        assert await gateway.trc20_balance(usdt, holder.address_base58) == 12_345_678
        empty = PrivateKey.random().address_base58
        assert await gateway.trc20_balance(usdt, empty) == 0
        # not a contract on this chain: unknown, not an error
        assert await gateway.trc20_balance(empty, holder.address_base58) is None
        with pytest.raises(InvalidChainInput):
            await gateway.trc20_balance(usdt, "TNotAnAddress")

    async def test_invalid_input_caught_before_io(self, gateway: TronGateway) -> None:
        with pytest.raises(InvalidChainInput):
            await gateway.get_account("TNotAnAddress")
        with pytest.raises(InvalidChainInput):
            await gateway.get_transaction("abc")
        with pytest.raises(InvalidChainInput):
            await gateway.get_blocks(10, 200)

    async def test_chain_parameters_and_blocks(
        self, devnet: DevnetServer, gateway: TronGateway
    ) -> None:
        params = await gateway.get_chain_parameters()
        assert params.energy_fee_sun == devnet.chain.config.energy_fee
        assert params.max_delegate_lock_period == devnet.chain.config.max_delegate_lock_period
        # a devnet just started may still be at its genesis block: wait for the first block
        await poll(lambda: gateway.get_head_block_number())
        head = await gateway.get_head_block()
        number = await gateway.get_head_block_number()
        assert number >= head.number >= 1
        blocks = await gateway.get_blocks(0, head.number + 1)
        assert [b["block_header"]["raw_data"].get("number", 0) for b in blocks] == list(
            range(head.number + 1)
        )
        assert blocks[-1]["blockID"] == head.block_id
        assert await gateway.get_transaction_infos(head.number) == []

    async def test_unknown_transaction(self, gateway: TronGateway) -> None:
        txid = "ab" * 32
        assert await gateway.get_transaction(txid) is None
        assert await gateway.get_transaction_info(txid) is None
        found = await gateway.find_transaction(txid)
        assert found.state is TxState.ABSENT


class TestTransactions:
    async def test_transfer_round_trip(self, gateway: TronGateway, funded: Funder) -> None:
        alice, bob = funded(100 * TRX), funded(1 * TRX)
        tx = await gateway.build_transfer(
            alice.address_base58, bob.address_base58, 5 * TRX, memo="order-42"
        )
        assert tx.contract_type == "TransferContract"
        signed = await send(gateway, tx, alice)
        bob_account = await gateway.get_account(bob.address_base58)
        assert bob_account is not None and bob_account.balance_sun == 6 * TRX
        chain_tx = await gateway.get_transaction(signed.txid)
        assert chain_tx is not None
        assert chain_tx.contract_type == "TransferContract"
        assert chain_tx.parameter["amount"] == 5 * TRX
        assert chain_tx.parameter["to_address"] == bob.address_base58
        assert chain_tx.contract_ret == "SUCCESS"
        found = await gateway.find_transaction(signed.txid, confirmations=1)
        assert found.block_number is not None
        # The block scanner's view of the same transaction.
        infos = await gateway.get_transaction_infos(found.block_number)
        assert signed.txid in {i["id"] for i in infos}

    async def test_broadcast_is_idempotent(self, gateway: TronGateway, funded: Funder) -> None:
        alice, bob = funded(100 * TRX), funded(1 * TRX)
        tx = await gateway.build_transfer(alice.address_base58, bob.address_base58, TRX)
        signed = gateway.sign(tx, alice.hex())
        first = await gateway.broadcast(signed)
        again = await gateway.broadcast(SignedTx.from_json(signed.to_json()))
        assert not first.duplicate
        assert again.duplicate and again.txid == signed.txid
        await wait_for(gateway, signed.txid)
        bob_account = await gateway.get_account(bob.address_base58)
        assert bob_account is not None and bob_account.balance_sun == 2 * TRX

    async def test_rejection_has_java_code(self, gateway: TronGateway, funded: Funder) -> None:
        alice, bob = funded(2 * TRX), funded(1 * TRX)
        tx = await gateway.build_transfer(alice.address_base58, bob.address_base58, 50 * TRX)
        with pytest.raises(TransactionRejected) as exc:
            await gateway.broadcast(gateway.sign(tx, alice.secret))
        assert exc.value.java_code == "CONTRACT_VALIDATE_ERROR"
        assert "balance is not sufficient" in exc.value.node_message

    async def test_wrong_key_refused(self, gateway: TronGateway, funded: Funder) -> None:
        alice, bob = funded(10 * TRX), funded(1 * TRX)
        tx = await gateway.build_transfer(alice.address_base58, bob.address_base58, TRX)
        with pytest.raises(SignerKeyMismatch):
            gateway.sign(tx, bob.secret)

    async def test_delegate_and_undelegate_round_trip(
        self, devnet: DevnetServer, gateway: TronGateway, funded: Funder
    ) -> None:
        pool = await staked_pool(gateway, funded, 20_000)
        customer = funded(1 * TRX)
        res = await gateway.get_account_resource(pool.address_base58)
        ratio = EnergyRatio(res.total_energy_limit, res.total_energy_weight)
        balance = stake_sun_for_energy(65_000, res.total_energy_limit, res.total_energy_weight)
        assert await gateway.can_delegate_max_size(pool.address_base58) == 20_000 * TRX

        lock_blocks = 40  # 40 x 50 ms = 2 s on this devnet
        tx = await gateway.build_delegate(
            pool.address_base58,
            customer.address_base58,
            balance,
            lock=True,
            lock_period=lock_blocks,
        )
        assert tx.raw_data["contract"][0]["parameter"]["value"]["lock_period"] == lock_blocks
        await send(gateway, tx, pool)

        got = await gateway.get_account_resource(customer.address_base58)
        assert got.energy_limit >= 65_000
        assert got.energy_limit == ratio.energy_for_stake_sun(balance)
        pool_account = await gateway.get_account(pool.address_base58)
        assert pool_account is not None and pool_account.delegated_energy_sun == balance
        [record] = await gateway.get_delegated_resource(
            pool.address_base58, customer.address_base58
        )
        assert record.energy_sun == balance
        head = await gateway.get_head_block()
        assert record.energy_locked_at(head.timestamp_ms)

        # Still locked: the chain refuses, permanently for this transaction.
        early = await gateway.build_undelegate(
            pool.address_base58, customer.address_base58, balance
        )
        with pytest.raises(TransactionRejected):
            await gateway.broadcast(gateway.sign(early, pool.secret))

        async def unlocked() -> bool:
            return (await gateway.get_head_block()).timestamp_ms > record.energy_expire_time_ms

        await poll(unlocked)
        tx = await gateway.build_undelegate(pool.address_base58, customer.address_base58, balance)
        await send(gateway, tx, pool)
        assert (await gateway.get_account_resource(customer.address_base58)).energy_limit == 0
        assert (
            await gateway.get_delegated_resource(pool.address_base58, customer.address_base58) == []
        )

    async def test_delegate_more_than_staked_is_rejected(
        self, gateway: TronGateway, funded: Funder
    ) -> None:
        pool = await staked_pool(gateway, funded, 10)
        customer = funded(1 * TRX)
        tx = await gateway.build_delegate(
            pool.address_base58, customer.address_base58, 11 * TRX, lock=False, lock_period=0
        )
        with pytest.raises(TransactionRejected) as exc:
            await gateway.broadcast(gateway.sign(tx, pool.secret))
        assert exc.value.java_code == "CONTRACT_VALIDATE_ERROR"


class TestLocalBuild:
    """The engine's hot path: transactions built without a node round trip."""

    async def test_local_transfer_delegate_undelegate(
        self, devnet: DevnetServer, gateway: TronGateway, funded: Funder
    ) -> None:
        pool = await staked_pool(gateway, funded, 20_000)
        customer = funded(1 * TRX)
        ref = await gateway.reference_block(60)
        assert await gateway.reference_block(60) is ref  # cached
        assert await gateway.energy_totals(pool.address_base58, 60) == await gateway.energy_totals(
            pool.address_base58, 60
        )
        transfer = gateway.build_transfer_local(
            ref, pool.address_base58, customer.address_base58, TRX, memo="r1"
        )
        assert transfer.expiration_ms == ref.timestamp_ms + 60_000
        assert transfer.txid == txid(transfer.raw_data)  # tronproto, no node
        balance = 100 * TRX
        tx = gateway.build_delegate_local(
            ref, pool.address_base58, customer.address_base58, balance, lock=True, lock_period=1
        )
        same = gateway.build_delegate_local(
            ref, pool.address_base58, customer.address_base58, balance, lock=True, lock_period=1
        )
        assert same.txid != tx.txid  # strictly increasing timestamp: never one txID for two
        await send(gateway, transfer, pool)
        await send(gateway, tx, pool)
        pool_account = await gateway.get_account(pool.address_base58)
        assert pool_account is not None and pool_account.delegated_energy_sun == balance
        [record] = await gateway.get_delegated_resource(
            pool.address_base58, customer.address_base58
        )

        async def unlocked() -> bool:
            return (await gateway.get_head_block()).timestamp_ms > record.energy_expire_time_ms

        await poll(unlocked)
        undo = gateway.build_undelegate_local(
            await gateway.reference_block(0), pool.address_base58, customer.address_base58, balance
        )
        await send(gateway, undo, pool)
        assert (
            await gateway.get_delegated_resource(pool.address_base58, customer.address_base58) == []
        )

    async def test_local_build_validates_input(self, gateway: TronGateway) -> None:
        ref = await gateway.reference_block(60)
        with pytest.raises(InvalidChainInput):
            gateway.build_transfer_local(ref, "Tnot-an-address", "Tnope", 1)


class TestFailover:
    async def test_dead_first_node(self, devnet: DevnetServer, funded: Funder) -> None:
        key = funded(7 * TRX)
        async with TronGateway([dead_url(), devnet.url], backoff_base_s=0.01) as gw:
            account = await gw.get_account(key.address_base58)
            assert account is not None and account.balance_sun == 7 * TRX
            # The working node is now preferred: no more detours through the dead one.
            started = time.monotonic()
            for _ in range(3):
                await gw.get_head_block_number()
            assert time.monotonic() - started < 2

    async def test_all_dead(self) -> None:
        async with TronGateway([dead_url(), dead_url()], max_attempts=3, backoff_base_s=0.01) as gw:
            with pytest.raises(ChainUnavailable) as exc:
                await gw.get_head_block_number()
        assert "3 attempts" in exc.value.message
        assert exc.value.code == "CHAIN_UNAVAILABLE"

    async def test_429_retry_after_honoured(
        self, devnet: DevnetServer, gateway: TronGateway, funded: Funder
    ) -> None:
        key = funded(3 * TRX)
        devnet.node.set_fault(
            FaultRule(path="/wallet/getaccount", rate_limit_rate=1.0, retry_after=1)
        )
        devnet.node.counters.clear()

        async def lift_after_first_429() -> None:
            await poll(lambda: devnet.node.counters["/wallet/getaccount"] >= 1, every_s=0.005)
            devnet.node.clear_faults()

        lifter = asyncio.create_task(lift_after_first_429())
        started = time.monotonic()
        account = await gateway.get_account(key.address_base58)
        elapsed = time.monotonic() - started
        await lifter
        assert account is not None and account.balance_sun == 3 * TRX
        assert elapsed >= 1.0  # waited out Retry-After: 1 ...
        assert devnet.node.counters["/wallet/getaccount"] == 2  # ... instead of hammering

    async def test_retry_after_longer_than_we_wait(
        self, devnet: DevnetServer, funded: Funder
    ) -> None:
        devnet.node.set_fault(FaultRule(rate_limit_rate=1.0, retry_after=120))
        async with TronGateway([devnet.url], max_wait_s=5) as gw:
            with pytest.raises(ChainUnavailable) as exc:
                await gw.get_head_block_number()
        assert exc.value.retry_after is not None and exc.value.retry_after > 100

    async def test_errors_and_timeouts_still_complete(
        self, devnet: DevnetServer, funded: Funder
    ) -> None:
        alice, bob = funded(100 * TRX), funded(1 * TRX)
        devnet.node.set_fault(FaultRule(error_rate=0.3, timeout_rate=0.1, timeout_seconds=1.0))
        async with TronGateway(
            [devnet.url], timeout_s=0.3, backoff_base_s=0.01, backoff_max_s=0.05, max_attempts=20
        ) as gw:
            signed = []
            for i in range(3):
                tx = await gw.build_transfer(alice.address_base58, bob.address_base58, TRX + i)
                signed.append(gw.sign(tx, alice.secret))
                await gw.broadcast(signed[-1])
            for s in signed:
                assert (await wait_for(gw, s.txid)).state is TxState.CONFIRMED
        devnet.node.clear_faults()
        bob_account = devnet.chain.accounts[bob.address]
        assert bob_account.balance == 1 * TRX + 3 * TRX + 3  # each exactly once


class _Proxy(httpx.AsyncBaseTransport):
    """Forwards to the real devnet, optionally rewriting answers; records request headers.

    The one legitimate fake: the point is to play a malicious or re-hosted node.
    """

    def __init__(
        self, target: str, rewrite: Callable[[httpx.Request, Any], Any] | None = None
    ) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._target = httpx.URL(target)
        self._rewrite = rewrite
        self.headers: list[httpx.Headers] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.headers.append(request.headers)
        url = request.url.copy_with(
            scheme=self._target.scheme, host=self._target.host, port=self._target.port
        )
        forwarded = httpx.Request(
            request.method, url, headers=request.headers, content=await request.aread()
        )
        response = await self._inner.handle_async_request(forwarded)
        body = await response.aread()
        if self._rewrite is not None and response.status_code == 200:
            data = self._rewrite(request, json.loads(body))
            return httpx.Response(200, json=data)
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    async def aclose(self) -> None:
        await self._inner.aclose()


class TestGarbage:
    async def test_garbage_answer_fails_over(self, devnet: DevnetServer, funded: Funder) -> None:
        key = funded(4 * TRX)

        def garble(request: httpx.Request, data: Any) -> Any:
            return ["garbage"] if request.url.host == "bad.invalid" else data

        proxy = _Proxy(devnet.url, garble)
        async with (
            httpx.AsyncClient(transport=proxy) as client,
            TronGateway(["http://bad.invalid", "http://good.invalid"], client=client) as gw,
        ):
            account = await gw.get_account(key.address_base58)
            assert account is not None and account.balance_sun == 4 * TRX
            tx = await gw.build_transfer(key.address_base58, funded(0).address_base58, TRX)
            assert tx.txid


class TestTxidCheck:
    async def test_malicious_node_txid_refused(self, devnet: DevnetServer, funded: Funder) -> None:
        alice, bob = funded(100 * TRX), funded(1 * TRX)
        evil = "ee" * 32

        def tamper(request: httpx.Request, data: Any) -> Any:
            if request.url.path.endswith("/getsignweight"):
                data["transaction"]["transaction"]["txID"] = evil
            return data

        proxy = _Proxy(devnet.url, tamper)
        async with (
            httpx.AsyncClient(transport=proxy) as client,
            TronGateway([devnet.url], client=client) as gw,
        ):
            with pytest.raises(TxidMismatch) as exc:
                await gw.build_transfer(alice.address_base58, bob.address_base58, TRX)
        assert exc.value.got == evil
        assert devnet.chain.accounts[bob.address].balance == 1 * TRX

    async def test_tampered_stored_transaction_refused(
        self, gateway: TronGateway, funded: Funder
    ) -> None:
        alice, bob = funded(100 * TRX), funded(1 * TRX)
        tx = await gateway.build_transfer(alice.address_base58, bob.address_base58, TRX)
        stored = json.loads(gateway.sign(tx, alice.secret).to_json())
        stored["raw_data"]["contract"][0]["parameter"]["value"]["amount"] = 99 * TRX
        with pytest.raises(TxidMismatch):
            SignedTx.from_json(stored)


class TestApiKey:
    async def test_own_key_sent_and_tronpy_keys_never(
        self, devnet: DevnetServer, funded: Funder
    ) -> None:
        key = funded(1 * TRX)
        proxy = _Proxy(devnet.url)
        async with (
            httpx.AsyncClient(transport=proxy) as client,
            # A TronGrid-looking URL: tronpy would send its own shared keys here.
            TronGateway(["https://api.trongrid.io"], api_key="our-key", client=client) as gw,
        ):
            assert await gw.get_account(key.address_base58) is not None
            await gw.build_transfer(key.address_base58, funded(0).address_base58, 1)
        assert len(proxy.headers) >= 3
        for headers in proxy.headers:
            assert headers.get_list("TRON-PRO-API-KEY") == ["our-key"]

    async def test_no_key_no_header(self, devnet: DevnetServer, funded: Funder) -> None:
        proxy = _Proxy(devnet.url)
        async with (
            httpx.AsyncClient(transport=proxy) as client,
            TronGateway(["https://api.trongrid.io/"], client=client) as gw,
        ):
            await gw.get_head_block_number()
        assert all("TRON-PRO-API-KEY" not in h for h in proxy.headers)
