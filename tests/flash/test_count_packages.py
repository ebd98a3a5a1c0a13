"""Transaction-count packages on the devnet (real engine, scanner, tronpy gateway; SQLite and
PostgreSQL): bought from the balance, used by real USDT transfers the customer's wallet (tronpy)
builds, signs and broadcasts, each counted once and topped up in the next block with no TRX
burnt for energy; a new-holder transfer counted per the setting; the last count reclaims."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from tronpy import AsyncTron
from tronpy.keys import PrivateKey as TronpyKey
from tronpy.providers.async_http import AsyncHTTPProvider

from package_orders import TRX, new_user
from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key
from tronproto.keys import PrivateKey
from tronrent.kit.db import transaction_scope
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose
from tronrent.models.common import Currency
from tronrent.models.count_package import CountPackage, CountUse, CountUseStatus
from tronrent.models.energy_delegation import EnergyDelegation
from tronrent.models.energy_package import EnergyPackage, PackageType
from tronrent.models.order import Order, OrderStatus
from tronrent.payment.balance_pay import pay_from_balance
from tronrent.product.count import create_count_order
from tronrent.worker import job_scope

from .conftest import Flash, FlashFactory, active

USDT = 1_000_000
EXISTING = 64_285  # the devnet's energy for a transfer to an address holding USDT
NEW_HOLDER = 130_285


async def usdt_with_tronpy(f: Flash, key: PrivateKey, to: str, units: int) -> str:
    """The customer's wallet: a USDT ``transfer`` built, signed and broadcast by tronpy."""
    provider = AsyncHTTPProvider(f.devnet.url)
    provider.use_api_key = False
    async with AsyncTron(provider=provider) as tron:
        contract = await tron.get_contract(f.devnet.config.usdt_address)
        builder = await contract.functions.transfer(to, units)
        tx = await builder.with_owner(key.address_base58).fee_limit(100 * TRX).build()
        signed = tx.sign(TronpyKey(bytes.fromhex(key.hex())))
        result = await signed.broadcast()
        return str(result["txid"])


async def new_count_order(f: Flash, counts: int, recipient: str) -> Order:
    """A paid count package of ``counts`` transfers for ``recipient``, bought from the balance."""
    async with transaction_scope(f.session_maker) as s:
        pkg = EnergyPackage(
            name=f"{counts} transfers",
            package_type=PackageType.TRANSACTION_COUNT,
            transaction_count=counts,
            energy_amount=65_000,
            duration_hours=720,
            base_price_units=3 * TRX * counts,
            currency=Currency.TRX,
        )
        s.add(pkg)
        await s.flush()
        user = await new_user(s, trx_sun=100 * TRX * counts)
        order = await create_count_order(
            s,
            f.engine.rt,
            package_id=pkg.id,
            quantity=1,
            recipient_address=recipient,
            currency=Currency.TRX,
            payment_method="balance",
            user_id=user.id,
        )
    async with job_scope(), transaction_scope(f.session_maker) as s:
        await pay_from_balance(s, order.id, actor="test")
    return await f.wait_order(active, order_id=order.id)


async def available_energy(f: Flash, address: str) -> int:
    res = await f.gateway.get_account_resource(address)
    return int(res.energy_limit - res.energy_used)


async def wait_until(check: Any, wait_s: float = 20.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        found = await check()
        if found:
            return found
        if loop.time() > deadline:
            raise AssertionError("timeout waiting")
        await asyncio.sleep(0.05)


async def uses_of(f: Flash, order_id: str) -> list[CountUse]:
    async with f.session_maker() as s:
        rows = await s.execute(
            select(CountUse).where(CountUse.order_id == order_id).order_by(CountUse.id)
        )
        return list(rows.scalars())


def receipt_of(f: Flash, txid: str) -> Any:
    for block in f.devnet.chain.blocks:
        for tx in block.txs:
            raw = tx.txid.hex() if isinstance(tx.txid, bytes) else str(tx.txid)
            if raw == txid:
                return tx
    raise AssertionError(f"{txid} not in a block")


class TestFiveTransfers:
    async def test_each_counted_once_and_topped_up_with_no_trx_burnt(
        self, flash: FlashFactory, devnet: DevnetServer
    ) -> None:
        f = await flash(rental_s=3600.0, scanner_kw={"usdt_contract": devnet.config.usdt_address})
        customer = funded_key(f.devnet.chain, 50 * TRX, usdt_units=100 * USDT)
        holder = funded_key(f.devnet.chain, TRX, usdt_units=USDT).address_base58
        order = await new_count_order(f, 5, customer.address_base58)
        per_count = order.energy_amount or 0
        assert 65_000 <= per_count <= 66_300  # one transfer's energy, 100-102 %
        async with f.session_maker() as s:
            (delegation,) = (
                await s.execute(
                    select(EnergyDelegation).where(EnergyDelegation.order_id == order.id)
                )
            ).scalars()
        assert delegation.lock_period == 0  # unlocked: the top-up undelegates it at once
        for n in range(1, 6):
            await wait_until(lambda: _enough(f, customer.address_base58, EXISTING), wait_s=20)
            txid = await usdt_with_tronpy(f, customer, holder, USDT)
            await wait_until(lambda: _used(f, order.id, n))
            rec = receipt_of(f, txid)
            assert rec.energy_fee == 0, f"transfer {n} burnt TRX for energy"
        done = await f.wait_order(
            lambda o: o.status is OrderStatus.COMPLETED, order_id=order.id, wait_s=30
        )
        assert done.status is OrderStatus.COMPLETED
        uses = await uses_of(f, order.id)
        assert [u.counts for u in uses] == [1, 1, 1, 1, 1]
        assert [u.status for u in uses] == [CountUseStatus.TOPPED_UP] * 4 + [CountUseStatus.LAST]
        assert len({u.tx_hash for u in uses}) == 5
        async with f.session_maker() as s:
            pkg = await s.get(CountPackage, order.id)
            assert pkg is not None and (pkg.used_counts, pkg.total_counts) == (5, 5)
            pairs = (
                await s.execute(
                    select(ChainTransaction.purpose).where(
                        ChainTransaction.to_address == customer.address_base58,
                        ChainTransaction.order_id.is_(None),
                    )
                )
            ).scalars()
            assert sorted(pairs) == sorted([ChainTxPurpose.DELEGATE, ChainTxPurpose.UNDELEGATE] * 4)
        # everything reclaimed: the customer holds none of our energy
        res = await f.gateway.get_account_resource(customer.address_base58)
        assert res.energy_limit == 0


async def _enough(f: Flash, address: str, need: int) -> bool:
    return await available_energy(f, address) >= need


async def _used(f: Flash, order_id: str, n: int) -> bool:
    async with f.session_maker() as s:
        pkg = await s.get(CountPackage, order_id)
        return pkg is not None and pkg.used_counts >= n


class TestNewHolderTransfer:
    async def test_counted_per_the_setting(self, flash: FlashFactory, devnet: DevnetServer) -> None:
        f = await flash(rental_s=3600.0, scanner_kw={"usdt_contract": devnet.config.usdt_address})
        customer = funded_key(f.devnet.chain, 50 * TRX, usdt_units=100 * USDT)
        holder = funded_key(f.devnet.chain, TRX, usdt_units=USDT).address_base58
        order = await new_count_order(f, 3, customer.address_base58)
        async with transaction_scope(f.session_maker) as s:
            pkg = await s.get(CountPackage, order.id)
            assert pkg is not None
            pkg.new_holder_counts = 2  # COUNT_NEW_HOLDER_COUNTS=2
        newcomer = PrivateKey.random().address_base58  # holds no USDT: 130,285 energy
        await wait_until(lambda: _enough(f, customer.address_base58, EXISTING))
        first = await usdt_with_tronpy(f, customer, newcomer, USDT)
        await wait_until(lambda: _used(f, order.id, 2))
        rec = receipt_of(f, first)
        assert rec.energy_usage > 65_000 and rec.energy_usage_total == NEW_HOLDER
        # the energy held is one ordinary transfer's: the rest of a new-holder one is burnt
        assert rec.energy_fee > 0
        await wait_until(lambda: _enough(f, customer.address_base58, EXISTING))
        second = await usdt_with_tronpy(f, customer, holder, USDT)
        await f.wait_order(
            lambda o: o.status is OrderStatus.COMPLETED, order_id=order.id, wait_s=30
        )
        assert receipt_of(f, second).energy_fee == 0
        uses = await uses_of(f, order.id)
        assert [(u.tx_hash, u.counts) for u in uses] == [(first, 2), (second, 1)]


class TestBurntTransfer:
    async def test_a_transfer_drawing_next_to_no_energy_counts_nothing(
        self, flash: FlashFactory, devnet: DevnetServer
    ) -> None:
        f = await flash(rental_s=3600.0, scanner_kw={"usdt_contract": devnet.config.usdt_address})
        customer = funded_key(f.devnet.chain, 50 * TRX, usdt_units=100 * USDT)
        holder = funded_key(f.devnet.chain, TRX, usdt_units=USDT).address_base58
        order = await new_count_order(f, 5, customer.address_base58)
        # two transfers in one block: the second finds no energy left and burns TRX for it
        f.devnet.node.paused = True
        try:
            await wait_until(lambda: _enough(f, customer.address_base58, EXISTING))
            a = await usdt_with_tronpy(f, customer, holder, USDT)
            b = await usdt_with_tronpy(f, customer, holder, USDT)
            f.devnet.produce()
        finally:
            f.devnet.node.paused = False
        await wait_until(lambda: _used(f, order.id, 1))

        async def settled() -> list[CountUse]:
            uses = await uses_of(f, order.id)
            done = {CountUseStatus.TOPPED_UP, CountUseStatus.NOT_COUNTED}
            return uses if len(uses) == 2 and all(u.status in done for u in uses) else []

        uses = await wait_until(settled)
        by_tx = {u.tx_hash: u for u in uses}
        assert (by_tx[a].counts, by_tx[a].status) == (1, CountUseStatus.TOPPED_UP)
        assert (by_tx[b].counts, by_tx[b].status) == (0, CountUseStatus.NOT_COUNTED)
        # it drew only what the first left (the margin) and burnt TRX for the rest
        assert by_tx[b].energy_used < 65_000 // 2 and by_tx[b].energy_fee_sun > 0
        async with f.session_maker() as s:
            pkg = await s.get(CountPackage, order.id)
            assert pkg is not None and pkg.used_counts == 1
