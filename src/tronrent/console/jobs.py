"""Jobs and alerts: the dead letter (jobs that exhausted their retries) with the admin's retry,
and the alert conditions firing now with the operator alerts sent."""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal

from fastapi import Form, Path, Query, Request, Response

from tronrent.api.deps import SessionDep, StateDep
from tronrent.console import session as console_session
from tronrent.console.forms import optional_text
from tronrent.console.session import ConsoleAdmin, ConsoleUser
from tronrent.console.web import nav, page_router, redirect, render
from tronrent.flash.api_deps import JOB_SCOPE, RUNTIME_COMPONENT
from tronrent.kit.keyset import decode_cursor
from tronrent.notification.operator import PROMETHEUS_ONLY, alerts_sent, firing
from tronrent.worker import failures_page, retry_dead_letter

router = page_router(prefix="/admin/jobs", dependencies=[console_session.CSRF])
nav("jobs", "Jobs & alerts", "/admin/jobs")

PAGE_SIZE: Final = 50
_ORDER_PAGE: Final = re.compile(r"/admin/orders/[A-Za-z0-9_-]{1,100}")
FailureId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Cursor = Annotated[str | None, Query(max_length=300)]


@router.get("")
async def dead_letter(
    request: Request,
    session: SessionDep,
    _user: ConsoleUser,
    state: Annotated[Literal["open", "resolved", "all"], Query()] = "open",
    job: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Cursor = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """Jobs that exhausted their retries, newest first (open ones by default)."""
    job = optional_text(job)
    found = await failures_page(
        session,
        unresolved={"open": True, "resolved": False, "all": None}[state],
        job_name=job,
        limit=PAGE_SIZE,
        after=decode_cursor(cursor, int) if cursor else None,
    )
    return render(
        request,
        "jobs.html",
        items=found.items,
        next_cursor=found.next_cursor,
        state=state,
        job=job,
        done=done,
    )


@router.post("/{failure_id}/retry", dependencies=[JOB_SCOPE])
async def retry(
    failure_id: FailureId,
    session: SessionDep,
    admin: ConsoleAdmin,
    back: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """``POST /api/admin/job-failures/{id}/retry``: re-enqueued once (after the commit), the
    failure marked resolved by this admin; a second retry changes nothing. ``back``: the order
    page the retry was asked from (only such a page: never another site)."""
    _, enqueued = await retry_dead_letter(session, failure_id, by=admin.id)
    done = "retried" if enqueued else "already"
    if _ORDER_PAGE.fullmatch(back):
        return redirect(f"{back}?done={done}")
    return redirect(f"/admin/jobs?done={done}")


@router.get("/alerts")
async def alerts(
    request: Request,
    session: SessionDep,
    state: StateDep,
    _user: ConsoleUser,
    cursor: Cursor = None,
) -> Response:
    """The conditions firing now (from the database), the component health of ``/api/health``
    and the operator alerts sent."""
    # the health checks take connections of their own: end the request's transaction first
    # (it only authenticated the account; SQLite serves one connection at a time)
    await session.commit()
    _, health = await state.health.run()
    runtime = state.components.get(RUNTIME_COMPONENT)
    settings = state.settings
    conditions = await firing(
        session,
        block_interval_ms=int(getattr(runtime, "block_interval_ms", settings.block_interval_ms)),
        paid_order_alert_blocks=int(
            getattr(runtime, "paid_order_alert_blocks", settings.paid_order_alert_blocks)
        ),
    )
    sent = await alerts_sent(
        session, limit=PAGE_SIZE, after=decode_cursor(cursor, int) if cursor else None
    )
    return render(
        request,
        "alerts.html",
        conditions=conditions,
        prometheus_only=PROMETHEUS_ONLY,
        health=health,
        items=sent.items,
        next_cursor=sent.next_cursor,
    )
