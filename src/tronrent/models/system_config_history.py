"""``system_config_history``: every change of a system config (seed 001)."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base, CreatedAtMixin, UUIDType


class SystemConfigHistory(CreatedAtMixin, Base):
    """Values of encrypted configs are stored encrypted here too."""

    __tablename__ = "system_config_history"
    __table_args__ = (Index("idx_system_config_history_config_id", "config_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    config_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("system_configs.id", ondelete="CASCADE")
    )
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("admin_users.id", ondelete="SET NULL")
    )
    change_reason: Mapped[str | None] = mapped_column(Text)
