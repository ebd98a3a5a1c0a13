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
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.agent.calc import BPS, level_rates, shares
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
SWEEP_BATCH = 500


async def agent_chain(
    session: AsyncSession,
    referrer_user_id: uuid.UUID | None,
    depth: int,
    *,
    first_agent_id: uuid.UUID | None = None,
) -> list[Agent | None]:
    """The agents above a buyer: level 1 = ``first_agent_id`` (the agent whose own bot took
    the order) else the agent row of the buyer's referrer ``referrer_user_id``, then its
    parent, ... at most ``depth``; an agent that is not active holds its place (None: it earns
    nothing) and the chain goes on above it."""
    chain: list[Agent | None] = []
    if first_agent_id is not None:
        current = await session.get(Agent, first_agent_id)
    elif referrer_user_id is not None:
        current = (
            await session.execute(select(Agent).where(Agent.user_id == referrer_user_id))
        ).scalar_one_or_none()
    else:
        current = None
    seen: set[uuid.UUID] = set()
    while current is not None and len(chain) < depth and current.id not in seen:
        seen.add(current.id)
        chain.append(current if current.status is AgentStatus.ACTIVE else None)
        if current.parent_agent_id is None:
            break
        current = await session.get(Agent, current.parent_agent_id)
    return chain


def _earning(
    agent_id: uuid.UUID,
    order_id: str,
    kind: EarningType,
    level: int,
    amount: int,
    bps: int,
    base: int,
    currency: Currency,
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "agent_id": agent_id,
        "order_id": order_id,
        "earning_type": kind,
        "level": level,
        "amount_units": amount,
        "commission_bps": bps,
        "base_amount_units": base,
        "currency": currency,
        "status": EarningStatus.PENDING,
    }


async def record_commissions(
    session: AsyncSession, order_ids: Sequence[str], cfg: AgentConfig
) -> int:
    """Write the commission of each delivered order (idempotent); the number of rows written.

    An order its agent's own bot took (``orders.agent_id``) starts the chain at that agent
    (whoever referred the buyer) and gives the agent its markup as a ``bonus`` earning; the
    commission base is the final price less that markup."""
    if not order_ids:
        return 0
    rows = (
        await session.execute(
            select(
                Order.id,
                Order.final_price_units,
                Order.currency,
                Order.agent_id,
                Order.agent_markup_units,
                User.referred_by,
            )
            .outerjoin(User, User.id == Order.user_id)
            .where(
                Order.id.in_(sorted(set(order_ids))),
                Order.status.in_(DELIVERED),
                Order.order_type != OrderType.BALANCE_TOP_UP,
                or_(User.referred_by.is_not(None), Order.agent_id.is_not(None)),
            )
        )
    ).all()
    values = []
    for order_id, final, currency, bot_agent, markup, referrer in rows:
        money = Currency(currency)
        base = int(final) - int(markup or 0)
        if base < 0:
            continue
        chain = await agent_chain(session, referrer, cfg.depth, first_agent_id=bot_agent)
        if not chain:
            continue
        first = chain[0]
        if markup and first is not None:
            bps = min(BPS, int(markup) * BPS // base) if base else BPS
            values.append(
                _earning(first.id, order_id, EarningType.BONUS, 1, int(markup), bps, base, money)
            )
        rates = level_rates(cfg.levels_bps, first.commission_bps if first else None)
        for share in shares(base, rates[: len(chain)]):
            agent = chain[share.level - 1]
            if agent is None:
                continue
            values.append(
                _earning(
                    agent.id,
                    order_id,
                    EarningType.COMMISSION,
                    share.level,
                    share.amount_units,
                    share.commission_bps,
                    base,
                    money,
                )
            )
    written = await insert_new_rows(
        session,
        AgentEarning,
        values,
        conflict=("agent_id", "order_id", "earning_type"),
        returning=("id",),
    )
    return len(written)


async def missing_commission_orders(
    session: AsyncSession, *, since: datetime, limit: int = SWEEP_BATCH
) -> list[str]:
    """Delivered orders (paid since ``since``) that should earn commission and have no
    earning yet: their commission job was lost (the process died between the delivery commit
    and the job, on the in-process queue). Newest first."""
    # the first agent of the chain is active now and was an agent when the order was paid
    # (an order paid before its buyer's referrer became an agent never earned)
    first_active = (Agent.status == AgentStatus.ACTIVE, Agent.created_at <= Order.paid_at)
    bot_agent = select(Agent.id).where(Agent.id == Order.agent_id, *first_active).exists()
    referrer_agent = (
        select(Agent.id).where(Agent.user_id == User.referred_by, *first_active).exists()
    )
    earned = select(AgentEarning.id).where(AgentEarning.order_id == Order.id).exists()
    rows = await session.execute(
        select(Order.id)
        .outerjoin(User, User.id == Order.user_id)
        .where(
            Order.status.in_(DELIVERED),
            Order.order_type != OrderType.BALANCE_TOP_UP,
            Order.final_price_units > 0,
            Order.paid_at >= since,
            or_(bot_agent, and_(Order.agent_id.is_(None), referrer_agent)),
            ~earned,
        )
        .order_by(Order.paid_at.desc(), Order.id)
        .limit(limit)
    )
    return [str(i) for (i,) in rows]


async def sweep_missing(
    session: AsyncSession, cfg: AgentConfig, *, now: datetime | None = None
) -> int:
    """The backstop of ``record_commissions``: write the commission of delivered orders of
    the last ``cfg.sweep_lookback_s`` that have none (idempotent: the same UNIQUE key). An
    order whose chain earns nothing (inactive agents, shares rounding to 0) is looked at again
    until it leaves the window (rare: the query asks for an active first agent); the batch
    bounds the work."""
    now = now or utcnow()
    since = now - timedelta(seconds=cfg.sweep_lookback_s)
    return await record_commissions(
        session, await missing_commission_orders(session, since=since), cfg
    )


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
