"""Count-package jobs: apply the uses the scanner recorded; the sweep re-drives what a crash
left (uses recorded but not applied, top-ups stored but not accepted by a node); the life job
charges idle fees, ends unused packages, settles their unused counts and carries pauses and
resumes to the chain (`count.life`)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tronrent.count.flows import count_flows
from tronrent.count.life import count_life
from tronrent.count.service import PENDING_JOB
from tronrent.delegation.deps import flow_deps
from tronrent.kit.time import from_ms, utcnow
from tronrent.models.count_package import CountUse, CountUseStatus
from tronrent.worker import Priority, actor, enqueue_job, split_on_failure

APPLY_JOB = "count.apply_uses"
SWEEP_JOB = "count.sweep"
LIFE_JOB = "count.life"
#: a use untouched this long while seen / topping up is re-driven
STUCK_AFTER_S = 6.0
#: uses re-driven per sweep
SWEEP_LIMIT = 500


@actor(APPLY_JOB, priority=Priority.HIGH, max_retries=8, max_backoff_s=10)
async def apply_uses(*use_ids: int) -> None:
    """The uses the scanner recorded in one batch: count, top up (or end the package)."""
    d = flow_deps()
    ids = [int(x) for x in use_ids]

    async def work() -> None:
        await count_flows.apply_uses(d, ids)

    await split_on_failure(APPLY_JOB, ids, work, d.session_maker)


@actor(SWEEP_JOB, priority=Priority.LOW, max_retries=0, period_s=5.0)
async def sweep(left_before_ms: int | None = None) -> None:
    """Uses still ``seen`` or ``topping_up`` after STUCK_AFTER_S (or left before
    ``left_before_ms``, a restart) go to `apply_uses` again: it counts nothing twice (a use
    leaves ``seen`` when counted) and delivers the stored top-up, never a new one."""
    d = flow_deps()
    cutoff = utcnow() - timedelta(seconds=STUCK_AFTER_S)
    if left_before_ms is not None:
        cutoff = max(cutoff, from_ms(int(left_before_ms)))
    async with d.session_maker() as s:
        ids = list(
            (
                await s.execute(
                    select(CountUse.id)
                    .where(
                        CountUse.status.in_((CountUseStatus.SEEN, CountUseStatus.TOPPING_UP)),
                        CountUse.updated_at < cutoff,
                    )
                    .order_by(CountUse.id)
                    .limit(SWEEP_LIMIT)
                )
            ).scalars()
        )
        if ids:
            # a job is sent once a transaction commits (`worker._enqueue`): enqueued after the
            # session closed it was silently dropped, and the sweep re-drove nothing
            enqueue_job(APPLY_JOB, *ids)
            await s.commit()


@actor(PENDING_JOB, priority=Priority.HIGH, max_retries=3, max_backoff_s=5)
async def apply_pending(*order_ids: str) -> None:
    """A pause or resume just asked: store and deliver its transactions now (the periodic
    `life` job does it too, and re-drives what this one left)."""
    await count_life.apply_pending(flow_deps(), [str(x) for x in order_ids])


@actor(LIFE_JOB, priority=Priority.LOW, max_retries=0, period_s=2.0)
async def life() -> None:
    """Pending pauses / resumes, idle fees and ends (chain time: the scanned block), and the
    settlement of completed packages' unused counts."""
    await count_life.run(flow_deps())
