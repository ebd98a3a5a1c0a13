"""Operators' merchant routes (JWT): keys (create, settings and revoke need the admin role and
a reason, recorded with who did it) and the callback delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import Field

from tronrent.api.deps import SessionDep, StateDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.auth.dependencies import AdminDep, OperatorDep, actor_of
from tronrent.kit.audit import require_reason
from tronrent.merchant import deliveries
from tronrent.merchant.keys import UNSET, merchant_keys
from tronrent.models.merchant import MerchantApiKey

router = APIRouter(prefix="/api/admin/merchant", tags=["admin-merchant"], responses=ERROR_RESPONSES)


class KeyIn(ApiModel):
    user_id: uuid.UUID
    name: str = Field(default="API key", max_length=100)
    ip_allowlist: list[str] = Field(default_factory=list, max_length=50)
    callback_url: str | None = Field(default=None, max_length=500)
    reason: str = Field(max_length=500)


class RevokeIn(ApiModel):
    reason: str = Field(max_length=500)


class SettingsIn(ApiModel):
    #: ``[]``: any address; absent: unchanged
    ip_allowlist: list[str] | None = Field(default=None, max_length=50)
    #: ``null``: no key URL; absent: unchanged
    callback_url: str | None = Field(default=None, max_length=500)
    reason: str = Field(max_length=500)


class KeyChangeOut(ApiModel):
    actor: str
    reason: str
    before: dict[str, Any]
    after: dict[str, Any]
    created_at: datetime | None


class KeyOut(ApiModel):
    key_id: str
    user_id: str
    name: str
    status: str
    ip_allowlist: list[str]
    callback_url: str | None
    created_by: str
    created_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    revoked_reason: str | None


class KeyCreated(KeyOut):
    #: shown once, never again: store it now
    secret: str


class AttemptOut(ApiModel):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class CallbackOut(ApiModel):
    event_id: str
    event_type: str
    order_id: str
    status: str
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    log: list[AttemptOut]


def key_view(k: MerchantApiKey) -> KeyOut:
    return KeyOut(
        key_id=k.key_id,
        user_id=str(k.user_id),
        name=k.name,
        status=k.status.value,
        ip_allowlist=list(k.ip_allowlist or []),
        callback_url=k.callback_url,
        created_by=k.created_by,
        created_at=k.created_at,
        last_used_at=k.last_used_at,
        revoked_at=k.revoked_at,
        revoked_by=k.revoked_by,
        revoked_reason=k.revoked_reason,
    )


@router.post("/keys", status_code=201)
async def create_key(
    body: KeyIn, session: SessionDep, state: StateDep, admin: AdminDep
) -> Envelope[KeyCreated]:
    """A new API key for a customer; the secret is in this answer only."""
    reason = require_reason(body.reason, "API key")
    made = await merchant_keys.create(
        session,
        state.secret_box,
        user_id=body.user_id,
        name=body.name,
        actor=actor_of(admin).name,
        ip_allowlist=body.ip_allowlist,
        callback_url=body.callback_url,
        reason=reason,
    )
    return ok(KeyCreated(**key_view(made.key).model_dump(), secret=made.secret.reveal()))


@router.get("/keys")
async def list_keys(
    session: SessionDep,
    _op: OperatorDep,
    user_id: Annotated[uuid.UUID | None, Query(alias="userId")] = None,
) -> Envelope[list[KeyOut]]:
    return ok([key_view(k) for k in await merchant_keys.list(session, user_id=user_id)])


KeyIdPath = Annotated[str, Path(min_length=1, max_length=40)]


@router.post("/keys/{key_id}/revoke")
async def revoke_key(
    key_id: KeyIdPath, body: RevokeIn, session: SessionDep, admin: AdminDep
) -> Envelope[KeyOut]:
    """Revoke a key at once (idempotent); its requests get 401 API_KEY_REVOKED."""
    reason = require_reason(body.reason, "API key revocation")
    k = await merchant_keys.revoke(session, key_id, actor=actor_of(admin).name, reason=reason)
    return ok(key_view(k))


@router.patch("/keys/{key_id}")
async def update_key(
    key_id: KeyIdPath, body: SettingsIn, session: SessionDep, admin: AdminDep
) -> Envelope[KeyOut]:
    """Set a key's IP allowlist and/or callback URL (recorded with who and why; 409
    API_KEY_REVOKED for a revoked key)."""
    reason = require_reason(body.reason, "API key change")
    k = await merchant_keys.update_settings(
        session,
        key_id,
        actor=actor_of(admin).name,
        reason=reason,
        ip_allowlist=body.ip_allowlist,
        callback_url=body.callback_url if "callback_url" in body.model_fields_set else UNSET,
    )
    return ok(key_view(k))


@router.get("/keys/{key_id}/changes")
async def key_changes(
    key_id: KeyIdPath, session: SessionDep, _op: OperatorDep
) -> Envelope[list[KeyChangeOut]]:
    """The key's settings changes (allowlist, callback URL), newest first."""
    k = await merchant_keys.get(session, key_id)
    return ok(
        [
            KeyChangeOut(
                actor=c.actor,
                reason=c.reason,
                before=dict(c.before),
                after=dict(c.after),
                created_at=c.created_at,
            )
            for c in await merchant_keys.changes(session, k)
        ]
    )


@router.get("/callbacks")
async def callbacks(
    session: SessionDep,
    _op: OperatorDep,
    order_id: Annotated[str, Query(alias="orderId", min_length=1, max_length=100)],
) -> Envelope[list[CallbackOut]]:
    """An order's callbacks with their delivery log, in order."""
    rows = await deliveries.for_order(session, order_id)
    log = await deliveries.attempts(session, rows)
    return ok(
        [
            CallbackOut(
                event_id=r.event_id,
                event_type=r.event_type,
                order_id=r.order_id,
                status=r.status.value,
                attempts=r.attempts,
                next_attempt_at=r.next_attempt_at,
                delivered_at=r.delivered_at,
                last_error=r.last_error,
                log=[
                    AttemptOut(
                        attempted_at=a.attempted_at,
                        status_code=a.status_code,
                        error=a.error,
                        duration_ms=a.duration_ms,
                    )
                    for a in log[r.id]
                ],
            )
            for r in rows
        ]
    )
