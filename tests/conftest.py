"""Shared test fixtures.

Database fixtures (SQLite always; PostgreSQL too when ``TEST_DATABASE_URL`` is set - then an
unreachable server is an ERROR, never a skip):

- ``db_backend``: ``"sqlite"`` / ``"postgres"``; parametrizes every test that uses the fixtures
  below, so such a test runs once per backend.
- ``database_url``: a fresh, fully migrated database of its own for this test (a copy of a
  template migrated once per test session: SQLite file copy, PostgreSQL ``CREATE DATABASE ...
  TEMPLATE``). Commit freely; it is dropped afterwards. Other developers' databases on the same
  server are never touched: every database we create is named ``tronrent_test_<pid>_<random>``.
- ``engine``: an ``AsyncEngine`` on ``database_url``.
- ``session_maker``: ``async_sessionmaker`` on ``engine`` (for code that owns its transactions,
  several sessions, workers).
- ``session``: the fast choice for service/model tests - an ``AsyncSession`` in a transaction
  rolled back after the test, on ONE migrated database shared by the test run (no database is
  created per test). ``session.commit()`` releases a savepoint only. It cannot be combined with
  ``database_url``/``engine``/``session_maker`` in one test (different databases: usage error).
- ``empty_database_url``: a fresh database with NO schema (migration tests).

Parallel runs (pytest-xdist, ``pytest -n N``; ``make test`` uses it): each worker is a process
with its own session fixtures, temp directory and PostgreSQL databases (names carry the pid).
Redis has one keyspace per database number, so this module points ``TEST_REDIS_URL`` of worker
``gwN`` at database ``base + 1 + N`` before any test module reads it (see docs/testing.md).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterator
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _sa_create_async_engine
from sqlalchemy.pool import NullPool

# --- parallel workers ------------------------------------------------------------------------
from _xdist_workers import redis_url_for_worker
from tronrent.kit.db import create_engine, create_session_maker, normalize_database_url
from tronrent.storage.migrations import upgrade

if os.environ.get("TEST_REDIS_URL"):
    os.environ["TEST_REDIS_URL"] = redis_url_for_worker(
        os.environ["TEST_REDIS_URL"].strip(), os.environ.get("PYTEST_XDIST_WORKER")
    )

# --- databases -------------------------------------------------------------------------------

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
DB_BACKENDS = ["sqlite", *(["postgres"] if TEST_DATABASE_URL else [])]


class _PostgresServer:
    """Creates and drops uniquely named databases on the ``TEST_DATABASE_URL`` server.

    PostgreSQL takes 0.3-0.5 s to copy the template and 0.6-1.6 s to drop a database on this
    machine under load: ``prefetch`` copies the next test's database and ``drop_later`` drops a
    used one on threads of their own (each with its own event loop), while tests run."""

    def __init__(self, url: str) -> None:
        self.url = make_url(normalize_database_url(url))
        self.prefix = f"tronrent_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self._count = 0
        self._creator = ThreadPoolExecutor(1, thread_name_prefix="pg-create")
        self._dropper = ThreadPoolExecutor(1, thread_name_prefix="pg-drop")
        self._drops: list[Future[None]] = []

    def url_for(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def new_name(self) -> str:
        self._count += 1
        return f"{self.prefix}_{self._count}"

    async def _admin(self, sql: str) -> None:
        engine = _sa_create_async_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                await connection.exec_driver_sql(sql)
        finally:
            await engine.dispose()

    async def ensure_app_role(self) -> None:
        """Migration 0003 creates the application role when the server lacks it; on a fresh
        server, xdist workers migrating at the same moment would race on ``CREATE ROLE``. The
        same role is made here first, one worker at a time (an advisory lock)."""
        role = os.environ.get("DB_APP_ROLE", "").strip() or "tron_app"
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", role):
            return  # the migration refuses it with a clear error
        engine = _sa_create_async_engine(self.url, poolclass=NullPool)
        try:
            async with engine.begin() as connection:
                await connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7261001)")
                found = await connection.exec_driver_sql(
                    f"SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '{role}'"
                )
                if found.first() is None:
                    await connection.exec_driver_sql(f'CREATE ROLE "{role}" NOLOGIN')
        finally:
            await engine.dispose()

    @staticmethod
    def _create_sql(name: str, template: str | None) -> str:
        suffix = f' TEMPLATE "{template}"' if template else ""
        return f'CREATE DATABASE "{name}"{suffix}'

    async def create(self, name: str, template: str | None = None) -> str:
        await self._admin(self._create_sql(name, template))
        return self.url_for(name)

    def prefetch(self, name: str, template: str) -> Future[None]:
        """Start copying ``template`` to ``name`` in the background."""
        return self._creator.submit(asyncio.run, self._admin(self._create_sql(name, template)))

    async def drop(self, name: str) -> None:
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_later(self, name: str) -> None:
        """Drop ``name`` in the background; a failure is raised by a later ``check_drops``."""
        self._drops.append(self._dropper.submit(asyncio.run, self.drop(name)))
        self.check_drops(wait=False)

    def check_drops(self, *, wait: bool) -> None:
        """Raise the first failed background drop; ``wait``: for all of them first."""
        if wait:
            futures.wait(self._drops)
        done = [f for f in self._drops if f.done()]
        self._drops = [f for f in self._drops if not f.done()]
        for future in done:
            future.result()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres`` (PostgreSQL-only facts: grants, query plans, partitions) run
    on PostgreSQL only: their SQLite variants are deselected, not skipped. Without
    ``TEST_DATABASE_URL`` they fail (``_postgres_only``): never a silent pass."""
    if not TEST_DATABASE_URL:
        return
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        spec = getattr(item, "callspec", None)
        sqlite = spec is not None and spec.params.get("db_backend") == "sqlite"
        (dropped if sqlite and item.get_closest_marker("postgres") else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(autouse=True)
def _servers_needed(request: pytest.FixtureRequest) -> None:
    """``postgres`` / ``redis`` tests fail (never skip) without their server's URL."""
    if request.node.get_closest_marker("postgres") and not TEST_DATABASE_URL:
        pytest.fail("this test needs PostgreSQL: set TEST_DATABASE_URL (README, Tests)")
    if request.node.get_closest_marker("redis") and not os.environ.get("TEST_REDIS_URL"):
        pytest.fail("this test needs Redis: set TEST_REDIS_URL (README, Tests)")


@pytest.fixture(scope="session", params=DB_BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
async def _postgres_server() -> _PostgresServer | None:
    if not TEST_DATABASE_URL:
        return None
    server = _PostgresServer(TEST_DATABASE_URL)
    await server.ensure_app_role()
    return server


def _remove_sqlite_files(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


class _DatabaseFactory:
    """Makes fresh databases for one backend: empty ones, or copies of the migrated template."""

    def __init__(self, backend: str, tmp: Path, server: _PostgresServer | None) -> None:
        self.backend = backend
        self.tmp = tmp
        self.server = server
        self.template: str | None = None  # sqlite: file path; postgres: database name
        self._made: list[str] = []
        self._kept: list[str] = []
        self._next: tuple[str, Future[None]] | None = None  # postgres: the copy being made

    async def empty(self) -> str:
        if self.backend == "sqlite":
            path = self.tmp / f"{uuid.uuid4().hex}.db"
            self._made.append(str(path))
            return f"sqlite+aiosqlite:///{path}"
        assert self.server is not None
        name = self.server.new_name()
        self._made.append(name)
        return await self.server.create(name)

    async def migrated(self, *, keep: bool = False) -> str:
        """A migrated copy of the template; ``keep``: not dropped by ``cleanup()`` until the
        end of the test session."""
        if self.template is None:
            url = await self.empty()
            upgrade(url)
            self.template = self._made.pop()
        if self.backend == "sqlite":
            path = self.tmp / f"{uuid.uuid4().hex}.db"
            shutil.copyfile(self.template, path)
            (self._kept if keep else self._made).append(str(path))
            return f"sqlite+aiosqlite:///{path}"
        server = self.server
        assert server is not None
        name, made = self._next or self._prefetch()
        self._next = None
        (self._kept if keep else self._made).append(name)
        await asyncio.wrap_future(made)
        self._next = self._prefetch()  # the next test's copy, made while this test runs
        return server.url_for(name)

    def _prefetch(self) -> tuple[str, Future[None]]:
        assert self.server is not None and self.template is not None
        name = self.server.new_name()
        return name, self.server.prefetch(name, self.template)

    async def cleanup(self, *, everything: bool = False) -> None:
        made, self._made = self._made, []
        if everything:
            if self._next is not None:
                name, making = self._next
                self._next = None
                await asyncio.wrap_future(making)
                made.append(name)
            made += self._kept
            self._kept = []
        for item in made:
            if self.backend == "sqlite":
                _remove_sqlite_files(item)
            else:
                assert self.server is not None
                self.server.drop_later(item)
        if everything and self.template:
            if self.server is not None:
                self.server.check_drops(wait=True)  # every copy gone before its template
                await self.server.drop(self.template)
            else:
                _remove_sqlite_files(self.template)
            self.template = None


@pytest.fixture(scope="session")
async def _database_factory(
    db_backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    _postgres_server: _PostgresServer | None,
) -> AsyncIterator[_DatabaseFactory]:
    factory = _DatabaseFactory(db_backend, tmp_path_factory.mktemp(f"db-{db_backend}"), None)
    if db_backend == "postgres":
        factory.server = _postgres_server
    try:
        yield factory
    finally:
        await factory.cleanup(everything=True)


@pytest.fixture
async def database_url(_database_factory: _DatabaseFactory) -> AsyncIterator[str]:
    """URL of a fresh, migrated database private to this test."""
    try:
        yield await _database_factory.migrated()
    finally:
        await _database_factory.cleanup()


@pytest.fixture
async def empty_database_url(_database_factory: _DatabaseFactory) -> AsyncIterator[str]:
    """URL of a fresh database with no schema at all."""
    try:
        yield await _database_factory.empty()
    finally:
        await _database_factory.cleanup()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_maker(engine)


@pytest.fixture(scope="session")
async def _shared_engine(_database_factory: _DatabaseFactory) -> AsyncIterator[AsyncEngine]:
    """One migrated database per backend and test run, for ``session``'s rolled-back tests."""
    engine = create_engine(await _database_factory.migrated(keep=True))
    try:
        yield engine
    finally:
        await engine.dispose()


_PER_TEST_DATABASE_FIXTURES = {"database_url", "engine", "session_maker"}


@pytest.fixture
async def session(
    request: pytest.FixtureRequest, _shared_engine: AsyncEngine
) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back after the test (fast: no database is
    created). ``session.commit()`` only releases a savepoint, so code that commits works."""
    mixed = _PER_TEST_DATABASE_FIXTURES & set(request.fixturenames)
    if mixed:
        raise pytest.UsageError(
            f"`session` (rolled back, shared database) cannot be combined with {sorted(mixed)}"
            " (a database of the test's own): use `session_maker()` there"
        )
    async with _shared_engine.connect() as connection:
        outer = await connection.begin()
        session = AsyncSession(
            bind=connection,
            expire_on_commit=False,
            autoflush=False,
            join_transaction_mode="create_savepoint",
        )
        try:
            yield session
        finally:
            await session.close()
            await outer.rollback()


# --- long SQLite write locks -------------------------------------------------------------------
# Every SQLite transaction of the service holds the database's single write lock from its first
# statement (kit/db.py), so one that waits on the node or another task holds every other writer
# back ("database is locked" past the busy timeout). With TRONRENT_TEST_LOCKS=<file>, each
# SQLite transaction held longer than TRONRENT_TEST_LOCKS_S seconds (default 1) is written to
# that file: how long, the test, and where in our code it began (docs/testing.md).

_LOCK_FILE = os.environ.get("TRONRENT_TEST_LOCKS", "")


def _our_stack() -> str:
    """Where the current task is, in our code: in a SQLAlchemy event the frames of the awaiting
    coroutines are those of the greenlet that runs the event loop (the parent of this one)."""
    import traceback

    import greenlet

    parent = greenlet.getcurrent().parent
    frame = parent.gr_frame if parent is not None else None
    if frame is None:
        return ""
    ours = [
        f
        for f in traceback.extract_stack(frame)
        if "/src/tronrent/" in f.filename or "/tests/" in f.filename
    ]
    return "".join(traceback.format_list(ours))


if _LOCK_FILE:
    from sqlalchemy import event as _event
    from sqlalchemy.engine import Engine as _Engine

    _LOCK_MIN_S = float(os.environ.get("TRONRENT_TEST_LOCKS_S", "1"))

    @_event.listens_for(_Engine, "after_cursor_execute")
    def _lock_taken(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # after the BEGIN IMMEDIATE ran: the lock is held from here (the wait for it not counted)
        if connection.dialect.name != "sqlite":
            return
        if statement == "BEGIN IMMEDIATE":
            connection.info["_test_lock"] = (time.monotonic(), _our_stack())
        elif statement == "COMMIT":  # kit.db.release_write_lock: let go before a network wait
            _lock_released(connection)

    def _lock_released(connection: Any) -> None:
        # SQLite only, and never on an invalidated connection (a cancelled statement): its
        # ``info`` raises there, and an exception out of a rollback listener would turn a
        # task's cancellation into an error the task's own handlers swallow
        if connection.dialect.name != "sqlite" or connection.invalidated:
            return
        taken = connection.info.pop("_test_lock", None)
        if taken is None:
            return
        held = time.monotonic() - taken[0]
        if held >= _LOCK_MIN_S:
            test = os.environ.get("PYTEST_CURRENT_TEST", "")
            with open(_LOCK_FILE, "a") as f:
                f.write(f"=== {held:.2f} s  {test}\n{taken[1]}\n")

    _event.listen(_Engine, "commit", _lock_released)
    _event.listen(_Engine, "rollback", _lock_released)


# --- leaked tasks ----------------------------------------------------------------------------
# Every async test shares one event loop (session scope). A task a test starts and does not stop
# (a scanner, a worker, an engine loop) keeps running through later tests: it touches databases
# already dropped and counts into the process-wide metrics other tests read. With
# TRONRENT_TEST_LEAKS=<file> each test that leaves new tasks behind is written to that file.

_LEAK_FILE = os.environ.get("TRONRENT_TEST_LEAKS", "")
_loop_holder: list[asyncio.AbstractEventLoop] = []


@pytest.fixture(scope="session", autouse=bool(_LEAK_FILE))
async def _session_loop() -> AsyncIterator[None]:
    _loop_holder.append(asyncio.get_running_loop())
    yield


#: tasks no test may leave behind: jobs of an in-memory queue (taskiq's ``Receiver.callback``)
#: and the flash engine's loops. A test that fails half-way (a timeout) may not stop its engine;
#: its jobs would go on retrying against a dropped database and count into the process-wide
#: metrics later tests read (``tronrent_errors_total``). No session fixture runs either.
_ENGINE_TASKS = ("Receiver.callback",)


def _engine_task(task: asyncio.Task[object]) -> bool:
    name = getattr(task.get_coro(), "__qualname__", "")
    return name in _ENGINE_TASKS or task.get_name().startswith("flash-")


@pytest.fixture(autouse=True)
async def _no_stray_engine_tasks() -> AsyncIterator[None]:
    before = asyncio.all_tasks()
    yield
    stray = [t for t in asyncio.all_tasks() - before if not t.done() and _engine_task(t)]
    for task in stray:
        task.cancel()
    if stray:
        await asyncio.wait(stray, timeout=10)


def _task_names() -> dict[int, str]:
    out = {id(t): f"thread:{t.name}" for t in threading.enumerate()}
    if not _loop_holder:
        return out
    for task in asyncio.all_tasks(_loop_holder[0]):
        coro = task.get_coro()
        out[id(task)] = getattr(coro, "__qualname__", repr(coro))
    return out


if _LEAK_FILE:

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> object:
        before = _task_names()
        yield
        after = _task_names()
        new = sorted(name for key, name in after.items() if key not in before)
        if new:
            with open(_LEAK_FILE, "a") as f:
                f.write(f"{item.nodeid}\t{os.environ.get('PYTEST_XDIST_WORKER', '')}\t{new}\n")
