"""Users and balances: search, a user's balances and ledger, balance adjustments and
block/unblock.

The same use cases as ``/api/admin/users``: reads for every role; an adjustment and a status
change need the admin role and a reason. Who and why of an adjustment is the ``note`` of its
ledger entry (shown in the ledger); of a status change, a ``user_status_changes`` row (shown
under "Status changes").
"""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Annotated, Any

from fastapi import Form, Path, Query, Request, Response

from tronrent.api.deps import SessionDep
from tronrent.console import changes
from tronrent.console import session as console_session
from tronrent.console.forms import PAGE_SIZE, Reason, amount, before, cursor
from tronrent.console.session import ConsoleAdmin, ConsoleUser
from tronrent.console.web import choice, nav, page_router, redirect, render
from tronrent.kit.errors import ValidationFailed
from tronrent.models.common import Currency
from tronrent.user.admin import user_admin
from tronrent.user.admin_endpoints import actor
from tronrent.user.balance import balance as balance_service

router = page_router(prefix="/admin/users", dependencies=[console_session.CSRF])
nav("users", "Users & balances", "/admin/users")

UserId = Annotated[uuid.UUID, Path()]
Done = Annotated[str | None, Query(max_length=20)]


def _note(text: str | None) -> dict[str, Any] | None:
    """An adjustment's note (who and why, JSON); None for other entries."""
    if not text or not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@router.get("")
async def users(
    request: Request,
    session: SessionDep,
    _user: ConsoleUser,
    q: Annotated[str | None, Query(max_length=100)] = None,
    cursor_: Annotated[str | None, Query(alias="cursor", max_length=300)] = None,
) -> Response:
    """Telegram id, TRON address, username (part of it) or referral code; newest first."""
    found = await user_admin.page(session, q, limit=PAGE_SIZE, after=cursor(cursor_))
    return render(
        request, "users.html", q=q or "", items=found.items, next_cursor=found.next_cursor
    )


@router.get("/{user_id}")
async def user_detail(
    request: Request,
    user_id: UserId,
    session: SessionDep,
    _user: ConsoleUser,
    currency: Annotated[str | None, Query(max_length=10)] = None,
    cursor_: Annotated[str | None, Query(alias="cursor", max_length=30)] = None,
    done: Done = None,
) -> Response:
    user = await user_admin.get(session, user_id)
    ledger = await balance_service.list_entries(
        session,
        user_id,
        limit=PAGE_SIZE,
        before_id=before(cursor_),
        currency=choice(Currency, currency, "currency"),
    )
    return render(
        request,
        "user.html",
        u=user,
        entries=[(e, _note(e.note)) for e in ledger.entries],
        next_cursor=str(ledger.next_before_id) if ledger.next_before_id else None,
        currency=currency or "",
        currencies=list(Currency),
        reference=f"console-{secrets.token_hex(8)}",
        statuses=changes.of_statuses(await user_admin.status_changes(session, user_id)),
        done=done,
    )


@router.post("/{user_id}/adjust")
async def adjust(
    user_id: UserId,
    session: SessionDep,
    admin: ConsoleAdmin,
    reason: Reason,
    currency: Annotated[str, Form(max_length=10)],
    amount_: Annotated[str, Form(alias="amount", max_length=40)],
    reference: Annotated[str, Form(min_length=1, max_length=100)],
) -> Response:
    """A credit (> 0) or debit (< 0) as an ``adjustment`` ledger entry (``POST /api/admin/
    users/{id}/balance-adjustments``); the form's reference makes a resubmission a no-op."""
    units = amount(amount_, "amount", negative=True)
    if not units:
        raise ValidationFailed("amount: a non-zero amount is required (negative: a debit)")
    applied = await user_admin.adjust_balance(
        session,
        user_id,
        currency=choice(Currency, currency, "currency") or Currency.TRX,
        amount_units=units,
        reason=reason.strip(),
        reference=reference.strip(),
        by=actor(admin),
    )
    return redirect(f"/admin/users/{user_id}?done={'adjusted' if applied.created else 'repeat'}")


@router.post("/{user_id}/block")
async def block(
    user_id: UserId, session: SessionDep, admin: ConsoleAdmin, reason: Reason
) -> Response:
    """Status ``banned`` (``POST /api/admin/users/{id}/block``), recorded with who and why."""
    await user_admin.set_blocked(
        session, user_id, blocked=True, reason=reason.strip(), by=actor(admin)
    )
    return redirect(f"/admin/users/{user_id}?done=blocked")


@router.post("/{user_id}/unblock")
async def unblock(
    user_id: UserId, session: SessionDep, admin: ConsoleAdmin, reason: Reason
) -> Response:
    """Status ``active`` again (``POST /api/admin/users/{id}/unblock``), recorded."""
    await user_admin.set_blocked(
        session, user_id, blocked=False, reason=reason.strip(), by=actor(admin)
    )
    return redirect(f"/admin/users/{user_id}?done=unblocked")
