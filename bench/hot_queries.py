"""Hot queries at 10,000 and at --rows orders and payments (PostgreSQL): within 2x, index-backed.

Two dedicated databases on the server of ``--database-url`` are migrated and loaded with
``generate_series`` (orders and payments of the past, spread one per second; the live set -
200 orders waiting for payment, 200 expired within the grace period - is the same at both
sizes, as in production, where history grows and the open window does not). Plain indexes are
dropped during the load and built again after it (faster than maintaining them row by row).

Then each hot query is run through the code that runs it in production, and timed (median of
``--repeat`` runs after 3 warm-ups):

* open orders: ``scanner.service.load_watched_addresses`` (the scanner's watch list, every
  block), the payment candidates of ``payment.service`` (``_Candidates.open_tiers``, every
  payment batch), ``order.service.expire_overdue`` (the sweeper, every 5 s; nothing is due);
* scanner intake: ``payment.repository.record_payments`` (a block's 20 transfers: INSERT ... ON
  CONFLICT DO NOTHING RETURNING, rolled back) and ``get_by_tx`` (confirm-payment);
* admin search by address and by tx hash: ``order_admin.search`` / ``payment_admin.search``.

Every SQL statement a query ran is EXPLAINed; the index nodes are printed and a sequential
scan of ``orders`` or ``payments`` is flagged.

    nice -n 19 .venv/bin/python bench/hot_queries.py [--rows 10000000] [--small 10000]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres] [--keep]
        [--large-db NAME] [--repeat 15]

``--keep`` keeps the loaded databases (their names are printed); ``--large-db NAME`` times an
already loaded database instead of loading a new one.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from _common import PG_DEFAULT, load_average, quiet_logs
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.db import create_engine, create_session_maker, normalize_database_url
from tronrent.models.common import Currency
from tronrent.order.admin import OrderFilter, order_admin
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service
from tronrent.payment.admin import PaymentFilter, payment_admin
from tronrent.payment.repository import get_by_tx, record_payments
from tronrent.payment.service import _Candidates
from tronrent.scanner.service import load_watched_addresses
from tronrent.storage.migrations import upgrade_async

PAY = "TFLASHPAYMENTADDRESS0000000000000"
LIVE = 200  # orders waiting for payment; as many expired within the grace period

_LOAD = [
    "INSERT INTO users (id, username) "
    "SELECT md5('u' || j)::uuid, 'user' || j FROM generate_series(0, 999) AS j",
    # the past: one order a second back from now; the newest LIVE wait for payment, the next
    # LIVE expired just now; addresses and tx hashes unique per row
    """INSERT INTO orders (id, order_number, order_type, status, payment_status, currency,
        target_address, from_address, payment_address, tron_tx_hash, delegate_tx_hash, user_id,
        expected_amount_units, amount_tail_units, expires_at, created_at, updated_at)
    SELECT 'B_' || lpad(i::text, 9, '0'), 'B_' || lpad(i::text, 9, '0'),
        CASE WHEN i % 10 = 0 THEN 'energy_rental' ELSE 'energy_flash' END,
        CASE WHEN i <= {live} THEN 'pending' WHEN i <= 2 * {live} THEN 'expired'
             ELSE (ARRAY['completed', 'completed', 'completed', 'completed', 'completed',
                         'completed', 'expired', 'expired', 'failed', 'refunded'])[i % 10 + 1]
        END,
        CASE WHEN i <= 2 * {live} THEN 'pending' ELSE 'paid' END, 'TRX',
        'T' || md5('t' || i), 'T' || md5('f' || i), '{pay}',
        md5('p' || i) || md5('q' || i), md5('d' || i) || md5('e' || i),
        CASE WHEN i % 5 = 0 THEN md5('u' || (i % 1000))::uuid END,
        1500000 + i, i % 10000,
        CASE WHEN i <= {live} THEN now() + interval '30 minutes'
             WHEN i <= 2 * {live} THEN now() - make_interval(secs => i - {live})
             ELSE now() - make_interval(secs => i) + interval '30 minutes' END,
        now() - make_interval(secs => i), now() - make_interval(secs => i)
    FROM generate_series(1, {n}) AS i""",
    """INSERT INTO payments (tx_hash, event_index, asset, from_address, to_address,
        amount_units, block_number, status, order_id, handled_at, created_at, updated_at)
    SELECT md5('x' || i) || md5('y' || i), 0,
        CASE WHEN i % 20 = 0 THEN 'USDT' ELSE 'TRX' END,
        'T' || md5('s' || i), '{pay}', 1000000 + i, i,
        (ARRAY['matched', 'matched', 'matched', 'matched', 'matched', 'matched', 'matched',
               'dust', 'excess', 'ignored'])[i % 10 + 1],
        CASE WHEN i % 2 = 0 AND i > 2 * {live} THEN 'B_' || lpad(i::text, 9, '0') END,
        now() - make_interval(secs => i), now() - make_interval(secs => i),
        now() - make_interval(secs => i)
    FROM generate_series(1, {n}) AS i""",
]
_PLAIN_INDEXES = """
SELECT i.indexname, i.indexdef FROM pg_indexes i
WHERE i.tablename IN ('orders', 'payments') AND i.schemaname = current_schema()
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = to_regclass(i.indexname))
"""


def _admin(url: str) -> dict[str, Any]:
    base = make_url(normalize_database_url(url))
    return dict(
        host=base.host or "127.0.0.1",
        port=base.port or 5432,
        user=base.username or "postgres",
        password=base.password,
        database="postgres",
    )


def _db_url(url: str, name: str) -> str:
    base = make_url(normalize_database_url(url))
    return base.set(database=name).render_as_string(hide_password=False)


async def _load(url: str, n: int) -> float:
    """Migrate and fill a new database; the seconds it took."""
    started = time.monotonic()
    await upgrade_async(url)
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET session_replication_role = replica")  # no FK triggers
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '256MB'")
        indexes = await conn.fetch(_PLAIN_INDEXES)
        for row in indexes:
            await conn.execute(f'DROP INDEX "{row["indexname"]}"')
        for sql in _LOAD:
            await conn.execute(sql.format(n=n, live=LIVE, pay=PAY))
        for row in indexes:
            await conn.execute(row["indexdef"])
        await conn.execute("ANALYZE users")
        await conn.execute("ANALYZE orders")
        await conn.execute("ANALYZE payments")
    finally:
        await conn.close()
    return time.monotonic() - started


@asynccontextmanager
async def _database(url: str, n: int, keep: bool) -> AsyncIterator[str]:
    name = f"bench_hot_{n}_{uuid.uuid4().hex[:6]}"
    conn = await asyncpg.connect(**_admin(url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    db = _db_url(url, name)
    try:
        took = await _load(db, n)
        print(f"loaded {n:,} orders and {n:,} payments into {name} in {took:.0f} s", flush=True)
        yield db
    finally:
        if not keep:
            conn = await asyncpg.connect(**_admin(url))
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()


Query = Callable[[AsyncSession], Awaitable[object]]
Statements = list[tuple[str, Any]]


def _queries(n: int) -> dict[str, Query]:
    """The hot queries, each a call of the production code (``n``: rows loaded)."""
    rt = FlashRuntime(payment_address=PAY)
    old = n // 2  # an order and a payment from the middle of the history (values in SQL)

    async def watch_list(s: AsyncSession) -> object:
        return await load_watched_addresses(s)

    async def candidates(s: AsyncSession) -> object:
        return await _Candidates(s, rt, Currency.TRX).open_tiers()

    async def expiry(s: AsyncSession) -> object:
        return await order_service.expire_overdue(s)

    async def intake(s: AsyncSession) -> object:
        rows = [
            dict(
                tx_hash=uuid.uuid4().hex * 2,
                asset=Currency.TRX,
                from_address="TSENDER",
                to_address=PAY,
                amount_units=1_500_001 + k,
                block_number=n + 1,
            )
            for k in range(20)
        ]
        return await record_payments(s, rows)

    def with_value(expr: str, run: Callable[[AsyncSession, str], Awaitable[object]]) -> Query:
        """A lookup of ``expr`` (SQL: the value of one loaded row, not timed apart)."""

        async def query(s: AsyncSession) -> object:
            return await run(s, (await s.execute(text(f"SELECT {expr}"))).scalar_one())

        return query

    payment_tx = f"md5('x{old}') || md5('y{old}')"
    return {
        "open orders: scanner watch list": watch_list,
        "open orders: payment candidates": candidates,
        "open orders: sweeper expiry": expiry,
        "scanner intake: record 20 payments": intake,
        "scanner intake: payment by tx hash": with_value(payment_tx, get_by_tx),
        "admin: orders by address": with_value(
            f"'T' || md5('t{old}')",
            lambda s, v: order_admin.search(s, OrderFilter(address=v), limit=20),
        ),
        "admin: orders by tx hash": with_value(
            f"md5('p{old}') || md5('q{old}')",
            lambda s, v: order_admin.search(s, OrderFilter(tx_hash=v), limit=20),
        ),
        "admin: payments by address": with_value(
            f"'T' || md5('s{old}')",
            lambda s, v: payment_admin.search(s, PaymentFilter(address=v), limit=20),
        ),
        "admin: payments by tx hash": with_value(
            payment_tx, lambda s, v: payment_admin.search(s, PaymentFilter(tx_hash=v), limit=20)
        ),
    }


@dataclass
class Timing:
    #: the whole call through the code (session, ORM, driver, server): median, ms
    ms: float
    #: server execution time of its statements (EXPLAIN ANALYZE, summed): median, ms
    server_ms: float
    plan: list[str]


_PARTITION = re.compile(r"payment_monitoring_logs_(p\d{8}|history|default)")
_NODE = re.compile(r"((?:Parallel )?(?:Index Only Scan|Index Scan|Bitmap Index Scan|Seq Scan)\b.*)")
_ARBITER = re.compile(r"Conflict Arbiter Indexes: (\S+)")
_EXECUTION = re.compile(r"Execution Time: ([0-9.]+) ms")


class _Target:
    """One database: runs a query through the code, captures its SQL, EXPLAINs it."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self.maker = create_session_maker(self.engine)

    async def call(
        self, query: Query, capture: bool = False
    ) -> tuple[float, list[tuple[str, Any]]]:
        seen: list[tuple[str, Any]] = []

        def grab(_c: Any, _cur: Any, statement: str, params: Any, _x: Any, many: bool) -> None:
            # an executemany sent as one multi-row INSERT ("insertmanyvalues") has flat params
            flat = isinstance(params, tuple) and not (params and isinstance(params[0], tuple))
            mine = not statement.lstrip().upper().startswith(("SELECT MD5", "SELECT 'T'"))
            if mine and (not many or flat):
                seen.append((statement, params))

        if capture:
            event.listen(self.engine.sync_engine, "before_cursor_execute", grab)
        try:
            async with self.maker() as s:
                started = time.perf_counter()
                await query(s)
                elapsed = time.perf_counter() - started
                await s.rollback()  # the intake's rows, an expiry: nothing stays
        finally:
            if capture:
                event.remove(self.engine.sync_engine, "before_cursor_execute", grab)
        return elapsed * 1000, seen

    async def server(
        self, statements: list[tuple[str, Any]], repeat: int
    ) -> tuple[float, list[str]]:
        """Median summed execution time of the statements, and their plan's scan nodes."""
        totals: list[float] = []
        nodes: list[str] = []
        async with self.engine.connect() as conn:
            for k in range(repeat):
                total = 0.0
                for statement, params in statements:
                    plan = await conn.exec_driver_sql("EXPLAIN ANALYZE " + statement, params)
                    for (line,) in plan:
                        took = _EXECUTION.search(line)
                        if took:
                            total += float(took.group(1))
                        arbiter = _ARBITER.search(line)
                        if arbiter and k == 0:
                            nodes.append(f"ON CONFLICT on {arbiter.group(1)}")
                        m = _NODE.search(line)
                        if m and k == 0:  # one line for all the partitions of a table
                            node = _PARTITION.sub("payment_monitoring_logs_*", m.group(1))
                            node = node.split("  (")[0]
                            nodes.append(re.sub(r" on (\S+) \S+$", r" on \1", node))
                    await conn.rollback()  # EXPLAIN ANALYZE runs an INSERT: undone
                totals.append(total)
        return statistics.median(totals), nodes

    async def close(self) -> None:
        await self.engine.dispose()


async def _compare(
    small: _Target, large: _Target, queries: tuple[dict[str, Query], dict[str, Query]], repeat: int
) -> dict[str, tuple[Timing, Timing]]:
    """Each query on both databases, runs interleaved (small, large, small, ...) so both see
    the same load on a shared machine."""
    out = {}
    for name in queries[0]:
        times: tuple[list[float], list[float]] = ([], [])
        sql: list[Statements] = [[], []]
        for k in range(3 + repeat):
            for side, target in enumerate((small, large)):
                ms, seen = await target.call(queries[side][name], capture=k == 2)
                if k == 2:
                    sql[side] = seen
                if k >= 3:
                    times[side].append(ms)
        result = []
        for side, target in enumerate((small, large)):
            server_ms, nodes = await target.server(sql[side], repeat)
            result.append(Timing(statistics.median(times[side]), server_ms, nodes))
        out[name] = (result[0], result[1])
        print(f"  {name}: done", flush=True)
    return out


@asynccontextmanager
async def _target(url: str, n: int, keep: bool, name: str | None) -> AsyncIterator[_Target]:
    if name:
        target = _Target(_db_url(url, name))
        try:
            yield target
        finally:
            await target.close()
        return
    async with _database(url, n, keep) as db:
        target = _Target(db)
        try:
            yield target
        finally:
            await target.close()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="orders (and payments), large")
    ap.add_argument("--small", type=int, default=10_000, help="orders (and payments), small")
    ap.add_argument("--database-url", default=PG_DEFAULT, help="PostgreSQL server")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--keep", action="store_true", help="keep the loaded databases")
    ap.add_argument("--large-db", help="time this loaded database instead of loading one")
    ap.add_argument("--small-db", help="the same for the small size")
    args = ap.parse_args()
    quiet_logs()
    print(load_average(), flush=True)
    async with (
        _target(args.database_url, args.small, args.keep, args.small_db) as small,
        _target(args.database_url, args.rows, args.keep, args.large_db) as large,
    ):
        print(load_average(), flush=True)
        timings = await _compare(
            small, large, (_queries(args.small), _queries(args.rows)), args.repeat
        )
    print(load_average())
    print(
        f"\n| query | {args.small:,} rows: call / server (ms) | {args.rows:,} rows: call / server"
        " (ms) | ratio call / server | plan at the large size |"
    )
    print("|---|---|---|---|---|")
    worst = worst_server = 0.0
    for name, (s, big) in timings.items():
        ratio = big.ms / s.ms if s.ms else float("inf")
        server = big.server_ms / s.server_ms if s.server_ms else float("inf")
        worst, worst_server = max(worst, ratio), max(worst_server, server)
        seq = [p for p in big.plan if p.startswith(("Seq Scan on orders", "Seq Scan on payments"))]
        plan = "; ".join(dict.fromkeys(big.plan)) or "-"
        flag = " **SEQ SCAN**" if seq else ""
        print(
            f"| {name} | {s.ms:.2f} / {s.server_ms:.3f} | {big.ms:.2f} / {big.server_ms:.3f} |"
            f" {ratio:.2f} / {server:.2f} | {plan}{flag} |"
        )
    print(
        f"\nRESULT worst ratio at {args.rows:,} rows vs {args.small:,}: {worst:.2f} for the call,"
        f" {worst_server:.2f} for the server's execution time (bar: <= 2)"
    )


if __name__ == "__main__":
    asyncio.run(main())
