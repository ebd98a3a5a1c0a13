"""The balance ledger: the only way a user's TRX or USDT balance changes. Never commits.

One change is one ``balance_ledger`` row plus ``UPDATE users SET <balance> = <balance> + :delta``
in the caller's transaction, inside a SAVEPOINT so that a refused change leaves the caller's
transaction usable (on PostgreSQL a failed statement would otherwise abort it):

- the users CHECK (``>= 0``) refuses a result below zero: :class:`InsufficientBalance`, nothing
  changed;
- the UNIQUE ``(cause_type, cause_id, currency)`` makes a repeated cause idempotent: the entry
  already written is returned (``created=False``) and the balance is not touched again, also when
  two callers race with the same cause (the loser's savepoint is rolled back);
- the row lock the UPDATE takes serializes concurrent changes of one user on PostgreSQL (SQLite
  has a single writer), and the UPDATE reads the latest committed balance, so N concurrent debits
  against a balance that covers k succeed exactly k times.

A caller that holds the lock of the cause's row (a pending order being paid) passes ``fresh``:
no look-up and no savepoint - a debit the balance does not cover then matches no row of a
conditional UPDATE instead of failing the CHECK (`BalanceService._apply_fresh`).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NoReturn, cast

from sqlalchemy import (
    Insert,
    Table,
    Update,
    and_,
    bindparam,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from tronrent.kit.db import NewRows, along_ctes, along_params, along_shape, write_rows
from tronrent.kit.time import utcnow
from tronrent.models import User
from tronrent.models.balance_ledger import BalanceLedgerEntry, LedgerCause
from tronrent.models.common import Currency
from tronrent.user.errors import (
    InsufficientBalance,
    InvalidLedgerChange,
    LedgerCauseReused,
    UserNotFound,
)

#: largest |delta| accepted in one change (base units: 10^15 sun = 10^9 TRX)
MAX_DELTA_UNITS: Final = 10**15
MAX_CAUSE_ID_LENGTH: Final = 100
MAX_PAGE: Final = 100


def balance_column(currency: Currency | str) -> InstrumentedAttribute[int]:
    """The ``users`` column holding the balance in ``currency``."""
    if Currency(currency) is Currency.TRX:
        return User.trx_balance_sun
    return User.usdt_balance_units


@dataclass(frozen=True)
class Balances:
    trx_sun: int
    usdt_units: int

    def of(self, currency: Currency | str) -> int:
        return self.trx_sun if Currency(currency) is Currency.TRX else self.usdt_units


@dataclass(frozen=True)
class LedgerApplication:
    """The entry of a change; ``created`` False: the cause had been applied before."""

    entry: BalanceLedgerEntry
    created: bool


@dataclass(frozen=True)
class LedgerPage:
    entries: list[BalanceLedgerEntry]
    #: pass as ``before_id`` for the next (older) page; None on the last page
    next_before_id: int | None


@dataclass(frozen=True)
class Mismatch:
    """A balance that differs from the sum of its ledger deltas."""

    user_id: uuid.UUID
    currency: Currency
    balance_units: int
    ledger_sum_units: int


_USERS = cast(Table, User.__table__)
_LEDGER = cast(Table, BalanceLedgerEntry.__table__)
_LEDGER_KEYS: Final = (
    "user_id",
    "currency",
    "delta_units",
    "cause_type",
    "cause_id",
    "note",
    "created_at",
)


@functools.cache
def _fresh_update(currency: Currency, debit: bool, additions: tuple[str, ...]) -> Update:
    """``UPDATE users`` of a fresh change (`BalanceService._apply_fresh`), built once per
    shape: parameters ``f_uid``, ``f_delta``, ``f_updated_at``, ``f_need`` (a debit: the balance
    it needs) and ``f_<column>`` per column of ``additions``; returns the balance after."""
    column = _USERS.c[balance_column(currency).key]
    stmt = update(_USERS).where(_USERS.c.id == bindparam("f_uid"))
    if debit:
        stmt = stmt.where(column >= bindparam("f_need"))
    return stmt.values(
        {
            column: column + bindparam("f_delta"),
            **{_USERS.c[k]: _USERS.c[k] + bindparam(f"f_{k}") for k in additions},
            # bound, not the column's onupdate: SQLAlchemy computes no default for an UPDATE
            # in a CTE next to other writing CTEs (`kit.db.along_ctes`)
            _USERS.c.updated_at: bindparam("f_updated_at"),
        }
    ).returning(column.label("after"))


@functools.cache
def _fresh_insert(
    currency: Currency, debit: bool, additions: tuple[str, ...], along: tuple[Any, ...] = ()
) -> Insert:
    """PostgreSQL: the ledger INSERT fed by `_fresh_update` in a CTE (one statement; more
    parameters: ``l_<column>`` per ledger column), with the rows of ``along``
    (`kit.db.along_shape`) in CTEs of their own; returns the entry's id and balance."""
    debited = _fresh_update(currency, debit, additions).cte("debited")
    stmt = (
        insert(_LEDGER)
        .from_select(
            [*_LEDGER_KEYS, "balance_after_units"],
            select(
                *(bindparam(f"l_{k}", type_=_LEDGER.c[k].type) for k in _LEDGER_KEYS),
                debited.c.after,
            ),
        )
        .returning(_LEDGER.c.id, _LEDGER.c.balance_after_units)
    )
    # written only if the change is (``debited`` yields its row)
    return stmt.add_cte(*along_ctes(along, gate=debited)) if along else stmt


class BalanceService:
    async def apply(
        self,
        session: AsyncSession,
        *,
        user_id: uuid.UUID,
        currency: Currency | str,
        delta_units: int,
        cause_type: LedgerCause | str,
        cause_id: str,
        note: str | None = None,
        fresh: bool = False,
        user_additions: Mapping[str, int] | None = None,
        along: Sequence[NewRows] = (),
    ) -> LedgerApplication:
        """Apply one change for a cause, exactly once.

        ``fresh``: the caller knows the cause was never applied (it holds the lock of the row
        the cause belongs to, in the state before the change): the look-up of an earlier entry
        and the savepoint are skipped (`_apply_fresh`) - four statements less on a hot path. A
        race is still caught by the UNIQUE cause (then the caller's transaction fails).
        ``user_additions``: amounts (>= 0) to add to other ``users`` columns in the same UPDATE
        (the user's order counters, `totals.paid_additions`), changed only with the balance.
        ``along`` (with ``fresh``): rows to write with the change, in its statement on
        PostgreSQL (one round trip per table less: `kit.db.along_ctes`), just before it
        elsewhere; a conflict on their unique keys fails the change too.

        Raises:
            InvalidLedgerChange (422): delta 0 or too large, empty or too long cause id.
            UserNotFound (404): no such user.
            InsufficientBalance (409): the balance would drop below zero (nothing changed).
            LedgerCauseReused (409): the cause was applied before with another user or delta.
        """
        currency = Currency(currency)
        cause_type = LedgerCause(cause_type)
        if delta_units == 0 or abs(delta_units) > MAX_DELTA_UNITS:
            raise InvalidLedgerChange(
                f"a ledger change must be non-zero and at most {MAX_DELTA_UNITS} units"
            )
        if not cause_id or len(cause_id) > MAX_CAUSE_ID_LENGTH:
            raise InvalidLedgerChange(f"cause id must be 1 to {MAX_CAUSE_ID_LENGTH} characters")

        await session.flush()  # sessions do not autoflush: a user added just now must be visible
        if not fresh:
            existing = await self.get_entry_by_cause(
                session, cause_type=cause_type, cause_id=cause_id, currency=currency
            )
            if existing is not None:
                return self._replay(existing, user_id=user_id, delta_units=delta_units)

        column = balance_column(currency)
        if along and not fresh:
            raise ValueError("rows along with a change need fresh=True")
        if fresh:
            entry, fresh_after = await self._apply_fresh(
                session,
                user_id=user_id,
                currency=currency,
                delta_units=delta_units,
                cause_type=cause_type,
                cause_id=cause_id,
                note=note,
                user_additions=user_additions,
                along=along,
            )
            self._sync_loaded(session, user_id, column, fresh_after)
            return LedgerApplication(entry, created=True)
        try:
            async with session.begin_nested():
                try:
                    result = await session.execute(
                        update(User)
                        .where(User.id == user_id)
                        .values(
                            {
                                **{
                                    _USERS.c[k]: _USERS.c[k] + v
                                    for k, v in (user_additions or {}).items()
                                },
                                column: column + delta_units,
                            }
                        )
                        .returning(column)
                        .execution_options(synchronize_session=False)
                    )
                    after = result.scalar_one_or_none()
                except IntegrityError as exc:  # users CHECK (>= 0)
                    raise InsufficientBalance(
                        f"the {currency.value} balance does not cover {-delta_units} units",
                        details={"currency": currency.value, "deltaUnits": delta_units},
                    ) from exc
                if after is None:
                    raise UserNotFound("user not found")
                entry = BalanceLedgerEntry(
                    user_id=user_id,
                    currency=currency,
                    delta_units=delta_units,
                    balance_after_units=after,
                    cause_type=cause_type,
                    cause_id=cause_id,
                    note=note,
                )
                session.add(entry)
                await session.flush()
        except IntegrityError:
            # Another transaction applied the same cause between our look-up and our insert:
            # the savepoint (with our UPDATE) is rolled back; answer with its entry.
            existing = await self.get_entry_by_cause(
                session, cause_type=cause_type, cause_id=cause_id, currency=currency
            )
            if existing is None:
                raise
            return self._replay(existing, user_id=user_id, delta_units=delta_units)
        self._sync_loaded(session, user_id, column, after)
        return LedgerApplication(entry, created=True)

    @staticmethod
    def _sync_loaded(
        session: AsyncSession, user_id: uuid.UUID, column: InstrumentedAttribute[int], after: int
    ) -> None:
        """Keep a loaded User in the identity map in step with the UPDATE (without history: a
        flush must never write this value back over a later change)."""
        loaded = session.identity_map.get(session.identity_key(User, user_id))
        if isinstance(loaded, User):
            set_committed_value(loaded, column.key, after)

    async def _apply_fresh(
        self,
        session: AsyncSession,
        *,
        user_id: uuid.UUID,
        currency: Currency,
        delta_units: int,
        cause_type: LedgerCause,
        cause_id: str,
        note: str | None,
        user_additions: Mapping[str, int] | None,
        along: Sequence[NewRows] = (),
    ) -> tuple[BalanceLedgerEntry, int]:
        """`apply` of a cause never applied (``fresh``), without a savepoint: a debit the
        balance does not cover matches no row (``WHERE balance >= -delta``), so a refusal
        leaves nothing to roll back and the caller's transaction usable. Two statements (the
        UPDATE, the ledger INSERT; on PostgreSQL one: the UPDATE in a CTE of the INSERT) instead
        of four. A race on the cause, which the caller's lock
        rules out, still hits the UNIQUE cause: the INSERT fails and so does the caller's
        transaction as a whole (nothing is applied twice). The statements are built once per
        shape (`_fresh_update`, `_fresh_insert`) and bound per call: building the PostgreSQL
        one and its cache key cost ~0.45 ms of CPU, more than its execution."""
        additions = dict(sorted((user_additions or {}).items()))
        params: dict[str, Any] = {
            "f_uid": user_id,
            "f_delta": delta_units,
            "f_updated_at": utcnow(),
        }
        if delta_units < 0:
            params["f_need"] = -delta_units
        params.update({f"f_{k}": v for k, v in additions.items()})
        shape = (currency, delta_units < 0, tuple(additions))
        values = {
            "user_id": user_id,
            "currency": currency,
            "delta_units": delta_units,
            "cause_type": cause_type,
            "cause_id": cause_id,
            "note": note,
        }
        if session.get_bind().dialect.name == "postgresql":
            # one round trip: the UPDATE in a CTE feeds the INSERT (no row updated, no row
            # inserted); a UNIQUE cause violation fails the statement as a whole
            values["created_at"] = utcnow()
            params.update({f"l_{k}": v for k, v in values.items()})
            params.update(along_params(along))
            stmt = _fresh_insert(*shape, along_shape(along))
            row = (await session.execute(stmt, params)).first()
            if row is None:
                await self._refused(session, user_id, currency, delta_units)
            entry = BalanceLedgerEntry(id=row.id, balance_after_units=row.balance_after_units)
            for key, value in values.items():
                setattr(entry, key, value)
            make_transient_to_detached(entry)
            session.add(entry)  # persistent: the row the statement inserted
            return entry, int(row.balance_after_units)
        after = (await session.execute(_fresh_update(*shape), params)).scalar_one_or_none()
        if after is None:
            await self._refused(session, user_id, currency, delta_units)
        await write_rows(session, along)  # after the refusal: it leaves nothing written
        entry = BalanceLedgerEntry(**values, balance_after_units=after)
        session.add(entry)
        await session.flush()
        return entry, int(after)

    @staticmethod
    async def _refused(
        session: AsyncSession, user_id: uuid.UUID, currency: Currency, delta_units: int
    ) -> NoReturn:
        """Raise why a conditional balance UPDATE matched no row: no such user, or too little."""
        if await session.scalar(select(User.id).where(User.id == user_id)) is None:
            raise UserNotFound("user not found")
        raise InsufficientBalance(
            f"the {currency.value} balance does not cover {-delta_units} units",
            details={"currency": currency.value, "deltaUnits": delta_units},
        )

    @staticmethod
    def _replay(
        entry: BalanceLedgerEntry, *, user_id: uuid.UUID, delta_units: int
    ) -> LedgerApplication:
        if entry.user_id != user_id or entry.delta_units != delta_units:
            raise LedgerCauseReused(
                f"{entry.cause_type.value} {entry.cause_id!r} was already applied with another "
                "user or amount",
                details={"entryId": entry.id},
            )
        return LedgerApplication(entry, created=False)

    async def get_entry_by_cause(
        self,
        session: AsyncSession,
        *,
        cause_type: LedgerCause | str,
        cause_id: str,
        currency: Currency | str | None = None,
    ) -> BalanceLedgerEntry | None:
        """The entry of a cause (in ``currency``; any currency when None, the oldest first)."""
        statement = select(BalanceLedgerEntry).where(
            BalanceLedgerEntry.cause_type == LedgerCause(cause_type),
            BalanceLedgerEntry.cause_id == cause_id,
        )
        if currency is not None:
            statement = statement.where(BalanceLedgerEntry.currency == Currency(currency))
        result = await session.execute(statement.order_by(BalanceLedgerEntry.id).limit(1))
        return result.scalar_one_or_none()

    async def get_balances(self, session: AsyncSession, user_id: uuid.UUID) -> Balances:
        """The user's balances as stored now (not from a possibly stale loaded ``User``).

        Raises:
            UserNotFound (404)
        """
        result = await session.execute(
            select(User.trx_balance_sun, User.usdt_balance_units).where(User.id == user_id)
        )
        row = result.one_or_none()
        if row is None:
            raise UserNotFound("user not found")
        return Balances(trx_sun=row[0], usdt_units=row[1])

    async def list_entries(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        *,
        limit: int = 20,
        before_id: int | None = None,
        currency: Currency | str | None = None,
    ) -> LedgerPage:
        """The user's entries, newest first (keyset pagination on the entry id)."""
        limit = max(1, min(limit, MAX_PAGE))
        statement = select(BalanceLedgerEntry).where(BalanceLedgerEntry.user_id == user_id)
        if before_id is not None:
            statement = statement.where(BalanceLedgerEntry.id < before_id)
        if currency is not None:
            statement = statement.where(BalanceLedgerEntry.currency == Currency(currency))
        statement = statement.order_by(BalanceLedgerEntry.id.desc()).limit(limit + 1)
        entries = list((await session.execute(statement)).scalars())
        more = len(entries) > limit
        entries = entries[:limit]
        return LedgerPage(entries, entries[-1].id if more and entries else None)

    async def reconcile(
        self, session: AsyncSession, *, user_id: uuid.UUID | None = None
    ) -> list[Mismatch]:
        """Every (user, currency) whose balance differs from the sum of its ledger deltas
        (empty: the ledger explains every balance). For tests and the ops check."""
        mismatches: list[Mismatch] = []
        for currency in Currency:
            column = balance_column(currency)
            sums = (
                select(
                    BalanceLedgerEntry.user_id.label("user_id"),
                    func.sum(BalanceLedgerEntry.delta_units).label("total"),
                )
                .where(BalanceLedgerEntry.currency == currency)
                .group_by(BalanceLedgerEntry.user_id)
                .subquery()
            )
            total = func.coalesce(sums.c.total, literal(0))
            statement = (
                select(User.id, column, total)
                .outerjoin(sums, and_(sums.c.user_id == User.id))
                .where(column != total)
            )
            if user_id is not None:
                statement = statement.where(User.id == user_id)
            for uid, balance, ledger_sum in (await session.execute(statement)).all():
                mismatches.append(Mismatch(uid, currency, int(balance), int(ledger_sum)))
        return mismatches


balance = BalanceService()
