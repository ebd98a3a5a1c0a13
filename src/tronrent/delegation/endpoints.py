"""Chain routes (seed 001): manual delegation (admin), address balance; admin dead letters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import Field
from sqlalchemy import select

from tronrent.api.deps import SessionDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.auth.dependencies import AdminDep, OperatorDep
from tronrent.delegation import record
from tronrent.flash.api_deps import JOB_SCOPE, ChainDep, RuntimeDep
from tronrent.kit.money import sun_to_trx
from tronrent.kit.time import isoformat, now_ms
from tronrent.models.energy_transaction import EnergyTransaction, EnergyTransactionStatus
from tronrent.models.job_failure import JobFailure
from tronrent.models.order import Order, OrderStatus, OrderType
from tronrent.order.errors import OrderNotFound
from tronrent.order.ids import new_flash_order_id
from tronrent.order.schemas import TronAddress
from tronrent.pool.energy import EnergyRatio
from tronrent.worker import enqueue_job, retry_dead_letter

router = APIRouter(prefix="/api/tron", tags=["tron"], responses=ERROR_RESPONSES)
admin_router = APIRouter(prefix="/api/admin", tags=["admin"], responses=ERROR_RESPONSES)


class DelegateRequest(ApiModel):
    to_address: TronAddress
    energy_amount: int = Field(ge=1_000, le=10**10)
    duration_hours: int = Field(1, ge=1, le=24 * 30)


class DelegationTxOut(ApiModel):
    transaction_id: str | None
    pool_id: str
    from_address: str
    to_address: str
    energy_amount: int
    status: str
    block_number: int | None
    expires_at: str | None
    error_message: str | None


class DelegateOut(ApiModel):
    """Seed 001's ``DelegateEnergyResponse`` (camelCase), with the order that carries it.

    ``transactionId`` and ``blockNumber``: the (first) delegation transaction and its block,
    null until known (signed; in a block). ``status`` pending until the energy is on chain
    (confirmed) or the order failed (failed). ``transactions``: every delegation transaction
    tried, from ``energy_transactions``."""

    order_id: str
    status: Literal["pending", "confirmed", "failed"]
    transaction_id: str | None
    block_number: int | None
    energy_delegated: int
    order_status: str
    transactions: list[DelegationTxOut]


_DELIVERED = (OrderStatus.ACTIVE, OrderStatus.RECLAIMING, OrderStatus.COMPLETED)
_FAILED = EnergyTransactionStatus.FAILED
#: no delegation will be made (any more)
_ENDED = (
    OrderStatus.FAILED,
    OrderStatus.REFUNDING,
    OrderStatus.REFUNDED,
    OrderStatus.CANCELLED,
    OrderStatus.EXPIRED,
    OrderStatus.UNDERPAID,
)


def _delegate_out(order: Order, rows: Sequence[EnergyTransaction]) -> DelegateOut:
    confirmed = [r for r in rows if r.status is EnergyTransactionStatus.CONFIRMED]
    status: Literal["pending", "confirmed", "failed"] = "pending"
    if order.status in _DELIVERED:
        status = "confirmed"
    elif order.status in _ENDED:
        status = "failed"
    first = next(iter(confirmed or [r for r in rows if r.status is not _FAILED]), None)
    return DelegateOut(
        order_id=order.id,
        status=status,
        transaction_id=first.tx_hash if first else None,
        block_number=first.block_number if first else None,
        energy_delegated=sum(r.energy_amount for r in confirmed)
        if status == "confirmed"
        else order.energy_amount or 0,
        order_status=order.status.value,
        transactions=[
            DelegationTxOut(
                transaction_id=r.tx_hash,
                pool_id=str(r.pool_id),
                from_address=r.from_address,
                to_address=r.to_address,
                energy_amount=r.energy_amount,
                status=r.status.value,
                block_number=r.block_number,
                expires_at=isoformat(r.expires_at) if r.expires_at else None,
                error_message=r.error_message,
            )
            for r in rows
        ],
    )


@router.post("/delegate", dependencies=[JOB_SCOPE], status_code=202)
async def delegate(
    body: DelegateRequest, session: SessionDep, rt: RuntimeDep, _admin: AdminDep
) -> Envelope[DelegateOut]:
    """Delegate energy from the pools (an operator order; same exactly-once flow). Accepted:
    the delegation is built, signed and broadcast by a job, so `transactionId` and `blockNumber`
    are null here - `GET /api/tron/delegate/{orderId}` reports them once known."""
    order_id = new_flash_order_id(now_ms())
    order = Order(
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
    session.add(order)
    await session.flush()
    enqueue_job("delegation.delegate_order", order_id)
    return ok(_delegate_out(order, []))


@router.get("/delegate/{order_id}")
async def delegation_status(
    order_id: Annotated[str, Path(min_length=1, max_length=100)],
    session: SessionDep,
    _admin: AdminDep,
) -> Envelope[DelegateOut]:
    """The status of a delegation (`orderId` of `POST /api/tron/delegate`, or of any order):
    its transaction, block number once in a block, and every delegation transaction tried."""
    order = await session.get(Order, order_id)
    if order is None:
        raise OrderNotFound(f"order {order_id} not found")
    return ok(_delegate_out(order, await record.of_order(session, order_id)))


class BalanceOut(ApiModel):
    """Seed 001's ``BalanceResponse`` (camelCase), with the exact balance in sun."""

    address: str
    exists: bool
    trx_balance: float
    balance_sun: int
    #: energy available now (limit - used)
    energy: int
    energy_limit: int
    #: bandwidth available now (staked + free)
    bandwidth: int
    #: energy this address delegates to others, in ENERGY at the chain's current ratio
    delegated_energy: int
    #: the same, as the stake in sun the chain records
    delegated_energy_sun: int
    #: energy delegated to this address by others, in ENERGY
    acquired_energy: int


@router.get("/balance/{address}")
async def balance(address: Annotated[TronAddress, Path()], chain: ChainDep) -> Envelope[BalanceOut]:
    """TRX balance, energy, bandwidth and delegated energy of an address (public chain data;
    seed 001 `BalanceResponse`). `delegatedEnergy` and `acquiredEnergy` are in energy, converted
    from the stakes in sun with the chain's current TotalEnergyLimit / TotalEnergyWeight (from
    the same getaccountresource answer). An address with no account on chain is
    ``exists: false`` with every figure 0."""
    account = await chain.get_account(address)
    if account is None:
        return ok(
            BalanceOut(
                address=address,
                exists=False,
                trx_balance=0.0,
                balance_sun=0,
                energy=0,
                energy_limit=0,
                bandwidth=0,
                delegated_energy=0,
                delegated_energy_sun=0,
                acquired_energy=0,
            )
        )
    res = await chain.get_account_resource(address)

    def energy(stake_sun: int) -> int:
        # a stake implies positive network totals; no stake is no energy (and no ratio needed)
        if stake_sun <= 0:
            return 0
        return EnergyRatio(res.total_energy_limit, res.total_energy_weight).energy_for_stake_sun(
            stake_sun
        )

    return ok(
        BalanceOut(
            address=address,
            exists=True,
            trx_balance=float(sun_to_trx(account.balance_sun)),
            balance_sun=account.balance_sun,
            energy=res.energy_available,
            energy_limit=res.energy_limit,
            bandwidth=res.bandwidth_available,
            delegated_energy=energy(account.delegated_energy_sun),
            delegated_energy_sun=account.delegated_energy_sun,
            acquired_energy=energy(account.acquired_energy_sun),
        )
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
    failure, enqueued = await retry_dead_letter(session, failure_id, by=admin.id)
    return ok({**_failure_out(failure), "retried": enqueued})
