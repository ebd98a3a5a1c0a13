"""Commission: written when an order is delivered, settled to the balance after the refund
window, cancelled when the order is refunded first. Never commits.

Base = the order's ``final_price_units`` in its currency (what the buyer paid for the
delivered energy, excluding any excess refunded); see docs/agents.md for why not the margin.
Each earning row stores the rate and base it was computed with, so a rate changed later never
changes an earning written before. ``UNIQUE (agent_id, order_id, earning_type)`` makes a
repeated or concurrent write of an order's commission insert nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.agent.calc import level_rates, shares
from tronrent.agent.config import AgentConfig
from tronrent.kit.db import insert_new_rows
from tronrent.kit.time import utcnow
from tronrent.models import Agent, AgentEarning, AgentStatus, EarningStatus, EarningType, User
from tronrent.models.balance_ledger import LedgerCause
from tronrent.models.common import Currency
from tronrent.models.order import Order, OrderStatus, OrderType
from tronrent.user.balance import balance as balance_service

#: an order in one of these got its energy: it earns commission
DELIVERED = (OrderStatus.ACTIVE, OrderStatus.RECLAIMING, OrderStatus.COMPLETED)
#: an earning of an order in one of these is cancelled, never settled
REFUNDED = (OrderStatus.REFUNDING, OrderStatus.REFUNDED)
SETTLE_BATCH = 500


async def agent_chain(
    session: AsyncSession, referrer_user_id: uuid.UUID, depth: int
) -> list[Agent | None]:
    """The agents above a buyer whose referrer is ``referrer_user_id``: level 1 = the
    referrer's agent row, then its parent, ... at most ``depth``; an agent that is not active
    holds its place (None: it earns nothing) and the chain goes on above it."""
    chain: list[Agent | None] = []
    current = (
        await session.execute(select(Agent).where(Agent.user_id == referrer_user_id))
    ).scalar_one_or_none()
    seen: set[uuid.UUID] = set()
    while current is not None and len(chain) < depth and current.id not in seen:
        seen.add(current.id)
        chain.append(current if current.status is AgentStatus.ACTIVE else None)
        if current.parent_agent_id is None:
            break
        current = await session.get(Agent, current.parent_agent_id)
    return chain


async def record_commissions(
    session: AsyncSession, order_ids: Sequence[str], cfg: AgentConfig
) -> int:
    """Write the commission of each delivered order (idempotent); the number of rows written."""
    if not order_ids:
        return 0
    rows = (
        await session.execute(
            select(Order.id, Order.final_price_units, Order.currency, User.referred_by)
            .join(User, User.id == Order.user_id)
            .where(
                Order.id.in_(sorted(set(order_ids))),
                Order.status.in_(DELIVERED),
                Order.order_type != OrderType.BALANCE_TOP_UP,
                User.referred_by.is_not(None),
            )
        )
    ).all()
    values = []
    for order_id, base, currency, referrer in rows:
        if referrer is None or base <= 0:
            continue
        chain = await agent_chain(session, referrer, cfg.depth)
        if not chain:
            continue
        first = chain[0]
        rates = level_rates(cfg.levels_bps, first.commission_bps if first else None)
        for share in shares(int(base), rates[: len(chain)]):
            agent = chain[share.level - 1]
            if agent is None:
                continue
            values.append(
                {
                    "id": uuid.uuid4(),
                    "agent_id": agent.id,
                    "order_id": order_id,
                    "earning_type": EarningType.COMMISSION,
                    "level": share.level,
                    "amount_units": share.amount_units,
                    "commission_bps": share.commission_bps,
                    "base_amount_units": int(base),
                    "currency": Currency(currency),
                    "status": EarningStatus.PENDING,
                }
            )
    written = await insert_new_rows(
        session,
        AgentEarning,
        values,
        conflict=("agent_id", "order_id", "earning_type"),
        returning=("id",),
    )
    return len(written)


async def cancel_for_order(session: AsyncSession, order_id: str) -> int:
    """The order was refunded: its pending earnings are cancelled (settled ones stay: the
    refund window exists so that this does not happen; see docs/agents.md)."""
    result = await session.execute(
        update(AgentEarning)
        .where(AgentEarning.order_id == order_id, AgentEarning.status == EarningStatus.PENDING)
        .values(status=EarningStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def settle_due(
    session: AsyncSession, cfg: AgentConfig, *, now: datetime | None = None
) -> int:
    """Settle pending earnings older than the refund window (a batch; the number settled):
    each becomes ``settled`` (a conditional UPDATE: once), is credited to the agent's user
    balance as a ``commission`` ledger entry (cause = the earning id) and added to the agent's
    totals. Earnings of refunded orders are cancelled instead."""
    now = now or utcnow()
    due = (
        await session.execute(
            select(AgentEarning, Order.status, Agent.user_id)
            .join(Order, Order.id == AgentEarning.order_id)
            .join(Agent, Agent.id == AgentEarning.agent_id)
            .where(
                AgentEarning.status == EarningStatus.PENDING,
                AgentEarning.created_at <= now - timedelta(seconds=cfg.refund_window_s),
            )
            .order_by(AgentEarning.created_at, AgentEarning.id)
            .limit(SETTLE_BATCH)
        )
    ).all()
    settled = 0
    for earning, order_status, user_id in due:
        if order_status in REFUNDED:
            await cancel_for_order(session, earning.order_id)
            continue
        moved = await session.execute(
            update(AgentEarning)
            .where(AgentEarning.id == earning.id, AgentEarning.status == EarningStatus.PENDING)
            .values(status=EarningStatus.SETTLED, settled_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(moved, "rowcount", 0) != 1:
            continue  # another settlement run took it
        await balance_service.apply(
            session,
            user_id=user_id,
            currency=earning.currency,
            delta_units=earning.amount_units,
            cause_type=LedgerCause.COMMISSION,
            cause_id=str(earning.id),
            note=f"commission L{earning.level} on order {earning.order_id}",
        )
        trx = earning.currency is Currency.TRX
        total = Agent.total_earnings_sun if trx else Agent.total_earnings_usdt_units
        available = Agent.available_balance_sun if trx else Agent.available_balance_usdt_units
        await session.execute(
            update(Agent)
            .where(Agent.id == earning.agent_id)
            .values(
                {
                    total: total + earning.amount_units,
                    available: available + earning.amount_units,
                    Agent.last_settlement_at: now,
                }
            )
            .execution_options(synchronize_session=False)
        )
        settled += 1
    return settled
