"""The overview: figures computed right on known rows, and the page (both databases)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.kit.time import utcnow
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.common import Currency
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.energy_pool import EnergyPool
from tronrent.models.order import Order, OrderPaymentStatus, OrderStatus, OrderType
from tronrent.models.payment import Payment, PaymentStatus
from tronrent.order.figures import Overview, Profit, figures, latency_of, percentile

from .conftest import Console

TRX = 1_000_000
FLASH, RENTAL, TOP_UP = OrderType.ENERGY_FLASH, OrderType.ENERGY_RENTAL, OrderType.BALANCE_TOP_UP
ACTIVATION = 1_100_001
_seq = itertools.count(1)


class Rows:
    """Known rows: orders, their payments, delegations and chain transactions."""

    def __init__(self, session: AsyncSession, now: datetime) -> None:
        self.session, self.now = session, now
        self.pool = EnergyPool(
            name="main",
            tron_address="T" + "P" * 33,
            private_key_encrypted="x",
            delegated_energy=300_000,
            available_energy=700_000,
            reserved_energy=5_000,
        )
        session.add(self.pool)
        self.pool_id = uuid.uuid4()
        self.pool.id = self.pool_id

    def order(
        self,
        days_ago: int,
        product: OrderType = FLASH,
        currency: Currency = Currency.TRX,
        *,
        paid: int | None = None,
        energy: int | None = 65_000,
        status: OrderStatus = OrderStatus.COMPLETED,
        activation: int | None = None,
        hour: int = 10,
    ) -> Order:
        n = next(_seq)
        created = (self.now - timedelta(days=days_ago)).replace(hour=hour, minute=0, second=0)
        order = Order(
            id=f"T_{n}_{uuid.uuid4().hex[:6]}",
            order_number=f"N{n}_{uuid.uuid4().hex[:6]}",
            order_type=product,
            currency=currency,
            status=status if paid is not None else OrderStatus.PENDING,
            payment_status=OrderPaymentStatus.PAID
            if paid is not None
            else OrderPaymentStatus.PENDING,
            energy_amount=energy,
            paid_amount_units=paid,
            paid_at=created + timedelta(minutes=1) if paid is not None else None,
            activation_fee_sun=activation,
            created_at=created,
            updated_at=created,
        )
        self.session.add(order)
        return order

    def payment(self, order: Order, block: int) -> None:
        self.session.add(
            Payment(
                tx_hash=uuid.uuid4().hex * 2,
                asset=order.currency,
                from_address="T" + "F" * 33,
                to_address="T" + "A" * 33,
                amount_units=order.paid_amount_units or 0,
                block_number=block,
                status=PaymentStatus.MATCHED,
                order_id=order.id,
            )
        )

    def chain_tx(
        self,
        order: Order,
        purpose: ChainTxPurpose,
        *,
        block: int | None = None,
        amount: int | None = None,
        status: ChainTxStatus = ChainTxStatus.CONFIRMED,
    ) -> None:
        self.session.add(
            ChainTransaction(
                purpose=purpose,
                txid=uuid.uuid4().hex * 2,
                owner_address=self.pool.tron_address,
                amount_sun=amount,
                raw_data={},
                raw_data_hex="",
                signatures=[],
                expiration_ms=0,
                status=status,
                block_number=block,
                order_id=order.id,
                created_at=order.created_at + timedelta(minutes=2),
            )
        )

    def delegation(self, order: Order, energy: int, status: DelegationStatus) -> None:
        self.session.add(
            EnergyDelegation(
                order_id=order.id,
                pool_account_id=self.pool_id,
                recipient_address="T" + "R" * 33,
                energy_amount=energy,
                balance_sun=energy * 10,
                status=status,
            )
        )


async def known_rows(session: AsyncSession, now: datetime) -> dict[str, Order]:
    r = Rows(session, now)
    a = r.order(0, paid=5 * TRX)  # today, delivered 3 blocks after its payment
    r.order(0)  # today, waiting for payment
    b = r.order(3, RENTAL, paid=20 * TRX, energy=131_000, activation=ACTIVATION)
    c = r.order(10, RENTAL, Currency.USDT, paid=3 * TRX, activation=ACTIVATION)
    d = r.order(5, paid=7 * TRX, status=OrderStatus.REFUNDED)  # never delivered: refunded
    # an order quoted an activation fee whose recipient turned out active: nothing burnt
    r.order(1, RENTAL, paid=10 * TRX, activation=ACTIVATION, status=OrderStatus.PAID)
    r.order(1, TOP_UP, paid=50 * TRX, energy=None)  # a deposit
    r.order(40, paid=100 * TRX)  # out of range
    await session.flush()
    r.payment(a, 1000)
    r.chain_tx(a, ChainTxPurpose.DELEGATE, block=1003)
    r.delegation(a, 65_000, DelegationStatus.SUCCESS)
    # a refund still on its way is not counted
    r.chain_tx(a, ChainTxPurpose.REFUND, amount=TRX, status=ChainTxStatus.BROADCAST)
    r.payment(b, 2000)
    r.chain_tx(b, ChainTxPurpose.ACTIVATE, block=2004, amount=1)
    r.chain_tx(b, ChainTxPurpose.DELEGATE, block=2007)
    r.delegation(b, 131_000, DelegationStatus.RECLAIMING)
    r.payment(c, 3000)
    r.chain_tx(c, ChainTxPurpose.ACTIVATE, block=3001, amount=1)
    r.chain_tx(c, ChainTxPurpose.DELEGATE, block=3001)
    r.delegation(c, 65_000, DelegationStatus.EXPIRED)
    r.payment(d, 4000)
    r.delegation(d, 65_000, DelegationStatus.FAILED)
    r.chain_tx(d, ChainTxPurpose.REFUND, block=4010, amount=6 * TRX)
    r.chain_tx(d, ChainTxPurpose.REFUND_REST, block=4011, amount=TRX)
    await session.flush()
    return {"a": a, "b": b, "c": c, "d": d}


NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)


@pytest.fixture
async def overview(console: Console) -> Overview:
    maker: async_sessionmaker[AsyncSession] = console.state.session_maker
    async with maker() as session, session.begin():
        await known_rows(session, NOW)
    async with maker() as session:
        return await figures.overview(session, now=NOW)


def _by(o: Overview, days: int) -> dict[tuple[OrderType, Currency], Any]:
    return {(r.product, r.currency): r for r in o.window(days)}


class TestFigures:
    async def test_today(self, overview: Overview) -> None:
        rows = _by(overview, 1)
        assert set(rows) == {(FLASH, Currency.TRX)}
        s = rows[FLASH, Currency.TRX].sales
        assert (s.orders, s.paid, s.revenue, s.refunds, s.activation_sun) == (2, 1, 5 * TRX, 0, 0)

    async def test_seven_days(self, overview: Overview) -> None:
        rows = _by(overview, 7)
        flash = rows[FLASH, Currency.TRX]
        assert (flash.sales.orders, flash.sales.paid, flash.sales.revenue) == (3, 2, 12 * TRX)
        assert flash.sales.refunds == 7 * TRX  # both transfers of the refunded order
        assert flash.profit == Profit({Currency.TRX: 5 * TRX})
        assert flash.profit_per_order == Profit({Currency.TRX: 2_500_000})
        rental = rows[RENTAL, Currency.TRX].sales
        assert (rental.orders, rental.paid, rental.revenue) == (2, 2, 30 * TRX)
        assert rental.activation_sun == ACTIVATION  # only the activation sent
        assert rows[RENTAL, Currency.TRX].profit == Profit({Currency.TRX: 30 * TRX - ACTIVATION})
        assert rows[TOP_UP, Currency.TRX].revenue_counts is False
        totals = overview.totals(7)
        assert set(totals) == {Currency.TRX}  # the deposit is not revenue
        assert (totals[Currency.TRX].orders, totals[Currency.TRX].revenue) == (5, 42 * TRX)

    async def test_thirty_days_usdt(self, overview: Overview) -> None:
        usdt = _by(overview, 30)[RENTAL, Currency.USDT]
        assert (usdt.sales.revenue, usdt.sales.activation_sun) == (3 * TRX, ACTIVATION)
        # USDT less the TRX burnt for it: two amounts, never converted
        assert usdt.profit == Profit({Currency.USDT: 3 * TRX, Currency.TRX: -ACTIVATION})
        assert overview.totals(30)[Currency.USDT].revenue == 3 * TRX
        assert sum(s.orders for s in overview.totals(30).values()) == 6  # not the 40-day one

    async def test_daily_revenue(self, overview: Overview) -> None:
        trx = dict(overview.daily_revenue(Currency.TRX))
        assert len(trx) == 30 and max(trx) == NOW.date()
        assert trx[NOW.date()] == 5 * TRX
        assert trx[NOW.date() - timedelta(days=1)] == 10 * TRX  # the deposit left out
        assert trx[NOW.date() - timedelta(days=3)] == 20 * TRX
        assert trx[NOW.date() - timedelta(days=5)] == 7 * TRX
        assert sum(trx.values()) == 42 * TRX

    async def test_delivery_sample(self, overview: Overview) -> None:
        d = overview.delivery
        # latency: a 3 blocks, b 7 (c is 10 days old, d was never delivered)
        assert (d.samples, d.p50, d.p90) == (2, 3, 7)
        assert d.histogram[3] == d.histogram[7] == 1 and sum(d.histogram) == 2
        # energy sold: a, b, d, the paid rental (65,000 + 131,000 + 65,000 + 65,000);
        # delivered: a and b (d's delegation failed, the rental is not delivered yet)
        assert (d.sold_orders, d.energy_sold, d.energy_delivered) == (4, 326_000, 196_000)
        assert d.energy_share == Fraction(196_000, 326_000)

    async def test_delivery_sample_leaves_out_orders_still_delivering(
        self, console: Console
    ) -> None:
        async with console.state.session_maker() as session, session.begin():
            rows = Rows(session, NOW)
            young = rows.order(0, paid=5 * TRX, hour=12)  # 12:00, 30 minutes before NOW
            old = rows.order(0, paid=5 * TRX, hour=11)
            await session.flush()
            young.created_at = NOW - timedelta(minutes=5)
            for o, block in ((young, 10), (old, 20)):
                rows.payment(o, block)
                rows.chain_tx(o, ChainTxPurpose.DELEGATE, block=block + 1)
        async with console.state.session_maker() as session:
            d = (await figures.overview(session, now=NOW)).delivery
        assert (d.samples, d.sold_orders, d.energy_delivered) == (1, 1, 0)

    async def test_refund_of_an_order_before_the_range_is_left_out(self, console: Console) -> None:
        """Refunds are counted on their order's day: a transfer stored in the 30 days for an
        order made before them is not in the figures; an order with two refund transfers is
        still one order."""
        async with console.state.session_maker() as session, session.begin():
            rows = Rows(session, NOW)
            old = rows.order(40, paid=9 * TRX, status=OrderStatus.REFUNDED)
            new = rows.order(2, paid=4 * TRX, status=OrderStatus.REFUNDED)
            await session.flush()
            rows.chain_tx(old, ChainTxPurpose.REFUND, block=1, amount=9 * TRX)
            rows.chain_tx(new, ChainTxPurpose.REFUND, block=2, amount=3 * TRX)
            rows.chain_tx(new, ChainTxPurpose.REFUND_REST, block=3, amount=TRX)
            await session.flush()
            await session.execute(
                update(ChainTransaction)
                .where(ChainTransaction.order_id == old.id)
                .values(created_at=NOW - timedelta(hours=1))
            )
        async with console.state.session_maker() as session:
            o = await figures.overview(session, now=NOW)
        (row,) = o.window(30)
        assert (row.product, row.currency) == (FLASH, Currency.TRX)
        s = row.sales
        assert (s.orders, s.paid, s.revenue, s.refunds) == (1, 1, 4 * TRX, 4 * TRX)

    async def test_pools(self, overview: Overview) -> None:
        (pool,) = overview.pools
        assert (pool.delegated, pool.capacity, pool.reserved) == (300_000, 1_000_000, 5_000)
        assert pool.share == Fraction(3, 10) == overview.pool_total().share


class TestMaths:
    def test_percentile_nearest_rank(self) -> None:
        values = list(range(1, 11))
        assert (percentile(values, 50), percentile(values, 90), percentile(values, 100)) == (
            5,
            9,
            10,
        )
        assert percentile([4], 90) == 4

    def test_latency_histogram_caps(self) -> None:
        lat = latency_of([0, 1, 1, 25, 40])
        assert lat.histogram[0] == 1 and lat.histogram[1] == 2 and lat.histogram[-1] == 2
        assert latency_of([]).p50 is None

    def test_profit_per_order_rounds_half_even(self) -> None:
        assert Profit({Currency.TRX: 5}).per(2) == Profit({Currency.TRX: 2})
        assert Profit({Currency.TRX: 7}).per(2) == Profit({Currency.TRX: 4})
        assert Profit({Currency.TRX: 7}).per(0) == Profit({})


class TestPage:
    async def test_renders_with_charts(self, console: Console) -> None:
        async with console.state.session_maker() as session, session.begin():
            orders = await known_rows(session, utcnow() - timedelta(days=1))
        http = await console.sign_in("operator")
        page = await http.get("/admin/?window=30")
        assert page.status_code == 200, page.text
        html = page.text
        assert "Figures as of" in html
        assert html.count("<svg") >= 3  # TRX and USDT revenue, latency; pool gauge
        assert "TRX revenue per day" in html and "orders by delivery latency" in html
        assert "42 TRX" in html  # 30-day TRX revenue
        assert "p50 3 · p90 7 blocks" in html
        assert "60.1 %" in html  # energy delivered / sold: 196,000 / 326,000
        assert "30.0 %" in html  # pool utilisation
        assert "-1.100001 TRX" in html  # the USDT order's TRX burnt
        assert "not recorded" in html  # bandwidth burn, said plainly
        assert orders["a"].id not in html  # figures, not a list of orders

    async def test_cached_until_read_again(self, console: Console) -> None:
        http = await console.sign_in("admin")
        first = await http.get("/admin/")
        assert "no orders in 7 days" in first.text
        async with console.state.session_maker() as session, session.begin():
            Rows(session, utcnow()).order(1, paid=5 * TRX)
        cached = await http.get("/admin/")
        assert "no orders in 7 days" in cached.text  # the figures read a moment ago
        fresh = await http.get("/admin/?fresh=1")
        assert "no orders in 7 days" not in fresh.text and "5 TRX" in fresh.text

    @pytest.mark.parametrize("window", ["5", "0", "31", "x"])
    async def test_bad_window_is_a_4xx_page(self, console: Console, window: str) -> None:
        http = await console.sign_in("operator")
        answer = await http.get(f"/admin/?window={window}")
        assert answer.status_code == 422
        assert "text/html" in answer.headers["content-type"]
