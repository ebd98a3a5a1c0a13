"""``user_status_changes``: every block / unblock of a customer by an operator, with who and
why."""

from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base, CreatedAtMixin, StrEnumType, UUIDType, enum_check
from tronrent.models.user import UserStatus


class UserStatusChange(CreatedAtMixin, Base):
    """``actor`` is ``admin:<username>`` (``actor_id`` the account)."""

    __tablename__ = "user_status_changes"
    __table_args__ = (
        CheckConstraint(enum_check("previous_status", UserStatus), name="previous_status"),
        CheckConstraint(enum_check("status", UserStatus), name="status"),
        Index("idx_user_status_changes_user", "user_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("users.id"))
    previous_status: Mapped[UserStatus] = mapped_column(StrEnumType(UserStatus))
    status: Mapped[UserStatus] = mapped_column(StrEnumType(UserStatus))
    actor: Mapped[str] = mapped_column(String(100))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("admin_users.id", ondelete="SET NULL")
    )
    reason: Mapped[str] = mapped_column(Text)
