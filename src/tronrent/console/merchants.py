"""Merchants: API keys (list, create, settings, revoke) and the callback delivery log.

The same use cases as ``/api/admin/merchant``: reads for every role; creating a key, changing
its IP allowlist or callback URL and revoking it need the admin role and a reason, recorded
with who made it (on the key for create/revoke, ``merchant_key_changes`` for settings). A new
key's secret is shown on the answer to the create form only (``Cache-Control: no-store``) and
never again: it is stored encrypted and no page reads it back. There is no rotation and no
manual callback retry in the API: rotate by creating a new key and revoking the old one; a
failed callback has used up its retry schedule.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path, Query, Request, Response

from tronrent.api.deps import SessionDep, StateDep
from tronrent.auth.dependencies import actor_of
from tronrent.console import changes
from tronrent.console import session as console_session
from tronrent.console.forms import (
    PAGE_SIZE,
    Field,
    Reason,
    before,
    cursor,
    optional_text,
    uuid_of,
)
from tronrent.console.session import ConsoleAdmin, ConsoleUser
from tronrent.console.web import choice, nav, page_router, redirect, render
from tronrent.kit.errors import ValidationFailed
from tronrent.merchant import deliveries
from tronrent.merchant.keys import merchant_keys
from tronrent.models.merchant import CallbackStatus

router = page_router(prefix="/admin/merchants", dependencies=[console_session.CSRF])
nav("merchants", "Merchant API", "/admin/merchants")

KeyId = Annotated[str, Path(min_length=1, max_length=40)]
Done = Annotated[str | None, Query(max_length=20)]
_SPLIT = re.compile(r"[\s,;]+")


def _allowlist(text: str) -> list[str]:
    """One address or network per line (or comma separated); blank: any address."""
    return [entry for entry in _SPLIT.split(text.strip()) if entry]


@router.get("")
async def keys(
    request: Request,
    session: SessionDep,
    _user: ConsoleUser,
    user: Annotated[str | None, Query(max_length=40)] = None,
    cursor_: Annotated[str | None, Query(alias="cursor", max_length=300)] = None,
) -> Response:
    found = await merchant_keys.page(
        session, user_id=uuid_of(user, "user"), limit=PAGE_SIZE, after=cursor(cursor_)
    )
    return render(
        request,
        "merchant_keys.html",
        items=found.items,
        next_cursor=found.next_cursor,
        user_filter=user or "",
        created=None,
    )


@router.post("/keys")
async def create_key(
    request: Request,
    session: SessionDep,
    state: StateDep,
    admin: ConsoleAdmin,
    reason: Reason,
    user_id: Field,
    name: Field = "",
    ip_allowlist: Field = "",
    callback_url: Field = "",
) -> Response:
    """A new key (``POST /api/admin/merchant/keys``). The answer is the page showing the
    secret this once (not a redirect: nothing may show it again)."""
    owner = uuid_of(user_id, "user id")
    if owner is None:
        raise ValidationFailed("user id: the customer's id (UUID) is required")
    made = await merchant_keys.create(
        session,
        state.secret_box,
        user_id=owner,
        name=name.strip() or "API key",
        actor=actor_of(admin).name,
        ip_allowlist=_allowlist(ip_allowlist),
        callback_url=callback_url or None,
        reason=reason.strip(),
    )
    return render(
        request,
        "merchant_keys.html",
        status_code=201,
        items=[made.key],
        next_cursor=None,
        user_filter="",
        created=made,
    )


@router.get("/keys/{key_id}")
async def key_detail(
    request: Request, key_id: KeyId, session: SessionDep, _user: ConsoleUser, done: Done = None
) -> Response:
    key = await merchant_keys.get(session, key_id)
    return render(
        request,
        "merchant_key.html",
        k=key,
        history=changes.of_keys(await merchant_keys.changes(session, key)),
        done=done,
    )


@router.post("/keys/{key_id}/settings")
async def key_settings(
    key_id: KeyId,
    session: SessionDep,
    admin: ConsoleAdmin,
    reason: Reason,
    ip_allowlist: Field = "",
    callback_url: Field = "",
) -> Response:
    """The IP allowlist and callback URL (``PATCH /api/admin/merchant/keys/{id}``): what
    changed goes to ``merchant_key_changes`` with who and why."""
    await merchant_keys.update_settings(
        session,
        key_id,
        actor=actor_of(admin).name,
        reason=reason.strip(),
        ip_allowlist=_allowlist(ip_allowlist),
        callback_url=callback_url or None,
    )
    return redirect(f"/admin/merchants/keys/{key_id}?done=saved")


@router.post("/keys/{key_id}/revoke")
async def revoke_key(
    key_id: KeyId, session: SessionDep, admin: ConsoleAdmin, reason: Reason
) -> Response:
    """Revoke at once (idempotent); who and why are kept on the key."""
    await merchant_keys.revoke(session, key_id, actor=actor_of(admin).name, reason=reason.strip())
    return redirect(f"/admin/merchants/keys/{key_id}?done=revoked")


@router.get("/callbacks")
async def callbacks(
    request: Request,
    session: SessionDep,
    _user: ConsoleUser,
    status: Annotated[str | None, Query(max_length=20)] = None,
    order: Annotated[str | None, Query(max_length=100)] = None,
    cursor_: Annotated[str | None, Query(alias="cursor", max_length=30)] = None,
) -> Response:
    """Callbacks newest first with their delivery attempts."""
    wanted = choice(CallbackStatus, status, "status")
    found = await deliveries.page(
        session,
        order_id=optional_text(order),
        status=wanted,
        before_id=before(cursor_),
        limit=PAGE_SIZE,
    )
    return render(
        request,
        "merchant_callbacks.html",
        items=found.items,
        log=await deliveries.attempts(session, found.items),
        next_cursor=str(found.next_before_id) if found.next_before_id else None,
        status=wanted,
        statuses=list(CallbackStatus),
        order=order or "",
    )
