"""Withdrawal requests and their review. Never commits.

A request takes the amount off the agent's settled commission (``agents.available_balance_*``,
a conditional UPDATE that never goes below zero) AND off the user's balance (a ``withdrawal``
ledger entry; the users CHECK refuses a negative balance), in the caller's transaction: of N
concurrent requests only those the balance covers succeed, the rest get 409 and change
nothing. Up to the auto-approve amount it is ``approved`` at once (the payout job sends it);
above it an operator approves or rejects (the amount returns to both balances: a
``withdrawal_return`` ledger entry).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tronproto.address import is_valid_base58
from tronrent.agent.calc import quote_withdrawal
from tronrent.agent.config import AgentConfig
from tronrent.agent.errors import (
    AgentNotFound,
    CommissionExceedsBalance,
    NotAnActiveAgent,
    WithdrawalNotFound,
    WithdrawalNotPending,
    WithdrawalRefused,
)
from tronrent.agent.service import record_change
from tronrent.kit.audit import Actor, require_reason
from tronrent.kit.time import utcnow
from tronrent.models import Agent, AgentStatus
from tronrent.models.agent_change import AgentAction
from tronrent.models.agent_withdrawal import AgentWithdrawal, WithdrawalStatus
from tronrent.models.balance_ledger import LedgerCause
from tronrent.models.common import Currency
from tronrent.user.balance import MAX_DELTA_UNITS
from tronrent.user.balance import balance as balance_service
from tronrent.worker import enqueue_job, has_job_queue, has_job_scope

PAY_JOB = "agent.pay_withdrawal"


async def _move_available(
    session: AsyncSession, agent_id: uuid.UUID, currency: Currency, delta: int
) -> bool:
    column = (
        Agent.available_balance_sun
        if currency is Currency.TRX
        else Agent.available_balance_usdt_units
    )
    result = await session.execute(
        update(Agent)
        .where(Agent.id == agent_id, column + delta >= 0)
        .values({column: column + delta})
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def _send(withdrawal_id: int) -> None:
    """The payout job, sent once the transaction commits (a request or a bot update of a
    served process); without a job queue the ``agent.settle_earnings`` sweep (every minute)
    hands the approved withdrawal over instead."""
    if has_job_scope() and has_job_queue():
        enqueue_job(PAY_JOB, withdrawal_id)


class WithdrawalService:
    async def request(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        *,
        currency: Currency | str,
        amount_units: int,
        to_address: str,
        cfg: AgentConfig,
    ) -> AgentWithdrawal:
        """Raises: AgentNotFound (404), NotAnActiveAgent (403), WithdrawalRefused (422),
        CommissionExceedsBalance / InsufficientBalance (409)."""
        currency = Currency(currency)
        agent = (
            await session.execute(select(Agent).where(Agent.user_id == user_id))
        ).scalar_one_or_none()
        if agent is None:
            raise AgentNotFound("not an agent")
        if agent.status is not AgentStatus.ACTIVE:
            raise NotAnActiveAgent(f"the agent is {agent.status.value}")
        if not is_valid_base58(to_address):
            raise WithdrawalRefused("toAddress is not a TRON address")
        if not 0 < amount_units <= MAX_DELTA_UNITS:  # the ledger's bound, for every caller
            raise WithdrawalRefused(
                f"a withdrawal is at most {MAX_DELTA_UNITS} units",
                details={"maximumUnits": MAX_DELTA_UNITS},
            )
        rules = cfg.withdrawal[currency]
        quote = quote_withdrawal(
            amount_units,
            minimum_units=rules.minimum_units,
            fee_units=rules.fee_units,
            auto_approve_units=rules.auto_approve_units,
        )
        if quote is None:
            raise WithdrawalRefused(
                f"a {currency.value} withdrawal must be at least {rules.minimum_units} units "
                f"and more than the fee ({rules.fee_units} units)",
                details={"minimumUnits": rules.minimum_units, "feeUnits": rules.fee_units},
            )
        async with session.begin_nested():
            if not await _move_available(session, agent.id, currency, -amount_units):
                raise CommissionExceedsBalance(
                    f"the settled {currency.value} commission does not cover {amount_units} units"
                )
            withdrawal = AgentWithdrawal(
                agent_id=agent.id,
                user_id=user_id,
                currency=currency,
                amount_units=quote.amount_units,
                fee_units=quote.fee_units,
                payout_units=quote.payout_units,
                to_address=to_address,
                status=(
                    WithdrawalStatus.PENDING_REVIEW
                    if quote.needs_review
                    else WithdrawalStatus.APPROVED
                ),
            )
            session.add(withdrawal)
            await session.flush()
            await balance_service.apply(  # InsufficientBalance rolls the savepoint back
                session,
                user_id=user_id,
                currency=currency,
                delta_units=-amount_units,
                cause_type=LedgerCause.WITHDRAWAL,
                cause_id=str(withdrawal.id),
                fresh=True,
                note=f"withdrawal to {to_address}",
            )
        if withdrawal.status is WithdrawalStatus.APPROVED:
            _send(withdrawal.id)
        return withdrawal

    async def _locked(self, session: AsyncSession, withdrawal_id: int) -> AgentWithdrawal:
        w = await session.get(
            AgentWithdrawal, withdrawal_id, with_for_update=True, populate_existing=True
        )
        if w is None:
            raise WithdrawalNotFound("withdrawal not found")
        if w.status is not WithdrawalStatus.PENDING_REVIEW:
            raise WithdrawalNotPending(f"the withdrawal is {w.status.value}")
        return w

    async def _decide(
        self, session: AsyncSession, w: AgentWithdrawal, target: WithdrawalStatus
    ) -> None:
        result = await session.execute(
            update(AgentWithdrawal)
            .where(
                AgentWithdrawal.id == w.id,
                AgentWithdrawal.status == WithdrawalStatus.PENDING_REVIEW,
            )
            .values(status=target)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise WithdrawalNotPending("the withdrawal was decided before")
        w.status = target

    async def approve(
        self, session: AsyncSession, withdrawal_id: int, *, actor: Actor, reason: str
    ) -> AgentWithdrawal:
        """Raises: WithdrawalNotFound (404), WithdrawalNotPending (409), 422 without reason."""
        reason = require_reason(reason, "withdrawal decision")
        w = await self._locked(session, withdrawal_id)
        await self._decide(session, w, WithdrawalStatus.APPROVED)
        self._reviewed(session, w, actor, reason, AgentAction.APPROVE_WITHDRAWAL)
        _send(w.id)
        return w

    async def reject(
        self, session: AsyncSession, withdrawal_id: int, *, actor: Actor, reason: str
    ) -> AgentWithdrawal:
        """The amount goes back to the user's balance and the agent's settled commission."""
        reason = require_reason(reason, "withdrawal decision")
        w = await self._locked(session, withdrawal_id)
        await self._decide(session, w, WithdrawalStatus.REJECTED)
        await balance_service.apply(
            session,
            user_id=w.user_id,
            currency=w.currency,
            delta_units=w.amount_units,
            cause_type=LedgerCause.WITHDRAWAL_RETURN,
            cause_id=str(w.id),
            note=f"withdrawal {w.id} rejected",
        )
        await _move_available(session, w.agent_id, w.currency, w.amount_units)
        self._reviewed(session, w, actor, reason, AgentAction.REJECT_WITHDRAWAL)
        return w

    def _reviewed(
        self,
        session: AsyncSession,
        w: AgentWithdrawal,
        actor: Actor,
        reason: str,
        action: AgentAction,
    ) -> None:
        w.reviewed_by = actor.admin_id
        w.reviewed_at = utcnow()
        w.review_notes = reason
        record_change(
            session,
            subject=f"withdrawal:{w.id}",
            action=action,
            actor=actor,
            reason=reason,
            before={"status": WithdrawalStatus.PENDING_REVIEW.value},
            after={"status": w.status.value},
        )

    async def list_for_agent(
        self, session: AsyncSession, agent_id: uuid.UUID, limit: int = 20
    ) -> Sequence[AgentWithdrawal]:
        result = await session.execute(
            select(AgentWithdrawal)
            .where(AgentWithdrawal.agent_id == agent_id)
            .order_by(AgentWithdrawal.id.desc())
            .limit(limit)
        )
        return result.scalars().all()


withdrawal = WithdrawalService()
