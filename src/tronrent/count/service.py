"""Reading and adjusting count packages (customer view, admin routes). Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.audit import Actor, require_reason
from tronrent.kit.errors import NotFound, ValidationFailed
from tronrent.models.count_package import CountPackage, CountPackageChange, CountUse
from tronrent.models.order import Order, OrderStatus

#: uses listed per order view (newest first)
MAX_USES = 500


class CountPackageNotFound(NotFound):
    default_code = "COUNT_PACKAGE_NOT_FOUND"


class InvalidCountAdjustment(ValidationFailed):
    default_code = "INVALID_COUNT_ADJUSTMENT"


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
    return [(p, o) for p, o in rows.tuples()], total


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
    pkg = (
        await session.execute(
            select(CountPackage)
            .where(CountPackage.order_id == order_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if pkg is None:
        raise CountPackageNotFound(f"order {order_id} is not a count package")
    order = await session.get(Order, order_id)
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
