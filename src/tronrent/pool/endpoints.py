"""Energy pool routes (seed 001; admin/operator only): status, add (also delegate-only), edit,
remove, changes, allocation plan, staking."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.adapters.tron.port import ChainPort
from tronrent.api.deps import SessionDep, StateDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.api.state import AppState
from tronrent.auth.dependencies import AdminDep, OperatorDep, actor_of
from tronrent.flash.api_deps import CHAIN_COMPONENT, BlockIntervalDep, ChainDep
from tronrent.kit.audit import MAX_REASON
from tronrent.kit.errors import ValidationFailed
from tronrent.kit.time import isoformat, utcnow
from tronrent.models.energy_pool import EnergyPool, PoolStatus
from tronrent.order.schemas import TronAddress
from tronrent.pool.allocation import AllocationPriority, part_cost, plan_allocation, weights_for
from tronrent.pool.service import pool as pool_service
from tronrent.pool.staking import StakeFigures, StakeOp, Staking

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
    #: a delegate-only pool signs with the hot key of ``signer_address`` through the account's
    #: active permission ``permission_id`` (its owner key is offline)
    delegate_only: bool = False
    signer_address: str | None = None
    permission_id: int | None = None


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
        delegate_only=p.delegate_only,
        signer_address=p.signer_address,
        permission_id=p.permission_id,
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
    owner_address: TronAddress | None = Field(
        None,
        description="delegate-only pool: the account; privateKey is then the hot key of its "
        "active permission permissionId (DelegateResource and UnDelegateResource only)",
    )
    permission_id: int | None = Field(None, ge=2, le=9)


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

    Delegate-only pool: `ownerAddress` and `permissionId` with the hot key as `privateKey`; 422
    `POOL_PERMISSION_TOO_WIDE` (even with `force`) when that permission allows more than
    DelegateResource and UnDelegateResource.
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
        owner_address=body.owner_address,
        permission_id=body.permission_id,
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


class StakeRequest(ApiModel):
    model_config = ConfigDict(extra="forbid")

    amount_sun: int = Field(ge=1, le=10**17, description="TRX in sun (1 TRX = 1000000)")
    reason: str = Reason


class StakeReasonRequest(ApiModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Reason


class UnstakeOut(ApiModel):
    amount_sun: int
    #: chain time (ms) from which it can be withdrawn
    expire_time: int
    withdrawable: bool


class StakingOut(ApiModel):
    """The chain's figures of the pool account (sun; energy units)."""

    pool_id: str
    address: str
    balance_sun: int
    #: staked for energy and not delegated: what can be unstaked
    staked_energy_sun: int
    delegated_energy_sun: int
    unstaking: list[UnstakeOut]
    withdrawable_sun: int
    #: more unstakes the chain accepts now (at most 32 pending)
    unstakes_left: int
    energy_limit: int
    energy_used: int
    can_delegate_sun: int
    #: staking transactions signed or broadcast, not yet settled (txids)
    in_flight: list[str] = Field(default_factory=list)


class StakeResultOut(ApiModel):
    operation: str
    txid: str | None
    #: ``confirmed``, or ``pending`` when not yet in a block (the next staking call delivers it)
    status: str
    amount_sun: int | None
    staking: StakingOut | None


def staking_out(pool_id: uuid.UUID, f: StakeFigures, in_flight: list[str]) -> StakingOut:
    return StakingOut(
        pool_id=str(pool_id),
        address=f.address,
        balance_sun=f.balance_sun,
        staked_energy_sun=f.staked_energy_sun,
        delegated_energy_sun=f.delegated_energy_sun,
        unstaking=[
            UnstakeOut(
                amount_sun=u.amount_sun, expire_time=u.expire_time_ms, withdrawable=u.withdrawable
            )
            for u in f.unstaking
        ],
        withdrawable_sun=f.withdrawable_sun,
        unstakes_left=f.unstakes_left,
        energy_limit=f.energy_limit,
        energy_used=f.energy_used,
        can_delegate_sun=f.can_delegate_sun,
        in_flight=in_flight,
    )


async def open_staking(session: AsyncSession, state: AppState, chain: ChainPort) -> Staking:
    """A ``Staking`` (it commits between its steps in sessions of its own): the request's
    session, which only authenticated the admin, ends its transaction first (SQLite has one
    writer: a second session would wait for it)."""
    await session.commit()
    return Staking(state.session_maker, chain, state.secret_box)


@router.get("/{pool_id}/staking")
async def pool_staking(
    pool_id: uuid.UUID, session: SessionDep, state: StateDep, chain: ChainDep, _admin: AdminDep
) -> Envelope[StakingOut]:
    """The pool account's staking figures as the chain reports them now: staked for energy,
    delegated, pending unstakes with when each can be withdrawn, withdrawable, energy."""
    pool, figs, rows = await (await open_staking(session, state, chain)).show(str(pool_id))
    return ok(staking_out(pool.id, figs, [r.txid for r in rows]))


async def _run(
    session: AsyncSession,
    state: StateDep,
    chain: ChainPort,
    admin: Any,
    pool_id: uuid.UUID,
    op: StakeOp,
    amount: int | None,
    reason: str,
) -> Envelope[StakeResultOut]:
    staking = await open_staking(session, state, chain)
    result = await staking.run_settled(
        str(pool_id), op, amount, actor=actor_of(admin), reason=reason
    )
    return ok(
        StakeResultOut(
            operation=op.value,
            txid=result.txid,
            status=result.status,
            amount_sun=result.amount_sun,
            staking=staking_out(result.pool_id, result.after, []) if result.after else None,
        )
    )


@router.post("/{pool_id}/stake")
async def stake(
    pool_id: uuid.UUID,
    body: StakeRequest,
    session: SessionDep,
    state: StateDep,
    chain: ChainDep,
    admin: AdminDep,
) -> Envelope[StakeResultOut]:
    """Stake `amountSun` of the pool's TRX for energy (FreezeBalanceV2). Signed with the pool's
    owner key and stored before broadcast; recorded with who and `reason`. 422
    `STAKING_REFUSED` when the chain's figures do not allow it, `STAKING_FAILED` when the chain
    refused it; 409 `STAKING_IN_FLIGHT` while another staking transaction of the pool is
    unsettled, `POOL_OWNER_KEY_OFFLINE` for a delegate-only pool."""
    return await _run(
        session, state, chain, admin, pool_id, StakeOp.STAKE, body.amount_sun, body.reason
    )


@router.post("/{pool_id}/unstake")
async def unstake(
    pool_id: uuid.UUID,
    body: StakeRequest,
    session: SessionDep,
    state: StateDep,
    chain: ChainDep,
    admin: AdminDep,
) -> Envelope[StakeResultOut]:
    """Start unstaking `amountSun` of energy stake (UnfreezeBalanceV2): withdrawable after the
    chain's wait (14 days on mainnet); at most 32 pending; delegated TRX cannot be unstaked.
    Errors as for stake."""
    return await _run(
        session, state, chain, admin, pool_id, StakeOp.UNSTAKE, body.amount_sun, body.reason
    )


@router.post("/{pool_id}/withdraw")
async def withdraw(
    pool_id: uuid.UUID,
    body: StakeReasonRequest,
    session: SessionDep,
    state: StateDep,
    chain: ChainDep,
    admin: AdminDep,
) -> Envelope[StakeResultOut]:
    """Withdraw every unstake whose wait has passed (WithdrawExpireUnfreeze) to the balance."""
    return await _run(session, state, chain, admin, pool_id, StakeOp.WITHDRAW, None, body.reason)


@router.post("/{pool_id}/cancel-unstake")
async def cancel_unstake(
    pool_id: uuid.UUID,
    body: StakeReasonRequest,
    session: SessionDep,
    state: StateDep,
    chain: ChainDep,
    admin: AdminDep,
) -> Envelope[StakeResultOut]:
    """Cancel every pending unstake (CancelAllUnfreezeV2): the amounts are staked again; those
    whose wait has passed are withdrawn to the balance instead."""
    return await _run(
        session, state, chain, admin, pool_id, StakeOp.CANCEL_UNSTAKE, None, body.reason
    )
