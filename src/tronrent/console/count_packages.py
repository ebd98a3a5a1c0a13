"""Count packages sold (part of the catalogue pages): the active ones, each with its uses and
changes; add or remove counts, pause and resume, with a reason.

The same use cases as ``/api/admin/count-packages`` (operators may act, as there): every
change is a ``count_package_changes`` row with who and why. A pause or resume is applied by
the ``count.life`` job (its undelegations / delegation stored and sent once); the page shows
the pending action until then.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Path, Query, Request, Response

from tronrent.api.deps import SessionDep
from tronrent.auth.dependencies import actor_of
from tronrent.console import session as console_session
from tronrent.console.forms import PAGE_SIZE, Reason, cursor, integer
from tronrent.console.session import ConsoleUser
from tronrent.console.web import page_router, redirect, render
from tronrent.count import service as count_service
from tronrent.flash.api_deps import JOB_SCOPE
from tronrent.kit.errors import ValidationFailed

# pause / resume enqueue their chain work (count.apply_pending) in the request's transaction
router = page_router(
    prefix="/admin/catalogue/count-packages", dependencies=[JOB_SCOPE, console_session.CSRF]
)

OrderId = Annotated[str, Path(min_length=1, max_length=100)]
Done = Annotated[str | None, Query(max_length=20)]


@router.get("")
async def active(
    request: Request,
    session: SessionDep,
    _user: ConsoleUser,
    cursor_: Annotated[str | None, Query(alias="cursor", max_length=300)] = None,
) -> Response:
    found = await count_service.active_page(session, limit=PAGE_SIZE, after=cursor(cursor_))
    return render(request, "count_packages.html", items=found.items, next_cursor=found.next_cursor)


@router.get("/{order_id}")
async def detail(
    request: Request, order_id: OrderId, session: SessionDep, _user: ConsoleUser, done: Done = None
) -> Response:
    state = await count_service.state_of(session, order_id)
    changes = await count_service.changes_of(session, order_id)
    return render(
        request,
        "count_package.html",
        p=state.package,
        uses=state.uses,
        changes=changes,
        done=done,
    )


@router.post("/{order_id}/adjust")
async def adjust(
    order_id: OrderId,
    session: SessionDep,
    user: ConsoleUser,
    reason: Reason,
    delta: Annotated[str, Form(max_length=20)],
) -> Response:
    """Add (> 0) or remove (< 0) counts (``POST /api/admin/count-packages/{id}/adjustments``)."""
    counts = integer(delta, "counts", -count_service.MAX_ADJUSTMENT, count_service.MAX_ADJUSTMENT)
    if not counts:
        raise ValidationFailed("counts: a non-zero number is required (negative: remove)")
    await count_service.adjust(session, order_id, counts, actor=actor_of(user), reason=reason)
    return redirect(f"/admin/catalogue/count-packages/{order_id}?done=adjusted")


@router.post("/{order_id}/pause")
async def pause(
    order_id: OrderId, session: SessionDep, user: ConsoleUser, reason: Reason
) -> Response:
    """Pause: its energy is reclaimed by the ``count.life`` job (``/pause`` of the API)."""
    await count_service.pause(session, order_id, actor=actor_of(user), reason=reason)
    return redirect(f"/admin/catalogue/count-packages/{order_id}?done=paused")


@router.post("/{order_id}/resume")
async def resume(
    order_id: OrderId, session: SessionDep, user: ConsoleUser, reason: Reason
) -> Response:
    """Resume: one transfer's energy is delegated again (``/resume`` of the API)."""
    await count_service.resume(session, order_id, actor=actor_of(user), reason=reason)
    return redirect(f"/admin/catalogue/count-packages/{order_id}?done=resumed")
