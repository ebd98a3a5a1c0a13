"""Reading and adjusting count packages (customer view, admin routes). Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.count.repository import scanned_block
from tronrent.kit.audit import MAX_REASON, Actor, require_reason
from tronrent.kit.errors import Conflict, NotFound, ValidationFailed
from tronrent.kit.keyset import Page, Position, newest_first, page
from tronrent.kit.time import utcnow
from tronrent.models.count_package import (
    CountChangeKind,
    CountPackage,
    CountPackageChange,
    CountUse,
    CountUseStatus,
)
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.order import Order, OrderStatus
from tronrent.worker import enqueue_job

#: uses listed per order view (newest first)
MAX_USES = 500


class CountPackageNotFound(NotFound):
    default_code = "COUNT_PACKAGE_NOT_FOUND"


class InvalidCountAdjustment(ValidationFailed):
    default_code = "INVALID_COUNT_ADJUSTMENT"


class CountPackageNotActive(Conflict):
    default_code = "COUNT_PACKAGE_NOT_ACTIVE"


class CountPackageBusy(Conflict):
    """A use is being topped up, or the previous pause / resume is still on its way."""

    default_code = "COUNT_PACKAGE_BUSY"


#: the job storing and delivering a pause's undelegations / a resume's delegations
PENDING_JOB = "count.apply_pending"
PAUSE, RESUME = "pause", "resume"


@dataclass(frozen=True, slots=True)
class PackageState:
    package: CountPackage
    uses: Sequence[CountUse]


async def state_of(session: AsyncSession, order_id: str, *, uses: bool = True) -> PackageState:
    pkg = await session.get(CountPackage, order_id)
    if pkg is None:
        raise CountPackageNotFound(f"order {order_id} is not a count package")
    return PackageState(pkg, await uses_of(session, order_id) if uses else ())


async def uses_of(session: AsyncSession, order_id: str) -> Sequence[CountUse]:
    """The order's uses (a count package's or an auto top-up's), newest first."""
    return (
        (
            await session.execute(
                select(CountUse)
                .where(CountUse.order_id == order_id)
                .order_by(CountUse.block_number.desc(), CountUse.id.desc())
                .limit(MAX_USES)
            )
        )
        .scalars()
        .all()
    )


async def active_packages(
    session: AsyncSession, *, limit: int = 100, offset: int = 0
) -> tuple[Sequence[tuple[CountPackage, Order]], int]:
    """Active count packages, newest first, and how many there are."""
    base = (
        select(CountPackage, Order)
        .join(Order, Order.id == CountPackage.order_id)
        .where(Order.status == OrderStatus.ACTIVE)
    )
    total = int(
        (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    )
    rows = await session.execute(
        base.order_by(CountPackage.created_at.desc(), CountPackage.order_id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(p, o) for p, o in rows], total


async def active_page(
    session: AsyncSession, *, limit: int = 50, after: Position[str] | None = None
) -> Page[tuple[CountPackage, Order]]:
    """Active count packages, newest first, after ``after`` (keyset over the package's
    ``(created_at, order_id)``: ``idx_count_packages_created_at``)."""
    stmt = newest_first(
        select(CountPackage, Order)
        .join(Order, Order.id == CountPackage.order_id)
        .where(Order.status == OrderStatus.ACTIVE),
        CountPackage.created_at,
        CountPackage.order_id,
        after,
        limit,
    )
    rows = [(p, o) for p, o in await session.execute(stmt)]
    return page(rows, limit, lambda row: Position(row[0].created_at, row[0].order_id))


async def changes_of(
    session: AsyncSession, order_id: str, *, limit: int = 100
) -> Sequence[CountPackageChange]:
    """The package's recorded changes (adjustments, pauses, idle fees...), newest first."""
    return (
        (
            await session.execute(
                select(CountPackageChange)
                .where(CountPackageChange.order_id == order_id)
                .order_by(CountPackageChange.created_at.desc(), CountPackageChange.id.desc())
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )


#: the most counts one adjustment may add or remove
MAX_ADJUSTMENT = 10_000


async def adjust(
    session: AsyncSession, order_id: str, delta_counts: int, *, actor: Actor, reason: str
) -> CountPackage:
    """Add (``delta_counts`` > 0) or remove counts of an active package, recorded with who and
    why. Removing never goes below what is used; a package left with nothing to use ends at
    its next use (or its lifetime).

    Raises:
        CountPackageNotFound (404). InvalidCountAdjustment (422): zero, too large, below what
        is used, or the package is not active. REASON_REQUIRED (422).
    """
    why = require_reason(reason, "count adjustment")
    if delta_counts == 0 or abs(delta_counts) > MAX_ADJUSTMENT:
        raise InvalidCountAdjustment(
            f"deltaCounts must be non-zero and at most {MAX_ADJUSTMENT} either way"
        )
    order, pkg = await _lock(session, order_id)
    if pkg is None:
        raise CountPackageNotFound(f"order {order_id} is not a count package")
    if order is None or order.status is not OrderStatus.ACTIVE:
        raise InvalidCountAdjustment("only an active count package can be adjusted")
    after = pkg.total_counts + delta_counts
    if after < max(1, pkg.used_counts):
        raise InvalidCountAdjustment(
            f"{pkg.used_counts} of {pkg.total_counts} are used: at most "
            f"{pkg.total_counts - max(1, pkg.used_counts)} can be removed"
        )
    session.add(
        CountPackageChange(
            order_id=order_id,
            actor=actor.name,
            actor_id=actor.admin_id,
            total_before=pkg.total_counts,
            total_after=after,
            reason=why,
        )
    )
    pkg.total_counts = after
    order.transaction_count = after
    await session.flush()
    return pkg


async def _lock(session: AsyncSession, order_id: str) -> tuple[Order | None, CountPackage | None]:
    """The order, then its package, locked: the lock order of every count step
    (`flows.locked_orders`). Locking the package first deadlocked with count.life / the engine,
    which hold the order and wait for the package, while that waited for the order (a change
    row's foreign key)."""
    order = (
        await session.execute(
            select(Order)
            .where(Order.id == order_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if order is None:
        return None, None
    pkg = (
        await session.execute(
            select(CountPackage)
            .where(CountPackage.order_id == order_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    return order, pkg


async def _locked_package(
    session: AsyncSession, order_id: str, user_id: uuid.UUID | None
) -> tuple[CountPackage, Order]:
    order, pkg = await _lock(session, order_id)
    if pkg is None or order is None or (user_id is not None and order.user_id != user_id):
        raise CountPackageNotFound(f"order {order_id} is not a count package")
    if order.status is not OrderStatus.ACTIVE:
        raise CountPackageNotActive(
            f"the package is {order.status.value}: only an active package can be paused or resumed"
        )
    return pkg, order


async def locked_live_delegations(session: AsyncSession, order_id: str) -> list[EnergyDelegation]:
    """The order's delegations on chain, rows locked (the caller holds the order's lock)."""
    return list(
        (
            await session.execute(
                select(EnergyDelegation)
                .where(
                    EnergyDelegation.order_id == order_id,
                    EnergyDelegation.status == DelegationStatus.SUCCESS,
                )
                .order_by(EnergyDelegation.id)
                .with_for_update()
            )
        ).scalars()
    )


def _record(
    session: AsyncSession, pkg: CountPackage, kind: CountChangeKind, actor: Actor, reason: str
) -> None:
    session.add(
        CountPackageChange(
            order_id=pkg.order_id,
            actor=actor.name,
            actor_id=actor.admin_id,
            total_before=pkg.total_counts,
            total_after=pkg.total_counts,
            reason=reason.strip()[:MAX_REASON] or kind.value,
            kind=kind,
        )
    )


def _send(order_id: str) -> None:
    """The pause's / resume's chain work, enqueued in the same transaction: sent once it
    commits (dropped if it rolls back), so it starts at once; the periodic count.life re-drives
    it if that job fails. The caller runs in a job scope (the HTTP routes, the bot's updates)."""
    enqueue_job(PENDING_JOB, order_id)


async def pause(
    session: AsyncSession,
    order_id: str,
    *,
    actor: Actor,
    reason: str = "",
    user_id: uuid.UUID | None = None,
) -> CountPackage:
    """Pause an active package: its energy is reclaimed (the undelegations are stored and
    delivered by `PENDING_JOB`, exactly once), no idle fee is charged while paused, uses are
    not followed. Idempotent (a paused package is returned as it is). ``user_id``: the
    customer asking (another customer's package is not found).

    Raises:
        CountPackageNotFound (404). CountPackageNotActive (409): not active.
        CountPackageBusy (409): a use is being topped up (a pause now could cross the top-up
        on chain) or a resume is still on its way.
    """
    pkg, order = await _locked_package(session, order_id, user_id)
    if pkg.paused:
        return pkg
    if pkg.pending_action is not None:
        raise CountPackageBusy("the previous resume is still on its way: try again shortly")
    in_flight = (
        await session.execute(
            select(func.count())
            .select_from(CountUse)
            .where(
                CountUse.order_id == order_id,
                CountUse.status.in_((CountUseStatus.SEEN, CountUseStatus.TOPPING_UP)),
            )
        )
    ).scalar_one()
    if in_flight:
        raise CountPackageBusy("a transfer is being topped up: try again in a few seconds")
    for x in await locked_live_delegations(session, order_id):
        x.expires_at = None  # not due while paused: the pause reclaims it, not the sweeper
    pkg.paused = True
    pkg.paused_at = utcnow()
    pkg.pending_action = PAUSE
    pkg.pending_txids = None
    _record(session, pkg, CountChangeKind.PAUSE, actor, reason)
    await session.flush()
    _send(order.id)
    return pkg


async def resume(
    session: AsyncSession,
    order_id: str,
    *,
    actor: Actor,
    reason: str = "",
    user_id: uuid.UUID | None = None,
) -> CountPackage:
    """Resume a paused package: one transfer's energy is delegated again (`PENDING_JOB`, the
    next block), uses are followed again, the idle clock starts again at the scanned block.
    Idempotent. Same errors as `pause` (CountPackageBusy: its pause is still on its way)."""
    pkg, order = await _locked_package(session, order_id, user_id)
    if not pkg.paused:
        return pkg
    if pkg.pending_action is not None:
        raise CountPackageBusy("the pause is still on its way: try again shortly")
    for x in await locked_live_delegations(session, order_id):
        x.expires_at = order.expires_at
    pkg.paused = False
    pkg.paused_at = None
    pkg.pending_action = RESUME
    pkg.pending_txids = None
    pkg.idle_since_block = await scanned_block(session)
    pkg.idle_charged = 0
    _record(session, pkg, CountChangeKind.RESUME, actor, reason)
    await session.flush()
    _send(order.id)
    return pkg
