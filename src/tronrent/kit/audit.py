"""Who made an operator change and why: the actor and the required reason, shared by every
domain that records its changes (pools, catalogue, prices)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final

from tronrent.kit.errors import ValidationFailed

MAX_REASON: Final = 500


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change: ``admin:<username>`` (with the account id) or ``cli:<os user>``."""

    name: str
    admin_id: uuid.UUID | None = None

    @classmethod
    def admin(cls, username: str, admin_id: uuid.UUID) -> Actor:
        return cls(f"admin:{username}", admin_id)


def require_reason(reason: str, what: str = "change") -> str:
    """The reason stripped; `ValidationFailed` (422 ``REASON_REQUIRED``) when blank, 422 when
    too long or holding a NUL. ``what``: the kind of change, for the message."""
    text = reason.strip()
    if not text:
        raise ValidationFailed(f"a reason is required for every {what}", "REASON_REQUIRED")
    if len(text) > MAX_REASON or "\x00" in text:
        raise ValidationFailed(f"reason must be at most {MAX_REASON} characters, without NUL")
    return text
