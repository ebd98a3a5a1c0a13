"""Builders for agent tests: users, an approved agent chain, delivered orders."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.agent.config import AgentConfig
from tronrent.agent.service import agent as agent_service
from tronrent.kit.audit import Actor
from tronrent.kit.time import utcnow
from tronrent.models import AdminRole, AdminUser, Agent, User
from tronrent.models.common import Currency
from tronrent.models.order import Order, OrderStatus, OrderType
from tronrent.user.service import new_referral_code
from tronrent.user.service import user as user_service

TRX = 1_000_000
CFG = AgentConfig(levels_bps=(1000, 300, 100), refund_window_s=3600)


async def new_user(session: AsyncSession, referred_by: User | None = None) -> User:
    user = User(
        id=uuid.uuid4(),
        telegram_id=10**9 + uuid.uuid4().int % 10**12,
        referral_code=new_referral_code(),
    )
    session.add(user)
    await session.flush()
    if referred_by is not None:  # as /start <code> does
        assert referred_by.referral_code is not None
        assert await user_service.bind_referrer(session, user, referred_by.referral_code)
    return user


async def new_admin(session: AsyncSession) -> Actor:
    admin = AdminUser(username=f"op{uuid.uuid4().hex[:8]}", password_hash="x", role=AdminRole.ADMIN)
    session.add(admin)
    await session.flush()
    return Actor.admin(admin.username, admin.id)


async def make_agent(
    session: AsyncSession, actor: Actor, user: User, cfg: AgentConfig = CFG
) -> Agent:
    application = await agent_service.apply(session, user.id, experience="reseller")
    return await agent_service.approve(session, application.id, actor=actor, notes="ok", cfg=cfg)


async def chain_of(session: AsyncSession, n: int) -> tuple[list[Agent], User]:
    """n agents, each referred by the one before (agents[0] at the top), and a buyer referred
    by the last."""
    actor = await new_admin(session)
    agents: list[Agent] = []
    above: User | None = None
    for _ in range(n):
        user = await new_user(session, above)
        agents.append(await make_agent(session, actor, user))
        above = user
    return agents, await new_user(session, above)


async def delivered_order(
    session: AsyncSession,
    buyer: User,
    price: int,
    *,
    status: OrderStatus = OrderStatus.ACTIVE,
    currency: Currency = Currency.TRX,
    agent: Agent | None = None,
    markup: int = 0,
) -> Order:
    """An order delivered (paid now) to ``buyer``; ``agent``: taken by that agent's own bot,
    ``markup`` of its price being the agent's."""
    oid = f"T_{uuid.uuid4().hex[:16]}"
    order = Order(
        id=oid,
        order_number=oid,
        user_id=buyer.id,
        order_type=OrderType.ENERGY_RENTAL,
        currency=currency,
        status=status,
        energy_amount=65_000,
        price_units=price,
        final_price_units=price,
        paid_at=utcnow(),
        agent_id=agent.id if agent is not None else None,
        agent_markup_units=markup,
    )
    session.add(order)
    await session.flush()
    return order
