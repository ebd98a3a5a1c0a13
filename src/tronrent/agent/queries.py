"""Read-only lists for the operator routes and the bot (newest first, bounded)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.models import (
    Agent,
    AgentApplication,
    AgentEarning,
    AgentStatus,
    ApplicationStatus,
    EarningStatus,
    User,
)
from tronrent.models.agent_withdrawal import AgentWithdrawal, WithdrawalStatus
from tronrent.models.common import Currency


async def applications(
    session: AsyncSession, status: ApplicationStatus | None, limit: int
) -> Sequence[AgentApplication]:
    stmt = select(AgentApplication)
    if status is not None:
        stmt = stmt.where(AgentApplication.status == status)
    stmt = stmt.order_by(AgentApplication.created_at.desc(), AgentApplication.id).limit(limit)
    return (await session.execute(stmt)).scalars().all()


async def agents(session: AsyncSession, status: AgentStatus | None, limit: int) -> Sequence[Agent]:
    stmt = select(Agent)
    if status is not None:
        stmt = stmt.where(Agent.status == status)
    stmt = stmt.order_by(Agent.created_at.desc(), Agent.id).limit(limit)
    return (await session.execute(stmt)).scalars().all()


async def earnings(
    session: AsyncSession,
    *,
    agent_id: uuid.UUID | None,
    status: EarningStatus | None,
    limit: int,
) -> Sequence[AgentEarning]:
    stmt = select(AgentEarning)
    if agent_id is not None:
        stmt = stmt.where(AgentEarning.agent_id == agent_id)
    if status is not None:
        stmt = stmt.where(AgentEarning.status == status)
    stmt = stmt.order_by(AgentEarning.created_at.desc(), AgentEarning.id).limit(limit)
    return (await session.execute(stmt)).scalars().all()


async def withdrawals(
    session: AsyncSession,
    *,
    agent_id: uuid.UUID | None,
    status: WithdrawalStatus | None,
    limit: int,
) -> Sequence[AgentWithdrawal]:
    stmt = select(AgentWithdrawal)
    if agent_id is not None:
        stmt = stmt.where(AgentWithdrawal.agent_id == agent_id)
    if status is not None:
        stmt = stmt.where(AgentWithdrawal.status == status)
    stmt = stmt.order_by(AgentWithdrawal.id.desc()).limit(limit)
    return (await session.execute(stmt)).scalars().all()


@dataclass(frozen=True)
class EarningTotal:
    status: EarningStatus
    currency: Currency
    count: int
    amount_units: int


@dataclass(frozen=True)
class AgentSummary:
    """What the bot's /agent shows an agent."""

    agent: Agent
    referrals: int
    earnings: list[EarningTotal]


async def summary(session: AsyncSession, agent: Agent) -> AgentSummary:
    referrals = await session.execute(
        select(func.count()).select_from(User).where(User.referred_by == agent.user_id)
    )
    rows = await session.execute(
        select(
            AgentEarning.status,
            AgentEarning.currency,
            func.count(),
            func.coalesce(func.sum(AgentEarning.amount_units), 0),
        )
        .where(AgentEarning.agent_id == agent.id)
        .group_by(AgentEarning.status, AgentEarning.currency)
    )
    totals = [
        EarningTotal(EarningStatus(s), Currency(c), int(n), int(a)) for s, c, n, a in rows.all()
    ]
    totals.sort(key=lambda t: (t.status.value, t.currency.value))
    return AgentSummary(agent, int(referrals.scalar_one()), totals)
