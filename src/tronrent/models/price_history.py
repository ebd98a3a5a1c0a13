"""``price_history``: every change of a price config, with who and why (seed 001)."""

from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base, CreatedAtMixin, PortableJSON, StrEnumType, UUIDType, enum_check


class PriceChangeType(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"


class PriceHistory(CreatedAtMixin, Base):
    __tablename__ = "price_history"
    __table_args__ = (
        CheckConstraint(enum_check("change_type", PriceChangeType), name="change_type"),
        Index("idx_price_history_config_id", "config_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    # no ON DELETE CASCADE: history outlives a deleted config only if the config is kept
    # (deactivate instead of delete); deleting a config with history is refused.
    config_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("price_configs.id"))
    change_type: Mapped[PriceChangeType] = mapped_column(StrEnumType(PriceChangeType))
    old_value: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    new_value: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    changed_by: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("admin_users.id", ondelete="SET NULL")
    )
    change_reason: Mapped[str | None] = mapped_column(Text)
