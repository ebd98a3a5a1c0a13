"""The admin searches are index-backed on PostgreSQL: with 100,000 orders and 100,000
payments, the plan of every filter's first page and of a later page reads indexes only (no
sequential scan of ``orders`` or ``payments``). PostgreSQL only: SQLite's planner is not what
production runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tronrent.kit.db import create_session_maker
from tronrent.kit.keyset import Position
from tronrent.models.common import Currency
from tronrent.models.order import OrderStatus, OrderType
from tronrent.models.payment import PaymentStatus
from tronrent.order.admin import OrderFilter, order_admin
from tronrent.order.figures import figures
from tronrent.order.figures import sales_statement as figures_sales_statement
from tronrent.payment.admin import PROBLEM_STATUSES, PaymentFilter, payment_admin

N = 100_000
NOW = datetime(2026, 12, 1, tzinfo=UTC)

_LOAD = [
    "INSERT INTO users (id, username) "
    "SELECT md5('u' || j)::uuid, 'user' || j FROM generate_series(0, 999) AS j",
    # statuses and types in realistic shares; 1 in 5 orders has a user; addresses and tx
    # hashes unique per row
    f"""INSERT INTO orders (id, order_number, order_type, status, payment_status, currency,
        target_address, from_address, payment_address, tron_tx_hash, delegate_tx_hash, user_id,
        created_at, updated_at)
    SELECT 'B_' || lpad(i::text, 9, '0'), 'B_' || lpad(i::text, 9, '0'),
        CASE WHEN i % 10 = 0 THEN 'energy_rental' ELSE 'energy_flash' END,
        (ARRAY['completed', 'completed', 'completed', 'completed', 'completed', 'active',
               'expired', 'pending', 'failed', 'refunded'])[i % 10 + 1],
        'paid', 'TRX', 'T' || md5('t' || i), 'T' || md5('f' || i),
        CASE WHEN i % 100 = 0 THEN 'TOTHER' ELSE 'TFLASH' END,
        md5('p' || i) || md5('q' || i), md5('d' || i) || md5('e' || i),
        CASE WHEN i % 5 = 0 THEN md5('u' || (i % 1000))::uuid END,
        TIMESTAMPTZ '2026-12-01 00:00:00+00' - make_interval(secs => i),
        TIMESTAMPTZ '2026-12-01 00:00:00+00' - make_interval(secs => i)
    FROM generate_series(1, {N}) AS i""",
    f"""INSERT INTO payments (tx_hash, event_index, asset, from_address, to_address,
        amount_units, block_number, status, order_id, handled_at, created_at, updated_at)
    SELECT md5('x' || i) || md5('y' || i), 0,
        CASE WHEN i % 20 = 0 THEN 'USDT' ELSE 'TRX' END,
        'T' || md5('s' || i), CASE WHEN i % 100 = 0 THEN 'TOTHER' ELSE 'TFLASH' END,
        1000000 + i, i,
        (ARRAY['matched', 'matched', 'matched', 'matched', 'matched', 'matched', 'matched',
               'dust', 'excess', 'ignored'])[i % 10 + 1],
        CASE WHEN i % 2 = 0 THEN 'B_' || lpad(i::text, 9, '0') END,
        TIMESTAMPTZ '2026-12-01 00:00:00+00' - make_interval(secs => i),
        TIMESTAMPTZ '2026-12-01 00:00:00+00' - make_interval(secs => i),
        TIMESTAMPTZ '2026-12-01 00:00:00+00' - make_interval(secs => i)
    FROM generate_series(1, {N}) AS i""",
    "ANALYZE users",
    "ANALYZE orders",
    "ANALYZE payments",
]


async def _plan(session: AsyncSession, stmt: Select[Any]) -> str:
    sql = stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    rows = await session.execute(text(f"EXPLAIN {sql}"))
    return "\n".join(r[0] for r in rows)


def _index_only(plan: str, table: str) -> None:
    assert f"Seq Scan on {table}" not in plan, plan
    assert "Index" in plan, plan


LATER = NOW - timedelta(hours=20)
ORDER_FILTERS: dict[str, OrderFilter] = {
    "none": OrderFilter(),
    "status rare": OrderFilter(status=OrderStatus.PENDING),
    "status common": OrderFilter(status=OrderStatus.COMPLETED),
    "type": OrderFilter(order_type=OrderType.ENERGY_RENTAL),
    "user": OrderFilter(user_id=uuid.UUID("3c59dc04-8e88-4ae9-bf7a-4d4a3d5e6b1c")),
    "recipient": OrderFilter(address="T" + "0" * 32),
    "payment address": OrderFilter(address="TOTHER"),
    "tx hash": OrderFilter(tx_hash="a" * 64),
    "dates": OrderFilter(created_from=NOW - timedelta(days=1), created_to=NOW),
    "status and dates": OrderFilter(
        status=OrderStatus.ACTIVE, created_from=NOW - timedelta(hours=2), created_to=NOW
    ),
}
PAYMENT_FILTERS: dict[str, PaymentFilter] = {
    "none": PaymentFilter(),
    "status": PaymentFilter(statuses=(PaymentStatus.IGNORED,)),
    "problems": PaymentFilter(statuses=PROBLEM_STATUSES),
    "asset": PaymentFilter(asset=Currency.USDT),
    "address": PaymentFilter(address="T" + "1" * 32),
    "tx hash": PaymentFilter(tx_hash="b" * 64),
    "order": PaymentFilter(order_id="B_000000042"),
    "dates": PaymentFilter(created_from=NOW - timedelta(days=1), created_to=NOW),
}


@pytest.mark.postgres
async def test_every_filter_reads_indexes(db_backend: str, engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for sql in _LOAD:
            await conn.execute(text(sql))
    async with create_session_maker(engine)() as s:
        # a tx hash that one order's payment carries (resolved to that order's id first)
        paid_tx = (
            await s.execute(text("SELECT tx_hash FROM payments WHERE order_id IS NOT NULL LIMIT 1"))
        ).scalar_one()
        filters = {**ORDER_FILTERS, "payment tx hash": OrderFilter(tx_hash=paid_tx)}
        for name, f in filters.items():
            for after in (None, Position(LATER, "B_000050000")):
                stmt = await order_admin.statement(s, f, limit=20, after=after)
                plan = await _plan(s, stmt)
                assert "Seq Scan" not in plan, f"orders, {name}, after={after}:\n{plan}"
                _index_only(plan, "orders")
        for name, pf in PAYMENT_FILTERS.items():
            for after_p in (None, Position(LATER, 50_000)):
                plan = await _plan(s, payment_admin.statement(pf, limit=20, after=after_p))
                assert "Seq Scan" not in plan, f"payments, {name}, after={after_p}:\n{plan}"
                _index_only(plan, "payments")
        # and the answers are right: a later page starts after the cursor, newest first
        page = await order_admin.search(
            s, OrderFilter(status=OrderStatus.PENDING), limit=5, after=Position(LATER, "B_0")
        )
        assert all(o.created_at < LATER for o in page.items)
        stamps = [o.created_at for o in page.items]
        assert stamps == sorted(stamps, reverse=True) and page.next_cursor


@pytest.mark.postgres
async def test_overview_sales_read_is_index_only(db_backend: str, engine: AsyncEngine) -> None:
    """The overview's sales read (orders per day, product and currency) takes every column
    from ``idx_orders_created_at_id`` (0033_console_bench): no heap fetch per order."""
    async with engine.begin() as conn:
        for sql in _LOAD[:2]:
            await conn.execute(text(sql))
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.execute(text("VACUUM ANALYZE orders"))
    async with create_session_maker(engine)() as s:
        stmt = figures_sales_statement("postgresql", NOW - timedelta(hours=2), NOW)
        plan = await _plan(s, stmt)
        assert "Index Only Scan using idx_orders_created_at_id on orders" in plan, plan
        # and it answers: 2 hours of the load's orders (one a second), by product
        rows = (await s.execute(stmt)).all()
        assert sum(r[3] for r in rows) == 7200
        assert {r[1] for r in rows} == {"energy_flash", "energy_rental"}


@pytest.mark.postgres
async def test_overview_sales_are_planned_for_their_dates(
    db_backend: str, engine: AsyncEngine
) -> None:
    """The sales read runs with a custom plan every time (asyncpg prepares it; PostgreSQL's
    generic plan after 5 executions guesses ~500 orders for the month and sorts them all)
    and enough work_mem to group the month in memory - for its transaction only."""
    async with create_session_maker(engine)() as s:
        async with s.begin():
            for _ in range(7):
                await figures.sales(s, since=(NOW - timedelta(days=29)).date(), now=NOW)
            assert (await s.execute(text("SHOW plan_cache_mode"))).scalar_one() == (
                "force_custom_plan"
            )
            assert (await s.execute(text("SHOW work_mem"))).scalar_one() == "32MB"
        async with s.begin():
            assert (await s.execute(text("SHOW plan_cache_mode"))).scalar_one() == "auto"
