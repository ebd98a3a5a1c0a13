"""The operator's economics: sales, profit, delivery latency, energy delivered and pool use.

Read-only figures for the console's overview, in exact integers (amounts in base units of
their currency, energy in energy units, latency in blocks); never commits, never writes.

- **Sales** are grouped by UTC day of the order's ``created_at``, product (``order_type``)
  and currency, over the last :data:`DAYS` days (one range read along ``(created_at, id)``'s
  index, which on PostgreSQL holds every column read: an index-only scan);
  today / 7 days / 30 days are sums of those days. An order counts as *paid* once it has
  ``paid_at``; its *revenue* is what was paid (``paid_amount_units``, excess included).
  Balance top-ups are deposits, not revenue: they are listed, never added to the totals.
- **Profit** of an order = revenue - refunds - TRX burnt for it. *Refunds* are the order's
  confirmed refund transfers (``chain_transactions`` ``refund``/``refund_rest``, their
  ``amount_sun`` in the payment's currency). *Burnt for activation* is ``activation_fee_sun``
  of the orders whose recipient activation transfer was confirmed (the fee read from
  ``getchainparameters`` at create-order: the system-contract fee, the bandwidth burn of an
  account-creating transaction when the sender has no staked bandwidth, and the 1 sun sent -
  the most it can cost). *Burnt for bandwidth* by our delegate/undelegate/refund transactions
  is **not recorded**: the scanner confirms them from their block without reading their
  receipts, so the profit leaves it out (at most ~0.3 TRX a transaction, and nothing while the
  pool's free and staked bandwidth last). Agent commissions are not subtracted either. A USDT
  order's profit is USDT less the TRX burnt for it: two amounts, never converted. Both are
  read from the transactions of the last :data:`DAYS` days (a small partial index), summed
  per order and joined to the orders' read: each counted on its order's day, in the same
  statement (`sales_statement`).
- **Delivery** over a sample, the newest :data:`SAMPLE` paid orders of the last
  :data:`SAMPLE_DAYS` days (not the last :data:`SETTLE_MINUTES` minutes: still being
  delivered), read along ``(created_at, id)`` with three index lookups each:
  *latency* in blocks from the block of the order's payment to the block of its first
  confirmed delegation (orders paid from a balance have no payment block: not in it); *energy
  delivered / sold*: sold = ``energy_amount`` of the orders paid in full (``payment_status``
  paid or overpaid), delivered = the energy of their delegations confirmed on chain
  (``success``, ``reclaiming``, ``expired``).
- **Pool utilisation**: each pool's delegated energy against what it could delegate
  (delegated + still available, the figures of the last chain sync, see ``pool.tasks``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, case, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.time import utcnow
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.common import Currency
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.energy_pool import EnergyPool
from tronrent.models.order import Order, OrderPaymentStatus, OrderType
from tronrent.models.payment import Payment, PaymentStatus
from tronrent.pool.energy import delivered_share
from tronrent.pool.service import pool as pool_service

#: the days of sales read (today and the 29 before it)
DAYS: Final = 30
#: the windows of the overview: label, days (today counts as one)
WINDOWS: Final = (("Today", 1), ("7 days", 7), ("30 days", 30))
#: the delivery sample: the newest paid orders of the last SAMPLE_DAYS days, none younger than
#: SETTLE_MINUTES (their delivery may still be under way)
SAMPLE: Final = 1000
SAMPLE_DAYS: Final = 7
SETTLE_MINUTES: Final = 10
#: latency histogram: one bar per block up to this, then one "and more" bar
LATENCY_BINS: Final = 20
#: PostgreSQL: the month of orders is grouped in memory, not sorted on disk (4 MB default)
_WORK_MEM: Final = "32MB"

#: orders paid in full: their energy was sold
_SOLD = (OrderPaymentStatus.PAID, OrderPaymentStatus.OVERPAID)
#: delegations whose energy reached the recipient
_DELIVERED = (DelegationStatus.SUCCESS, DelegationStatus.RECLAIMING, DelegationStatus.EXPIRED)
_REFUNDS = (ChainTxPurpose.REFUND, ChainTxPurpose.REFUND_REST)
#: deposits, not sales
NOT_REVENUE: Final = frozenset({OrderType.BALANCE_TOP_UP})


@dataclass(slots=True)
class Sales:
    """Sales of one product in one currency over some days."""

    orders: int = 0
    paid: int = 0
    #: base units of the currency
    revenue: int = 0
    refunds: int = 0
    #: sun (TRX whatever the order's currency)
    activation_sun: int = 0

    def add(self, other: Sales) -> None:
        self.orders += other.orders
        self.paid += other.paid
        self.revenue += other.revenue
        self.refunds += other.refunds
        self.activation_sun += other.activation_sun


@dataclass(frozen=True, slots=True)
class Profit:
    """Revenue less refunds and TRX burnt, per currency (a USDT order's profit is USDT less the
    TRX burnt for it: two amounts, never converted)."""

    amounts: dict[Currency, int]

    @classmethod
    def of(cls, currency: Currency, s: Sales) -> Profit:
        amounts = {currency: s.revenue - s.refunds}
        if s.activation_sun:
            amounts[Currency.TRX] = amounts.get(Currency.TRX, 0) - s.activation_sun
        return cls(amounts)

    def per(self, orders: int) -> Profit:
        """The average per order, rounded to the unit (half to even)."""
        if orders < 1:
            return Profit({})
        return Profit({c: round(Fraction(a, orders)) for c, a in self.amounts.items()})


@dataclass(frozen=True, slots=True)
class SalesRow:
    product: OrderType
    currency: Currency
    sales: Sales

    @property
    def revenue_counts(self) -> bool:
        return self.product not in NOT_REVENUE

    @property
    def profit(self) -> Profit:
        return Profit.of(self.currency, self.sales)

    @property
    def profit_per_order(self) -> Profit:
        return self.profit.per(self.sales.paid)


@dataclass(frozen=True, slots=True)
class Delivery:
    """The delivery sample: latency over the ``samples`` orders with a payment block and a
    confirmed delegation; energy over the ``sold_orders`` orders paid in full."""

    samples: int
    p50: int | None
    p90: int | None
    #: one count per block 0..LATENCY_BINS-1, then the count of LATENCY_BINS and more
    histogram: tuple[int, ...]
    sold_orders: int = 0
    energy_sold: int = 0
    energy_delivered: int = 0

    @property
    def energy_share(self) -> Fraction | None:
        """Energy delivered / sold (None: nothing sold)."""
        if self.energy_sold < 1:
            return None
        return delivered_share(self.energy_delivered, self.energy_sold)


@dataclass(frozen=True, slots=True)
class PoolUse:
    name: str
    address: str
    status: str
    delegated: int
    available: int
    reserved: int

    @property
    def capacity(self) -> int:
        return self.delegated + self.available

    @property
    def share(self) -> Fraction | None:
        """Delegated / what could be delegated (None: no capacity known)."""
        return Fraction(self.delegated, self.capacity) if self.capacity > 0 else None


@dataclass(frozen=True, slots=True)
class Overview:
    as_of: datetime
    #: the days read, oldest first (the last is today)
    days: tuple[date, ...]
    daily: dict[tuple[date, OrderType, Currency], Sales]
    delivery: Delivery
    pools: tuple[PoolUse, ...]

    def window(self, days: int) -> list[SalesRow]:
        """Sales of the last ``days`` days by product and currency (products in their enum
        order, TRX first), only the pairs that had orders."""
        since = self.days[-days]
        merged: dict[tuple[OrderType, Currency], Sales] = defaultdict(Sales)
        for (day, product, currency), s in self.daily.items():
            if day >= since:
                merged[product, currency].add(s)
        order = {p: i for i, p in enumerate(OrderType)}
        return [
            SalesRow(p, c, s)
            for (p, c), s in sorted(merged.items(), key=lambda kv: (order[kv[0][0]], kv[0][1]))
        ]

    def totals(self, days: int) -> dict[Currency, Sales]:
        """The window's sales per currency, deposits (balance top-ups) left out."""
        out: dict[Currency, Sales] = {}
        for row in self.window(days):
            if row.revenue_counts:
                out.setdefault(row.currency, Sales()).add(row.sales)
        return out

    def daily_revenue(self, currency: Currency) -> list[tuple[date, int]]:
        """Revenue per day (deposits left out), every day of the range (0 when none)."""
        per_day = dict.fromkeys(self.days, 0)
        for (day, product, cur), s in self.daily.items():
            if cur is currency and product not in NOT_REVENUE:
                per_day[day] += s.revenue
        return list(per_day.items())

    def pool_total(self) -> PoolUse:
        return PoolUse(
            "all pools",
            "",
            "",
            sum(p.delegated for p in self.pools),
            sum(p.available for p in self.pools),
            sum(p.reserved for p in self.pools),
        )


def percentile(sorted_values: Sequence[int], numerator: int, denominator: int = 100) -> int:
    """The nearest-rank percentile ``numerator/denominator`` of ascending ``sorted_values``."""
    if not sorted_values:
        raise ValueError("no values")
    n = len(sorted_values)
    rank = max(1, -(-numerator * n // denominator))  # ceil
    return sorted_values[min(rank, n) - 1]


def latency_of(blocks: Iterable[int], **energy: int) -> Delivery:
    """The delivery figures of these latencies (blocks) and ``energy`` (Delivery's fields)."""
    values = sorted(max(0, b) for b in blocks)
    histogram = [0] * (LATENCY_BINS + 1)
    for v in values:
        histogram[min(v, LATENCY_BINS)] += 1
    if not values:
        return Delivery(0, None, None, tuple(histogram), **energy)
    p50, p90 = percentile(values, 50), percentile(values, 90)
    return Delivery(len(values), p50, p90, tuple(histogram), **energy)


def _as_date(value: Any) -> date:
    """A day bucket as the database returns it (a timestamp on PostgreSQL, text on SQLite)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


class FigureService:
    async def overview(self, session: AsyncSession, *, now: datetime | None = None) -> Overview:
        """Every figure of the overview, as of ``now`` (default: now)."""
        now = (now or utcnow()).astimezone(UTC)
        today = now.date()
        days = tuple(today - timedelta(days=DAYS - 1 - i) for i in range(DAYS))
        daily = await self.sales(session, since=days[0], now=now)
        delivery = await self.delivery(session, now=now)
        pools = tuple(_pool_use(p) for p in await pool_service.list_pools(session))
        return Overview(now, days, daily, delivery, pools)

    async def sales(
        self, session: AsyncSession, *, since: date, now: datetime
    ) -> dict[tuple[date, OrderType, Currency], Sales]:
        """Sales per (UTC day of the order, product, currency) from ``since`` to ``now``."""
        start = datetime.combine(since, time(), tzinfo=UTC)
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            # planned for these dates every time: asyncpg prepares the statement, and after 5
            # executions PostgreSQL may keep a generic plan guessing ~500 orders for the range
            # (a sort of the whole month before grouping: 2-3x slower at 80,000 orders)
            await session.execute(
                text(
                    f"SELECT set_config('work_mem', '{_WORK_MEM}', true), "
                    "set_config('plan_cache_mode', 'force_custom_plan', true)"
                )
            )
        daily: dict[tuple[date, OrderType, Currency], Sales] = defaultdict(Sales)
        for row in await session.execute(sales_statement(dialect, start, now)):
            s = daily[_as_date(row[0]), OrderType(row[1]), Currency(row[2])]
            s.orders, s.paid, s.revenue = int(row[3]), int(row[4]), int(row[5] or 0)
            s.refunds, s.activation_sun = int(row[6] or 0), int(row[7] or 0)
        return dict(daily)

    async def delivery(self, session: AsyncSession, *, now: datetime) -> Delivery:
        """Latency and energy delivered / sold over the newest paid orders (see the module)."""
        recent = (
            select(Order.id, Order.energy_amount, Order.payment_status)
            .where(
                Order.created_at >= now - timedelta(days=SAMPLE_DAYS),
                Order.created_at <= now - timedelta(minutes=SETTLE_MINUTES),
                Order.paid_at.is_not(None),
                Order.order_type.not_in(NOT_REVENUE),
            )
            .order_by(Order.created_at.desc(), Order.id.desc())
            .limit(SAMPLE)
            .subquery()
        )
        paid_block = (
            select(func.min(Payment.block_number))
            .where(Payment.order_id == recent.c.id, Payment.status != PaymentStatus.ORPHANED)
            .correlate(recent)
            .scalar_subquery()
        )
        delegated_block = (
            select(func.min(ChainTransaction.block_number))
            .where(
                ChainTransaction.order_id == recent.c.id,
                ChainTransaction.purpose == ChainTxPurpose.DELEGATE,
                ChainTransaction.status == ChainTxStatus.CONFIRMED,
            )
            .correlate(recent)
            .scalar_subquery()
        )
        delivered = (
            select(func.sum(EnergyDelegation.energy_amount))
            .where(
                EnergyDelegation.order_id == recent.c.id,
                EnergyDelegation.status.in_(_DELIVERED),
            )
            .correlate(recent)
            .scalar_subquery()
        )
        stmt = select(
            paid_block, delegated_block, recent.c.energy_amount, recent.c.payment_status, delivered
        ).select_from(recent)
        blocks: list[int] = []
        sold_orders = energy_sold = energy_delivered = 0
        for p, d, energy, payment_status, got in await session.execute(stmt):
            if p is not None and d is not None:
                blocks.append(int(d) - int(p))
            if OrderPaymentStatus(payment_status) in _SOLD and energy:
                sold_orders += 1
                energy_sold += int(energy)
                energy_delivered += int(got or 0)
        return latency_of(
            blocks,
            sold_orders=sold_orders,
            energy_sold=energy_sold,
            energy_delivered=energy_delivered,
        )


def sales_statement(dialect: str, start: datetime, now: datetime) -> Select[Any]:
    """Per (UTC day, product, currency) of the orders created from ``start`` to ``now``:
    orders, paid orders, revenue, refunds, TRX burnt for activations - in one read.

    The orders are a range of ``idx_orders_created_at_id``, which on PostgreSQL includes every
    column read here (an index-only scan, 0033_console_bench). Their refunds and activations
    are the few confirmed transactions of those purposes stored since ``start`` (the partial
    index of 0029_console_cover), summed per order and joined to it (at most one row per
    order: the order counts stay counts); a transaction stored before ``start`` is of an
    order created before it, out of the range anyway."""
    refunding = ChainTransaction.purpose.in_(_REFUNDS)
    activating = ChainTransaction.purpose == ChainTxPurpose.ACTIVATE
    money_out = (
        select(
            ChainTransaction.order_id.label("order_id"),
            func.sum(case((refunding, ChainTransaction.amount_sun), else_=0)).label("refunds"),
            func.count(case((activating, 1))).label("activations"),
        )
        .where(
            ChainTransaction.created_at >= start,
            ChainTransaction.purpose.in_((*_REFUNDS, ChainTxPurpose.ACTIVATE)),
            ChainTransaction.status == ChainTxStatus.CONFIRMED,
        )
        .group_by(ChainTransaction.order_id)
        .subquery("money_out")
    )
    keys = (_day(dialect, Order.created_at), Order.order_type, Order.currency)
    paid = Order.paid_at.is_not(None)
    return (
        select(
            *keys,
            func.count(),
            func.count(Order.paid_at),
            func.sum(case((paid, func.coalesce(Order.paid_amount_units, 0)), else_=0)),
            func.sum(money_out.c.refunds),
            func.sum(money_out.c.activations * func.coalesce(Order.activation_fee_sun, 0)),
        )
        .select_from(Order)
        .outerjoin(money_out, money_out.c.order_id == Order.id)
        .where(Order.created_at >= start, Order.created_at <= now)
        .group_by(*keys)
    )


def _day(dialect: str, column: Any) -> ColumnElement[Any]:
    """The UTC day of a timestamp column (a timestamp on PostgreSQL, 'YYYY-MM-DD' on SQLite,
    where timestamps are stored as naive UTC)."""
    if dialect == "postgresql":
        # literals, not bound parameters: the GROUP BY must repeat the very same expression
        utc = func.timezone(literal_column("'UTC'"), column)
        return func.date_trunc(literal_column("'day'"), utc)
    return func.date(column)


def _pool_use(p: EnergyPool) -> PoolUse:
    return PoolUse(
        p.name,
        p.tron_address,
        p.status.value,
        p.delegated_energy,
        p.available_energy,
        p.reserved_energy,
    )


figures = FigureService()
