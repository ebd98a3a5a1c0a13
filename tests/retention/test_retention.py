"""Retention deletes exactly what the policy says, in bounded batches; a dry run changes nothing;
on PostgreSQL the day partitions of payment_monitoring_logs are made ahead and dropped."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.kit.time import utcnow
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.common import Currency
from tronrent.models.job_failure import JobFailure
from tronrent.models.merchant import (
    CallbackStatus,
    MerchantApiKey,
    MerchantCallback,
    MerchantCallbackAttempt,
)
from tronrent.models.notification_outbox import NotificationOutbox, OutboxStatus
from tronrent.models.order import Order, OrderStatus, OrderType
from tronrent.models.payment import Payment, PaymentStatus
from tronrent.models.payment_monitoring_log import MonitoringStatus, PaymentMonitoringLog
from tronrent.models.user import User
from tronrent.retention import partitions
from tronrent.retention.policy import RetentionPolicy
from tronrent.retention.service import RetentionReport, run_retention

Maker = async_sessionmaker[AsyncSession]
TABLES = (
    PaymentMonitoringLog,
    NotificationOutbox,
    MerchantCallback,
    MerchantCallbackAttempt,
    JobFailure,
    Order,
    Payment,
    ChainTransaction,
)


def _order(order_id: str, status: OrderStatus) -> Order:
    return Order(
        id=order_id, order_number=order_id, order_type=OrderType.ENERGY_FLASH, status=status
    )


def _watch(order_id: str, started: datetime, status: MonitoringStatus) -> PaymentMonitoringLog:
    return PaymentMonitoringLog(
        order_id=order_id, payment_address="TPAY", monitoring_started_at=started, status=status
    )


async def _ids(s: AsyncSession, model: type) -> set[object]:
    key = model.__mapper__.primary_key[0]  # type: ignore[attr-defined]
    return set((await s.execute(select(key))).scalars())


async def _snapshot(maker: Maker) -> dict[str, set[object]]:
    async with maker() as s:
        return {m.__tablename__: await _ids(s, m) for m in TABLES}  # type: ignore[attr-defined]


async def _seed(maker: Maker, now: datetime) -> dict[str, set[object]]:
    """Rows on both sides of every rule; returns the keys each table must lose."""
    old, recent = now - timedelta(days=120), now - timedelta(days=5)
    async with maker() as s:
        user = User(id=uuid.uuid4(), username="m")
        s.add(user)
        s.add_all(
            [
                _order("DONE", OrderStatus.COMPLETED),
                _order("LIVE", OrderStatus.ACTIVE),
                _order("WAIT", OrderStatus.PENDING),
            ]
        )
        await s.flush()
        key = MerchantApiKey(
            id=uuid.uuid4(),
            key_id="k1",
            user_id=user.id,
            name="k",
            secret_encrypted="x",
            ip_allowlist=[],
            created_by="test",
        )
        s.add(key)
        watches = {
            "old done": _watch("DONE", old, MonitoringStatus.COMPLETED),
            "old open": _watch("WAIT", old, MonitoringStatus.MONITORING),
            "old timeout": _watch("DONE", now - timedelta(days=31), MonitoringStatus.TIMEOUT),
            "recent": _watch("DONE", recent, MonitoringStatus.COMPLETED),
        }

        def note(key: str, order_id: str | None, status: OutboxStatus, at: datetime) -> object:
            return NotificationOutbox(
                event_type="e",
                order_id=order_id,
                payload={},
                dedupe_key=key,
                status=status,
                created_at=at,
            )

        notes = {
            "settled": note("order:DONE:delivered", "DONE", OutboxStatus.SENT, old),
            "alert": note("alert:1", None, OutboxStatus.FAILED, old),
            # the rental-ending notice of an active order: its key keeps it from a second send
            "live": note("order:LIVE:rental_ending", "LIVE", OutboxStatus.SENT, old),
            "pending": note("order:DONE:x", "DONE", OutboxStatus.PENDING, old),
            "recent": note("order:DONE:y", "DONE", OutboxStatus.SENT, recent),
        }

        def callback(event: str, order_id: str, status: CallbackStatus) -> MerchantCallback:
            return MerchantCallback(
                event_id=event,
                event_type="order",
                order_id=order_id,
                api_key_id=key.id,
                payload={},
                status=status,
                created_at=old,
            )

        callbacks = {
            "settled": callback("cb1", "DONE", CallbackStatus.DELIVERED),
            "live": callback("cb2", "LIVE", CallbackStatus.DELIVERED),
            "pending": callback("cb3", "DONE", CallbackStatus.PENDING),
        }
        failures = {
            "resolved old": JobFailure(
                job_name="j", error="e", failed_at=old, resolved_at=now - timedelta(days=91)
            ),
            "unresolved old": JobFailure(job_name="j", error="e", failed_at=old),
            "resolved recent": JobFailure(
                job_name="j", error="e", failed_at=old, resolved_at=recent
            ),
        }
        s.add_all([*watches.values(), *notes.values(), *callbacks.values(), *failures.values()])
        await s.flush()
        attempts = [
            MerchantCallbackAttempt(callback_id=callbacks[k].id, attempted_at=old, duration_ms=1)
            for k in ("settled", "settled", "live")
        ]
        # money records as old as anything: never touched
        payment = Payment(
            tx_hash="a" * 64,
            asset=Currency.TRX,
            from_address="TFROM",
            to_address="TPAY",
            amount_units=1,
            block_number=1,
            status=PaymentStatus.MATCHED,
            order_id="DONE",
            created_at=old,
        )
        s.add_all([*attempts, payment])
        s.add(
            ChainTransaction(
                purpose=ChainTxPurpose.DELEGATE,
                txid="b" * 64,
                owner_address="TPOOL",
                raw_data={},
                raw_data_hex="",
                signatures=[],
                expiration_ms=0,
                status=ChainTxStatus.CONFIRMED,
                order_id="DONE",
                created_at=old,
            )
        )
        await s.commit()
        return {
            "payment_monitoring_logs": {watches["old done"].id, watches["old timeout"].id},
            "notification_outbox": {notes["settled"].id, notes["alert"].id},
            "merchant_callbacks": {callbacks["settled"].id},
            "merchant_callback_attempts": {attempts[0].id, attempts[1].id},
            "job_failures": {failures["resolved old"].id},
        }


def _rows(report: RetentionReport) -> dict[str, int]:
    return {t.table: t.rows for t in report.tables}


async def test_policy_deletes_exactly_the_finished_old_rows(session_maker: Maker) -> None:
    now = utcnow()
    gone = await _seed(session_maker, now)
    before = await _snapshot(session_maker)
    policy = RetentionPolicy()

    dry = await run_retention(session_maker, policy, now=now, dry_run=True)
    assert _rows(dry) == {t: len(gone[t]) for t in _rows(dry)}
    assert await _snapshot(session_maker) == before  # a dry run changes nothing
    assert any("would delete 2 row(s)" in line for line in dry.lines())

    done = await run_retention(session_maker, policy, now=now)
    assert _rows(done) == _rows(dry)
    after = await _snapshot(session_maker)
    for table, keys in before.items():
        assert after[table] == keys - gone.get(table, set()), table

    again = await run_retention(session_maker, policy, now=now)
    assert set(_rows(again).values()) == {0}


async def test_batches_are_bounded_and_the_next_run_goes_on(session_maker: Maker) -> None:
    now = utcnow()
    gone = await _seed(session_maker, now)
    policy = RetentionPolicy(batch_size=1, max_batches=1)
    first = await run_retention(session_maker, policy, now=now)
    assert all(t.batches <= 1 and t.rows <= 1 for t in first.tables)
    assert _rows(first)["notification_outbox"] == 1
    second = await run_retention(session_maker, RetentionPolicy(batch_size=1), now=now)
    assert _rows(second)["notification_outbox"] == 1
    assert _rows(second)["payment_monitoring_logs"] == 1
    left = await _snapshot(session_maker)
    assert not left["notification_outbox"] & gone["notification_outbox"]


async def test_zero_days_keeps_the_table(session_maker: Maker) -> None:
    now = utcnow()
    await _seed(session_maker, now)
    policy = RetentionPolicy(payment_monitoring_days=0, notification_days=0)
    report = await run_retention(session_maker, policy, now=now)
    assert _rows(report)["payment_monitoring_logs"] == 0
    assert _rows(report)["notification_outbox"] == 0
    assert "payment_monitoring_logs: kept (retention 0 days)" in report.lines()


@pytest.mark.postgres  # SQLite keeps a plain table
async def test_partitions_made_ahead_and_dropped(session_maker: Maker) -> None:
    today = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
    async with session_maker() as s:
        assert await partitions.is_partitioned(s)
        # the least-privilege role makes and drops partitions through the two functions only
        for fn in ("tronrent_pml_add_partition(date)", "tronrent_pml_drop_partition(text)"):
            may = await s.execute(
                text("SELECT has_function_privilege('tron_app', :f, 'EXECUTE')"), {"f": fn}
            )
            assert may.scalar_one()
        owns = await s.execute(
            text("SELECT has_table_privilege('tron_app', 'payment_monitoring_logs', 'DELETE')")
        )
        assert owns.scalar_one()
        s.add_all([_order("DONE", OrderStatus.COMPLETED), _order("WAIT", OrderStatus.PENDING)])
        await s.flush()
        s.add(_watch("DONE", today, MonitoringStatus.COMPLETED))
        s.add(_watch("WAIT", today + timedelta(days=1), MonitoringStatus.MONITORING))
        await s.commit()
    # 40 days on: the cutoff (30 days) is past every partition the migration made
    later = today + timedelta(days=40)
    policy = RetentionPolicy(partitions_ahead_days=3)
    dry = await run_retention(session_maker, policy, now=later, dry_run=True)
    async with session_maker() as s:
        names = {p.name for p in await partitions.list_partitions(s)}
    assert partitions.day_partition(later.date()) not in names  # nothing made by a dry run
    assert partitions.day_partition(today.date()) in names
    assert len(dry.partitions_made) == 4

    report = await run_retention(session_maker, policy, now=later)
    assert report.partitions_made == dry.partitions_made
    async with session_maker() as s:
        after = {p.name for p in await partitions.list_partitions(s)}
        for n in range(4):
            assert partitions.day_partition((later + timedelta(days=n)).date()) in after
        dropped = set(report.tables[0].partitions_dropped)
        assert dropped == set(dry.tables[0].partitions_dropped)
        assert partitions.day_partition(today.date()) in dropped
        assert "payment_monitoring_logs_history" in dropped
        # the partition holding an open watch stays, and so does the default one
        tomorrow = partitions.day_partition((today + timedelta(days=1)).date())
        assert tomorrow in after and tomorrow not in dropped
        assert partitions.DEFAULT_PARTITION in after
        rows = (await s.execute(select(PaymentMonitoringLog.order_id))).scalars().all()
        assert rows == ["WAIT"]
        # a watch of a day made ahead lands in its partition, not the default one
        s.add(_watch("WAIT", later + timedelta(days=2), MonitoringStatus.MONITORING))
        await s.commit()
        where = await s.execute(text("SELECT count(*) FROM payment_monitoring_logs_default"))
        assert where.scalar_one() == 0
        total = await s.execute(select(func.count()).select_from(PaymentMonitoringLog))
        assert total.scalar_one() == 2


async def test_the_periodic_job_applies_the_engine_policy(session_maker: Maker) -> None:
    import tronrent.tasks  # noqa: F401 - registers every actor
    from tronrent.retention.tasks import RETENTION_JOB
    from tronrent.retention.tasks import run as retention_job
    from tronrent.worker import WorkerContext, all_actors, set_worker_context

    spec = all_actors()[RETENTION_JOB]
    assert spec.period_s == 3600 and spec.start_delay_s > 0
    now = utcnow()
    gone = await _seed(session_maker, now)
    ctx = WorkerContext(session_maker)
    ctx.provide(RetentionPolicy, RetentionPolicy(notification_days=0))
    set_worker_context(ctx)
    try:
        await retention_job()
    finally:
        set_worker_context(None)
    left = await _snapshot(session_maker)
    assert not left["payment_monitoring_logs"] & gone["payment_monitoring_logs"]
    assert gone["notification_outbox"] <= left["notification_outbox"]  # 0 days: kept
