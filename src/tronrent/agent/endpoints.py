"""Agent routes (JWT). Reads need the operator or admin role; decisions need admin and a
reason, recorded in ``agent_changes`` with the operator (see docs/agents.md)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import Field, StrictInt, StringConstraints

from tronrent.agent import queries
from tronrent.agent.config import AgentConfig
from tronrent.agent.service import agent as agent_service
from tronrent.agent.withdrawal import withdrawal as withdrawal_service
from tronrent.api.deps import SessionDep, SettingsDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.auth.dependencies import AdminDep, OperatorDep
from tronrent.flash.api_deps import JOB_SCOPE
from tronrent.kit.audit import Actor
from tronrent.models import (
    AdminUser,
    Agent,
    AgentApplication,
    AgentEarning,
    AgentStatus,
    ApplicationStatus,
    EarningStatus,
)
from tronrent.models.agent_withdrawal import AgentWithdrawal, WithdrawalStatus
from tronrent.models.common import Currency

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Limit = Annotated[int, Query(ge=1, le=100)]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    404: ERROR_RESPONSES[422] | {"description": "No such application, agent or withdrawal"},
    409: ERROR_RESPONSES[422] | {"description": "Already decided, already an agent"},
}

router = APIRouter(tags=["agents"], responses=_RESPONSES)


def _actor(admin: AdminUser) -> Actor:
    return Actor.admin(admin.username, admin.id)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class ApplicationRequest(ApiModel):
    user_id: uuid.UUID
    business_info: dict[str, Any] | None = None
    contact_info: dict[str, Any] | None = None
    experience: Annotated[str, StringConstraints(max_length=5000)] | None = None
    expected_volume_sun: StrictInt | None = Field(default=None, ge=0, le=10**15)


class ApplicationOut(ApiModel):
    application_id: str
    user_id: str
    status: str
    business_info: dict[str, Any] | None
    contact_info: dict[str, Any] | None
    experience: str | None
    expected_volume_sun: int | None
    reviewed_by: str | None
    reviewed_at: str | None
    review_notes: str | None
    created_at: str | None


class ApproveRequest(ApiModel):
    notes: Reason
    commission_bps: StrictInt | None = Field(default=None, ge=0, le=10_000)
    parent_agent_id: uuid.UUID | None = None


class RejectRequest(ApiModel):
    notes: Reason


class AgentOut(ApiModel):
    agent_id: str
    user_id: str
    agent_code: str
    level: int
    commission_bps: int
    parent_agent_id: str | None
    status: str
    approved_by: str | None
    approved_at: str | None
    total_referrals: int
    total_earnings_sun: int
    total_earnings_usdt_units: int
    available_balance_sun: int
    available_balance_usdt_units: int
    withdrawn_amount_sun: int
    withdrawn_amount_usdt_units: int
    last_settlement_at: str | None


class AgentChangeRequest(ApiModel):
    reason: Reason
    level: StrictInt | None = Field(default=None, ge=1, le=1000)
    commission_bps: StrictInt | None = Field(default=None, ge=0, le=10_000)
    parent_agent_id: uuid.UUID | None = None
    clear_parent: bool = False
    status: AgentStatus | None = None


class EarningOut(ApiModel):
    earning_id: str
    agent_id: str
    order_id: str
    earning_type: str
    level: int
    amount_units: int
    commission_bps: int
    base_amount_units: int
    currency: str
    status: str
    settled_at: str | None
    created_at: str | None


class WithdrawalOut(ApiModel):
    withdrawal_id: int
    agent_id: str
    currency: str
    amount_units: int
    fee_units: int
    payout_units: int
    to_address: str
    status: str
    reviewed_by: str | None
    reviewed_at: str | None
    review_notes: str | None
    txid: str | None
    paid_at: str | None
    created_at: str | None


class DecisionRequest(ApiModel):
    reason: Reason


def application_out(a: AgentApplication) -> ApplicationOut:
    return ApplicationOut(
        application_id=str(a.id),
        user_id=str(a.user_id),
        status=a.status.value,
        business_info=a.business_info,
        contact_info=a.contact_info,
        experience=a.experience,
        expected_volume_sun=a.expected_volume_sun,
        reviewed_by=str(a.reviewed_by) if a.reviewed_by else None,
        reviewed_at=_iso(a.reviewed_at),
        review_notes=a.review_notes,
        created_at=_iso(a.created_at),
    )


def agent_out(a: Agent) -> AgentOut:
    return AgentOut(
        agent_id=str(a.id),
        user_id=str(a.user_id),
        agent_code=a.agent_code,
        level=a.level,
        commission_bps=a.commission_bps,
        parent_agent_id=str(a.parent_agent_id) if a.parent_agent_id else None,
        status=a.status.value,
        approved_by=str(a.approved_by) if a.approved_by else None,
        approved_at=_iso(a.approved_at),
        total_referrals=a.total_referrals,
        total_earnings_sun=a.total_earnings_sun,
        total_earnings_usdt_units=a.total_earnings_usdt_units,
        available_balance_sun=a.available_balance_sun,
        available_balance_usdt_units=a.available_balance_usdt_units,
        withdrawn_amount_sun=a.withdrawn_amount_sun,
        withdrawn_amount_usdt_units=a.withdrawn_amount_usdt_units,
        last_settlement_at=_iso(a.last_settlement_at),
    )


def earning_out(e: AgentEarning) -> EarningOut:
    return EarningOut(
        earning_id=str(e.id),
        agent_id=str(e.agent_id),
        order_id=e.order_id,
        earning_type=e.earning_type.value,
        level=e.level,
        amount_units=e.amount_units,
        commission_bps=e.commission_bps,
        base_amount_units=e.base_amount_units,
        currency=e.currency.value,
        status=e.status.value,
        settled_at=_iso(e.settled_at),
        created_at=_iso(e.created_at),
    )


def withdrawal_out(w: AgentWithdrawal) -> WithdrawalOut:
    return WithdrawalOut(
        withdrawal_id=w.id,
        agent_id=str(w.agent_id),
        currency=w.currency.value,
        amount_units=w.amount_units,
        fee_units=w.fee_units,
        payout_units=w.payout_units,
        to_address=w.to_address,
        status=w.status.value,
        reviewed_by=str(w.reviewed_by) if w.reviewed_by else None,
        reviewed_at=_iso(w.reviewed_at),
        review_notes=w.review_notes,
        txid=w.txid,
        paid_at=_iso(w.paid_at),
        created_at=_iso(w.created_at),
    )


@router.post("/api/agent-applications", status_code=201)
async def file_application(
    body: ApplicationRequest, session: SessionDep, _op: OperatorDep
) -> Envelope[ApplicationOut]:
    """File an application for a user (seed 001 fields); customers apply in the bot
    (`/agent`). 409 `APPLICATION_PENDING` / `ALREADY_AGENT`, 404 `USER_NOT_FOUND`."""
    application = await agent_service.apply(
        session,
        body.user_id,
        business_info=body.business_info,
        contact_info=body.contact_info,
        experience=body.experience,
        expected_volume_sun=body.expected_volume_sun,
    )
    return ok(application_out(application))


class WithdrawalRequest(ApiModel):
    user_id: uuid.UUID
    currency: Currency
    #: leaves the agent's balance, the fee included (base units: sun or USDT units)
    amount_units: StrictInt = Field(ge=1, le=10**15)
    to_address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]


@router.post("/api/agent-withdrawals", status_code=201, dependencies=[JOB_SCOPE])
async def request_withdrawal(
    body: WithdrawalRequest, session: SessionDep, settings: SettingsDep, _op: OperatorDep
) -> Envelope[WithdrawalOut]:
    """Ask for a payout of an agent's settled commission, for the agent (the user; as
    `/agent withdraw` does in the bot): `approved` at once up to the auto-approve amount (the
    payout job sends it), else `pending_review`. 404 `AGENT_NOT_FOUND`, 403
    `AGENT_NOT_ACTIVE`, 422 `WITHDRAWAL_REFUSED` (below the minimum, not more than the fee,
    not a TRON address), 409 `INSUFFICIENT_COMMISSION` / `INSUFFICIENT_BALANCE`."""
    w = await withdrawal_service.request(
        session,
        body.user_id,
        currency=body.currency,
        amount_units=body.amount_units,
        to_address=body.to_address,
        cfg=AgentConfig.from_settings(settings),
    )
    return ok(withdrawal_out(w))


@router.get("/api/admin/agent-applications")
async def list_applications(
    session: SessionDep,
    _op: OperatorDep,
    status: ApplicationStatus | None = None,
    limit: Limit = 50,
) -> Envelope[list[ApplicationOut]]:
    """Applications, newest first (`status` filters)."""
    return ok([application_out(a) for a in await queries.applications(session, status, limit)])


@router.post("/api/admin/agent-applications/{application_id}/approve")
async def approve_application(
    application_id: uuid.UUID,
    body: ApproveRequest,
    session: SessionDep,
    admin: AdminDep,
    settings: SettingsDep,
) -> Envelope[AgentOut]:
    """Approve: the user becomes an agent (409 `APPLICATION_REVIEWED` if decided before)."""
    created = await agent_service.approve(
        session,
        application_id,
        actor=_actor(admin),
        notes=body.notes,
        cfg=AgentConfig.from_settings(settings),
        commission_bps=body.commission_bps,
        parent_agent_id=body.parent_agent_id,
    )
    return ok(agent_out(created))


@router.post("/api/admin/agent-applications/{application_id}/reject")
async def reject_application(
    application_id: uuid.UUID, body: RejectRequest, session: SessionDep, admin: AdminDep
) -> Envelope[ApplicationOut]:
    """Reject with notes (409 `APPLICATION_REVIEWED` if decided before)."""
    rejected = await agent_service.reject(
        session, application_id, actor=_actor(admin), notes=body.notes
    )
    return ok(application_out(rejected))


@router.get("/api/admin/agents")
async def list_agents(
    session: SessionDep, _op: OperatorDep, status: AgentStatus | None = None, limit: Limit = 50
) -> Envelope[list[AgentOut]]:
    """Agents, newest first."""
    return ok([agent_out(a) for a in await queries.agents(session, status, limit)])


@router.get("/api/admin/agents/{agent_id}")
async def get_agent(
    agent_id: uuid.UUID, session: SessionDep, _op: OperatorDep
) -> Envelope[AgentOut]:
    """One agent with its totals; 404 `AGENT_NOT_FOUND`."""
    return ok(agent_out(await agent_service.get(session, agent_id)))


@router.patch("/api/admin/agents/{agent_id}")
async def change_agent(
    agent_id: uuid.UUID, body: AgentChangeRequest, session: SessionDep, admin: AdminDep
) -> Envelope[AgentOut]:
    """Change level, commission rate, parent (`clearParent` to remove it) or status; the rate
    applies to orders delivered from now on. 422 `INVALID_AGENT_CHANGE` (a cycle, nothing)."""
    changed = await agent_service.edit(
        session,
        agent_id,
        actor=_actor(admin),
        reason=body.reason,
        level=body.level,
        commission_bps=body.commission_bps,
        parent_agent_id=body.parent_agent_id,
        clear_parent=body.clear_parent,
        status=body.status,
    )
    return ok(agent_out(changed))


@router.get("/api/admin/agent-earnings")
async def list_earnings(
    session: SessionDep,
    _op: OperatorDep,
    agent_id: uuid.UUID | None = None,
    status: EarningStatus | None = None,
    limit: Limit = 50,
) -> Envelope[list[EarningOut]]:
    """Earnings, newest first (`agentId`, `status` filter)."""
    rows = await queries.earnings(session, agent_id=agent_id, status=status, limit=limit)
    return ok([earning_out(e) for e in rows])


@router.get("/api/admin/agent-withdrawals")
async def list_withdrawals(
    session: SessionDep,
    _op: OperatorDep,
    agent_id: uuid.UUID | None = None,
    status: WithdrawalStatus | None = None,
    limit: Limit = 50,
) -> Envelope[list[WithdrawalOut]]:
    """Withdrawals, newest first (`status=pending_review`: those waiting for a decision)."""
    rows = await queries.withdrawals(session, agent_id=agent_id, status=status, limit=limit)
    return ok([withdrawal_out(w) for w in rows])


@router.post("/api/admin/agent-withdrawals/{withdrawal_id}/approve", dependencies=[JOB_SCOPE])
async def approve_withdrawal(
    withdrawal_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    body: DecisionRequest,
    session: SessionDep,
    admin: AdminDep,
) -> Envelope[WithdrawalOut]:
    """Approve a withdrawal under review: the payout job sends it (409 if decided before)."""
    w = await withdrawal_service.approve(
        session, withdrawal_id, actor=_actor(admin), reason=body.reason
    )
    return ok(withdrawal_out(w))


@router.post("/api/admin/agent-withdrawals/{withdrawal_id}/reject")
async def reject_withdrawal(
    withdrawal_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    body: DecisionRequest,
    session: SessionDep,
    admin: AdminDep,
) -> Envelope[WithdrawalOut]:
    """Reject: the amount returns to the agent's balance (409 if decided before)."""
    w = await withdrawal_service.reject(
        session, withdrawal_id, actor=_actor(admin), reason=body.reason
    )
    return ok(withdrawal_out(w))
