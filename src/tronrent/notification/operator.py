"""What operators are alerted to, for the console: the alert conditions firing now, computed
from the database, and the operator alerts sent (the outbox rows with no customer).

Only the rules of ``deploy/alerts.yml`` (and the operator alerts of :mod:`alerts`) whose
condition is a fact of the database are computed here, each the way its gauge or alert is
made; the ones over metric rates (failure and error rates, p95 durations, connection pools,
scrapes) exist only in Prometheus, which evaluates ``deploy/alerts.yml``: they are listed as
such, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.delegation import limbo
from tronrent.kit.keyset import Page, Position, newest_first, page
from tronrent.kit.time import utcnow
from tronrent.models.energy_pool import EnergyPool, PoolStatus
from tronrent.models.job_failure import JobFailure
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.notification.alerts import POOL_LOW_ENERGY

#: deploy/alerts.yml OrderStuck: the oldest paid order without an outcome, in seconds
ORDER_STUCK_SECONDS: Final = 300
#: deploy/alerts.yml rules evaluated from metric rates, by Prometheus only
PROMETHEUS_ONLY: Final = (
    ("PaymentMonitoringFailureRateHigh", "payment monitoring failures above 5% over 5 minutes"),
    ("EnergyDelegationFailureRateHigh", "delegation failures above 3% over 5 minutes"),
    ("OrderProcessingSlow", "payment-to-delegation p95 above 5 minutes"),
    ("SystemErrorRateHigh", "server errors above 1% of requests over 5 minutes"),
    ("DatabaseConnectionsHigh", "a database connection pool above 80% in use"),
    ("TronrentDown", "Prometheus cannot scrape /api/metrics"),
    ("ScannerLagging", "the scanner more than 20 blocks behind (see the scanner health check)"),
)


@dataclass(frozen=True, slots=True)
class Condition:
    name: str
    severity: str
    firing: bool
    summary: str
    #: what was measured now, in words
    value: str


async def firing(
    session: AsyncSession,
    *,
    block_interval_ms: int,
    paid_order_alert_blocks: int,
    now: datetime | None = None,
) -> list[Condition]:
    """Each condition computable from the database, measured now (instant values: the rules'
    ``for:`` durations are Prometheus's)."""
    now = now or utcnow()
    cutoff = limbo.paid_before(block_interval_ms, paid_order_alert_blocks, now)
    found = await limbo.limbo_figures(session, paid_before=cutoff, now=now)
    in_limbo, unsettled, oldest = found.in_limbo, found.unsettled, found.oldest
    age = int((now - oldest).total_seconds()) if oldest else 0
    pools = (
        (await session.execute(select(EnergyPool).where(EnergyPool.removed_at.is_(None))))
        .scalars()
        .all()
    )
    synced = [p for p in pools if p.last_synced_at is not None]
    available = sum(p.available_energy for p in synced)
    capacity = available + sum(p.delegated_energy for p in synced)
    flagged = [p.name for p in pools if p.flag is not None]
    low = [
        p.name
        for p in synced
        if p.status is PoolStatus.ACTIVE and p.flag is None and p.available_energy < POOL_LOW_ENERGY
    ]
    open_failures = int(
        await session.scalar(
            select(func.count()).select_from(JobFailure).where(JobFailure.resolved_at.is_(None))
        )
        or 0
    )
    return [
        Condition(
            "PaidOrdersInLimbo",
            "critical",
            in_limbo > 0,
            f"paid orders neither delivered nor refunded {paid_order_alert_blocks} blocks on",
            f"{in_limbo} order(s)",
        ),
        Condition(
            "OrderStuck",
            "critical",
            age > ORDER_STUCK_SECONDS,
            f"a paid order has waited more than {ORDER_STUCK_SECONDS} s for its energy",
            f"{unsettled} paid order(s) without an outcome; the oldest {age} s old"
            if unsettled
            else "none",
        ),
        Condition(
            "PoolEnergyExhausted",
            "warning",
            capacity > 0 and available * 10 < capacity,
            "the pools have less than 10% of their energy left to delegate",
            f"{available:,} of {capacity:,} energy available (last synced figures)"
            if capacity
            else "no synced pool",
        ),
        Condition(
            "PoolLow",
            "warning",
            bool(low),
            f"an active pool below {POOL_LOW_ENERGY:,} delegatable energy (pool_low alert)",
            ", ".join(low) or "none",
        ),
        Condition(
            "PoolUnusable",
            "critical",
            bool(flagged),
            "a pool taken out of service by the system (pool_unusable alert)",
            ", ".join(flagged) or "none",
        ),
        Condition(
            "JobsDeadLettered",
            "warning",
            open_failures > 0,
            "jobs that exhausted their retries, not retried yet (job_dead_lettered alert)",
            f"{open_failures} open",
        ),
    ]


async def alerts_sent(
    session: AsyncSession, *, limit: int = 50, after: Position[int] | None = None
) -> Page[NotificationOutbox]:
    """The operator alerts queued or sent, newest first (``idx_notification_outbox_operator``)."""
    stmt = newest_first(
        select(NotificationOutbox).where(
            NotificationOutbox.user_id.is_(None), NotificationOutbox.chat_id.is_(None)
        ),
        NotificationOutbox.created_at,
        NotificationOutbox.id,
        after,
        limit,
    )
    rows = (await session.execute(stmt)).scalars().all()
    return page(rows, limit, lambda r: Position(r.created_at, r.id))
