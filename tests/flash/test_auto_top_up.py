"""Auto top-up on the devnet (real engine, scanner, tronpy wallet; SQLite and PostgreSQL): set up
from the balance, each USDT transfer of the address topped up in the next block with no TRX
burnt and billed once to the balance (ledger cause ``auto_top_up`` keyed by the transfer),
every top-up in ``energy_transactions``; stopped with a notice when the balance runs out."""

from __future__ import annotations

from sqlalchemy import select

from package_orders import TRX, new_user
from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key
from tronrent.count import auto
from tronrent.kit.audit import Actor
from tronrent.kit.db import transaction_scope
from tronrent.models.auto_top_up import AutoStopReason, AutoTopUp
from tronrent.models.balance_ledger import BalanceLedgerEntry, LedgerCause
from tronrent.models.common import Currency
from tronrent.models.count_package import CountUseStatus
from tronrent.models.energy_transaction import EnergyTransaction, EnergyTransactionStatus
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.models.order import OrderStatus
from tronrent.models.user import User
from tronrent.worker import job_scope

from .conftest import Flash, FlashFactory, active
from .test_count_packages import (
    EXISTING,
    USDT,
    _enough,
    receipt_of,
    usdt_with_tronpy,
    uses_of,
    wait_until,
)

PRICE = 2 * TRX


async def new_auto(f: Flash, address: str, balance_sun: int) -> str:
    """An auto top-up of ``address`` for a new user holding ``balance_sun``; its order id once
    the first transfer's worth is delegated."""
    async with job_scope(), transaction_scope(f.session_maker) as s:
        user = await new_user(s, trx_sun=balance_sun)
        row = await auto.create(
            s,
            f.engine.rt,
            user_id=user.id,
            address=address,
            threshold_energy=65_000,
            currency=Currency.TRX,
            price_units=PRICE,
            actor=Actor("test"),
        )
    await f.wait_order(active, order_id=row.order_id)
    return row.order_id


async def topped_up(f: Flash, order_id: str, n: int) -> bool:
    uses = await uses_of(f, order_id)
    return sum(1 for u in uses if u.status is CountUseStatus.TOPPED_UP) >= n


class TestKeepsEnergyUntilTheBalanceRunsOut:
    async def test_billed_once_per_top_up_then_stopped(
        self, flash: FlashFactory, devnet: DevnetServer
    ) -> None:
        f = await flash(rental_s=3600.0, scanner_kw={"usdt_contract": devnet.config.usdt_address})
        customer = funded_key(f.devnet.chain, 50 * TRX, usdt_units=100 * USDT)
        holder = funded_key(f.devnet.chain, TRX, usdt_units=USDT).address_base58
        # the first transfer's worth now, two top-ups, then 1 TRX: not enough for a third
        order_id = await new_auto(f, customer.address_base58, 3 * PRICE + TRX)
        sent: list[str] = []
        for n in (1, 2):
            await wait_until(lambda: _enough(f, customer.address_base58, EXISTING))
            sent.append(await usdt_with_tronpy(f, customer, holder, USDT))
            await wait_until(lambda: topped_up(f, order_id, n))
        await wait_until(lambda: _enough(f, customer.address_base58, EXISTING))
        sent.append(await usdt_with_tronpy(f, customer, holder, USDT))
        done = await f.wait_order(
            lambda o: o.status is OrderStatus.COMPLETED, order_id=order_id, wait_s=30
        )
        assert done.status is OrderStatus.COMPLETED
        for txid in sent:
            assert receipt_of(f, txid).energy_fee == 0  # the energy was there every time
        uses = await uses_of(f, order_id)
        assert [u.tx_hash for u in uses] == sent
        assert [u.status for u in uses] == [CountUseStatus.TOPPED_UP] * 2 + [CountUseStatus.LAST]
        assert [u.counts for u in uses] == [1, 1, 0]
        async with f.session_maker() as s:
            row = await s.get(AutoTopUp, order_id)
            assert row is not None
            assert row.stopped_reason is AutoStopReason.BALANCE
            assert (row.top_ups, row.billed_units) == (2, 3 * PRICE)
            bills = (
                await s.execute(
                    select(BalanceLedgerEntry.cause_id, BalanceLedgerEntry.delta_units).where(
                        BalanceLedgerEntry.cause_type == LedgerCause.AUTO_TOP_UP
                    )
                )
            ).all()
            assert sorted(bills) == sorted((txid, -PRICE) for txid in sent[:2])
            user = await s.get(User, row.user_id)
            assert user is not None and user.trx_balance_sun == TRX  # nothing billed for #3
            events = (
                await s.execute(
                    select(NotificationOutbox.event_type).where(
                        NotificationOutbox.order_id == order_id
                    )
                )
            ).scalars()
            kinds = list(events)
            assert kinds.count(auto.CHARGED_EVENT) == 2 and kinds.count(auto.STOPPED_EVENT) == 1

        async def recorded() -> list[EnergyTransaction]:
            async with f.session_maker() as s:
                rows = list(
                    (
                        await s.execute(
                            select(EnergyTransaction).where(EnergyTransaction.order_id == order_id)
                        )
                    ).scalars()
                )
            confirmed = EnergyTransactionStatus.CONFIRMED
            return rows if all(r.status is confirmed for r in rows) else []

        # the first delegation, two top-up pairs, the reclaim: all recorded and confirmed
        rows = await wait_until(recorded)
        kinds = sorted(r.transaction_type.value for r in rows)
        assert kinds == ["delegate"] * 3 + ["undelegate"] * 3
        assert all(r.block_number for r in rows)
        res = await f.gateway.get_account_resource(customer.address_base58)
        assert res.energy_limit == 0  # everything reclaimed
