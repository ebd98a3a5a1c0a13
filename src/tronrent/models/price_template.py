"""``price_templates``: reusable price rule sets (seed 001)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, false, true
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base, PortableJSON, TimestampMixin, UUIDType


class PriceTemplate(TimestampMixin, Base):
    __tablename__ = "price_templates"

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    template_type: Mapped[str] = mapped_column(
        String(50), default="package", server_default="package"
    )
    config_data: Mapped[dict[str, Any]] = mapped_column(
        PortableJSON, default=dict, server_default=sql_text("'{}'")
    )
    is_system: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    usage_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("admin_users.id", ondelete="SET NULL")
    )
