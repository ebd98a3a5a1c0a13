"""Operator alerts over HTTP: ``GET /api/admin/alerts`` lists every alert, delivered or not.

The alerts are the operator rows of ``notification_outbox`` (see ``OutboxItem.is_operator_alert``),
so an alert raised while no admin chat is configured (``TELEGRAM_ADMIN_CHAT_ID``) is still here,
rendered in ``OPERATOR_ALERT_LANGUAGE``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import and_, func, or_, select

from tronrent.api.deps import SessionDep, SettingsDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.auth.dependencies import OperatorDep
from tronrent.models import NotificationOutbox
from tronrent.notification.events import OPERATOR_EVENTS
from tronrent.notification.messages import render

router = APIRouter(prefix="/api/admin", tags=["admin"], responses=ERROR_RESPONSES)

#: an operator alert: an operator event, or a row addressed to nobody that belongs to no order
OPERATOR_ALERT = or_(
    NotificationOutbox.event_type.in_(sorted(OPERATOR_EVENTS)),
    and_(
        NotificationOutbox.chat_id.is_(None),
        NotificationOutbox.user_id.is_(None),
        NotificationOutbox.order_id.is_(None),
    ),
)


class AlertOut(ApiModel):
    id: int
    event: str
    #: the alert as sent to the admin chat (Telegram HTML), in OPERATOR_ALERT_LANGUAGE
    text: str
    payload: dict[str, Any]
    #: pending (not sent yet), sent (in the admin chat), failed (not delivered: see lastError)
    status: str
    last_error: str | None
    created_at: str
    sent_at: str | None


class AlertPage(ApiModel):
    items: list[AlertOut]
    total: int
    page: int
    page_size: int


@router.get("/alerts")
async def list_alerts(
    session: SessionDep,
    settings: SettingsDep,
    _op: OperatorDep,
    page: int = Query(1, ge=1, le=100_000),
    page_size: int = Query(50, ge=1, le=200, alias="pageSize"),
    status: Literal["pending", "sent", "failed"] | None = None,
) -> Envelope[AlertPage]:
    """Operator alerts, newest first (also those no admin chat received)."""
    where = [OPERATOR_ALERT]
    if status is not None:
        where.append(NotificationOutbox.status == status)
    total = (
        await session.execute(select(func.count()).select_from(NotificationOutbox).where(*where))
    ).scalar_one()
    rows = (
        (
            await session.execute(
                select(NotificationOutbox)
                .where(*where)
                .order_by(NotificationOutbox.id.desc())
                .offset((page - 1) * page_size)
                .limit(page_size)
            )
        )
        .scalars()
        .all()
    )
    language = settings.operator_alert_language
    items = [
        AlertOut(
            id=r.id,
            event=r.event_type,
            text=render(r.event_type, r.payload or {}, language),
            payload=r.payload or {},
            status=r.status.value,
            last_error=r.last_error,
            created_at=r.created_at.isoformat(),
            sent_at=r.sent_at.isoformat() if r.sent_at else None,
        )
        for r in rows
    ]
    return ok(AlertPage(items=items, total=total, page=page, page_size=page_size))
