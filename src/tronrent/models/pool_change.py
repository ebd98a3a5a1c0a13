"""``pool_changes``: every operator change of a pool (edit, status, removal) with who and why."""

from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import (
    Base,
    CreatedAtMixin,
    PortableJSON,
    StrEnumType,
    UUIDType,
    enum_check,
)


class PoolAction(enum.StrEnum):
    EDIT = "edit"
    REMOVE = "remove"
    #: staking (``after`` holds the amount and the txid)
    STAKE = "stake"
    UNSTAKE = "unstake"
    WITHDRAW = "withdraw"
    CANCEL_UNSTAKE = "cancel_unstake"


class PoolChange(CreatedAtMixin, Base):
    """``before``/``after`` hold only the fields that changed (never the key); ``actor`` is
    ``admin:<username>`` for the API and ``cli:<os user>`` for the command line."""

    __tablename__ = "pool_changes"
    __table_args__ = (
        CheckConstraint(enum_check("action", PoolAction), name="action"),
        Index("idx_pool_changes_pool_id", "pool_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    pool_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("energy_pools.id"))
    actor: Mapped[str] = mapped_column(String(100))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("admin_users.id", ondelete="SET NULL")
    )
    action: Mapped[PoolAction] = mapped_column(StrEnumType(PoolAction, 20))
    before: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    after: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    reason: Mapped[str] = mapped_column(Text)
