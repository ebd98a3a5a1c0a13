"""``tronrent.kit.db``: URL normalisation, engine settings, concurrent writers."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tronrent.kit import db as db_module
from tronrent.kit.db import (
    STANDALONE,
    create_engine,
    normalize_database_url,
    read_only,
    release_write_lock,
)
from tronrent.models import EnergyPool
from tronrent.storage import notify


class TestNormalizeDatabaseUrl:
    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            ("postgres://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db"),
            ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
            ("postgresql+psycopg2://u@h/db", "postgresql+asyncpg://u@h/db"),
            ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
            (
                "postgresql://u@/db?host=/var/run/postgresql",
                "postgresql+asyncpg://u@/db?host=/var/run/postgresql",
            ),
            ("sqlite:///./data/x.db", "sqlite+aiosqlite:///./data/x.db"),
            ("sqlite+aiosqlite:////abs/x.db", "sqlite+aiosqlite:////abs/x.db"),
            ("/var/lib/tronrent/x.db", "sqlite+aiosqlite:////var/lib/tronrent/x.db"),
        ],
    )
    def test_forms(self, given: str, expected: str) -> None:
        assert normalize_database_url(given) == expected

    @pytest.mark.parametrize("bad", ["", "mysql://u@h/db"])
    def test_refused(self, bad: str) -> None:
        with pytest.raises(ValueError):
            normalize_database_url(bad)


class TestSqliteEngine:
    async def test_pragmas_and_directory(self, tmp_path: Path) -> None:
        engine = create_engine(f"sqlite:///{tmp_path}/nested/dir/x.db")
        try:
            async with engine.connect() as connection:
                fk = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar_one()
                mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar_one()
                busy = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar_one()
            assert (fk, mode, busy) == (1, "wal", 15_000)
            assert (tmp_path / "nested" / "dir" / "x.db").exists()
        finally:
            await engine.dispose()

    async def test_a_read_only_transaction_does_not_wait_for_the_writer(
        self, tmp_path: Path
    ) -> None:
        engine = create_engine(f"sqlite:///{tmp_path}/r.db", connect_args={"timeout": 0.2})
        try:
            async with engine.begin() as c:
                await c.exec_driver_sql("CREATE TABLE t (x INTEGER)")
                await c.exec_driver_sql("INSERT INTO t VALUES (1)")
            maker = async_sessionmaker(engine)
            async with maker() as writer, maker() as reader, maker() as other:
                await writer.execute(text("INSERT INTO t VALUES (2)"))  # holds the write lock
                await read_only(reader)
                # a snapshot from before the writer's uncommitted row, at once
                assert (await reader.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1
                with pytest.raises(OperationalError, match="locked"):
                    await other.execute(text("SELECT count(*) FROM t"))  # BEGIN IMMEDIATE
                await writer.commit()
        finally:
            await engine.dispose()


class TestReleaseWriteLock:
    """Before a network wait, a unit of work that has only read lets other writers in."""

    async def test_sqlite_a_reader_lets_writers_in_a_writer_keeps_its_lock(
        self, tmp_path: Path
    ) -> None:
        engine = create_engine(f"sqlite:///{tmp_path}/w.db")
        try:
            async with engine.begin() as c:
                await c.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            maker = async_sessionmaker(engine, expire_on_commit=False)

            impatient = create_engine(f"sqlite:///{tmp_path}/w.db", connect_args={"timeout": 0})

            async def other_writer_gets_in() -> bool:
                async with impatient.connect() as raw:
                    try:
                        await raw.exec_driver_sql("INSERT INTO t VALUES (9)")  # BEGIN IMMEDIATE
                    except OperationalError as exc:
                        assert "locked" in str(exc)
                        return False
                    await raw.rollback()
                    return True

            async with maker() as reader, reader.begin():  # a context manager's transaction
                await reader.execute(text("SELECT count(*) FROM t"))
                assert not await other_writer_gets_in()  # the read holds the lock
                await release_write_lock(reader)
                assert reader.in_transaction()  # the session's transaction goes on
                assert await other_writer_gets_in()
                await reader.execute(text("INSERT INTO t VALUES (1)"))  # takes the lock again
                assert not await other_writer_gets_in()
            async with maker() as undone:
                await undone.execute(text("SELECT count(*) FROM t"))
                await release_write_lock(undone)
                await undone.execute(text("INSERT INTO t VALUES (3)"))
                await undone.rollback()  # what follows the release is one transaction still
            async with maker() as writer:
                await writer.execute(text("INSERT INTO t VALUES (2)"))
                await release_write_lock(writer)
                assert writer.in_transaction()  # its write belongs with what follows
                assert not await other_writer_gets_in()
                await writer.rollback()
            async with maker() as standalone:  # a nonce, a last use: committed by a release
                await standalone.execute(
                    text("INSERT INTO t VALUES (4)").execution_options(**{STANDALONE: True})
                )
                await release_write_lock(standalone)
                assert await other_writer_gets_in()
                await standalone.execute(text("INSERT INTO t VALUES (5)"))
                await standalone.rollback()  # undoes what followed the release only
            async with maker() as s:
                got = (await s.execute(text("SELECT x FROM t ORDER BY x"))).scalars().all()
                assert got == [1, 4]
            await impatient.dispose()
        finally:
            await engine.dispose()

    async def test_the_unit_of_work_goes_on(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        async with session_maker() as s, s.begin():
            await s.execute(select(EnergyPool.id).limit(1))
            await release_write_lock(s)  # on PostgreSQL: nothing to release
            assert s.in_transaction()
            await release_write_lock(s)  # twice in a row: harmless
            await s.execute(select(EnergyPool.id).limit(1))


class TestConcurrentReservations:
    async def test_no_over_allocation_with_parallel_sessions(
        self, engine: AsyncEngine, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        """Ten sessions race to reserve 30k each from a 100k pool: exactly three win, on
        either database (row lock on PostgreSQL; BEGIN IMMEDIATE on SQLite)."""
        async with session_maker() as session:
            pool = EnergyPool(
                name="p",
                tron_address="TRacePool",
                private_key_encrypted="x",
                available_energy=100_000,
            )
            session.add(pool)
            await session.commit()

        async def reserve() -> bool:
            async with session_maker() as session:
                # read first (as allocation code does), then the conditional write
                await session.execute(select(EnergyPool.available_energy))
                result = await session.execute(
                    update(EnergyPool)
                    .where(
                        EnergyPool.id == pool.id,
                        EnergyPool.available_energy - EnergyPool.reserved_energy >= 30_000,
                    )
                    .values(reserved_energy=EnergyPool.reserved_energy + 30_000)
                )
                await session.commit()
                return result.rowcount == 1  # type: ignore[attr-defined]

        wins = await asyncio.gather(*(reserve() for _ in range(10)))
        assert sum(wins) == 3
        async with engine.connect() as connection:
            reserved = (
                await connection.execute(text("SELECT reserved_energy FROM energy_pools"))
            ).scalar_one()
        assert reserved == 90_000


class TestPooledConnectionsPing:
    """PostgreSQL: a pooled connection idle longer than `IDLE_PING_S` is pinged before use and
    replaced when the server dropped it; one in steady use is not pinged (two round trips
    less per unit of work) and, if the server drops it, the failure invalidates the pool."""

    @staticmethod
    async def backend_pid(engine: AsyncEngine) -> int:
        async with engine.connect() as c:
            return int((await c.execute(text("SELECT pg_backend_pid()"))).scalar_one())

    @staticmethod
    async def terminate(url: str, pid: int) -> None:
        other = create_engine(url)
        async with other.connect() as c:
            await c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await other.dispose()

    @pytest.mark.postgres
    async def test_an_idle_connection_dropped_by_the_server_is_replaced(
        self, database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        engine = create_engine(database_url, pool_size=1, max_overflow=0)
        try:
            pid = await self.backend_pid(engine)
            await self.terminate(database_url, pid)
            monkeypatch.setattr(db_module, "IDLE_PING_S", 0.0)  # it counts as idle
            assert await self.backend_pid(engine) != pid  # no error: pinged, reconnected
        finally:
            await engine.dispose()

    @pytest.mark.postgres
    async def test_a_connection_in_use_is_not_pinged(
        self, database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        pings: list[object] = []
        real_ping = AsyncAdapt_asyncpg_connection.ping

        def counted(connection: AsyncAdapt_asyncpg_connection) -> None:
            pings.append(connection)
            real_ping(connection)

        monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counted)
        engine = create_engine(database_url, pool_size=1, max_overflow=0)
        try:
            pid = await self.backend_pid(engine)
            assert await self.backend_pid(engine) == pid
            assert pings == []  # in use: no ping (a fresh connection needs none either)
            monkeypatch.setattr(db_module, "IDLE_PING_S", 0.0)
            assert await self.backend_pid(engine) == pid
            assert len(pings) == 1  # idle: pinged, alive, kept
            monkeypatch.setattr(db_module, "IDLE_PING_S", 3600.0)
            await self.terminate(database_url, pid)
            with pytest.raises(DBAPIError) as failed:
                await self.backend_pid(engine)
            assert failed.value.connection_invalidated
            assert await self.backend_pid(engine) != pid  # the next checkout connects afresh
        finally:
            await engine.dispose()


@pytest.mark.postgres
async def test_postgresql_on_the_same_host_through_its_unix_socket(database_url: str) -> None:
    """``DATABASE_URL=postgresql://USER@/DB?host=/var/run/postgresql`` (docs/operations.md,
    "PostgreSQL on the same host"): the pool's connections and the LISTEN connection of
    `storage.notify` (made from the engine's own connect arguments) both go through the
    socket - no TCP address on the server's side - and a NOTIFY reaches the listener."""
    tcp = create_engine(database_url)
    try:
        async with tcp.connect() as c:
            dirs = (await c.exec_driver_sql("SHOW unix_socket_directories")).scalar_one()
        socket_dir = str(dirs).split(",")[0].strip()
        url = make_url(database_url)
        operators_form = (
            f"postgresql://{url.username}@/{url.database}?host={socket_dir}"  # as written
        )
        assert normalize_database_url(operators_form).startswith("postgresql+asyncpg://")
        engine = create_engine(operators_form)
        try:
            async with engine.connect() as c:
                addr = (await c.exec_driver_sql("SELECT inet_server_addr()")).scalar_one()
            assert addr is None  # a Unix-socket connection has no server address
            heard = asyncio.Event()
            stop = asyncio.Event()
            listening = asyncio.create_task(
                notify.listen(engine, "tronrent_socket_test", heard.set, stop)
            )
            try:
                async with asyncio.timeout(10):
                    while not heard.is_set():  # until the listener is connected
                        async with tcp.begin() as c:
                            await c.exec_driver_sql("NOTIFY tronrent_socket_test")
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(heard.wait(), 0.2)
            finally:
                stop.set()
                await listening
        finally:
            await engine.dispose()
    finally:
        await tcp.dispose()
