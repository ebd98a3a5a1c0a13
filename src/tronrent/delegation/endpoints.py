"""Chain routes (seed 001): manual delegation (admin), address balance; admin dead letters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import Field
from sqlalchemy import select

from tronrent.api.deps import SessionDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.auth.dependencies import AdminDep, OperatorDep
from tronrent.flash.api_deps import JOB_SCOPE, ChainDep, RuntimeDep
from tronrent.kit.errors import Conflict, NotFound
from tronrent.kit.money import sun_to_trx
from tronrent.kit.time import now_ms
from tronrent.models.job_failure import JobFailure
from tronrent.models.order import Order, OrderStatus, OrderType
from tronrent.order.ids import new_flash_order_id
from tronrent.order.schemas import TronAddress
from tronrent.worker import enqueue_job, retry_failure

router = APIRouter(prefix="/api/tron", tags=["tron"], responses=ERROR_RESPONSES)
admin_router = APIRouter(prefix="/api/admin", tags=["admin"], responses=ERROR_RESPONSES)


class DelegateRequest(ApiModel):
    to_address: TronAddress
    energy_amount: int = Field(ge=1_000, le=10**10)
    duration_hours: int = Field(1, ge=1, le=24 * 30)


@router.post("/delegate", dependencies=[JOB_SCOPE], status_code=202)
async def delegate(
    body: DelegateRequest, session: SessionDep, rt: RuntimeDep, _admin: AdminDep
) -> Envelope[dict[str, Any]]:
    """Delegate energy from the pools (an operator order; same exactly-once flow)."""
    order_id = new_flash_order_id(now_ms())
    session.add(
        Order(
            id=order_id,
            order_number=order_id,
            order_type=OrderType.ENERGY_RENTAL,
            status=OrderStatus.PAID,
            target_address=body.to_address,
            energy_amount=body.energy_amount,
            duration_hours=body.duration_hours,
            payment_address=rt.payment_address,
            status_reason="manual delegation by an operator",
        )
    )
    await session.flush()
    enqueue_job("delegation.delegate_order", order_id)
    return ok({"orderId": order_id, "status": "pending", "energyDelegated": body.energy_amount})


@router.get("/balance/{address}")
async def balance(
    address: Annotated[TronAddress, Path()], chain: ChainDep
) -> Envelope[dict[str, Any]]:
    """TRX balance, energy and bandwidth of an address (public chain data); an address with no
    account on chain is ``exists: false`` with every figure 0."""
    account = await chain.get_account(address)
    if account is None:
        return ok(
            {
                "address": address,
                "exists": False,
                "trxBalance": 0.0,
                "balanceSun": 0,
                "energy": 0,
                "energyLimit": 0,
                "bandwidth": 0,
                "delegatedEnergySun": 0,
            }
        )
    res = await chain.get_account_resource(address)
    return ok(
        {
            "address": address,
            "exists": True,
            "trxBalance": float(sun_to_trx(account.balance_sun)),
            "balanceSun": account.balance_sun,
            "energy": res.energy_available,
            "energyLimit": res.energy_limit,
            "bandwidth": res.bandwidth_available,
            "delegatedEnergySun": account.delegated_energy_sun,
        }
    )


@admin_router.get("/job-failures")
async def job_failures(session: SessionDep, _op: OperatorDep) -> Envelope[list[dict[str, Any]]]:
    """Jobs that exhausted their retries (the dead letter), newest first."""
    rows = (
        (await session.execute(select(JobFailure).order_by(JobFailure.id.desc()).limit(200)))
        .scalars()
        .all()
    )
    return ok([_failure_out(r) for r in rows])


def _failure_out(r: JobFailure) -> dict[str, Any]:
    return {
        "id": r.id,
        "job": r.job_name,
        "args": r.args,
        "error": r.error,
        "attempts": r.attempts,
        "failedAt": r.failed_at.isoformat(),
        "resolvedAt": r.resolved_at.isoformat() if r.resolved_at else None,
        "resolution": r.resolution,
    }


@admin_router.post("/job-failures/{failure_id}/retry", dependencies=[JOB_SCOPE])
async def retry_job_failure(
    failure_id: Annotated[int, Path(ge=1, le=2**63 - 1)], session: SessionDep, admin: AdminDep
) -> Envelope[dict[str, Any]]:
    """Re-enqueue a dead-lettered job (once; a repeated call changes nothing) and mark the
    failure resolved."""
    outcome = await retry_failure(session, failure_id, by=admin.id)
    if outcome.failure is None:
        raise NotFound(f"job failure {failure_id} not found", "JOB_FAILURE_NOT_FOUND")
    if not outcome.known_job:
        raise Conflict(
            f"job {outcome.failure.job_name!r} no longer exists; it cannot be retried",
            "UNKNOWN_JOB",
        )
    return ok({**_failure_out(outcome.failure), "retried": outcome.enqueued})
