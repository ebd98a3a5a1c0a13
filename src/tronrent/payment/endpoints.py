"""Payment monitoring routes (seed 000: internal/admin) and seed 001's payments/monitor.

A watch is a `payment_monitoring_logs` row; the block scanner watches every open watch's
address in the same pass (no per-watch polling), and the payment flow closes it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import Field, model_validator
from sqlalchemy import func, select

from tronrent.api.deps import SessionDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.auth.dependencies import OperatorDep
from tronrent.flash.api_deps import JOB_SCOPE, RuntimeDep
from tronrent.kit.errors import Conflict, NotFound, RateLimited
from tronrent.kit.time import isoformat, utcnow
from tronrent.models.order import OrderStatus
from tronrent.models.payment_monitoring_log import MonitoringStatus, PaymentMonitoringLog
from tronrent.order.schemas import FlashOrderId, TronAddress
from tronrent.order.service import order as order_service
from tronrent.order.service import stop_monitoring

router = APIRouter(
    prefix="/api/payment-monitoring",
    tags=["payment-monitoring"],
    dependencies=[JOB_SCOPE],
    responses=ERROR_RESPONSES,
)
payments_router = APIRouter(prefix="/api/payments", tags=["payments"], responses=ERROR_RESPONSES)

MAX_TIMEOUT_MS = 24 * 3_600_000


class StartMonitoringRequest(ApiModel):
    order_id: FlashOrderId
    payment_address: TronAddress | None = None
    expected_amount: int | None = Field(None, ge=1, le=10**15, description="sun")
    timeout: int | None = Field(None, ge=1_000, le=MAX_TIMEOUT_MS, description="milliseconds")


class StopMonitoringRequest(ApiModel):
    order_id: FlashOrderId


class MonitoringOut(ApiModel):
    id: int
    order_id: str
    payment_address: str
    status: str
    monitoring_started_at: str
    monitoring_stopped_at: str | None
    timeout_at: str | None
    detected_tx_hash: str | None
    detected_amount: int | None
    detected_from_address: str | None
    error_message: str | None


def _out(row: PaymentMonitoringLog) -> MonitoringOut:
    return MonitoringOut(
        id=row.id,
        order_id=row.order_id,
        payment_address=row.payment_address,
        status=row.status.value,
        monitoring_started_at=isoformat(row.monitoring_started_at),
        monitoring_stopped_at=isoformat(row.monitoring_stopped_at)
        if row.monitoring_stopped_at
        else None,
        timeout_at=isoformat(row.timeout_at) if row.timeout_at else None,
        detected_tx_hash=row.detected_tx_hash,
        detected_amount=row.detected_amount_units,
        detected_from_address=row.detected_from_address,
        error_message=row.error_message,
    )


async def start_watch(
    session: SessionDep, rt: RuntimeDep, body: StartMonitoringRequest
) -> PaymentMonitoringLog:
    order = await order_service.get(session, body.order_id)
    if order.status is not OrderStatus.PENDING:
        raise Conflict(f"order {order.id} is {order.status.value}, not waiting for payment")
    open_count = (
        await session.execute(
            select(func.count()).where(PaymentMonitoringLog.status == MonitoringStatus.MONITORING)
        )
    ).scalar_one()
    existing = (
        (
            await session.execute(
                select(PaymentMonitoringLog).where(
                    PaymentMonitoringLog.order_id == order.id,
                    PaymentMonitoringLog.status == MonitoringStatus.MONITORING,
                )
            )
        )
        .scalars()
        .first()
    )
    if existing is not None:
        return existing
    if open_count >= rt.max_concurrent_monitoring:
        raise RateLimited(
            f"{open_count} payments are already monitored (MAX_CONCURRENT_MONITORING)",
            "TOO_MANY_MONITORS",
        )
    now = utcnow()
    timeout_ms = body.timeout or int(rt.payment_timeout_s * 1000)
    row = PaymentMonitoringLog(
        order_id=order.id,
        payment_address=body.payment_address or order.payment_address or rt.payment_address,
        monitoring_started_at=now,
        timeout_at=now + timedelta(milliseconds=timeout_ms),
        expected_amount_units=body.expected_amount or order.expected_amount_units,
    )
    session.add(row)
    await session.flush()
    return row


@router.post("/start")
async def start(
    body: StartMonitoringRequest, session: SessionDep, rt: RuntimeDep, _admin: OperatorDep
) -> Envelope[MonitoringOut]:
    """Watch an order's payment address (idempotent per order)."""
    return ok(_out(await start_watch(session, rt, body)))


@router.post("/stop")
async def stop(
    body: StopMonitoringRequest, session: SessionDep, _admin: OperatorDep
) -> Envelope[dict[str, Any]]:
    """Stop watching an order's payment."""
    await order_service.get(session, body.order_id)
    n = await stop_monitoring(session, body.order_id, MonitoringStatus.COMPLETED, None)
    return ok({"orderId": body.order_id, "stopped": n})


@router.get("/status")
async def status(
    session: SessionDep, rt: RuntimeDep, _admin: OperatorDep
) -> Envelope[dict[str, Any]]:
    """Open watches and counts per status."""
    counts = dict(
        (s.value if hasattr(s, "value") else str(s), int(n))
        for s, n in (
            await session.execute(
                select(PaymentMonitoringLog.status, func.count()).group_by(
                    PaymentMonitoringLog.status
                )
            )
        ).all()
    )
    active = (
        (
            await session.execute(
                select(PaymentMonitoringLog)
                .where(PaymentMonitoringLog.status == MonitoringStatus.MONITORING)
                .order_by(PaymentMonitoringLog.id.desc())
                .limit(200)
            )
        )
        .scalars()
        .all()
    )
    return ok(
        {
            "maxConcurrentMonitoring": rt.max_concurrent_monitoring,
            "counts": counts,
            "active": [_out(r).model_dump(by_alias=True) for r in active],
        }
    )


class PaymentMonitorRequest(StartMonitoringRequest):
    """Seed 001's ``PaymentMonitorRequest``: ``timeoutMinutes`` (or the older ``timeout`` in
    ms, not both); no timeout: the flash payment window."""

    timeout_minutes: int | None = Field(None, ge=1, le=MAX_TIMEOUT_MS // 60_000)

    @model_validator(mode="after")
    def _one_timeout(self) -> PaymentMonitorRequest:
        if self.timeout_minutes is not None:
            if self.timeout is not None:
                raise ValueError("give timeoutMinutes or timeout (ms), not both")
            self.timeout = self.timeout_minutes * 60_000
        return self


class PaymentMonitorOut(MonitoringOut):
    """Seed 001's ``PaymentMonitorResponse`` (camelCase) on top of the watch: ``monitorId``,
    and once the payment is confirmed ``confirmedAmount`` (sun) and ``transactionHash``."""

    monitor_id: str
    confirmed_amount: int | None
    transaction_hash: str | None


def _monitor_out(row: PaymentMonitoringLog) -> PaymentMonitorOut:
    done = row.status is MonitoringStatus.COMPLETED and row.detected_tx_hash is not None
    return PaymentMonitorOut(
        **_out(row).model_dump(),
        monitor_id=str(row.id),
        confirmed_amount=row.detected_amount_units if done else None,
        transaction_hash=row.detected_tx_hash if done else None,
    )


@payments_router.post("/monitor", dependencies=[JOB_SCOPE])
async def monitor(
    body: PaymentMonitorRequest, session: SessionDep, rt: RuntimeDep, _admin: OperatorDep
) -> Envelope[PaymentMonitorOut]:
    """Start payment monitoring (seed 001): the block scanner watches the address in the pass
    it makes anyway. Idempotent per order (the open watch is returned); 409 for an order not
    waiting for payment; `GET /api/payments/monitor/{monitorId}` reports the outcome."""
    return ok(_monitor_out(await start_watch(session, rt, body)))


@payments_router.get("/monitor/{monitor_id}")
async def monitor_status(
    monitor_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep, _op: OperatorDep
) -> Envelope[PaymentMonitorOut]:
    """A watch: `monitoring`, `completed` (with `confirmedAmount` and `transactionHash`),
    `timeout` or `error`."""
    row = await session.get(PaymentMonitoringLog, monitor_id)
    if row is None:
        raise NotFound(f"payment monitor {monitor_id} not found", "MONITOR_NOT_FOUND")
    return ok(_monitor_out(row))
