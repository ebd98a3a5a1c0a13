"""Read-only lists for the operator routes and the bot (newest first, bounded)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.keyset import Page, Position, newest_first, page, uuid_position
from tronrent.models import (
    Agent,
    AgentApplication,
    AgentEarning,
    AgentStatus,
    ApplicationStatus,
    EarningStatus,
    User,
)
from tronrent.models.agent_change import AgentChange
from tronrent.models.agent_withdrawal import AgentWithdrawal, WithdrawalStatus
from tronrent.models.common import Currency


def _position(row: Agent | AgentApplication | AgentEarning) -> Position[str]:
    return Position(row.created_at, str(row.id))


async def application_page(
    session: AsyncSession,
    status: ApplicationStatus | None,
    limit: int,
    after: Position[str] | None = None,
) -> Page[AgentApplication]:
    """Applications, newest first (keyset: ``idx_agent_applications_created_at``)."""
    stmt = select(AgentApplication)
    if status is not None:
        stmt = stmt.where(AgentApplication.status == status)
    stmt = newest_first(
        stmt, AgentApplication.created_at, AgentApplication.id, uuid_position(after), limit
    )
    return page((await session.execute(stmt)).scalars().all(), limit, _position)


async def applications(
    session: AsyncSession, status: ApplicationStatus | None, limit: int
) -> Sequence[AgentApplication]:
    return (await application_page(session, status, limit)).items


async def agent_page(
    session: AsyncSession,
    status: AgentStatus | None,
    limit: int,
    after: Position[str] | None = None,
) -> Page[Agent]:
    """Agents, newest first (keyset: ``idx_agents_created_at``)."""
    stmt = select(Agent)
    if status is not None:
        stmt = stmt.where(Agent.status == status)
    stmt = newest_first(stmt, Agent.created_at, Agent.id, uuid_position(after), limit)
    return page((await session.execute(stmt)).scalars().all(), limit, _position)


async def agents(session: AsyncSession, status: AgentStatus | None, limit: int) -> Sequence[Agent]:
    return (await agent_page(session, status, limit)).items


async def earning_page(
    session: AsyncSession,
    *,
    agent_id: uuid.UUID | None,
    status: EarningStatus | None,
    limit: int,
    after: Position[str] | None = None,
) -> Page[AgentEarning]:
    """Earnings, newest first (keyset: ``idx_agent_earnings_created_at``, or
    ``idx_agent_earnings_agent_created`` for one agent's)."""
    stmt = select(AgentEarning)
    if agent_id is not None:
        stmt = stmt.where(AgentEarning.agent_id == agent_id)
    if status is not None:
        stmt = stmt.where(AgentEarning.status == status)
    stmt = newest_first(stmt, AgentEarning.created_at, AgentEarning.id, uuid_position(after), limit)
    return page((await session.execute(stmt)).scalars().all(), limit, _position)


async def earnings(
    session: AsyncSession,
    *,
    agent_id: uuid.UUID | None,
    status: EarningStatus | None,
    limit: int,
) -> Sequence[AgentEarning]:
    return (await earning_page(session, agent_id=agent_id, status=status, limit=limit)).items


async def withdrawals(
    session: AsyncSession,
    *,
    agent_id: uuid.UUID | None,
    status: WithdrawalStatus | None,
    limit: int,
    before_id: int | None = None,
) -> Sequence[AgentWithdrawal]:
    """Withdrawals, newest first (by id; ``before_id``: the older ones, a keyset page)."""
    stmt = select(AgentWithdrawal)
    if agent_id is not None:
        stmt = stmt.where(AgentWithdrawal.agent_id == agent_id)
    if status is not None:
        stmt = stmt.where(AgentWithdrawal.status == status)
    if before_id is not None:
        stmt = stmt.where(AgentWithdrawal.id < before_id)
    stmt = stmt.order_by(AgentWithdrawal.id.desc()).limit(limit)
    return (await session.execute(stmt)).scalars().all()


async def changes(
    session: AsyncSession, subjects: Sequence[str], limit: int = 100
) -> Sequence[AgentChange]:
    """The decisions about ``subjects`` (``agent:<id>``, ``withdrawal:<id>``...), newest first
    (``idx_agent_changes_subject``)."""
    if not subjects:
        return []
    stmt = (
        select(AgentChange)
        .where(AgentChange.subject.in_(list(subjects)))
        .order_by(AgentChange.created_at.desc(), AgentChange.id)
        .limit(limit)
    )
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
