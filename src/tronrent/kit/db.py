"""Database plumbing shared by every domain: the declarative ``Base``, engines, sessions, types.

Both supported databases are first-class: SQLite (embedded default, via aiosqlite) and PostgreSQL
(production, via asyncpg). Everything here produces the same schema and the same Python values
on both, so models and migrations never branch on the dialect.
"""

from __future__ import annotations

import enum
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    bindparam,
    event,
    func,
    select,
    union_all,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    make_transient_to_detached,
    mapped_column,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator, TypeEngine

# Constraint names follow PostgreSQL's own defaults (``orders_pkey``, ``users_email_key``,
# ``orders_user_id_fkey``, ``orders_energy_amount_check``) so the seed's named constraints keep
# their names and both databases carry identical, stable names that migrations can address.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}

#: how long a SQLite writer waits for the single write lock before "database is locked" (then
#: answered 503 ``DATABASE_BUSY`` with ``Retry-After``). No transaction waits on the network
#: while holding it (`release_write_lock`), so a wait this long means a machine overloaded
#: for seconds - a writer should then wait, not fail.
SQLITE_BUSY_TIMEOUT_MS = 15_000


class Base(DeclarativeBase):
    """Declarative base of every ORM model (``tronrent.models``)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# --- portable column types -------------------------------------------------------------------

#: JSON document: ``JSONB`` on PostgreSQL (indexable, compact), JSON text on SQLite.
PortableJSON: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")

#: 64-bit surrogate key that autoincrements on both databases (SQLite only autoincrements a
#: column declared exactly ``INTEGER PRIMARY KEY``).
BigIntPK: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")

#: UUID: native ``uuid`` on PostgreSQL, ``CHAR(32)`` hex on SQLite.
UUIDType: TypeEngine[uuid.UUID] = Uuid(as_uuid=True)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetime on both databases.

    PostgreSQL stores ``timestamptz``. SQLite has no time zones: values are converted to UTC and
    stored naive, and read back as aware UTC. Naive values are refused on the way in - they are
    always a bug (local time sneaking in).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(f"naive datetime {value!r}: use an aware UTC datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


E = TypeVar("E", bound=enum.StrEnum)


class StrEnumType(TypeDecorator[E], Generic[E]):
    """A ``StrEnum`` stored as ``VARCHAR(length)``; the allowed values are a CHECK constraint
    (see :func:`enum_check`), not a native PostgreSQL enum, so adding a value is a plain migration
    on both databases. Plain strings are accepted on the way in, members come back out."""

    impl = String
    cache_ok = True

    def __init__(self, enum_class: type[E], length: int = 20) -> None:
        super().__init__(length)
        self.enum_class = enum_class

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return self.enum_class(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        if value is None:
            return None
        return self.enum_class(value)


def in_check(column: str, values: Iterable[str]) -> str:
    """SQL text ``column IN ('a', 'b')`` for a CHECK constraint."""
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"{column} IN ({quoted})"


def enum_check(column: str, enum_class: type[enum.StrEnum]) -> str:
    """SQL text of the CHECK constraint that restricts ``column`` to the members of a StrEnum."""
    return in_check(column, (member.value for member in enum_class))


#: ``Index(info={ONLY_ON: ("postgresql",)})``: the database kinds that have this index (give it
#: ``.ddl_if(dialect=...)`` as well); the others leave it out of schema comparisons
ONLY_ON = "tronrent_only_on"


def include_object_for(dialect: str) -> Callable[..., bool]:
    """Alembic's ``include_object`` for a ``dialect`` database: the models' indexes marked
    ``ONLY_ON`` other databases are not expected there."""

    def include_object(obj: Any, _name: Any, type_: str, reflected: bool, _other: Any) -> bool:
        only = obj.info.get(ONLY_ON) if type_ == "index" and not reflected else None
        return only is None or dialect in only

    return include_object


# --- engines and sessions --------------------------------------------------------------------


def normalize_database_url(url: str) -> str:
    """Turn what operators write into an async SQLAlchemy URL.

    ``postgres://``, ``postgresql://`` and ``postgresql+psycopg2://`` become
    ``postgresql+asyncpg://``; ``sqlite://`` becomes ``sqlite+aiosqlite://``; a bare file path
    (``./data/tronrent.db``) becomes an aiosqlite URL for that file.
    """
    url = url.strip()
    if not url:
        raise ValueError("empty database URL")
    if "://" not in url:
        return f"sqlite+aiosqlite:///{Path(url).expanduser()}"
    scheme, rest = url.split("://", 1)
    base = scheme.split("+", 1)[0].lower()
    if base in ("postgres", "postgresql"):
        return f"postgresql+asyncpg://{rest}"
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    raise ValueError(f"unsupported database URL scheme {scheme!r}: use postgresql:// or sqlite://")


def _sqlite_pragmas(
    foreign_keys: bool, busy_timeout_ms: int
) -> Callable[[Any, ConnectionPoolEntry], None]:
    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the driver (it would BEGIN lazily, DEFERRED, and
        # never around DDL); ``_sqlite_on_begin`` emits the BEGIN instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    return on_connect


#: execution option of a connection whose transactions only read (`read_only`)
READ_ONLY = "tronrent_read_only"


def _sqlite_on_begin(connection: Connection) -> None:
    # BEGIN IMMEDIATE takes the write lock up front. A DEFERRED transaction that reads and then
    # writes fails at once with "database is locked" when another writer got in between - the
    # busy timeout cannot help there - so read-then-write code (reservations, state machines)
    # would see spurious errors under concurrency. SQLite has a single writer anyway.
    # A transaction declared read-only (`read_only`) begins DEFERRED: in WAL mode it reads a
    # snapshot without waiting for, or holding up, the writer.
    connection.info.pop(_WROTE, None)
    connection.info.pop(_REBEGIN, None)
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE")


#: ``Connection.info`` keys: the SQLite transaction on this connection has written; it was
#: ended under the session by `release_write_lock` (the next statement begins it again)
_WROTE = "tronrent_wrote"
_REBEGIN = "tronrent_rebegin"
#: execution option of a write that stands on its own - final whatever the rest of its unit of
#: work does (a request's nonce, a key's last use): it does not keep `release_write_lock` from
#: releasing, and a release commits it
STANDALONE = "tronrent_standalone"


def _sqlite_before_execute(
    connection: Connection,
    cursor: Any,
    statement: str,
    _parameters: Any,
    context: Any,
    _executemany: bool,
) -> None:
    info = connection.info
    if info.pop(_REBEGIN, False):
        cursor.execute("BEGIN IMMEDIATE")
    if statement.lstrip()[:6].upper().startswith(("SELECT", "PRAGMA", "BEGIN")):
        return
    options = getattr(context, "execution_options", None) or {}
    if not options.get(STANDALONE):
        info[_WROTE] = True


async def release_write_lock(session: AsyncSession) -> None:
    """Call before waiting on the network (a node, an HTTP peer) in the middle of a unit of
    work: on SQLite, lets other writers in while it waits, if it has only read so far.

    Every SQLite transaction holds the database's single write lock from its first statement
    (``BEGIN IMMEDIATE``, see `_sqlite_on_begin`), so a node call inside one stalls every
    other writer of the process - for the node's whole timeout when it is down, and past the
    busy timeout they fail. This ends SQLite's transaction under the session; the session's
    own stays open (its context managers, after-commit hooks and loaded objects are
    untouched), and its next statement begins SQLite's anew with ``BEGIN IMMEDIATE``. What was
    read before may have changed by then: the writes that follow must not depend on it beyond
    what their own statements and constraints check. A transaction that has written keeps its
    lock (its writes belong with what follows), unless its writes were all `STANDALONE`
    (committed by the release: they hold whatever follows). Nothing happens on PostgreSQL, where a
    transaction holds only the rows it wrote."""
    if not session.in_transaction() or session.get_bind().dialect.name != "sqlite":
        return
    if session.new or session.dirty or session.deleted:
        return
    connection = await session.connection()
    info = connection.info
    options = (
        connection.sync_connection.get_execution_options() if connection.sync_connection else {}
    )
    if info.get(_WROTE) or info.get(_REBEGIN) or options.get(READ_ONLY):
        return
    await connection.exec_driver_sql("COMMIT")  # only reads: nothing is committed
    info.pop(_WROTE, None)
    info[_REBEGIN] = True


async def read_only(session: AsyncSession) -> None:
    """Declare the session's coming transaction read-only: on SQLite it then takes no write
    lock (see `_sqlite_on_begin`); on PostgreSQL nothing changes. Call it before the first
    statement; a write in such a transaction may fail with "database is locked" on SQLite."""
    await session.connection(execution_options={READ_ONLY: True})


def create_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 10,
    max_overflow: int = 10,
    foreign_keys: bool = True,
    **kwargs: Any,
) -> AsyncEngine:
    """An ``AsyncEngine`` for ``url`` (normalized first).

    SQLite: foreign keys enforced, WAL journal (readers never block the writer), a busy timeout
    instead of immediate ``database is locked`` errors, and the parent directory created.
    ``foreign_keys=False`` is for the migration runner only: SQLite table rebuilds ("batch"
    migrations) must run with enforcement off; the runner checks integrity afterwards.
    PostgreSQL: a bounded pool; a connection idle more than `IDLE_PING_S` is pinged before use
    (`_ping_if_idle`), so connections dropped by the server are replaced.
    Both (SQLite files too) get a pool of ``pool_size`` + ``max_overflow`` connections.
    """
    sa_url = make_url(normalize_database_url(url))
    if sa_url.get_backend_name() == "sqlite":
        database = sa_url.database or ""
        in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
        if not in_memory:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        connect_args = dict(kwargs.pop("connect_args", {}))
        # Python-side busy wait in addition to the PRAGMA (seconds).
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        if not in_memory:
            # a file database gets a queue pool too: size it like PostgreSQL's (DB_POOL_SIZE)
            kwargs.setdefault("pool_size", pool_size)
            kwargs.setdefault("max_overflow", max_overflow)
        engine = create_async_engine(sa_url, echo=echo, connect_args=connect_args, **kwargs)
        busy_ms = int(connect_args["timeout"] * 1000)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(foreign_keys, busy_ms))
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
        event.listen(engine.sync_engine, "before_cursor_execute", _sqlite_before_execute)
        return engine
    engine = create_async_engine(
        sa_url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        **kwargs,
    )
    event.listen(engine.sync_engine, "connect", _mark_used)
    event.listen(engine.sync_engine, "checkin", _mark_used)
    event.listen(engine.sync_engine, "checkout", _ping_if_idle)
    return engine


#: a pooled PostgreSQL connection idle longer than this is pinged before it is handed out
IDLE_PING_S = 5.0
_USED = "tronrent_used"


def _mark_used(_dbapi_connection: Any, record: Any, *_: Any) -> None:
    record.info[_USED] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Pre-ping for connections that sat idle (a server restart or an idle timeout while in
    the pool): ``pool_pre_ping`` pings at every checkout - two more round trips per unit of
    work, ~5 % of a busy API process. A connection in steady use is not pinged; if the server
    went away under it, the failed statement invalidates the whole pool (SQLAlchemy's
    disconnect handling) and the next checkout connects afresh."""
    if time.monotonic() - record.info.get(_USED, 0.0) <= IDLE_PING_S:
        return
    try:
        dbapi_connection.ping()
    except Exception as exc:  # any failure: this connection is not usable
        raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc


def create_session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory. ``expire_on_commit=False``: objects stay readable after the caller
    commits (async code cannot lazy-load a refresh)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def transaction_scope(
    session_maker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One session owning one transaction: committed when the block succeeds, rolled back when
    it raises (the caller - a request, a job, a bot update - owns it; services never commit)."""
    async with session_maker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


# --- after commit ---------------------------------------------------------------------------

_AFTER_COMMIT = "tronrent_after_commit"


def after_commit(session: AsyncSession, callback: Callable[..., object], *args: Any) -> None:
    """Call ``callback(*args)`` once the session's current transaction commits; dropped if it
    rolls back. For facts that are true only once committed (metrics of a state change): a
    retried transaction never counts twice. Callbacks must not raise (they run in the commit)."""
    info = session.sync_session.info
    info.setdefault(_AFTER_COMMIT, []).append((callback, args))


def _run_after_commit(session: Session) -> None:
    for callback, args in session.info.pop(_AFTER_COMMIT, None) or ():
        callback(*args)


def _drop_after_commit(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction ended
        session.info.pop(_AFTER_COMMIT, None)


if not event.contains(Session, "after_commit", _run_after_commit):
    event.listen(Session, "after_commit", _run_after_commit)
    event.listen(Session, "after_soft_rollback", _drop_after_commit)


def upsert_insert(session: AsyncSession, table: Any) -> Any:
    """The dialect's INSERT supporting ON CONFLICT (PostgreSQL and SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def insert_new_rows(
    session: AsyncSession,
    model: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Sequence[str],
    returning: Sequence[str],
    standalone: bool = False,
) -> list[tuple[Any, ...]]:
    """INSERT the rows, skipping those that conflict on the unique ``conflict`` columns; the
    ``returning`` columns of the rows inserted.

    Executed as one executemany of a cached single-row statement, which SQLAlchemy sends as
    multi-row INSERTs ("insertmanyvalues"): ~10x less CPU than a ``.values([...])`` statement,
    which is compiled afresh for every number of rows. Every row must carry the same keys.
    ``standalone``: the rows are `STANDALONE` writes.
    """
    if not rows:
        return []
    table = model.__table__
    stmt = (
        upsert_insert(session, table)
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(*(table.c[name] for name in returning))
    )
    if standalone:
        stmt = stmt.execution_options(**{STANDALONE: True})
    return [tuple(r) for r in await session.execute(stmt, [dict(r) for r in rows])]


@dataclass(frozen=True, slots=True)
class NewRows:
    """Rows of one table to INSERT later in the transaction: by `write_rows`, or on
    PostgreSQL in the same statement as another write (`along_ctes`: one round trip less per
    table). Build with `new_rows`. ``conflict``: rows conflicting on these unique columns are
    skipped (ON CONFLICT DO NOTHING); empty: a conflict fails the statement."""

    table: Table
    rows: tuple[dict[str, Any], ...]
    conflict: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[Table, int, tuple[str, ...], tuple[str, ...]]:
        """What the statement writing them depends on (not the values)."""
        return (self.table, len(self.rows), tuple(self.rows[0]), self.conflict)


def new_rows(
    model: Any, rows: Iterable[Mapping[str, Any]], conflict: Sequence[str] = ()
) -> NewRows:
    """`NewRows` of ``model``, each row completed with the columns' Python-side defaults (a
    statement built once for many rows does not run them) and given the same keys."""
    table: Table = model.__table__
    done = []
    for row in rows:
        full = dict(row)
        for column in table.columns:
            if column.key not in full:
                found, value = _python_default(column)
                if found:
                    full[column.key] = value
        done.append(full)
    keys = sorted(set().union(*done)) if done else []
    return NewRows(table, tuple({k: r.get(k) for k in keys} for r in done), tuple(conflict))


def _python_default(column: Any) -> tuple[bool, Any]:
    """(True, the value a flush would give the column) if it has a Python-side default (a
    scalar, or a callable run now), else (False, None)."""
    default = column.default
    if default is not None and getattr(default, "is_scalar", False):
        return True, default.arg
    if default is not None and getattr(default, "is_callable", False):
        return True, default.arg(None)
    return False, None


def object_rows(*objects: Any) -> NewRows:
    """`NewRows` of new ORM objects of one class (to write with `write_rows` or `along_ctes`
    instead of a flush), every mapped column given: its value, else its Python default, else
    NULL - set on the object too, so that the object and its row agree. Then `adopt` them."""
    mapper = sa_inspect(type(objects[0]))
    rows = []
    for obj in objects:
        row: dict[str, Any] = {}
        for prop in mapper.column_attrs:
            column = prop.columns[0]
            if prop.key in obj.__dict__:
                value = obj.__dict__[prop.key]
            else:
                found, value = _python_default(column)
                if not found and column.server_default is not None and not column.primary_key:
                    # NULL would be written where a flush lets the server fill it in
                    raise ValueError(
                        f"{mapper.local_table.name}.{column.key} has only a server default: "
                        "give it a value (or a Python default) to write it with object_rows"
                    )
                setattr(obj, prop.key, value)
            row[column.key] = value
        rows.append(row)
    return NewRows(mapper.local_table, tuple(rows))


def adopt(session: AsyncSession, *objects: Any) -> None:
    """Make new objects whose rows this transaction wrote without the ORM (`object_rows`)
    persistent in ``session``, as if a flush had written them."""
    for obj in objects:
        make_transient_to_detached(obj)
        session.add(obj)


async def write_rows(session: AsyncSession, batches: Sequence[NewRows]) -> None:
    """INSERT each batch (one statement per table) - where `along_ctes` is not used."""
    for batch in batches:
        if not batch.rows:
            continue
        stmt = upsert_insert(session, batch.table)
        if batch.conflict:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(batch.conflict))
        await session.execute(stmt, [dict(r) for r in batch.rows])


def along_shape(batches: Sequence[NewRows]) -> tuple[Any, ...]:
    """The part of a statement's cache key that `along_ctes` adds."""
    return tuple(b.shape for b in batches if b.rows)


def along_ctes(shape: tuple[Any, ...], gate: Any = None) -> tuple[Any, ...]:
    """PostgreSQL: one INSERT CTE per batch of ``shape`` (`along_shape`), to add to another
    statement (``stmt.add_cte(*ctes)``), written by that statement, in its round trip.
    ``gate``: a CTE of that statement; the rows are written only if it yields a row (a CTE
    that writes runs whatever the rest of the statement finds). Costly to build: call from a
    statement builder that is cached per shape; the values are bound by `along_params`."""
    ctes = []
    for i, (table, count, keys, conflict) in enumerate(shape):
        # INSERT ... SELECT of bound parameters (a multi-row VALUES is never cached)
        rows = []
        for r in range(count):
            row = select(*(bindparam(f"w{i}_{r}_{k}", type_=table.c[k].type) for k in keys))
            rows.append(row if gate is None else row.select_from(gate))
        stmt = postgresql.insert(table).from_select(
            list(keys), rows[0] if count == 1 else union_all(*rows)
        )
        if conflict:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict))
        ctes.append(stmt.cte(f"w{i}"))
    return tuple(ctes)


def along_params(batches: Sequence[NewRows]) -> dict[str, Any]:
    """The parameters of `along_ctes` for these batches."""
    params: dict[str, Any] = {}
    for i, batch in enumerate(b for b in batches if b.rows):
        for r, row in enumerate(batch.rows):
            params.update({f"w{i}_{r}_{k}": v for k, v in row.items()})
    return params


def dialect_name(engine: AsyncEngine) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return engine.dialect.name


# --- column helpers shared by models ---------------------------------------------------------


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CreatedAtMixin:
    """``created_at``: set in Python (readable without a refresh) and by the server for raw SQL."""

    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=_utcnow, server_default=func.now(), nullable=False
    )


class TimestampMixin(CreatedAtMixin):
    """``created_at`` plus ``updated_at``, bumped on every ORM update."""

    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=_utcnow, onupdate=_utcnow, server_default=func.now(), nullable=False
    )
