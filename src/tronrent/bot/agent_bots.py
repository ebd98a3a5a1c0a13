"""Agents' own bots (issue 12): an active agent registers a bot token; it waits ``inactive``
until an operator approves it with the markup bounds; then the bot manager runs it (its next
reload, at once after the admin route) and every order it takes is the agent's.

Prices: the operator's price (rules for every bot or for this bot) plus the agent's
``agent_markup_bps``, which the agent picks within ``min_markup_bps..max_markup_bps`` (the
operator's bounds; the CHECK ``bots_agent_markup_check`` holds them too). Every step is a
``bot_changes`` row with who (the agent as ``agent:<code>``, or the operator) and why.
Never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.bot.errors import (
    AgentBotApproved,
    MarkupOutOfBounds,
    NotAnActiveAgent,
    NotAnAgentBot,
    TooManyAgentBots,
)
from tronrent.bot.service import SECRET_CHANGED
from tronrent.bot.service import bot as bot_service
from tronrent.kit.audit import Actor, require_reason
from tronrent.kit.crypto import SecretBox
from tronrent.kit.time import utcnow
from tronrent.models import Agent, AgentStatus, Bot, BotAction, BotStatus

#: bots one agent may own (pending, active or disabled)
MAX_BOTS_PER_AGENT: Final = 5
MAX_MARKUP_BPS: Final = 10_000


async def _active_agent(
    session: AsyncSession, *, user_id: uuid.UUID | None = None, agent_id: uuid.UUID | None = None
) -> Agent:
    key = Agent.id == agent_id if agent_id is not None else Agent.user_id == user_id
    agent = (await session.execute(select(Agent).where(key))).scalar_one_or_none()
    if agent is None or agent.status is not AgentStatus.ACTIVE:
        raise NotAnActiveAgent("only an active agent may have their own bot")
    return agent


def agent_actor(agent: Agent) -> Actor:
    return Actor(f"agent:{agent.agent_code}")


def _check_markup(markup_bps: int, low: int, high: int) -> None:
    """``MarkupOutOfBounds`` (422) outside ``low..high``; the floor is never below 0: an agent's
    price is never below the operator's (a discount is the operator's price rules' business)."""
    if markup_bps < 0:
        raise MarkupOutOfBounds(
            f"markup must not be negative (got {markup_bps}): an agent's price is never below "
            "the operator's price",
            details={"minMarkupBps": max(0, low), "maxMarkupBps": high},
        )
    if not low <= markup_bps <= high:
        raise MarkupOutOfBounds(
            f"markup must be within {low}..{high} basis points (set by the operator), "
            f"got {markup_bps}",
            details={"minMarkupBps": low, "maxMarkupBps": high},
        )


class AgentBotService:
    async def register(
        self,
        session: AsyncSession,
        *,
        box: SecretBox,
        token: str,
        username: str,
        user_id: uuid.UUID | None = None,
        agent_id: uuid.UUID | None = None,
        name: str | None = None,
        markup_bps: int = 0,
        actor: Actor | None = None,
        reason: str | None = None,
    ) -> Bot:
        """An active agent's bot (the agent of ``user_id``, or ``agent_id``), ``inactive``
        until an operator approves it. ``markup_bps`` is what the agent asks for (0..10000);
        the operator's bounds apply at approval. ``actor``/``reason``: an operator registers
        it for the agent (else the agent did, in the bot)."""
        why = require_reason(reason or "", "bot change") if actor is not None else None
        agent = await _active_agent(session, user_id=user_id, agent_id=agent_id)
        _check_markup(markup_bps, 0, MAX_MARKUP_BPS)
        owned = await session.scalar(
            select(func.count()).select_from(Bot).where(Bot.owner_agent_id == agent.id)
        )
        if (owned or 0) >= MAX_BOTS_PER_AGENT:
            raise TooManyAgentBots(f"an agent may own at most {MAX_BOTS_PER_AGENT} bots")
        bot = await bot_service.create(
            session, box=box, token=token, name=name or username.lstrip("@"), username=username
        )
        bot.status = BotStatus.INACTIVE
        bot.owner_agent_id = agent.id
        bot.agent_markup_bps = markup_bps
        bot.max_markup_bps = markup_bps  # until the operator sets the bounds (CHECK holds)
        after: dict[str, Any] = {
            "name": bot.name,
            "username": bot.username,
            "token": SECRET_CHANGED,
            "status": BotStatus.INACTIVE.value,
            "ownerAgentId": str(agent.id),
            "agentMarkupBps": markup_bps,
        }
        bot_service.record(
            session,
            bot,
            BotAction.ADD,
            {},
            after,
            actor or agent_actor(agent),
            why or "registered by the agent",
        )
        await session.flush()
        return bot

    async def approve(
        self,
        session: AsyncSession,
        bot_id: uuid.UUID,
        *,
        min_markup_bps: int,
        max_markup_bps: int,
        actor: Actor,
        reason: str,
    ) -> Bot:
        """The operator approves an agent's bot with the markup bounds: it becomes ``active``
        (the agent's markup moved into the bounds when outside them)."""
        return await self._set_terms(
            session, bot_id, (min_markup_bps, max_markup_bps), actor, reason, approve=True
        )

    async def set_bounds(
        self,
        session: AsyncSession,
        bot_id: uuid.UUID,
        *,
        min_markup_bps: int,
        max_markup_bps: int,
        actor: Actor,
        reason: str,
    ) -> Bot:
        """The operator changes the bounds (the agent's markup moved into them)."""
        return await self._set_terms(
            session, bot_id, (min_markup_bps, max_markup_bps), actor, reason, approve=False
        )

    async def _set_terms(
        self,
        session: AsyncSession,
        bot_id: uuid.UUID,
        bounds: tuple[int, int],
        actor: Actor,
        reason: str,
        *,
        approve: bool,
    ) -> Bot:
        why = require_reason(reason, "bot change")
        bot = await self._agent_bot(session, bot_id, lock=True)
        if approve and bot.approved_at is not None:
            raise AgentBotApproved("this bot was approved before; change its bounds instead")
        before = self._terms(bot)
        low, high = bounds
        if not 0 <= low <= high <= MAX_MARKUP_BPS:
            raise MarkupOutOfBounds(
                f"bounds must satisfy 0 <= minMarkupBps <= maxMarkupBps <= {MAX_MARKUP_BPS}"
            )
        bot.min_markup_bps, bot.max_markup_bps = low, high
        bot.agent_markup_bps = min(max(bot.agent_markup_bps, low), high)
        if approve:
            bot.approved_at = utcnow()
            bot.approved_by = actor.admin_id
            bot.status = BotStatus.ACTIVE
        after = self._terms(bot)
        changed = [k for k in after if after[k] != before[k]]
        if changed or approve:
            old, new = {k: before[k] for k in changed}, {k: after[k] for k in changed}
            if approve:
                new["approvedAt"] = after["approvedAt"]
            bot_service.record(session, bot, BotAction.EDIT, old, new, actor, why)
        await session.flush()
        return bot

    async def set_markup(
        self, session: AsyncSession, *, user_id: uuid.UUID, bot_id: uuid.UUID, markup_bps: int
    ) -> Bot:
        """The agent picks their markup within the operator's bounds (422 otherwise)."""
        agent = await _active_agent(session, user_id=user_id)
        bot = await self._agent_bot(session, bot_id, lock=True)
        if bot.owner_agent_id != agent.id:
            raise NotAnAgentBot("this bot is not yours")
        low, high = bot.min_markup_bps, bot.max_markup_bps
        if bot.approved_at is None:
            low, high = 0, MAX_MARKUP_BPS  # asked for now, bounded at approval
        _check_markup(markup_bps, low, high)
        if markup_bps != bot.agent_markup_bps:
            before = {"agentMarkupBps": bot.agent_markup_bps}
            bot.agent_markup_bps = markup_bps
            if bot.approved_at is None:
                bot.max_markup_bps = markup_bps
            bot_service.record(
                session,
                bot,
                BotAction.EDIT,
                before,
                {"agentMarkupBps": markup_bps},
                agent_actor(agent),
                "markup set by the agent",
            )
        await session.flush()
        return bot

    async def list_for_user(self, session: AsyncSession, user_id: uuid.UUID) -> Sequence[Bot]:
        """The bots of the user's agent account (none when not an agent)."""
        rows = await session.execute(
            select(Bot)
            .join(Agent, Agent.id == Bot.owner_agent_id)
            .where(Agent.user_id == user_id)
            .order_by(Bot.created_at, Bot.id)
        )
        return rows.scalars().all()

    async def owner_of(self, session: AsyncSession, bot_id: uuid.UUID | None) -> uuid.UUID | None:
        """The agent who owns the bot (None: the operator's bot, or no bot)."""
        return (await self.seller(session, bot_id))[0]

    async def seller(
        self, session: AsyncSession, bot_id: uuid.UUID | None
    ) -> tuple[uuid.UUID | None, int]:
        """The agent who owns the bot and its markup in basis points (``(None, 0)``: the
        operator's bot, or no bot). The markup is never negative (CHECK
        ``bots_agent_markup_check``)."""
        if bot_id is None:
            return None, 0
        row = (
            await session.execute(
                select(Bot.owner_agent_id, Bot.agent_markup_bps).where(Bot.id == bot_id)
            )
        ).first()
        if row is None or row.owner_agent_id is None:
            return None, 0
        return row.owner_agent_id, max(0, int(row.agent_markup_bps))

    @staticmethod
    def _terms(bot: Bot) -> dict[str, Any]:
        return {
            "status": bot.status.value,
            "minMarkupBps": bot.min_markup_bps,
            "maxMarkupBps": bot.max_markup_bps,
            "agentMarkupBps": bot.agent_markup_bps,
            "approvedAt": bot.approved_at.isoformat() if bot.approved_at else None,
        }

    async def _agent_bot(self, session: AsyncSession, bot_id: uuid.UUID, *, lock: bool) -> Bot:
        bot = await bot_service.get(session, bot_id)
        if lock:
            await session.refresh(bot, with_for_update=True)
        if bot.owner_agent_id is None:
            raise NotAnAgentBot("this is not an agent's bot")
        return bot


agent_bots = AgentBotService()
