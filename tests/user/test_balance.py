"""The balance ledger service on real SQLite and PostgreSQL: idempotent causes, refused
overdrafts, 50 concurrent payments against a balance that covers 10, and a property test over
random sequences of top-ups, payments and refunds."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.kit.db import NewRows, new_rows, transaction_scope, write_rows
from tronrent.models import User
from tronrent.models.balance_ledger import BalanceLedgerEntry, LedgerCause
from tronrent.models.common import Currency
from tronrent.models.notification_outbox import NotificationOutbox, OutboxStatus
from tronrent.user.balance import balance as balance_service
from tronrent.user.errors import (
    InsufficientBalance,
    InvalidLedgerChange,
    LedgerCauseReused,
    UserNotFound,
)

TRX = 1_000_000


async def new_user(session: AsyncSession) -> User:
    user = User(id=uuid.uuid4(), telegram_id=10**9 + uuid.uuid4().int % 10**12)
    session.add(user)
    await session.flush()
    return user


async def entry_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    result = await session.execute(
        select(func.count())
        .select_from(BalanceLedgerEntry)
        .where(BalanceLedgerEntry.user_id == user_id)
    )
    return int(result.scalar_one())


class TestApply:
    async def test_credit_writes_entry_and_balance(self, session: AsyncSession) -> None:
        user = await new_user(session)
        applied = await balance_service.apply(
            session,
            user_id=user.id,
            currency=Currency.TRX,
            delta_units=5 * TRX,
            cause_type=LedgerCause.TOP_UP,
            cause_id="pay-1",
        )
        assert applied.created
        assert applied.entry.balance_after_units == 5 * TRX
        assert (await balance_service.get_balances(session, user.id)).trx_sun == 5 * TRX
        assert user.trx_balance_sun == 5 * TRX  # the loaded object follows the UPDATE
        assert await balance_service.reconcile(session, user_id=user.id) == []

    async def test_repeated_cause_is_applied_once(self, session: AsyncSession) -> None:
        user = await new_user(session)
        kwargs = dict(
            user_id=user.id,
            currency=Currency.USDT,
            delta_units=7_000_000,
            cause_type=LedgerCause.TOP_UP,
            cause_id="pay-2",
        )
        first = await balance_service.apply(session, **kwargs)  # type: ignore[arg-type]
        second = await balance_service.apply(session, **kwargs)  # type: ignore[arg-type]
        assert first.created and not second.created
        assert second.entry.id == first.entry.id
        balances = await balance_service.get_balances(session, user.id)
        assert (balances.trx_sun, balances.usdt_units) == (0, 7_000_000)
        assert await entry_count(session, user.id) == 1

    async def test_same_cause_other_amount_is_refused(self, session: AsyncSession) -> None:
        user = await new_user(session)
        common = dict(currency="TRX", cause_type="top_up", cause_id="pay-3", user_id=user.id)
        await balance_service.apply(session, delta_units=TRX, **common)  # type: ignore[arg-type]
        with pytest.raises(LedgerCauseReused):
            await balance_service.apply(session, delta_units=2 * TRX, **common)  # type: ignore[arg-type]
        assert (await balance_service.get_balances(session, user.id)).trx_sun == TRX

    @pytest.mark.parametrize("fresh", [False, True], ids=["looked-up", "fresh"])
    async def test_overdraft_refused_and_nothing_changes(
        self, session: AsyncSession, fresh: bool
    ) -> None:
        """Refused with the savepoint rolled back, or (``fresh``: no savepoint) by the
        conditional UPDATE matching no row: either way the transaction goes on."""
        user = await new_user(session)
        await balance_service.apply(
            session,
            user_id=user.id,
            currency="TRX",
            delta_units=3 * TRX,
            cause_type="top_up",
            cause_id="pay-4",
        )
        with pytest.raises(InsufficientBalance) as caught:
            await balance_service.apply(
                session,
                user_id=user.id,
                currency="TRX",
                delta_units=-4 * TRX,
                cause_type="order_payment",
                cause_id="order-4",
                fresh=fresh,
            )
        assert caught.value.code == "INSUFFICIENT_BALANCE"
        # the transaction is still usable (savepoint) and nothing changed
        assert (await balance_service.get_balances(session, user.id)).trx_sun == 3 * TRX
        assert await entry_count(session, user.id) == 1
        # the exact balance can be spent, to zero
        spent = await balance_service.apply(
            session,
            user_id=user.id,
            currency="TRX",
            delta_units=-3 * TRX,
            cause_type="order_payment",
            cause_id="order-4",
            fresh=fresh,
        )
        assert spent.entry.balance_after_units == 0
        assert await balance_service.reconcile(session, user_id=user.id) == []

    async def test_usdt_debit_never_touches_trx(self, session: AsyncSession) -> None:
        user = await new_user(session)
        await balance_service.apply(
            session,
            user_id=user.id,
            currency="TRX",
            delta_units=10 * TRX,
            cause_type="top_up",
            cause_id="pay-5",
        )
        with pytest.raises(InsufficientBalance):
            await balance_service.apply(
                session,
                user_id=user.id,
                currency="USDT",
                delta_units=-1,
                cause_type="order_payment",
                cause_id="order-5",
            )

    @pytest.mark.parametrize(
        ("delta", "cause_id"), [(0, "x"), (10**16, "x"), (1, ""), (1, "x" * 101)]
    )
    async def test_invalid_change(self, session: AsyncSession, delta: int, cause_id: str) -> None:
        user = await new_user(session)
        with pytest.raises(InvalidLedgerChange):
            await balance_service.apply(
                session,
                user_id=user.id,
                currency="TRX",
                delta_units=delta,
                cause_type="adjustment",
                cause_id=cause_id,
            )

    @pytest.mark.parametrize("fresh", [False, True], ids=["looked-up", "fresh"])
    @pytest.mark.parametrize("delta", [1, -1])
    async def test_unknown_user(self, session: AsyncSession, fresh: bool, delta: int) -> None:
        with pytest.raises(UserNotFound):
            await balance_service.apply(
                session,
                user_id=uuid.uuid4(),
                currency="TRX",
                delta_units=delta,
                cause_type="adjustment",
                cause_id="nobody",
                fresh=fresh,
            )


class TestListEntries:
    async def test_keyset_pages_newest_first(self, session: AsyncSession) -> None:
        user = await new_user(session)
        for i in range(7):
            await balance_service.apply(
                session,
                user_id=user.id,
                currency="TRX",
                delta_units=i + 1,
                cause_type="top_up",
                cause_id=f"p{i}",
            )
        seen: list[int] = []
        before: int | None = None
        while True:
            page = await balance_service.list_entries(session, user.id, limit=3, before_id=before)
            seen += [e.delta_units for e in page.entries]
            if page.next_before_id is None:
                break
            before = page.next_before_id
        assert seen == [7, 6, 5, 4, 3, 2, 1]


class TestReconcile:
    async def test_reports_a_balance_changed_outside_the_ledger(
        self, session: AsyncSession
    ) -> None:
        user = await new_user(session)
        await balance_service.apply(
            session,
            user_id=user.id,
            currency="USDT",
            delta_units=5,
            cause_type="top_up",
            cause_id="r1",
        )
        user.usdt_balance_units = 9  # a bypass of the ledger
        await session.flush()
        [mismatch] = await balance_service.reconcile(session, user_id=user.id)
        assert (mismatch.currency, mismatch.balance_units, mismatch.ledger_sum_units) == (
            Currency.USDT,
            9,
            5,
        )


class TestConcurrency:
    @pytest.mark.parametrize("fresh", [False, True], ids=["looked-up", "fresh"])
    async def test_fifty_payments_against_a_balance_for_ten(
        self, session_maker: async_sessionmaker[AsyncSession], fresh: bool
    ) -> None:
        price = 3 * TRX
        async with transaction_scope(session_maker) as session:
            user = await new_user(session)
            await balance_service.apply(
                session,
                user_id=user.id,
                currency="TRX",
                delta_units=10 * price,
                cause_type="top_up",
                cause_id="c-top-up",
            )

        async def pay(i: int) -> bool:
            try:
                async with transaction_scope(session_maker) as session:
                    await balance_service.apply(
                        session,
                        user_id=user.id,
                        currency="TRX",
                        delta_units=-price,
                        cause_type="order_payment",
                        cause_id=f"c-order-{i}",
                        fresh=fresh,
                    )
            except InsufficientBalance:
                return False
            return True

        results = await asyncio.gather(*(pay(i) for i in range(50)))
        assert results.count(True) == 10
        async with session_maker() as session:
            assert (await balance_service.get_balances(session, user.id)).trx_sun == 0
            assert await balance_service.reconcile(session) == []
            afters = (
                await session.execute(
                    select(BalanceLedgerEntry.balance_after_units).where(
                        BalanceLedgerEntry.user_id == user.id
                    )
                )
            ).scalars()
            assert sorted(afters) == [k * price for k in range(11)]  # never below 0
            assert await entry_count(session, user.id) == 11

    async def test_same_cause_at_once_is_applied_once(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        async with transaction_scope(session_maker) as session:
            user = await new_user(session)

        async def top_up() -> bool:
            async with transaction_scope(session_maker) as session:
                applied = await balance_service.apply(
                    session,
                    user_id=user.id,
                    currency="USDT",
                    delta_units=1_000_000,
                    cause_type="top_up",
                    cause_id="same-payment",
                )
            return applied.created

        results = await asyncio.gather(*(top_up() for _ in range(20)))
        assert results.count(True) == 1
        async with session_maker() as session:
            assert (await balance_service.get_balances(session, user.id)).usdt_units == 1_000_000
            assert await entry_count(session, user.id) == 1


# --- property test: random sequences of top-ups, payments and refunds -------------------------

currencies = st.sampled_from([Currency.TRX, Currency.USDT])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("top_up"), st.integers(0, 4), currencies, st.integers(1, 50)),
        st.tuples(st.just("pay"), st.integers(0, 6), currencies, st.integers(1, 60)),
        st.tuples(st.just("refund"), st.integers(0, 6), currencies, st.just(0)),
    ),
    max_size=25,
)


@dataclass
class Model:
    balances: dict[Currency, int] = field(default_factory=lambda: dict.fromkeys(Currency, 0))
    #: (cause type, cause id, currency) -> delta applied
    applied: dict[tuple[str, str, Currency], int] = field(default_factory=dict)


class TestLedgerProperty:
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(ops=operations)
    async def test_ledger_explains_every_balance(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        ops: list[tuple[str, int, Currency, int]],
    ) -> None:
        async with transaction_scope(session_maker) as session:
            user = await new_user(session)
        model = Model()
        tag = user.id.hex[:12]  # causes are global: keep each example's apart
        for kind, n, currency, amount in ops:
            if kind == "top_up":
                key = ("top_up", f"{tag}-t{n}", currency)
                delta = amount
            elif kind == "pay":
                key = ("order_payment", f"{tag}-o{n}", currency)
                delta = -amount
            else:
                paid = model.applied.get(("order_payment", f"{tag}-o{n}", currency))
                if paid is None:
                    continue  # only a paid order is refunded
                key = ("order_refund", f"{tag}-o{n}", currency)
                delta = -paid
            expected: str
            if key in model.applied:
                expected = "replay" if model.applied[key] == delta else "reused"
            elif model.balances[currency] + delta < 0:
                expected = "insufficient"
            else:
                expected = "created"
            try:
                async with transaction_scope(session_maker) as session:
                    result = await balance_service.apply(
                        session,
                        user_id=user.id,
                        currency=currency,
                        delta_units=delta,
                        cause_type=key[0],
                        cause_id=key[1],
                    )
                outcome = "created" if result.created else "replay"
            except InsufficientBalance:
                outcome = "insufficient"
            except LedgerCauseReused:
                outcome = "reused"
            assert outcome == expected, (kind, n, currency, amount)
            if outcome == "created":
                model.applied[key] = delta
                model.balances[currency] += delta
            async with session_maker() as session:
                balances = await balance_service.get_balances(session, user.id)
                assert balances.trx_sun == model.balances[Currency.TRX] >= 0
                assert balances.usdt_units == model.balances[Currency.USDT] >= 0
                assert await balance_service.reconcile(session, user_id=user.id) == []
                assert await entry_count(session, user.id) == len(model.applied)


def _outbox_rows(user_id: uuid.UUID, *keys: str) -> NewRows:
    return new_rows(
        NotificationOutbox,
        [
            {"event_type": "test", "user_id": user_id, "payload": {"k": k}, "dedupe_key": k}
            for k in keys
        ],
        conflict=["dedupe_key"],
    )


async def _outbox_keys(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    rows = await session.execute(
        select(NotificationOutbox.dedupe_key)
        .where(NotificationOutbox.user_id == user_id)
        .order_by(NotificationOutbox.dedupe_key)
    )
    return list(rows.scalars())


class TestRowsAlong:
    """``along``: rows written with a fresh change - in its statement on PostgreSQL."""

    async def _funded(self, session: AsyncSession, units: int) -> User:
        user = await new_user(session)
        await balance_service.apply(
            session,
            user_id=user.id,
            currency="TRX",
            delta_units=units,
            cause_type="top_up",
            cause_id=f"top-{user.id}",
        )
        return user

    async def _debit(
        self, session: AsyncSession, user: User, units: int, *rows: NewRows, fresh: bool = True
    ) -> Any:
        return await balance_service.apply(
            session,
            user_id=user.id,
            currency="TRX",
            delta_units=-units,
            cause_type="order_payment",
            cause_id=f"order-{user.id}",
            fresh=fresh,
            along=list(rows),
        )

    async def test_written_with_the_debit_in_one_statement_on_postgresql(
        self, session: AsyncSession
    ) -> None:
        user = await self._funded(session, 3 * TRX)
        counted: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            counted.append(statement)

        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", count)
        try:
            applied = await self._debit(
                session, user, TRX, _outbox_rows(user.id, f"a-{user.id}", f"b-{user.id}")
            )
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert applied.entry.balance_after_units == 2 * TRX
        assert await _outbox_keys(session, user.id) == [f"a-{user.id}", f"b-{user.id}"]
        # the defaults `new_rows` added were written
        row = await session.scalar(
            select(NotificationOutbox).where(NotificationOutbox.dedupe_key == f"a-{user.id}")
        )
        assert row is not None and row.status is OutboxStatus.PENDING and row.attempts == 0
        assert row.payload == {"k": f"a-{user.id}"}
        assert len(counted) == (1 if engine.dialect.name == "postgresql" else 3), counted
        assert await balance_service.reconcile(session, user_id=user.id) == []

    async def test_a_refused_debit_writes_none_of_them(self, session: AsyncSession) -> None:
        user = await self._funded(session, TRX)
        with pytest.raises(InsufficientBalance):
            await self._debit(session, user, 2 * TRX, _outbox_rows(user.id, f"x-{user.id}"))
        # the transaction goes on, with nothing of the refused change in it
        assert await _outbox_keys(session, user.id) == []
        assert (await balance_service.get_balances(session, user.id)).trx_sun == TRX

    async def test_rows_already_there_are_skipped_on_their_conflict_keys(
        self, session: AsyncSession
    ) -> None:
        user = await self._funded(session, 3 * TRX)
        key = f"dup-{user.id}"
        await write_rows(session, [_outbox_rows(user.id, key)])
        await self._debit(session, user, TRX, _outbox_rows(user.id, key, f"new-{user.id}"))
        assert await _outbox_keys(session, user.id) == sorted([key, f"new-{user.id}"])

    async def test_only_with_a_fresh_change(self, session: AsyncSession) -> None:
        user = await self._funded(session, TRX)
        with pytest.raises(ValueError, match="fresh"):
            await self._debit(session, user, TRX, _outbox_rows(user.id, "k"), fresh=False)


@given(
    st.lists(
        st.fixed_dictionaries(
            {"event_type": st.just("e"), "dedupe_key": st.text(min_size=1, max_size=8)},
            optional={"chat_id": st.integers(), "attempts": st.integers(0, 9)},
        ),
        min_size=1,
        max_size=5,
    )
)
def test_new_rows_have_the_same_keys_and_the_python_defaults(rows: list[dict[str, Any]]) -> None:
    batch = new_rows(NotificationOutbox, rows)
    keys = set(batch.rows[0])
    assert all(set(r) == keys for r in batch.rows)
    for given_row, row in zip(rows, batch.rows, strict=True):
        assert {k: row[k] for k in given_row} == given_row  # what was given is kept
        assert row["status"] == OutboxStatus.PENDING  # the column's default
        assert row["attempts"] == given_row.get("attempts", 0)
        assert row["created_at"] is not None  # a callable default, run per row
    assert batch.shape == (NotificationOutbox.__table__, len(rows), tuple(sorted(keys)), ())
