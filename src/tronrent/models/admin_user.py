"""``admin_users``: operator accounts for the admin API (not customers)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, String, true
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base, CreatedAtMixin, StrEnumType, UTCDateTime, UUIDType, enum_check


class AdminRole(enum.StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"


class AdminUser(CreatedAtMixin, Base):
    """An operator. ``password_hash`` is an argon2 hash, never the password."""

    __tablename__ = "admin_users"
    __table_args__ = (CheckConstraint(enum_check("role", AdminRole), name="role"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[AdminRole] = mapped_column(
        StrEnumType(AdminRole), default=AdminRole.OPERATOR, server_default=AdminRole.OPERATOR.value
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
