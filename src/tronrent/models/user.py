"""``users``: Telegram (or e-mail) customers with TRX and USDT balances (seed 001)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import (
    ONLY_ON,
    Base,
    StrEnumType,
    TimestampMixin,
    UTCDateTime,
    UUIDType,
    enum_check,
)


class UserRole(enum.StrEnum):
    USER = "user"
    AGENT = "agent"
    ADMIN = "admin"


class UserStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    BANNED = "banned"


class LoginType(enum.StrEnum):
    TELEGRAM = "telegram"
    EMAIL = "email"


class User(TimestampMixin, Base):
    """A customer. Balances are integer base units and only ever change together with a
    ``balance_ledger`` row (see ``BalanceLedgerEntry``); CHECKs keep them non-negative."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(enum_check("role", UserRole), name="role"),
        CheckConstraint(enum_check("status", UserStatus), name="status"),
        CheckConstraint(enum_check("login_type", LoginType), name="login_type"),
        CheckConstraint("trx_balance_sun >= 0", name="trx_balance_sun"),
        CheckConstraint("usdt_balance_units >= 0", name="usdt_balance_units"),
        CheckConstraint("total_orders >= 0", name="total_orders"),
        Index("idx_users_role", "role"),
        Index("idx_users_status", "status"),
        Index("idx_users_login_type", "login_type"),
        Index("idx_users_tron_address", "tron_address"),
        Index("idx_users_created_at", "created_at", "id"),  # console pages (0031)
        # user search by a part of the username (0035; PostgreSQL only: see that migration)
        Index(
            "idx_users_username_trgm",
            "username",
            postgresql_using="gin",
            postgresql_ops={"username": "gin_trgm_ops"},
            info={ONLY_ON: ("postgresql",)},
        ).ddl_if(dialect="postgresql"),
        Index(
            "idx_users_password_reset_token",
            "password_reset_token",
            postgresql_where=text("password_reset_token IS NOT NULL"),
            sqlite_where=text("password_reset_token IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    username: Mapped[str | None] = mapped_column(String(50))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    language_code: Mapped[str | None] = mapped_column(String(10))
    email: Mapped[str | None] = mapped_column(String(100), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[UserRole] = mapped_column(
        StrEnumType(UserRole), default=UserRole.USER, server_default=UserRole.USER.value
    )
    status: Mapped[UserStatus] = mapped_column(
        StrEnumType(UserStatus), default=UserStatus.ACTIVE, server_default=UserStatus.ACTIVE.value
    )
    tron_address: Mapped[str | None] = mapped_column(String(50))
    trx_balance_sun: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    usdt_balance_units: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    total_orders: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total_spent_sun: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    total_spent_usdt_units: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    total_energy_used: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    referral_code: Mapped[str | None] = mapped_column(String(50), unique=True)
    referred_by: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("users.id", ondelete="SET NULL")
    )
    password_hash: Mapped[str | None] = mapped_column(String(255))
    login_type: Mapped[LoginType] = mapped_column(
        StrEnumType(LoginType),
        default=LoginType.TELEGRAM,
        server_default=LoginType.TELEGRAM.value,
    )
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    password_reset_token: Mapped[str | None] = mapped_column(String(255))
    password_reset_expires: Mapped[datetime | None] = mapped_column(UTCDateTime())
