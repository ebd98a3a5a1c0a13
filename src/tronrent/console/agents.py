"""Agents: applications to approve or reject, agents (level, rate, parent, status), their
earnings, and withdrawals to approve or reject.

The same use cases as the ``/api/admin/agent-*`` routes: reads for every role, every decision
needs the admin role and a reason (notes), recorded in ``agent_changes`` with who made it and
shown on the pages. An approved withdrawal is sent by the payout job
(``agent.pay_withdrawal``), queued as the approval commits, as after an approval through the
API (the ``agent.settle_earnings`` sweep hands over any approved withdrawal left behind); one
stored transfer per withdrawal pays it exactly once.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Query, Request, Response

from tronrent.agent import queries
from tronrent.agent.config import AgentConfig
from tronrent.agent.service import agent as agent_service
from tronrent.agent.withdrawal import withdrawal as withdrawal_service
from tronrent.api.deps import SessionDep, SettingsDep
from tronrent.auth.dependencies import actor_of
from tronrent.console import changes
from tronrent.console import session as console_session
from tronrent.console.forms import PAGE_SIZE, Field, Reason, before, cursor, flag, integer, uuid_of
from tronrent.console.session import ConsoleAdmin, ConsoleUser
from tronrent.console.web import choice, nav, page_router, redirect, render
from tronrent.flash.api_deps import JOB_SCOPE
from tronrent.models import AgentStatus, ApplicationStatus, EarningStatus
from tronrent.models.agent_withdrawal import WithdrawalStatus

router = page_router(prefix="/admin/agents", dependencies=[console_session.CSRF])
nav("agents", "Agents", "/admin/agents")

Id = Annotated[uuid.UUID, Path()]
WithdrawalId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Status = Annotated[str | None, Query(max_length=30)]
Done = Annotated[str | None, Query(max_length=20)]


@router.get("")
async def agents(
    request: Request,
    session: SessionDep,
    _user: ConsoleUser,
    status: Status = None,
    cursor_: Annotated[str | None, Query(alias="cursor", max_length=300)] = None,
) -> Response:
    wanted = choice(AgentStatus, status, "status")
    found = await queries.agent_page(session, wanted, PAGE_SIZE, cursor(cursor_))
    pending = await queries.application_page(session, ApplicationStatus.PENDING, 1)
    review = await queries.withdrawals(
        session, agent_id=None, status=WithdrawalStatus.PENDING_REVIEW, limit=1
    )
    return render(
        request,
        "agents.html",
        items=found.items,
        next_cursor=found.next_cursor,
        status=wanted,
        statuses=list(AgentStatus),
        applications_waiting=bool(pending.items),
        withdrawals_waiting=bool(review),
    )


@router.get("/applications")
async def applications(
    request: Request,
    session: SessionDep,
    _user: ConsoleUser,
    status: Status = None,
    cursor_: Annotated[str | None, Query(alias="cursor", max_length=300)] = None,
    done: Done = None,
) -> Response:
    wanted = choice(ApplicationStatus, status, "status")
    found = await queries.application_page(session, wanted, PAGE_SIZE, cursor(cursor_))
    return render(
        request,
        "agent_applications.html",
        items=found.items,
        next_cursor=found.next_cursor,
        status=wanted,
        statuses=list(ApplicationStatus),
        done=done,
    )


@router.post("/applications/{application_id}/approve")
async def approve_application(
    application_id: Id,
    session: SessionDep,
    settings: SettingsDep,
    admin: ConsoleAdmin,
    reason: Reason,
    commission_bps: Field = "",
    parent_agent_id: Field = "",
) -> Response:
    """The user becomes an agent (``POST /api/admin/agent-applications/{id}/approve``); the
    reason is the review notes."""
    created = await agent_service.approve(
        session,
        application_id,
        actor=actor_of(admin),
        notes=reason,
        cfg=AgentConfig.from_settings(settings),
        commission_bps=integer(commission_bps, "commission (bps)", 0, 10_000),
        parent_agent_id=uuid_of(parent_agent_id, "parent agent"),
    )
    return redirect(f"/admin/agents/{created.id}?done=approved")


@router.post("/applications/{application_id}/reject")
async def reject_application(
    application_id: Id, session: SessionDep, admin: ConsoleAdmin, reason: Reason
) -> Response:
    await agent_service.reject(session, application_id, actor=actor_of(admin), notes=reason)
    return redirect("/admin/agents/applications?done=rejected")


@router.get("/withdrawals")
async def withdrawals(
    request: Request,
    session: SessionDep,
    _user: ConsoleUser,
    status: Status = None,
    agent: Annotated[str | None, Query(max_length=40)] = None,
    cursor_: Annotated[str | None, Query(alias="cursor", max_length=30)] = None,
    done: Done = None,
) -> Response:
    wanted = choice(WithdrawalStatus, status, "status")
    rows = await queries.withdrawals(
        session,
        agent_id=uuid_of(agent, "agent"),
        status=wanted,
        limit=PAGE_SIZE + 1,
        before_id=before(cursor_),
    )
    items = list(rows[:PAGE_SIZE])
    return render(
        request,
        "agent_withdrawals.html",
        items=items,
        next_cursor=str(items[-1].id) if len(rows) > PAGE_SIZE else None,
        status=wanted,
        statuses=list(WithdrawalStatus),
        agent=agent or "",
        done=done,
    )


@router.post("/withdrawals/{withdrawal_id}/approve", dependencies=[JOB_SCOPE])
async def approve_withdrawal(
    withdrawal_id: WithdrawalId, session: SessionDep, admin: ConsoleAdmin, reason: Reason
) -> Response:
    """Approve (``POST /api/admin/agent-withdrawals/{id}/approve``): the payout job, sent once
    the approval commits, pays it exactly once."""
    await withdrawal_service.approve(session, withdrawal_id, actor=actor_of(admin), reason=reason)
    return redirect("/admin/agents/withdrawals?done=approved")


@router.post("/withdrawals/{withdrawal_id}/reject")
async def reject_withdrawal(
    withdrawal_id: WithdrawalId, session: SessionDep, admin: ConsoleAdmin, reason: Reason
) -> Response:
    """Reject: the amount returns to the agent's balance and the user's."""
    await withdrawal_service.reject(session, withdrawal_id, actor=actor_of(admin), reason=reason)
    return redirect("/admin/agents/withdrawals?done=rejected")


@router.get("/earnings")
async def earnings(
    request: Request,
    session: SessionDep,
    _user: ConsoleUser,
    status: Status = None,
    agent: Annotated[str | None, Query(max_length=40)] = None,
    cursor_: Annotated[str | None, Query(alias="cursor", max_length=300)] = None,
) -> Response:
    wanted = choice(EarningStatus, status, "status")
    found = await queries.earning_page(
        session,
        agent_id=uuid_of(agent, "agent"),
        status=wanted,
        limit=PAGE_SIZE,
        after=cursor(cursor_),
    )
    return render(
        request,
        "agent_earnings.html",
        items=found.items,
        next_cursor=found.next_cursor,
        status=wanted,
        statuses=list(EarningStatus),
        agent=agent or "",
    )


@router.get("/{agent_id}")
async def agent_detail(
    request: Request, agent_id: Id, session: SessionDep, _user: ConsoleUser, done: Done = None
) -> Response:
    agent = await agent_service.get(session, agent_id)
    recent = await queries.withdrawals(session, agent_id=agent_id, status=None, limit=20)
    subjects = [f"agent:{agent.id}", *(f"withdrawal:{w.id}" for w in recent)]
    return render(
        request,
        "agent.html",
        a=agent,
        withdrawals=recent,
        history=changes.of_agents(await queries.changes(session, subjects)),
        statuses=list(AgentStatus),
        done=done,
    )


@router.post("/{agent_id}")
async def edit_agent(
    agent_id: Id,
    session: SessionDep,
    admin: ConsoleAdmin,
    reason: Reason,
    level: Field = "",
    commission_bps: Field = "",
    parent_agent_id: Field = "",
    clear_parent: Field = "",
    status: Field = "",
) -> Response:
    """Level, rate, parent or status (``PATCH /api/admin/agents/{id}``), in ``agent_changes``;
    a new rate applies to orders delivered from now on."""
    await agent_service.edit(
        session,
        agent_id,
        actor=actor_of(admin),
        reason=reason,
        level=integer(level, "level", 1, 1000),
        commission_bps=integer(commission_bps, "commission (bps)", 0, 10_000),
        parent_agent_id=uuid_of(parent_agent_id, "parent agent"),
        clear_parent=flag(clear_parent),
        status=choice(AgentStatus, status, "status"),
    )
    return redirect(f"/admin/agents/{agent_id}?done=saved")
