"""Migration runner: Alembic configured in code, usable from an installed package.

``upgrade(url)`` / ``downgrade(url, rev)`` are plain functions (the CLI calls them; they also
work from inside a running event loop). ``ensure_migrated(engine)`` is the start-up guard.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from tronrent.kit.db import create_engine, normalize_database_url
from tronrent.kit.errors import ServiceUnavailable

T = TypeVar("T")

SCRIPT_LOCATION = "tronrent:migrations"
#: arbitrary constant: two ``tronrent migrate`` runs on one PostgreSQL database take turns
_PG_MIGRATION_LOCK = 0x7472_6F6E_7265_6E74 >> 1


class DatabaseNotMigrated(ServiceUnavailable):
    """The database schema is not at the revision this code needs."""

    default_code = "DATABASE_NOT_MIGRATED"


def alembic_config(url: str | None = None) -> Config:
    """The Alembic ``Config`` (no alembic.ini): scripts from the installed package."""
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url:
        # configparser interpolation: a literal "%" (URL-encoded passwords) must be doubled
        cfg.set_main_option("sqlalchemy.url", normalize_database_url(url).replace("%", "%%"))
    return cfg


def head_revisions() -> tuple[str, ...]:
    """Revision(s) this code expects the database to be at."""
    return tuple(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion, also when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _alembic_on(connection: Connection, cfg: Config, action: str, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
    cfg.attributes["connection"] = connection
    if action == "upgrade":
        command.upgrade(cfg, revision)
    else:
        command.downgrade(cfg, revision)
    if connection.dialect.name == "sqlite":
        # the migration ran with foreign keys off (table rebuilds need it): verify afterwards
        problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"migration left dangling foreign keys: {problems[:5]}")


async def _migrate(url: str, action: str, revision: str) -> None:
    engine = create_engine(url, foreign_keys=False)
    try:
        cfg = alembic_config(url)
        async with engine.begin() as connection:
            await connection.run_sync(_alembic_on, cfg, action, revision)
    finally:
        await engine.dispose()


async def upgrade_async(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision``, in one transaction."""
    await _migrate(url, "upgrade", revision)


async def downgrade_async(url: str, revision: str) -> None:
    """Downgrade the database at ``url`` to ``revision`` (``"base"``: drop everything)."""
    await _migrate(url, "downgrade", revision)


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision`` (``tronrent migrate``)."""
    _run(upgrade_async(url, revision))


def downgrade(url: str, revision: str) -> None:
    """Downgrade the database at ``url`` to ``revision``."""
    _run(downgrade_async(url, revision))


def _current_heads(connection: Connection) -> tuple[str, ...]:
    return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's current revision (None: never migrated)."""
    async with engine.connect() as connection:
        heads = await connection.run_sync(_current_heads)
    return ",".join(heads) if heads else None


async def ensure_migrated(engine: AsyncEngine) -> None:
    """Refuse to run on a database whose schema is not at this code's head revision."""
    async with engine.connect() as connection:
        current = await connection.run_sync(_current_heads)
    expected = head_revisions()
    if current == expected:
        return
    known = {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if not current:
        raise DatabaseNotMigrated(
            "database is not initialised (no schema): run `tronrent migrate` first"
        )
    if any(rev not in known for rev in current):
        raise DatabaseNotMigrated(
            f"database schema revision {','.join(current)} is newer than this tronrent "
            f"(expects {','.join(expected)}): upgrade tronrent"
        )
    raise DatabaseNotMigrated(
        f"database schema is at revision {','.join(current)}, this tronrent needs "
        f"{','.join(expected)}: run `tronrent migrate`"
    )


def main(argv: list[str] | None = None) -> None:
    """Developer entry point: ``python -m tronrent.storage.migrations revision -m "..."``."""
    parser = argparse.ArgumentParser(prog="python -m tronrent.storage.migrations")
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL", "sqlite:///./data/dev.db"))
    sub = parser.add_subparsers(dest="cmd", required=True)
    rev = sub.add_parser("revision", help="new revision (autogenerate against --url)")
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument("--rev-id", default=None)
    rev.add_argument("--autogenerate", action="store_true")
    up = sub.add_parser("upgrade")
    up.add_argument("revision", nargs="?", default="head")
    down = sub.add_parser("downgrade")
    down.add_argument("revision")
    args = parser.parse_args(argv)
    if args.cmd == "revision":
        cfg = alembic_config(args.url)
        command.revision(
            cfg, message=args.message, autogenerate=args.autogenerate, rev_id=args.rev_id
        )
    elif args.cmd == "upgrade":
        upgrade(args.url, args.revision)
    else:
        downgrade(args.url, args.revision)


if __name__ == "__main__":
    main()
