"""Auto top-up routes (operator JWT): set one up for a customer's address, list them, see one
with its uses, stop one with a reason."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field

from tronrent.api.deps import SessionDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.auth.dependencies import OperatorDep, actor_of
from tronrent.count import auto
from tronrent.count import service as count_service
from tronrent.count.schemas import CountUseOut, use_view
from tronrent.flash.api_deps import JOB_SCOPE, RuntimeDep
from tronrent.kit.audit import MAX_REASON
from tronrent.kit.time import isoformat
from tronrent.models.common import Currency
from tronrent.order.notify import notify_orders
from tronrent.order.schemas import OrderId

router = APIRouter(
    prefix="/api/admin/auto-top-ups",
    tags=["count-packages"],
    dependencies=[JOB_SCOPE],  # a stop enqueues the reclaim, sent after the commit
    responses=ERROR_RESPONSES,
)


class CreateAutoTopUp(ApiModel):
    user_id: uuid.UUID
    address: str = Field(min_length=1, max_length=64, description="the customer's address")
    #: top up once the address's energy falls below this (default: one transfer's)
    threshold_energy: int = Field(
        65_000, strict=True, ge=auto.MIN_THRESHOLD_ENERGY, le=auto.MAX_THRESHOLD_ENERGY
    )
    currency: Currency = Currency.TRX
    #: price of one transfer's worth, in sun / USDT units, billed to the balance per top-up
    price_units: int = Field(strict=True, gt=0, le=10**15)


class StopAutoTopUp(ApiModel):
    reason: str = Field(min_length=1, max_length=MAX_REASON, description="why (recorded)")


class AutoTopUpOut(ApiModel):
    order_id: str
    user_id: str
    address: str
    status: str
    threshold_energy: int
    held_energy: int
    energy_per_transfer: int
    price_units: int
    currency: str
    drawn_energy: int
    top_ups: int
    billed_units: int
    stopped_reason: str | None
    stop_note: str | None
    #: paused by the customer (our energy taken back, nothing followed or billed)
    paused: bool
    #: ``pause`` / ``resume`` on its way to the chain
    pending_action: str | None
    created_at: str
    uses: list[CountUseOut] | None = None


class AutoTopUpPage(ApiModel):
    items: list[AutoTopUpOut]
    total: int


def auto_view(state: auto.AutoState, uses: list[CountUseOut] | None = None) -> AutoTopUpOut:
    a = state.auto
    return AutoTopUpOut(
        order_id=a.order_id,
        user_id=str(a.user_id),
        address=a.address,
        status=state.order.status.value,
        threshold_energy=a.threshold_energy,
        held_energy=a.held_energy,
        energy_per_transfer=a.energy_per_transfer,
        price_units=a.price_units,
        currency=a.currency.value,
        drawn_energy=a.drawn_energy,
        top_ups=a.top_ups,
        billed_units=a.billed_units,
        stopped_reason=a.stopped_reason.value if a.stopped_reason else None,
        stop_note=a.stop_note,
        paused=a.paused,
        pending_action=a.pending_action,
        created_at=isoformat(a.created_at),
        uses=uses,
    )


@router.post("", status_code=201)
async def create(
    body: CreateAutoTopUp, session: SessionDep, rt: RuntimeDep, op: OperatorDep
) -> Envelope[AutoTopUpOut]:
    """Keep energy on a customer's address, each top-up billed to their balance; the first
    transfer's worth is paid now and delegated by the engine. 404 USER_NOT_FOUND; 403
    USER_BLOCKED; 409 INSUFFICIENT_BALANCE, ADDRESS_ALREADY_FOLLOWED; 422 INVALID_AUTO_TOP_UP,
    INVALID_RECIPIENT."""
    created = await auto.create(
        session,
        rt,
        user_id=body.user_id,
        address=body.address,
        threshold_energy=body.threshold_energy,
        currency=body.currency,
        price_units=body.price_units,
        actor=actor_of(op),
    )
    return ok(auto_view(await auto.get(session, created.order_id)))


@router.get("")
async def list_auto(
    session: SessionDep,
    _op: OperatorDep,
    active: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Envelope[AutoTopUpPage]:
    """Auto top-ups, newest first (``active=false``: stopped and ended ones too)."""
    rows, total = await auto.listing(session, active=active, limit=limit, offset=offset)
    return ok(AutoTopUpPage(items=[auto_view(r) for r in rows], total=total))


@router.get("/{order_id}")
async def get_auto(
    order_id: Annotated[OrderId, Path()], session: SessionDep, _op: OperatorDep
) -> Envelope[AutoTopUpOut]:
    """An auto top-up with its uses (the customer's transfers and our top-ups), newest first.
    404 AUTO_TOP_UP_NOT_FOUND."""
    state = await auto.get(session, order_id)
    uses = await count_service.uses_of(session, order_id)
    return ok(auto_view(state, [use_view(u) for u in uses]))


@router.post("/{order_id}/stop")
async def stop(
    order_id: Annotated[OrderId, Path()], body: StopAutoTopUp, session: SessionDep, op: OperatorDep
) -> Envelope[AutoTopUpOut]:
    """Stop an auto top-up: its energy is reclaimed and the customer told; who and why are
    recorded (``stopNote``). 404 AUTO_TOP_UP_NOT_FOUND; 409 AUTO_TOP_UP_NOT_ACTIVE (stopped,
    ended, not delegated yet, or a top-up on its way); 422 REASON_REQUIRED."""
    state = await auto.stop(session, order_id, actor=actor_of(op), reason=body.reason)
    await notify_orders(session, [auto.stopped_event(state)])
    return ok(auto_view(state))
