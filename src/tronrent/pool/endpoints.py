"""Energy pool routes (seed 001; admin/operator only): status, add, edit, remove, changes,
allocation plan."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel

from tronrent.api.deps import SessionDep, StateDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.auth.dependencies import AdminDep, OperatorDep, actor_of
from tronrent.flash.api_deps import CHAIN_COMPONENT, BlockIntervalDep
from tronrent.kit.audit import MAX_REASON
from tronrent.kit.errors import ValidationFailed
from tronrent.kit.time import isoformat, utcnow
from tronrent.models.energy_pool import EnergyPool, PoolStatus
from tronrent.order.schemas import TronAddress
from tronrent.pool.allocation import AllocationPriority, part_cost, plan_allocation, weights_for
from tronrent.pool.service import pool as pool_service

router = APIRouter(prefix="/api/energy-pools", tags=["energy-pools"], responses=ERROR_RESPONSES)

MAX_ENERGY = 10**12


class PoolOut(ApiModel):
    pool_id: str
    name: str
    address: str
    total_energy: int
    available_energy: int
    reserved_energy: int
    delegated_energy: int
    utilization_rate: float
    status: str
    priority: int
    recent_failures: int
    last_synced_at: str | None
    #: set when the system took the pool out of service (status ``maintenance``): why
    flag: str | None = None
    flag_reason: str | None = None
    flagged_at: str | None = None
    last_sync_error: str | None = None
    cost_per_energy_sun: int = 0
    min_delegation_amount: int | None = None
    max_delegation_amount: int | None = None
    daily_limit: int | None = None
    #: energy reserved today (UTC) against ``daily_limit``
    used_today: int = 0


def pool_out(p: EnergyPool) -> PoolOut:
    total = max(p.total_energy, 1)
    used = p.used_today if p.used_today_date == utcnow().date() else 0
    return PoolOut(
        pool_id=str(p.id),
        name=p.name,
        address=p.tron_address,
        total_energy=p.total_energy,
        available_energy=p.available_energy,
        reserved_energy=p.reserved_energy,
        delegated_energy=p.delegated_energy,
        utilization_rate=round(p.delegated_energy / total, 4),
        status=p.status.value,
        priority=p.priority,
        recent_failures=p.recent_failures,
        last_synced_at=p.last_synced_at.isoformat() if p.last_synced_at else None,
        flag=p.flag.value if p.flag else None,
        flag_reason=p.flag_reason,
        flagged_at=p.flagged_at.isoformat() if p.flagged_at else None,
        last_sync_error=p.last_sync_error,
        cost_per_energy_sun=p.cost_per_energy_sun,
        min_delegation_amount=p.min_delegation_amount,
        max_delegation_amount=p.max_delegation_amount,
        daily_limit=p.daily_limit,
        used_today=used,
    )


class AddPoolRequest(ApiModel):
    private_key: str = Field(
        min_length=64,
        max_length=66,
        json_schema_extra={"pattern": r"^(0x)?[0-9a-fA-F]{64}$"},
        description="64 hex characters, from 1 to the secp256k1 curve order - 1",
    )
    name: str | None = Field(None, max_length=100)
    priority: int = Field(1, ge=1, le=1000)
    cost_per_energy_sun: int = Field(0, ge=0, le=10**9)
    daily_limit: int | None = Field(None, ge=1, le=MAX_ENERGY)
    force: bool = Field(
        False,
        description="store an account that is missing, has no energy stake or does not match "
        "the key (or that cannot be checked now) anyway, disabled with the reason",
    )


#: the API's status names; ``disabled`` is stored (and shown) as the seed's ``inactive``
STATUS_IN: dict[str, PoolStatus] = {
    "active": PoolStatus.ACTIVE,
    "maintenance": PoolStatus.MAINTENANCE,
    "disabled": PoolStatus.INACTIVE,
    "inactive": PoolStatus.INACTIVE,
}
Reason = Field(min_length=1, max_length=MAX_REASON, description="why (recorded with who)")


class EditPoolRequest(ApiModel):
    """Only the fields sent change; ``null`` clears a limit. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Reason
    name: str | None = Field(None, min_length=1, max_length=100)
    priority: int | None = Field(None, ge=1, le=1000)
    cost_per_energy_sun: int | None = Field(None, ge=0, le=10**9)
    min_delegation_amount: int | None = Field(None, ge=1, le=MAX_ENERGY)
    max_delegation_amount: int | None = Field(None, ge=1, le=MAX_ENERGY)
    daily_limit: int | None = Field(None, ge=1, le=MAX_ENERGY)
    status: Literal["active", "maintenance", "disabled", "inactive"] | None = None


class PoolChangeOut(ApiModel):
    change_id: str
    action: str
    actor: str
    actor_id: str | None
    before: dict[str, Any]
    after: dict[str, Any]
    reason: str
    at: str


class AllocateRequest(ApiModel):
    required_energy: int = Field(ge=1, le=MAX_ENERGY)
    recipient_address: TronAddress
    priority: AllocationPriority = AllocationPriority.NORMAL


@router.get("")
async def list_pools(session: SessionDep, _op: OperatorDep) -> Envelope[list[PoolOut]]:
    """Pool status (keys are never returned)."""
    return ok([pool_out(p) for p in await pool_service.list_pools(session)])


@router.post("", status_code=201)
async def add_pool(
    body: AddPoolRequest, session: SessionDep, state: StateDep, _admin: AdminDep
) -> Envelope[PoolOut]:
    """Add a pool account from its private key (encrypted at rest, never returned).

    The account is checked on chain first: 422 `POOL_ACCOUNT_MISSING`, `POOL_NO_STAKE` or
    `POOL_KEY_MISMATCH` when it cannot delegate, 503 when no node answers; with `force` it is
    stored anyway, in `maintenance` with `flag` and `flagReason`, until a sync finds it usable.
    """
    pool = await pool_service.add(
        session,
        state.secret_box,
        chain=state.components.get(CHAIN_COMPONENT),
        force=body.force,
        private_key=body.private_key,
        name=body.name,
        priority=body.priority,
        cost_per_energy_sun=body.cost_per_energy_sun,
        daily_limit=body.daily_limit,
    )
    return ok(pool_out(pool))


@router.patch("/{pool_id}")
async def edit_pool(
    pool_id: uuid.UUID, body: EditPoolRequest, session: SessionDep, admin: AdminDep
) -> Envelope[PoolOut]:
    """Edit a pool's settings and/or status (`active`, `maintenance`, `disabled` - shown as
    `inactive`). A `reason` is required; the change is recorded with who made it (see
    `GET /api/energy-pools/{id}/changes`). `null` clears a limit (name, priority, cost and status
    cannot be null). 400 for min above max; 404 unknown pool. Maintenance and disabled pools get
    no new delegations; their delegations are still reclaimed when they end."""
    sent = body.model_fields_set - {"reason"}
    changes: dict[str, object] = {k: getattr(body, k) for k in sent}
    nulls = [k for k in ("name", "priority", "cost_per_energy_sun", "status") if k in sent]
    nulls = [k for k in nulls if changes[k] is None]
    if nulls:
        raise ValidationFailed(f"{', '.join(to_camel(k) for k in nulls)} cannot be null")
    if "status" in changes:
        changes["status"] = STATUS_IN[str(changes["status"])]
    pool = await pool_service.edit(
        session, pool_id, changes, actor=actor_of(admin), reason=body.reason
    )
    return ok(pool_out(pool))


@router.delete("/{pool_id}")
async def remove_pool(
    pool_id: uuid.UUID,
    session: SessionDep,
    admin: AdminDep,
    reason: Annotated[str, Query(min_length=1, max_length=MAX_REASON)],
) -> Envelope[PoolOut]:
    """Remove a pool (`?reason=` required, recorded with who). Only with nothing delegated,
    reserved or in flight: 409 `POOL_IN_USE` otherwise (disable it first, let its delegations
    be reclaimed). The key is erased; the row stays, hidden, for its history; adding the same
    key again brings it back."""
    pool = await pool_service.remove(session, pool_id, actor=actor_of(admin), reason=reason)
    return ok(pool_out(pool))


@router.get("/{pool_id}/changes")
async def pool_changes(
    pool_id: uuid.UUID, session: SessionDep, _admin: AdminDep
) -> Envelope[list[PoolChangeOut]]:
    """Who changed the pool, how and why, newest first (a removed pool's too)."""
    return ok(
        [
            PoolChangeOut(
                change_id=str(c.id),
                action=c.action.value,
                actor=c.actor,
                actor_id=str(c.actor_id) if c.actor_id else None,
                before=c.before,
                after=c.after,
                reason=c.reason,
                at=c.created_at.isoformat(),
            )
            for c in await pool_service.changes(session, pool_id)
        ]
    )


class AllocatedPoolOut(ApiModel):
    pool_id: str
    allocated_energy: int
    #: ``allocated_energy`` x the pool's ``costPerEnergySun``, in sun
    estimated_cost: int


class AllocationOut(ApiModel):
    status: str
    priority: str
    allocated_pools: list[AllocatedPoolOut]
    #: the sum of the parts' ``estimatedCost``, in sun
    total_cost: int
    #: when the delegations would be in a block: one block interval from now (they are signed
    #: and broadcast together and land in the next block); null when the plan is incomplete
    estimated_completion_time: str | None
    shortage_energy: int


@router.post("/allocate")
async def allocate(
    body: AllocateRequest, session: SessionDep, block_ms: BlockIntervalDep, _admin: AdminDep
) -> Envelope[AllocationOut]:
    """The allocation plan for `requiredEnergy` (seed 001 `EnergyAllocationRequest`): which
    pools, how much, at what cost; reserves nothing - delegations reserve atomically when they
    are built. `priority` picks the pools: `low` the cheapest, `high` the operator's highest
    priority (whatever they cost), `normal` the balanced score (docs/pools.md)."""
    candidates = await pool_service.candidates(session)
    plan = plan_allocation(
        body.required_energy, candidates, unit_sun=1, weights=weights_for(body.priority)
    )
    parts = [
        AllocatedPoolOut(
            pool_id=p.pool_id,
            allocated_energy=p.amount_sun,
            estimated_cost=part_cost(p, candidates),
        )
        for p in plan.parts
    ]
    done = utcnow() + timedelta(milliseconds=block_ms)
    return ok(
        AllocationOut(
            status=plan.status.value,
            priority=body.priority.value,
            allocated_pools=parts,
            total_cost=sum(p.estimated_cost for p in parts),
            estimated_completion_time=isoformat(done) if plan.is_complete else None,
            shortage_energy=plan.shortage_sun,
        )
    )
