"""Payments: search with keyset pages, the problem payments, one payment with its operator
changes, and the admin's refund and manual match (the use cases of ``/api/admin/payments``)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Final

from fastapi import Depends, Form, Path, Query, Request, Response

from tronrent.api.deps import SessionDep
from tronrent.console import session as console_session
from tronrent.console.forms import Reason, optional_text
from tronrent.console.session import ConsoleAdmin, ConsoleUser
from tronrent.console.web import choice, day, nav, page_router, redirect, render
from tronrent.flash.api_deps import JOB_SCOPE
from tronrent.kit.errors import ValidationFailed
from tronrent.kit.keyset import decode_cursor
from tronrent.models.common import Currency
from tronrent.models.payment import PaymentStatus
from tronrent.payment.admin import (
    MATCHABLE_STATUSES,
    PROBLEM_STATUSES,
    REFUNDABLE_STATUSES,
    PaymentFilter,
    payment_admin,
)
from tronrent.user.admin_endpoints import actor

router = page_router(prefix="/admin/payments", dependencies=[console_session.CSRF])
nav("payments", "Payments", "/admin/payments")

PAGE_SIZE: Final = 50
_TX_HASH: Final = re.compile(r"^[0-9a-fA-F]{64}$")
_ADDRESS: Final = re.compile(r"^T[1-9A-HJ-NP-Za-km-z]{33}$")
PaymentId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class PaymentQuery:
    """The search form: one box (a TRON address - sender or receiver - or a tx hash), status,
    asset, dates (UTC days, both included). Empty fields are "any"."""

    def __init__(
        self,
        q: Annotated[str | None, Query(max_length=100)] = None,
        status: Annotated[str | None, Query(max_length=30)] = None,
        asset: Annotated[str | None, Query(max_length=10)] = None,
        since: Annotated[str | None, Query(alias="from", max_length=10)] = None,
        until: Annotated[str | None, Query(alias="to", max_length=10)] = None,
        cursor: Annotated[str | None, Query(max_length=300)] = None,
    ) -> None:
        self.q = optional_text(q)
        if self.q and not (_ADDRESS.match(self.q) or _TX_HASH.match(self.q)):
            raise ValidationFailed(
                f"{self.q!r} is neither a TRON address (T..., 34 characters) nor a tx hash "
                "(64 hex characters)"
            )
        self.status = choice(PaymentStatus, status, "status")
        self.asset = choice(Currency, asset, "asset")
        self.since = day(since, "from")
        self.until = day(until, "to")
        self.cursor = cursor or None

    def filter(self, statuses: tuple[PaymentStatus, ...] = ()) -> PaymentFilter:
        q = self.q or ""
        return PaymentFilter(
            statuses=(self.status,) if self.status else statuses,
            asset=self.asset,
            address=q if _ADDRESS.match(q) else None,
            tx_hash=q.lower() if _TX_HASH.match(q) else None,
            created_from=self.since,
            created_to=self.until + timedelta(days=1) if self.until else None,
        )


async def _listing(
    request: Request, session: SessionDep, f: PaymentQuery, *, problems: bool
) -> Response:
    if problems and f.status is not None and f.status not in PROBLEM_STATUSES:
        raise ValidationFailed(
            "kind: one of " + ", ".join(s.value for s in PROBLEM_STATUSES) + " (or any)"
        )
    after = decode_cursor(f.cursor, int) if f.cursor else None
    found = await payment_admin.search(
        session, f.filter(PROBLEM_STATUSES if problems else ()), limit=PAGE_SIZE, after=after
    )
    partial = request.headers.get("HX-Target") == "results"
    return render(
        request,
        "_payments_table.html" if partial else "payments.html",
        f=f,
        items=found.items,
        next_cursor=found.next_cursor,
        problems=problems,
        statuses=list(PROBLEM_STATUSES if problems else PaymentStatus),
        assets=list(Currency),
    )


@router.get("")
async def payments(
    request: Request,
    session: SessionDep,
    _user: ConsoleUser,
    f: Annotated[PaymentQuery, Depends()],
) -> Response:
    return await _listing(request, session, f, problems=False)


@router.get("/problems")
async def problem_payments(
    request: Request,
    session: SessionDep,
    _user: ConsoleUser,
    f: Annotated[PaymentQuery, Depends()],
) -> Response:
    """Dust, underpaid, excess and ignored payments (``status`` narrows to one kind)."""
    return await _listing(request, session, f, problems=True)


@router.get("/{payment_id}")
async def payment_detail(
    request: Request,
    payment_id: PaymentId,
    session: SessionDep,
    _user: ConsoleUser,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    p = await payment_admin.get(session, payment_id)
    return render(
        request,
        "payment.html",
        p=p,
        changes=await payment_admin.changes(session, payment_id),
        refundable=p.status in REFUNDABLE_STATUSES and p.handled_at is not None,
        matchable=p.status in MATCHABLE_STATUSES and p.order_id is None,
        done=done,
    )


@router.post("/{payment_id}/refund", dependencies=[JOB_SCOPE])
async def refund(
    payment_id: PaymentId, reason: Reason, session: SessionDep, admin: ConsoleAdmin
) -> Response:
    """``POST /api/admin/payments/{id}/refund``: the refund job signs, stores and sends it."""
    await payment_admin.refund(session, payment_id, reason=reason, by=actor(admin))
    return redirect(f"/admin/payments/{payment_id}?done=refund")


@router.post("/{payment_id}/match", dependencies=[JOB_SCOPE])
async def match(
    payment_id: PaymentId,
    order_id: Annotated[str, Form(min_length=1, max_length=100)],
    reason: Reason,
    session: SessionDep,
    admin: ConsoleAdmin,
) -> Response:
    """``POST /api/admin/payments/{id}/match``: the payment job processes it for the order."""
    await payment_admin.match(session, payment_id, order_id.strip(), reason=reason, by=actor(admin))
    return redirect(f"/admin/payments/{payment_id}?done=match")
