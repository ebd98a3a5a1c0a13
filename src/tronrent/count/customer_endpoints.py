"""The customer's own auto top-ups through the merchant API (signed requests, `merchant.deps`):
set one up for an address with a threshold (billed at the operator's configured price per
transfer), list and see them with their uses, pause and resume one, stop one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field

from tronrent.api.deps import SessionDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.count import auto
from tronrent.count import service as count_service
from tronrent.count.auto_endpoints import AutoTopUpOut, AutoTopUpPage, auto_view
from tronrent.count.schemas import use_view
from tronrent.flash.api_deps import JOB_SCOPE, RuntimeDep
from tronrent.kit.audit import MAX_REASON, Actor
from tronrent.merchant.deps import MerchantKeyDep
from tronrent.models.common import Currency
from tronrent.order.notify import notify_orders
from tronrent.order.schemas import OrderId

router = APIRouter(
    prefix="/api/v1/auto-top-ups",
    tags=["merchant"],
    # a stop enqueues the reclaim, a pause / resume its chain work: sent after the commit
    dependencies=[JOB_SCOPE],
    responses=ERROR_RESPONSES,
)


class CustomerAutoTopUp(ApiModel):
    address: str = Field(min_length=1, max_length=64, description="the address to keep topped up")
    #: top up once the address's energy falls below this (default: one transfer's)
    threshold_energy: int = Field(
        65_000, strict=True, ge=auto.MIN_THRESHOLD_ENERGY, le=auto.MAX_THRESHOLD_ENERGY
    )
    #: the balance each top-up is billed to
    currency: Currency = Currency.TRX


class CustomerStop(ApiModel):
    reason: str = Field("stopped by the customer", min_length=1, max_length=MAX_REASON)


def _actor(key_id: str) -> Actor:
    return Actor(f"merchant:{key_id}")


@router.post("", status_code=201)
async def create(
    body: CustomerAutoTopUp, session: SessionDep, rt: RuntimeDep, key: MerchantKeyDep
) -> Envelope[AutoTopUpOut]:
    """Keep energy on an address: the first transfer's worth is paid from the balance now and
    delegated in the next block; each top-up after a transfer is billed to the balance at the
    configured price (``priceUnits``); it stops with a notice when the balance runs out. 409
    INSUFFICIENT_BALANCE (nothing created), ADDRESS_ALREADY_FOLLOWED, AUTO_TOP_UP_NOT_OFFERED
    (no price configured for the currency); 403 USER_BLOCKED; 422 INVALID_ADDRESS."""
    created = await auto.create(
        session,
        rt,
        user_id=key.user_id,
        address=body.address,
        threshold_energy=body.threshold_energy,
        currency=body.currency,
        price_units=None,  # the configured price
        actor=_actor(key.key_id),
    )
    return ok(auto_view(await auto.get(session, created.order_id)))


@router.get("")
async def list_mine(
    session: SessionDep,
    key: MerchantKeyDep,
    active: bool = True,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Envelope[AutoTopUpPage]:
    """This customer's auto top-ups, newest first (``active=false``: stopped and ended too)."""
    rows, total = await auto.listing(
        session, active=active, limit=limit, offset=offset, user_id=key.user_id
    )
    return ok(AutoTopUpPage(items=[auto_view(r) for r in rows], total=total))


@router.get("/{order_id}")
async def get_mine(
    order_id: Annotated[OrderId, Path()], session: SessionDep, key: MerchantKeyDep
) -> Envelope[AutoTopUpOut]:
    """One of this customer's auto top-ups with its uses (the transfers and our top-ups),
    newest first. 404 AUTO_TOP_UP_NOT_FOUND (also another customer's)."""
    state = await auto.get(session, order_id, user_id=key.user_id)
    uses = await count_service.uses_of(session, order_id)
    return ok(auto_view(state, [use_view(u) for u in uses]))


@router.post("/{order_id}/stop")
async def stop_mine(
    order_id: Annotated[OrderId, Path()],
    session: SessionDep,
    key: MerchantKeyDep,
    body: CustomerStop | None = None,
) -> Envelope[AutoTopUpOut]:
    """Stop it: our energy is taken back from the address, nothing more is billed
    (``stoppedReason`` ``customer``). 404 AUTO_TOP_UP_NOT_FOUND; 409 AUTO_TOP_UP_NOT_ACTIVE
    (stopped, ended, not delegated yet, or a top-up on its way: retry in a few seconds)."""
    reason = (body or CustomerStop()).reason
    state = await auto.stop(
        session, order_id, actor=_actor(key.key_id), reason=reason, user_id=key.user_id
    )
    await notify_orders(session, [auto.stopped_event(state)])
    return ok(auto_view(state))


@router.post("/{order_id}/pause")
async def pause_mine(
    order_id: Annotated[OrderId, Path()], session: SessionDep, key: MerchantKeyDep
) -> Envelope[AutoTopUpOut]:
    """Pause it: our energy is taken back in the next block (``pendingAction`` ``pause``
    until sent), the address's transfers are not followed and nothing is billed; the order's
    lifetime still runs. Idempotent. 404 AUTO_TOP_UP_NOT_FOUND; 409 AUTO_TOP_UP_NOT_ACTIVE,
    AUTO_TOP_UP_BUSY (a top-up or a resume on its way: retry in a few seconds)."""
    return await _pause_or_resume(session, key, order_id, pause=True)


@router.post("/{order_id}/resume")
async def resume_mine(
    order_id: Annotated[OrderId, Path()], session: SessionDep, key: MerchantKeyDep
) -> Envelope[AutoTopUpOut]:
    """Resume it: the held energy is delegated again in the next block and the address
    followed again. Idempotent. Errors as for pause."""
    return await _pause_or_resume(session, key, order_id, pause=False)


async def _pause_or_resume(
    session: SessionDep, key: MerchantKeyDep, order_id: str, *, pause: bool
) -> Envelope[AutoTopUpOut]:
    state = await auto.pause_or_resume(
        session, order_id, pause=pause, actor=_actor(key.key_id), user_id=key.user_id
    )
    return ok(auto_view(state))
