"""The answer shape of an operator change row (``*_changes`` tables: who, how, why), shared by
the admin routes that list a thing's history."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from tronrent.api.envelope import ApiModel


class RecordedChange(Protocol):
    id: uuid.UUID
    actor: str
    actor_id: uuid.UUID | None
    before: dict[str, Any]
    after: dict[str, Any]
    reason: str
    created_at: datetime

    @property
    def action(self) -> Enum: ...


class ChangeOut(ApiModel):
    change_id: str
    action: str
    actor: str
    actor_id: str | None
    before: dict[str, Any]
    after: dict[str, Any]
    reason: str
    at: str


def change_out(c: RecordedChange) -> ChangeOut:
    return ChangeOut(
        change_id=str(c.id),
        action=str(c.action.value),
        actor=c.actor,
        actor_id=str(c.actor_id) if c.actor_id else None,
        before=c.before,
        after=c.after,
        reason=c.reason,
        at=c.created_at.isoformat(),
    )
