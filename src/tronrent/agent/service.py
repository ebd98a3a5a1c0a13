"""Becoming an agent, and operators' changes to agents. Never commits (the caller does).

An application is reviewed once (a conditional UPDATE from ``pending``); approving it creates
the ``agents`` row: ``agent_code`` = the user's referral code (so the link the user already
shares keeps working), ``parent_agent_id`` = the agent of the user's own referrer unless the
operator names another, ``level`` = the parent's level + 1 (1 at the top), ``commission_bps`` =
the operator's rate or the configured first level. Every decision writes an ``agent_changes``
row with the operator and the reason.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.agent.config import AgentConfig
from tronrent.agent.errors import (
    AgentNotFound,
    AlreadyAgent,
    ApplicationNotFound,
    ApplicationPending,
    ApplicationReviewed,
    InvalidAgentChange,
)
from tronrent.kit.audit import Actor, require_reason
from tronrent.kit.time import utcnow
from tronrent.models import Agent, AgentApplication, AgentStatus, ApplicationStatus, User
from tronrent.models.agent_change import AgentAction, AgentChange
from tronrent.models.user import UserRole
from tronrent.user.errors import UserNotFound
from tronrent.user.service import new_referral_code

#: how far up `parent_agent_id` is followed when checking for a cycle
MAX_CHAIN = 64


def record_change(
    session: AsyncSession,
    *,
    subject: str,
    action: AgentAction,
    actor: Actor,
    reason: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    session.add(
        AgentChange(
            subject=subject,
            actor=actor.name,
            actor_id=actor.admin_id,
            action=action,
            before=before,
            after=after,
            reason=reason,
        )
    )


class AgentService:
    async def apply(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        *,
        business_info: dict[str, Any] | None = None,
        contact_info: dict[str, Any] | None = None,
        experience: str | None = None,
        expected_volume_sun: int | None = None,
    ) -> AgentApplication:
        """File an application.

        Raises:
            UserNotFound (404), AlreadyAgent (409), ApplicationPending (409: one under review).
        """
        if await session.get(User, user_id) is None:
            raise UserNotFound("user not found")
        if await self.get_by_user(session, user_id) is not None:
            raise AlreadyAgent("this user is an agent already")
        application = AgentApplication(
            user_id=user_id,
            business_info=business_info,
            contact_info=contact_info,
            experience=experience,
            expected_volume_sun=expected_volume_sun,
            status=ApplicationStatus.PENDING,
        )
        try:
            async with session.begin_nested():
                session.add(application)
                await session.flush()
        except IntegrityError:  # uq_agent_applications_pending_user
            raise ApplicationPending("an application of this user is under review") from None
        return application

    async def get_by_user(self, session: AsyncSession, user_id: uuid.UUID) -> Agent | None:
        result = await session.execute(select(Agent).where(Agent.user_id == user_id))
        return result.scalar_one_or_none()

    async def get(self, session: AsyncSession, agent_id: uuid.UUID) -> Agent:
        agent = await session.get(Agent, agent_id)
        if agent is None:
            raise AgentNotFound("agent not found")
        return agent

    async def reject(
        self, session: AsyncSession, application_id: uuid.UUID, *, actor: Actor, notes: str
    ) -> AgentApplication:
        """Raises: ApplicationNotFound (404), ApplicationReviewed (409), 422 without notes."""
        notes = require_reason(notes, "review")
        application = await self._review(session, application_id, ApplicationStatus.REJECTED)
        application.reviewed_by = actor.admin_id
        application.review_notes = notes
        record_change(
            session,
            subject=f"application:{application.id}",
            action=AgentAction.REJECT_APPLICATION,
            actor=actor,
            reason=notes,
            before={"status": "pending"},
            after={"status": "rejected"},
        )
        return application

    async def approve(
        self,
        session: AsyncSession,
        application_id: uuid.UUID,
        *,
        actor: Actor,
        notes: str,
        cfg: AgentConfig,
        commission_bps: int | None = None,
        parent_agent_id: uuid.UUID | None = None,
    ) -> Agent:
        """Approve and create the agent (see the module docstring).

        Raises: ApplicationNotFound (404), ApplicationReviewed (409), AlreadyAgent (409),
        AgentNotFound (404: the named parent), InvalidAgentChange (422).
        """
        notes = require_reason(notes, "review")
        if commission_bps is not None and not 0 <= commission_bps <= 10_000:
            raise InvalidAgentChange("commissionBps must be 0 to 10000")
        application = await self._review(session, application_id, ApplicationStatus.APPROVED)
        application.reviewed_by = actor.admin_id
        application.review_notes = notes
        user = await session.get(User, application.user_id, with_for_update=True)
        if user is None:
            raise UserNotFound("user not found")
        if await self.get_by_user(session, user.id) is not None:
            raise AlreadyAgent("this user is an agent already")
        parent: Agent | None = None
        if parent_agent_id is not None:
            parent = await self.get(session, parent_agent_id)
        elif user.referred_by is not None:
            parent = await self.get_by_user(session, user.referred_by)
            if parent is not None and parent.status is not AgentStatus.ACTIVE:
                parent = None
        if user.referral_code is None:
            user.referral_code = new_referral_code()
        referrals = await session.execute(
            select(func.count()).select_from(User).where(User.referred_by == user.id)
        )
        now = utcnow()
        agent = Agent(
            user_id=user.id,
            agent_code=user.referral_code,
            level=(parent.level + 1) if parent is not None else 1,
            commission_bps=cfg.levels_bps[0] if commission_bps is None else commission_bps,
            parent_agent_id=parent.id if parent is not None else None,
            status=AgentStatus.ACTIVE,
            approved_by=actor.admin_id,
            approved_at=now,
            total_referrals=int(referrals.scalar_one()),
        )
        session.add(agent)
        user.role = UserRole.AGENT
        await session.flush()
        record_change(
            session,
            subject=f"application:{application.id}",
            action=AgentAction.APPROVE_APPLICATION,
            actor=actor,
            reason=notes,
            before={"status": "pending"},
            after={"status": "approved", "agentId": str(agent.id), **_fields(agent)},
        )
        return agent

    async def _review(
        self, session: AsyncSession, application_id: uuid.UUID, target: ApplicationStatus
    ) -> AgentApplication:
        result = await session.execute(
            update(AgentApplication)
            .where(
                AgentApplication.id == application_id,
                AgentApplication.status == ApplicationStatus.PENDING,
            )
            .values(status=target, reviewed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        application = await session.get(AgentApplication, application_id, populate_existing=True)
        if application is None:
            raise ApplicationNotFound("application not found")
        if getattr(result, "rowcount", 0) != 1:
            raise ApplicationReviewed(f"the application was {application.status.value} before")
        return application

    async def edit(
        self,
        session: AsyncSession,
        agent_id: uuid.UUID,
        *,
        actor: Actor,
        reason: str,
        level: int | None = None,
        commission_bps: int | None = None,
        parent_agent_id: uuid.UUID | None = None,
        clear_parent: bool = False,
        status: AgentStatus | None = None,
    ) -> Agent:
        """Change an agent's level, rate, parent or status. A new rate applies to orders
        delivered from now on: earnings written before keep the rate they were written with.

        Raises: AgentNotFound (404), InvalidAgentChange (422: bad value, a parent cycle).
        """
        reason = require_reason(reason, "agent change")
        agent = await session.get(Agent, agent_id, with_for_update=True)
        if agent is None:
            raise AgentNotFound("agent not found")
        before = _fields(agent)
        if level is not None:
            if level < 1:
                raise InvalidAgentChange("level must be at least 1")
            agent.level = level
        if commission_bps is not None:
            if not 0 <= commission_bps <= 10_000:
                raise InvalidAgentChange("commissionBps must be 0 to 10000")
            agent.commission_bps = commission_bps
        if clear_parent:
            agent.parent_agent_id = None
        elif parent_agent_id is not None:
            await self._check_parent(session, agent.id, parent_agent_id)
            agent.parent_agent_id = parent_agent_id
        if status is not None:
            agent.status = status
        after = _fields(agent)
        changed = {k for k in after if after[k] != before[k]}
        if not changed:
            raise InvalidAgentChange("nothing to change")
        await session.flush()
        record_change(
            session,
            subject=f"agent:{agent.id}",
            action=AgentAction.EDIT_AGENT,
            actor=actor,
            reason=reason,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
        return agent

    async def _check_parent(
        self, session: AsyncSession, agent_id: uuid.UUID, parent_id: uuid.UUID
    ) -> None:
        seen = {agent_id}
        current: uuid.UUID | None = parent_id
        for _ in range(MAX_CHAIN):
            if current is None:
                return
            if current in seen:
                raise InvalidAgentChange("the parent would make a cycle")
            seen.add(current)
            row = await session.get(Agent, current)
            if row is None:
                raise AgentNotFound("parent agent not found")
            current = row.parent_agent_id
        raise InvalidAgentChange("the agent chain is too long")


def _fields(agent: Agent) -> dict[str, Any]:
    return {
        "level": agent.level,
        "commissionBps": agent.commission_bps,
        "parentAgentId": str(agent.parent_agent_id) if agent.parent_agent_id else None,
        "status": agent.status.value if agent.status else None,
    }


def when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


agent = AgentService()
