"""Energy pools: the list with their figures, one pool with its chain figures and history, and
the admin's actions through the pool services (edit with a reason, maintenance / disable /
enable, staking). The staking figures and actions need the chain gateway of the running engine;
without it the page says so and the actions answer 503."""

from __future__ import annotations

import uuid
from typing import Annotated, Final, Literal

from fastapi import Form, Path, Query, Request, Response

from tronrent.adapters.tron.port import ChainPort
from tronrent.api.deps import SessionDep, StateDep
from tronrent.auth.dependencies import actor_of
from tronrent.console import session as console_session
from tronrent.console.forms import Reason, checked, optional_int, trx_to_sun
from tronrent.console.session import ConsoleAdmin, ConsoleUser
from tronrent.console.web import nav, page_router, redirect, render
from tronrent.flash.api_deps import CHAIN_COMPONENT, ChainDep
from tronrent.kit.errors import AppError, ValidationFailed
from tronrent.kit.time import utcnow
from tronrent.models.admin_user import AdminRole
from tronrent.pool.endpoints import (
    STATUS_IN,
    EditPoolRequest,
    StakeReasonRequest,
    StakeRequest,
    open_staking,
)
from tronrent.pool.service import pool as pool_service
from tronrent.pool.staking import StakeOp

router = page_router(prefix="/admin/pools", dependencies=[console_session.CSRF])
nav("pools", "Pools", "/admin/pools")

PoolId = Annotated[uuid.UUID, Path()]
#: the staking operations by their path: freeze, unfreeze, withdraw expired, cancel unfreezes
STAKING_OPS: Final = {op.value: op for op in StakeOp}


@router.get("")
async def pools(
    request: Request, session: SessionDep, state: StateDep, _user: ConsoleUser
) -> Response:
    rows = await pool_service.list_pools(session)
    today = utcnow().date()
    total = sum(p.total_energy for p in rows)
    delegated = sum(p.delegated_energy for p in rows)
    return render(
        request,
        "pools.html",
        pools=rows,
        today=today,
        totals={
            "available": sum(p.available_energy for p in rows),
            "reserved": sum(p.reserved_energy for p in rows),
            "delegated": delegated,
            "total": total,
            "utilisation_bp": delegated * 10_000 // total if total else 0,
        },
        engine=state.components.get(CHAIN_COMPONENT) is not None,
    )


@router.get("/{pool_id}")
async def pool_detail(
    request: Request,
    pool_id: PoolId,
    session: SessionDep,
    state: StateDep,
    user: ConsoleUser,
    done: Annotated[str | None, Query(max_length=30)] = None,
) -> Response:
    pool = await pool_service.get(session, pool_id)
    is_admin = user.role is AdminRole.ADMIN
    # the history and the chain's figures are admin reads, as in the API
    changes = await pool_service.changes(session, pool_id) if is_admin else []
    chain: ChainPort | None = state.components.get(CHAIN_COMPONENT)
    figures = in_flight = chain_error = None
    if is_admin and chain is not None:
        try:
            _, figures, rows = await (await open_staking(session, state, chain)).show(str(pool_id))
            in_flight = [r.txid for r in rows]
        except AppError as exc:  # a node that does not answer: the page still renders
            chain_error = f"{exc.code}: {exc.message}"
    return render(
        request,
        "pool.html",
        p=pool,
        used_today=pool.used_today if pool.used_today_date == utcnow().date() else 0,
        changes=changes,
        engine=chain is not None,
        figures=figures,
        in_flight=in_flight,
        chain_error=chain_error,
        done=done,
    )


@router.post("/{pool_id}/edit")
async def edit(
    pool_id: PoolId,
    session: SessionDep,
    admin: ConsoleAdmin,
    reason: Reason,
    name: Annotated[str, Form(max_length=100)],
    priority: Annotated[str, Form(max_length=20)],
    cost_per_energy_sun: Annotated[str, Form(max_length=20)],
    min_delegation_amount: Annotated[str, Form(max_length=20)] = "",
    max_delegation_amount: Annotated[str, Form(max_length=20)] = "",
    daily_limit: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """The settings of ``PATCH /api/energy-pools/{id}``: an empty limit is no limit."""
    values = {
        "reason": reason,
        "name": name.strip(),
        "priority": optional_int(priority),
        "cost_per_energy_sun": optional_int(cost_per_energy_sun),
        "min_delegation_amount": optional_int(min_delegation_amount),
        "max_delegation_amount": optional_int(max_delegation_amount),
        "daily_limit": optional_int(daily_limit),
    }
    body: EditPoolRequest = checked(EditPoolRequest, values)
    required = [k for k in ("name", "priority", "cost_per_energy_sun") if values[k] is None]
    if required:
        raise ValidationFailed(f"{', '.join(required)}: required")
    changes = body.model_dump(exclude={"reason", "status"})
    await pool_service.edit(session, pool_id, changes, actor=actor_of(admin), reason=body.reason)
    return redirect(f"/admin/pools/{pool_id}?done=edit")


@router.post("/{pool_id}/status")
async def set_status(
    pool_id: PoolId,
    session: SessionDep,
    admin: ConsoleAdmin,
    reason: Reason,
    status: Annotated[Literal["active", "maintenance", "disabled"], Form()],
) -> Response:
    """Enable, put in maintenance, or disable (``inactive``): no new delegations unless active;
    running ones are still reclaimed when they end."""
    await pool_service.edit(
        session, pool_id, {"status": STATUS_IN[status]}, actor=actor_of(admin), reason=reason
    )
    return redirect(f"/admin/pools/{pool_id}?done={status}")


@router.post("/{pool_id}/staking/{op}")
async def staking(
    pool_id: PoolId,
    op: Annotated[str, Path(max_length=20)],
    session: SessionDep,
    state: StateDep,
    admin: ConsoleAdmin,
    chain: ChainDep,
    reason: Reason,
    amount_trx: Annotated[str | None, Form(max_length=30)] = None,
) -> Response:
    """Stake (freeze), unstake (unfreeze), withdraw expired unstakes, cancel pending unstakes:
    signed with the pool's owner key, stored before broadcast, recorded with who and why (the
    staking service of ``POST /api/energy-pools/{id}/stake`` and the others)."""
    kind = STAKING_OPS.get(op)
    if kind is None:
        raise ValidationFailed(f"unknown staking operation {op!r}")
    amount: int | None = None
    if kind in (StakeOp.STAKE, StakeOp.UNSTAKE):
        amount = trx_to_sun(amount_trx, "amount")
        checked(StakeRequest, {"amount_sun": amount, "reason": reason})
    else:
        checked(StakeReasonRequest, {"reason": reason})
    runner = await open_staking(session, state, chain)
    result = await runner.run_settled(
        str(pool_id), kind, amount, actor=actor_of(admin), reason=reason
    )
    return redirect(f"/admin/pools/{pool_id}?done=staking-{result.status}")
