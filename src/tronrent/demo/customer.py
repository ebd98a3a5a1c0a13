"""`tronrent demo`: a customer rents energy from a running `tronrent serve` on the devnet.

The customer side is a plain wallet on tronpy's ``AsyncTron`` (not the platform's gateway): a
new key funded by the devnet faucet (TRX + USDT), a flash order created through the HTTP API,
the TRX payment signed and broadcast by the wallet, then the energy watched on chain, a USDT
transfer paid with the rented energy, and the reclaim when the rental ends. Each step prints one
timeline line; :class:`DemoResult` carries the figures for tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from tronpy import AsyncTron
from tronpy.keys import PrivateKey as WalletKey
from tronpy.providers.async_http import AsyncHTTPProvider

from tronproto.address import to_hex
from tronproto.tx import txid as local_txid
from tronrent.demo.devnet import DevnetControl

TRX = 1_000_000
USDT = 1_000_000


class DemoError(Exception):
    """The demo could not go on (service down, order failed, timeout): a one-line message."""


@dataclass
class DemoResult:
    customer: str = ""
    order_id: str = ""
    payment_address: str = ""
    block_interval_ms: int = 0
    payment_tx: str = ""
    payment_block: int = 0
    delegation_tx: str = ""
    delegation_block: int = 0
    energy_delegated: int = 0
    energy_on_address: int = 0
    usdt_tx: str = ""
    usdt_block: int = 0
    usdt_energy_used: int = 0
    usdt_energy_fee_sun: int = 0
    usdt_fee_sun: int = 0
    reclaim_tx: str | None = None
    reclaim_block: int | None = None
    energy_after_reclaim: int | None = None
    order_status: str = ""
    lines: list[str] = field(default_factory=list)

    @property
    def blocks_to_delegation(self) -> int:
        return self.delegation_block - self.payment_block


def _sun(value: Any) -> int:
    """A TRX amount of the API (a JSON number such as 1.5) in sun, exactly."""
    return int(Decimal(str(value)) * TRX)


def _b58(key: WalletKey) -> str:
    return str(key.public_key.to_base58check_address())


class Demo:
    def __init__(
        self,
        api_url: str,
        devnet_url: str,
        *,
        transactions: int = 1,
        wait_reclaim: bool = True,
        timeout_s: float = 120.0,
        max_reclaim_wait_s: float = 180.0,
        out: Callable[[str], None] = print,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.devnet_url = devnet_url.rstrip("/")
        self.transactions = transactions
        self.wait_reclaim = wait_reclaim
        self.timeout_s = timeout_s
        self.max_reclaim_wait_s = max_reclaim_wait_s
        self.out = out
        self.result = DemoResult()
        self._t0 = time.monotonic()
        self._poll_s = 0.5
        self._order_token: str | None = None

    # --- output ------------------------------------------------------------------------------
    def say(self, text: str, block: int | None = None) -> None:
        where = f"block {block:>6}" if block is not None else " " * 12
        line = f"[{time.monotonic() - self._t0:6.1f}s] {where}  {text}"
        self.result.lines.append(line)
        self.out(line)

    # --- API ---------------------------------------------------------------------------------
    async def _api(self, http: httpx.AsyncClient, method: str, path: str, **kw: Any) -> Any:
        try:
            response = await http.request(method, f"{self.api_url}{path}", **kw)
        except httpx.TransportError as exc:
            raise DemoError(f"the API at {self.api_url} does not answer ({exc!r})") from None
        body = response.json()
        if response.status_code >= 400 or body.get("success") is False:
            error = body.get("error") or {}
            raise DemoError(f"{method} {path}: HTTP {response.status_code} {error or body}")
        return body.get("data", body)

    async def _wait_order(
        self,
        http: httpx.AsyncClient,
        order_id: str,
        done: Callable[[dict[str, Any]], bool],
        token: str | None = None,
    ) -> dict[str, Any]:
        """Poll order-status; with the order token (X-Order-Token) for the full view."""
        deadline = time.monotonic() + self.timeout_s
        headers = {"X-Order-Token": token} if token else {}
        while True:
            status: dict[str, Any] = await self._api(
                http, "GET", f"/api/energy-flash/order-status/{order_id}", headers=headers
            )
            if done(status):
                return status
            if status["status"] in ("failed", "expired", "cancelled", "refunded"):
                raise DemoError(f"order {order_id} ended {status['status']}: {status}")
            if time.monotonic() > deadline:
                raise DemoError(f"order {order_id} still {status['status']} after timeout")
            await asyncio.sleep(self._poll_s)

    # --- chain (the customer's wallet) --------------------------------------------------------
    async def _send(self, tron: AsyncTron, txn: Any, key: WalletKey) -> dict[str, Any]:
        # tronpy signs the txID the node returns: check it is the hash of raw_data first
        if local_txid(txn._raw_data) != txn.txid:
            raise DemoError("the node returned a txID that is not the hash of the transaction")
        ret = await txn.sign(key).broadcast()
        info: dict[str, Any] = await ret.wait(timeout=self.timeout_s, interval=self._poll_s / 2)
        return info

    async def _block_of(self, tron: AsyncTron, txid: str) -> int:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            info = await tron.get_transaction_info(txid)
            if info.get("blockNumber"):
                return int(info["blockNumber"])
            await asyncio.sleep(self._poll_s / 2)
        raise DemoError(f"transaction {txid} not in a block")

    async def _energy_limit(self, tron: AsyncTron, address: str) -> int:
        res = await tron.provider.make_request(
            "wallet/getaccountresource", {"address": address, "visible": True}
        )
        return int(res.get("EnergyLimit", 0))

    async def _find_undelegate(
        self, tron: AsyncTron, receiver: str, start: int, end: int
    ) -> tuple[str, int] | None:
        receiver_hex = to_hex(receiver)
        for lo in range(start, end + 1, 100):
            data = await tron.provider.make_request(
                "wallet/getblockbylimitnext", {"startNum": lo, "endNum": min(lo + 100, end + 1)}
            )
            for block in data.get("block", []):
                number = int(block["block_header"]["raw_data"]["number"])
                for tx in block.get("transactions", []):
                    contract = tx["raw_data"]["contract"][0]
                    value = contract["parameter"]["value"]
                    if (
                        contract["type"] == "UnDelegateResourceContract"
                        and value.get("receiver_address") == receiver_hex
                    ):
                        return str(tx["txID"]), number
        return None

    # --- the story ----------------------------------------------------------------------------
    async def run(self) -> DemoResult:
        r = self.result
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(30.0)) as http,
            DevnetControl(self.devnet_url, client=http) as devnet,
        ):
            try:
                info = await devnet.info()
            except httpx.HTTPError as exc:
                raise DemoError(f"no devnet at {self.devnet_url} ({exc!r})") from None
            r.block_interval_ms = info.block_interval_ms
            self._poll_s = max(0.05, min(0.5, info.block_interval_ms / 4000))
            provider = AsyncHTTPProvider(self.devnet_url + "/", client=http)
            tron = AsyncTron(provider=provider)
            self.out(
                f"DEVNET demo: a customer rents energy for {self.transactions} USDT "
                f"transfer(s)\n  API {self.api_url}, devnet {self.devnet_url} "
                f"({info.block_interval_ms} ms blocks; nothing here is real money)"
            )
            await self._story(http, devnet, tron, info.usdt_address)
        return r

    async def _story(
        self, http: httpx.AsyncClient, devnet: DevnetControl, tron: AsyncTron, usdt: str
    ) -> None:
        r = self.result
        customer, payer, friend = WalletKey.random(), WalletKey.random(), WalletKey.random()
        r.customer = _b58(customer)
        # The customer pays from another wallet (an exchange, say): the order is matched by its
        # amount tail, and the customer's own free bandwidth stays for the USDT transfer.
        await devnet.faucet(r.customer, usdt_units=100 * USDT)
        await devnet.faucet(_b58(payer), trx_sun=20 * TRX)
        await devnet.faucet(_b58(friend), usdt_units=1)  # holds USDT: 64,285 energy a transfer
        self.say(
            f"new customer wallet {r.customer}: 100 USDT and no TRX; paying wallet "
            f"{_b58(payer)}: 20 TRX (devnet faucet)"
        )

        order = await self._api(
            http,
            "POST",
            "/api/energy-flash/create-order",
            json={"recipientAddress": r.customer, "chatId": 0},
        )
        r.order_id, r.payment_address = order["orderId"], order["paymentAddress"]
        # shown once, kept in memory only: the full order view needs it
        self._order_token = token = str(order["orderToken"])
        price = _sun(order["priceConfig"]["single_price"])
        amount = self.transactions * price + _sun(order["paymentTail"])
        self.say(
            f"order {r.order_id}: pay {Decimal(amount) / TRX} TRX to the flash address "
            f"{r.payment_address} ({self.transactions} x {Decimal(price) / TRX} TRX + tail)"
        )

        txn = await tron.trx.transfer(_b58(payer), r.payment_address, amount).build()
        paid = await self._send(tron, txn, payer)
        r.payment_tx, r.payment_block = str(paid["id"]), int(paid["blockNumber"])
        self.say(
            f"TRX sent to the flash address: {Decimal(amount) / TRX} TRX, tx {r.payment_tx}",
            r.payment_block,
        )

        status = await self._wait_order(http, r.order_id, lambda s: s["status"] == "active", token)
        entry = next(e for e in status["delegationResult"] if e.get("success"))
        r.delegation_tx = str(entry["txHash"])
        r.energy_delegated = int(status.get("energyAmount") or entry.get("energyAmount") or 0)
        r.delegation_block = await self._block_of(tron, r.delegation_tx)
        self.say(
            f"energy delegated: {r.energy_delegated:,} energy from pool {entry['poolAccount']}, "
            f"tx {r.delegation_tx} ({r.blocks_to_delegation} block(s) after the payment)",
            r.delegation_block,
        )
        r.energy_on_address = await self._energy_limit(tron, r.customer)
        self.say(f"energy on the customer's address: {r.energy_on_address:,} (getaccountresource)")

        contract = await tron.get_contract(usdt)
        method = await contract.functions.transfer(_b58(friend), 1 * USDT)
        txn = await method.with_owner(r.customer).fee_limit(30 * TRX).build()
        sent = await self._send(tron, txn, customer)
        receipt = sent.get("receipt", {})
        r.usdt_tx, r.usdt_block = str(sent["id"]), int(sent["blockNumber"])
        r.usdt_energy_used = int(receipt.get("energy_usage", 0))
        r.usdt_energy_fee_sun = int(receipt.get("energy_fee", 0))
        r.usdt_fee_sun = int(sent.get("fee", 0))
        self.say(
            f"USDT transfer 1 USDT -> {_b58(friend)}: {r.usdt_energy_used:,} rented energy "
            f"used, energy fee {r.usdt_energy_fee_sun} sun, total fee {r.usdt_fee_sun} sun"
            + (" - no TRX burnt" if r.usdt_fee_sun == 0 else ""),
            r.usdt_block,
        )
        await self._reclaim(http, tron, status, str(entry["poolAccount"]))

    async def _lock_end_ms(self, tron: AsyncTron, pool: str, receiver: str) -> int:
        data = await tron.provider.make_request(
            "wallet/getdelegatedresourcev2",
            {"fromAddress": pool, "toAddress": receiver, "visible": True},
        )
        ends = [int(d.get("expire_time_for_energy", 0)) for d in data.get("delegatedResource", [])]
        return max(ends, default=0)

    async def _reclaim(
        self, http: httpx.AsyncClient, tron: AsyncTron, status: Any, pool: str
    ) -> None:
        r = self.result
        end_ms = await self._lock_end_ms(tron, pool, r.customer)
        left = end_ms / 1000 - time.time()
        expires = time.strftime("%H:%M:%S", time.localtime(end_ms / 1000))
        if not self.wait_reclaim or left > self.max_reclaim_wait_s:
            self.say(
                f"rental ends at {expires}: not waiting for the reclaim (start serve with "
                "ENERGY_FLASH_RENTAL_SECONDS=20 BLOCK_INTERVAL_MS=500 to see it in the demo)"
            )
            r.order_status = str(status["status"])
            return
        self.say(f"rental lock ends on chain at {expires} (in {max(0.0, left):.0f} s); waiting")
        self.timeout_s += max(0.0, left) + 30.0
        done = await self._wait_order(
            http, r.order_id, lambda s: s["status"] == "completed", self._order_token
        )
        r.order_status = str(done["status"])
        head = int(await tron.get_latest_block_number())
        found = await self._find_undelegate(tron, r.customer, r.delegation_block, head)
        if found:
            r.reclaim_tx, r.reclaim_block = found
        r.energy_after_reclaim = await self._energy_limit(tron, r.customer)
        self.say(
            f"reclaimed: the pool undelegated, tx {r.reclaim_tx}; energy on the customer's "
            f"address {r.energy_after_reclaim:,}; order {r.order_status}",
            r.reclaim_block,
        )


async def run_demo(api_url: str, devnet_url: str, **kw: Any) -> DemoResult:
    return await Demo(api_url, devnet_url, **kw).run()
