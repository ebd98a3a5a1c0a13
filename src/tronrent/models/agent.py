"""``agents``: resellers with referral codes, levels and commission (seed 001)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base, StrEnumType, TimestampMixin, UTCDateTime, UUIDType, enum_check


class AgentStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class Agent(TimestampMixin, Base):
    """Commission rate in basis points (1,000 bp = 10 %). Balances per currency in base units;
    they are caches of ``agent_earnings`` (the source of truth) and never negative."""

    __tablename__ = "agents"
    __table_args__ = (
        CheckConstraint("level >= 1", name="level"),
        CheckConstraint("commission_bps >= 0 AND commission_bps <= 10000", name="commission_bps"),
        CheckConstraint("total_referrals >= 0", name="total_referrals"),
        CheckConstraint("total_earnings_sun >= 0", name="total_earnings_sun"),
        CheckConstraint("total_earnings_usdt_units >= 0", name="total_earnings_usdt_units"),
        CheckConstraint("available_balance_sun >= 0", name="available_balance_sun"),
        CheckConstraint("available_balance_usdt_units >= 0", name="available_balance_usdt_units"),
        CheckConstraint("withdrawn_amount_sun >= 0", name="withdrawn_amount_sun"),
        CheckConstraint("withdrawn_amount_usdt_units >= 0", name="withdrawn_amount_usdt_units"),
        CheckConstraint("parent_agent_id IS NULL OR parent_agent_id <> id", name="not_own_parent"),
        CheckConstraint(enum_check("status", AgentStatus), name="status"),
        Index("idx_agents_parent_agent_id", "parent_agent_id"),
        Index("idx_agents_status", "status"),
        Index("idx_agents_created_at", "created_at", "id"),  # console pages (0031)
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(UUIDType, ForeignKey("users.id"), unique=True)
    agent_code: Mapped[str] = mapped_column(String(50), unique=True)
    level: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    commission_bps: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    parent_agent_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("agents.id", ondelete="SET NULL")
    )
    status: Mapped[AgentStatus] = mapped_column(
        StrEnumType(AgentStatus),
        default=AgentStatus.PENDING,
        server_default=AgentStatus.PENDING.value,
    )
    approved_by: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("admin_users.id", ondelete="SET NULL")
    )
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    total_referrals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total_earnings_sun: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    total_earnings_usdt_units: Mapped[int] = mapped_column(
        BigInteger, default=0, server_default="0"
    )
    available_balance_sun: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    available_balance_usdt_units: Mapped[int] = mapped_column(
        BigInteger, default=0, server_default="0"
    )
    withdrawn_amount_sun: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    withdrawn_amount_usdt_units: Mapped[int] = mapped_column(
        BigInteger, default=0, server_default="0"
    )
    last_settlement_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
