"""Count-package routes: the operators' list of active packages, a package with its uses,
manual adjustment with a reason, pause and resume. (The customer's view is the order's:
`GET /api/orders/{id}` carries ``countPackage`` for a count-package order.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field

from tronrent.api.deps import SessionDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.auth.dependencies import OperatorDep, actor_of
from tronrent.count import service as count_service
from tronrent.count.schemas import CountPackageOut, package_view
from tronrent.flash.api_deps import JOB_SCOPE
from tronrent.kit.audit import MAX_REASON, require_reason
from tronrent.order.schemas import OrderId

router = APIRouter(
    prefix="/api/admin/count-packages",
    tags=["count-packages"],
    # a pause / resume enqueues its chain work, sent once the request's transaction commits
    dependencies=[JOB_SCOPE],
    responses=ERROR_RESPONSES,
)


class PauseRequest(ApiModel):
    reason: str = Field(min_length=1, max_length=MAX_REASON, description="why (recorded)")


class CountPackagePage(ApiModel):
    items: list[CountPackageOut]
    total: int


class AdjustRequest(ApiModel):
    #: counts to add (> 0) or remove (< 0)
    delta_counts: int = Field(strict=True, ge=-10_000, le=10_000)
    reason: str = Field(min_length=1, max_length=MAX_REASON, description="why (recorded)")


@router.get("")
async def list_active(
    session: SessionDep,
    _op: OperatorDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Envelope[CountPackagePage]:
    """Active count packages, newest first (operator JWT)."""
    rows, total = await count_service.active_packages(session, limit=limit, offset=offset)
    return ok(CountPackagePage(items=[package_view(p) for p, _ in rows], total=total))


@router.get("/{order_id}")
async def get_package(
    order_id: Annotated[OrderId, Path()], session: SessionDep, _op: OperatorDep
) -> Envelope[CountPackageOut]:
    """A count package with its uses, newest first (operator JWT). 404
    COUNT_PACKAGE_NOT_FOUND."""
    state = await count_service.state_of(session, order_id)
    return ok(package_view(state.package, list(state.uses)))


@router.post("/{order_id}/adjustments")
async def adjust(
    order_id: Annotated[OrderId, Path()],
    body: AdjustRequest,
    session: SessionDep,
    op: OperatorDep,
) -> Envelope[CountPackageOut]:
    """Add or remove counts of an active package (operator JWT), recorded with who and why
    (`count_package_changes`). 404 COUNT_PACKAGE_NOT_FOUND; 422 INVALID_COUNT_ADJUSTMENT
    (zero, below what is used, not active), REASON_REQUIRED."""
    pkg = await count_service.adjust(
        session, order_id, body.delta_counts, actor=actor_of(op), reason=body.reason
    )
    return ok(package_view(pkg))


@router.post("/{order_id}/pause")
async def pause(
    order_id: Annotated[OrderId, Path()],
    body: PauseRequest,
    session: SessionDep,
    op: OperatorDep,
) -> Envelope[CountPackageOut]:
    """Pause an active package (operator JWT): its energy is reclaimed (``pendingAction``
    ``pause`` until the undelegation is sent), no idle fee while paused, its transfers are not
    followed. Idempotent. 404 COUNT_PACKAGE_NOT_FOUND; 409 COUNT_PACKAGE_NOT_ACTIVE,
    COUNT_PACKAGE_BUSY (a transfer being topped up, or a resume on its way: retry);
    422 REASON_REQUIRED."""
    why = require_reason(body.reason, "count package pause")
    pkg = await count_service.pause(session, order_id, actor=actor_of(op), reason=why)
    return ok(package_view(pkg))


@router.post("/{order_id}/resume")
async def resume(
    order_id: Annotated[OrderId, Path()],
    body: PauseRequest,
    session: SessionDep,
    op: OperatorDep,
) -> Envelope[CountPackageOut]:
    """Resume a paused package (operator JWT): one transfer's energy is delegated again
    (``pendingAction`` ``resume`` until it is sent), the idle clock restarts. Idempotent.
    Errors as for pause."""
    why = require_reason(body.reason, "count package resume")
    pkg = await count_service.resume(session, order_id, actor=actor_of(op), reason=why)
    return ok(package_view(pkg))
