"""The retention run: finished rows past their table's days deleted in bounded batches, and on
PostgreSQL the day partitions of ``payment_monitoring_logs`` made ahead and dropped when old.

Every rule below deletes only rows nothing can need again for exactly-once (docs/retention.md):
never an open payment watch, a pending message or callback, nor the dedupe key of an order that
can still change (a rental-ending notice is sent once because its outbox row exists). Money
records (orders, payments, ledger, chain transactions) have no rule: they are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, column, delete, exists, func, select, table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.kit.metrics import RETENTION_DELETED, RETENTION_PARTITIONS
from tronrent.kit.time import utcnow
from tronrent.models.job_failure import JobFailure
from tronrent.models.merchant import CallbackStatus, MerchantCallback, MerchantCallbackAttempt
from tronrent.models.notification_outbox import NotificationOutbox, OutboxStatus
from tronrent.models.order import Order, OrderStatus
from tronrent.models.payment_monitoring_log import MonitoringStatus, PaymentMonitoringLog
from tronrent.retention import partitions
from tronrent.retention.policy import RetentionPolicy

log = logging.getLogger("tronrent.retention")

#: an order in one of these never changes again, so no event of it is queued again
SETTLED_ORDER_STATUSES = (
    OrderStatus.COMPLETED,
    OrderStatus.CANCELLED,
    OrderStatus.REFUNDED,
    OrderStatus.EXPIRED,
)


def _part(name: str) -> Any:
    """A partition as a table to count in."""
    return table(name, column("status"))


def _order_settled(order_id: Any) -> ColumnElement[bool]:
    """No order of that id that may still change (no order at all counts as settled)."""
    return ~exists().where(Order.id == order_id, Order.status.not_in(SETTLED_ORDER_STATUSES))


@dataclass(frozen=True, slots=True)
class Rule:
    """One table's rule: the rows past ``cutoff`` that may go (``where``), by primary key."""

    table: str
    days: Callable[[RetentionPolicy], int]
    key: Any
    where: Callable[[datetime], ColumnElement[bool]]
    #: rows of other tables deleted first, in the same transaction (their foreign key), given
    #: a SELECT of the keys about to go
    children: Callable[[Any], Any] | None = None


RULES = (
    Rule(
        "payment_monitoring_logs",
        lambda p: p.payment_monitoring_days,
        PaymentMonitoringLog.id,
        lambda cutoff: and_(
            PaymentMonitoringLog.monitoring_started_at < cutoff,
            PaymentMonitoringLog.status != MonitoringStatus.MONITORING,
        ),
    ),
    Rule(
        "notification_outbox",
        lambda p: p.notification_days,
        NotificationOutbox.id,
        lambda cutoff: and_(
            NotificationOutbox.created_at < cutoff,
            NotificationOutbox.status != OutboxStatus.PENDING,
            _order_settled(NotificationOutbox.order_id),
        ),
    ),
    Rule(
        "merchant_callbacks",
        lambda p: p.merchant_callback_days,
        MerchantCallback.id,
        lambda cutoff: and_(
            MerchantCallback.created_at < cutoff,
            MerchantCallback.status != CallbackStatus.PENDING,
            _order_settled(MerchantCallback.order_id),
        ),
        children=lambda keys: delete(MerchantCallbackAttempt).where(
            MerchantCallbackAttempt.callback_id.in_(keys)
        ),
    ),
    Rule(
        "job_failures",
        lambda p: p.job_failure_days,
        JobFailure.id,
        lambda cutoff: and_(JobFailure.resolved_at.is_not(None), JobFailure.resolved_at < cutoff),
    ),
)


@dataclass
class TableResult:
    table: str
    cutoff: datetime | None  # None: kept forever (0 days)
    rows: int = 0  # deleted, or (dry run) that would be
    batches: int = 0
    partitions_dropped: list[str] = field(default_factory=list)


@dataclass
class RetentionReport:
    dry_run: bool
    tables: list[TableResult] = field(default_factory=list)
    partitions_made: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One line per table (and partition change), as the CLI prints them."""
        verb = "would delete" if self.dry_run else "deleted"
        out = []
        for t in self.tables:
            if t.cutoff is None:
                out.append(f"{t.table}: kept (retention 0 days)")
                continue
            line = f"{t.table}: {verb} {t.rows} row(s) older than {t.cutoff.isoformat()}"
            if t.partitions_dropped:
                dropped = "would drop" if self.dry_run else "dropped"
                line += f"; {dropped} partition(s) {', '.join(t.partitions_dropped)}"
            out.append(line)
        if self.partitions_made:
            made = "would make" if self.dry_run else "made"
            names = ", ".join(self.partitions_made)
            out.append(f"payment_monitoring_logs: {made} partition(s) {names}")
        return out


async def _maintain_partitions(
    s: AsyncSession, policy: RetentionPolicy, now: datetime, result: TableResult, dry_run: bool
) -> list[str]:
    """Make the coming days' partitions; drop those wholly before the cutoff (with no open
    watch). The rows they held are counted into ``result`` (a dry run counts them with the
    rule's other rows)."""
    made: list[str] = []
    for day in await partitions.missing_days(s, now.date(), policy.partitions_ahead_days):
        if dry_run or await partitions.add_partition(s, day):
            made.append(partitions.day_partition(day))
        await s.commit()  # each DDL its own short transaction
    if result.cutoff is None:
        return made
    for part in await partitions.list_partitions(s):
        if part.upper is None or part.upper > result.cutoff:
            continue
        if dry_run:  # its rows are counted with the others (the rule's condition holds them)
            t = _part(part.name)
            open_watch = await s.execute(
                select(t.c.status).where(t.c.status == MonitoringStatus.MONITORING.value).limit(1)
            )
            if open_watch.first() is None:
                result.partitions_dropped.append(part.name)
            continue
        rows = (await s.execute(select(func.count()).select_from(_part(part.name)))).scalar_one()
        dropped = await partitions.drop_partition(s, part.name)
        await s.commit()
        if dropped:
            result.rows += int(rows)
            result.partitions_dropped.append(part.name)
    return made


async def _prune(
    s: AsyncSession, rule: Rule, policy: RetentionPolicy, result: TableResult, dry_run: bool
) -> None:
    assert result.cutoff is not None
    condition = rule.where(result.cutoff)
    if dry_run:
        count = (await s.execute(select(func.count()).where(condition))).scalar_one()
        result.rows += int(count)
        return
    model = rule.key.class_
    while result.batches < policy.max_batches:
        ids = list(
            (await s.execute(select(rule.key).where(condition).limit(policy.batch_size)))
            .scalars()
            .all()
        )
        if not ids:
            break
        still = and_(rule.key.in_(ids), condition)  # re-checked: a row may have changed
        if rule.children is not None:
            await s.execute(rule.children(select(rule.key).where(still)))
        deleted = await s.execute(
            delete(model).where(still).execution_options(synchronize_session=False)
        )
        await s.commit()  # one short transaction per batch: no long lock on the table
        n = int(getattr(deleted, "rowcount", 0) or 0)
        result.rows += n
        result.batches += 1
        RETENTION_DELETED.labels(table=rule.table).inc(n)
        if len(ids) < policy.batch_size:
            break


async def run_retention(
    session_maker: async_sessionmaker[AsyncSession],
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> RetentionReport:
    """Apply the policy once (``dry_run``: count only, change nothing)."""
    now = now or utcnow()
    report = RetentionReport(dry_run=dry_run)
    for rule in RULES:
        days = rule.days(policy)
        result = TableResult(rule.table, now - timedelta(days=days) if days > 0 else None)
        report.tables.append(result)
        async with session_maker() as s:
            if rule.table == partitions.PARENT and await partitions.is_partitioned(s):
                made = await _maintain_partitions(s, policy, now, result, dry_run)
                report.partitions_made.extend(made)
                if not dry_run:
                    RETENTION_PARTITIONS.labels(action="made").inc(len(made))
                    RETENTION_PARTITIONS.labels(action="dropped").inc(
                        len(result.partitions_dropped)
                    )
                    RETENTION_DELETED.labels(table=rule.table).inc(result.rows)
            if result.cutoff is not None:
                await _prune(s, rule, policy, result, dry_run)
    for line in report.lines():
        log.info("retention: %s", line)
    return report
