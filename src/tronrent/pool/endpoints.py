"""Energy pool routes (seed 001; admin/operator only): status, add, allocation plan."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import Field

from tronrent.api.deps import SessionDep, StateDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.auth.dependencies import AdminDep, OperatorDep
from tronrent.flash.api_deps import CHAIN_COMPONENT
from tronrent.models.energy_pool import EnergyPool
from tronrent.order.schemas import TronAddress
from tronrent.pool.allocation import plan_allocation
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


def pool_out(p: EnergyPool) -> PoolOut:
    total = max(p.total_energy, 1)
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


class AllocateRequest(ApiModel):
    required_energy: int = Field(ge=1, le=MAX_ENERGY)
    recipient_address: TronAddress
    priority: Literal["low", "normal", "high"] = "normal"


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


@router.post("/allocate")
async def allocate(
    body: AllocateRequest, session: SessionDep, _admin: AdminDep
) -> Envelope[dict[str, object]]:
    """The allocation plan for `requiredEnergy` (which pools, how much); reserves nothing -
    delegations reserve atomically when they are built."""
    plan = plan_allocation(body.required_energy, await pool_service.candidates(session), unit_sun=1)
    return ok(
        {
            "status": plan.status.value,
            "allocatedPools": [
                {"poolId": p.pool_id, "allocatedEnergy": p.amount_sun} for p in plan.parts
            ],
            "shortageEnergy": plan.shortage_sun,
        }
    )
