"""User search by a part of the username at scale (PostgreSQL), with and without its index.

A new database (migrated to the head: ``idx_users_username_trgm``, migration 0035) gets
``--users`` users (``user_<md5>`` names, one a minute back in time), then the statement of
the console's and the admin API's user search (``tronrent.user.admin.UserAdminService.page``:
the part OR the exact referral code / Telegram id / address, newest first, a page of 50) is
timed ``--repeat`` times for a rare part, one user's part and a part every user has - first
with the trigram index, then with it dropped (what a search was before 0035). Prints p50/p95
per case and the plan's scan.

    nice -n 19 .venv/bin/python bench/users_search.py [--users 100000] [--repeat 30]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import asyncpg
from _common import PG_DEFAULT, database, load_average
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from tronrent.user.admin import UserAdminService

CASES = (("a rare part", "ab12"), ("one user's part", "c4ca4238a0"), ("a common part", "user"))


def _statement() -> str:
    """The search's SQL as the service builds it, with positional parameters."""
    from sqlalchemy import select

    from tronrent.kit.keyset import newest_first
    from tronrent.models.user import User
    from tronrent.user.admin import matching

    stmt = newest_first(
        select(User.id).where(*matching("PART")), User.created_at, User.id, None, 50
    )
    return str(stmt.compile(dialect=postgresql.asyncpg.dialect()))  # type: ignore[attr-defined]


async def _time(conn: asyncpg.Connection, sql: str, part: str, repeat: int) -> list[float]:
    args = _args(part)
    await conn.fetch(sql, *args)
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        await conn.fetch(sql, *args)
        out.append((time.perf_counter() - t) * 1000)
    return sorted(out)


def _args(part: str) -> list[object]:
    escaped = part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return [f"%{escaped}%", part.upper(), 51]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", default=PG_DEFAULT)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=30)
    a = ap.parse_args()
    assert UserAdminService  # the service whose statement is timed
    sql = _statement()
    print(f"{load_average()}; {a.users:,} users; statement: {' '.join(sql.split())}")
    async with database(a.database_url) as url:
        u = make_url(url)
        conn = await asyncpg.connect(
            host=u.host, port=u.port, user=u.username, password=u.password, database=u.database
        )
        try:
            await conn.execute(
                "INSERT INTO users (id, telegram_id, username, referral_code, created_at,"
                " updated_at) SELECT gen_random_uuid(), 1000000 + g, 'user_' || md5(g::text),"
                " 'R' || g, now() - g * interval '1 minute', now()"
                " FROM generate_series(1, $1) g",
                a.users,
            )
            await conn.execute("ANALYZE users")
            for n, label in enumerate(("with idx_users_username_trgm", "without it (0034)")):
                if n:
                    await conn.execute("DROP INDEX idx_users_username_trgm")
                    await conn.execute("ANALYZE users")
                for case, part in CASES:
                    ms = await _time(conn, sql, part, a.repeat)
                    plan = await conn.fetch("EXPLAIN " + sql, *_args(part))
                    scan = next(r[0].strip(" ->") for r in plan if "Scan" in r[0])
                    p95 = ms[int(len(ms) * 0.95) - 1]
                    print(
                        f"{label:30} {case:16} p50 {statistics.median(ms):7.2f} ms"
                        f"  p95 {p95:7.2f} ms  {scan.split('  (')[0]}"
                    )
        finally:
            await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
