"""Flash rental routes (seed 000 section 4) and seed 001's order detail.

Customer routes are addressed by the unguessable order id and show that order only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from tronrent.api.deps import SessionDep
from tronrent.api.envelope import ERROR_RESPONSES, Envelope, ok
from tronrent.flash.api_deps import JOB_SCOPE, ChainDep, RecipientCheckDep, RuntimeDep
from tronrent.kit.money import sun_to_trx
from tronrent.kit.time import isoformat
from tronrent.models.order import Order
from tronrent.order.schemas import (
    ConfirmPaymentRequest,
    ConfirmPaymentResponse,
    CreateOrderRequest,
    CreateOrderResponse,
    FlashOrderId,
    OrderStatusResponse,
    PriceConfigOut,
)
from tronrent.order.service import order as order_service
from tronrent.payment.confirm import confirm_payment

router = APIRouter(
    prefix="/api/energy-flash",
    tags=["energy-flash"],
    dependencies=[JOB_SCOPE],
    responses=ERROR_RESPONSES,
)
orders_router = APIRouter(prefix="/api/orders", tags=["orders"], responses=ERROR_RESPONSES)

OrderIdPath = Annotated[FlashOrderId, Path(description="FLASH_<ms>_<id>")]


def status_view(o: Order) -> OrderStatusResponse:
    return OrderStatusResponse(
        order_id=o.id,
        status=o.status.value,
        paid_amount=None if o.paid_amount_units is None else sun_to_trx(o.paid_amount_units),
        transaction_count=o.transaction_count,
        delegation_result=list(o.delegation_result or []),
        recipient_address=o.target_address,
        energy_amount=o.energy_amount,
        expires_at=isoformat(o.expires_at) if o.expires_at else None,
        status_reason=o.status_reason,
    )


@router.post("/create-order")
async def create_order(
    body: CreateOrderRequest, session: SessionDep, rt: RuntimeDep, recipients: RecipientCheckDep
) -> Envelope[CreateOrderResponse]:
    """Create a flash order: pay `n x single_price + activationFee + paymentTail` TRX to
    `paymentAddress`. `recipientActivated`: whether the recipient has an account on chain
    (null: the node could not tell); without one, `activationFee` is what activating it costs
    (added to the amount when the platform activates recipients, else 0: the order is
    refunded if the address is still not activated when it is paid)."""
    state = None
    if recipients is not None and rt.enabled:
        state = await recipients.check(body.recipient_address, activates=rt.activates_recipients)
    order, cfg = await order_service.create_order(
        session,
        rt,
        recipient_address=body.recipient_address,
        chat_id=body.chat_id,
        recipient_state=state,
    )
    fee = order.activation_fee_sun or 0
    tail = order.amount_tail_units or 0
    assert order.expires_at is not None
    return ok(
        CreateOrderResponse(
            order_id=order.id,
            payment_address=rt.payment_address,
            price_config=PriceConfigOut(
                single_price=sun_to_trx(cfg.price.single_price_sun),
                max_transactions=cfg.price.max_transactions,
                expiry_hours=cfg.price.expiry_hours,
                min_amount=sun_to_trx(cfg.price.min_amount_sun),
            ),
            expires_at=isoformat(order.expires_at),
            payment_tail=sun_to_trx(tail),
            example_amount=sun_to_trx(cfg.price.single_price_sun + fee + tail),
            recipient_activated=None if state is None else state.activated,
            activation_fee=sun_to_trx(fee),
        )
    )


@router.post("/confirm-payment")
async def confirm(
    body: ConfirmPaymentRequest, session: SessionDep, rt: RuntimeDep, chain: ChainDep
) -> ConfirmPaymentResponse:
    """Confirm a payment by its tx hash (verified on chain; idempotent)."""
    result = await confirm_payment(session, rt, chain, order_id=body.order_id, tx_hash=body.tx_hash)
    return ConfirmPaymentResponse(
        message="支付已确认" if result.already else "支付确认处理中",
        data={"orderId": result.order_id, "txHash": result.tx_hash, "status": result.status},
    )


@router.get("/order-status/{order_id}")
async def order_status(order_id: OrderIdPath, session: SessionDep) -> Envelope[OrderStatusResponse]:
    """Order status with the delegation results."""
    return ok(status_view(await order_service.get(session, order_id)))


@router.post("/cancel-order/{order_id}")
async def cancel_order(order_id: OrderIdPath, session: SessionDep) -> Envelope[OrderStatusResponse]:
    """Cancel an order that was not paid yet (409 otherwise)."""
    return ok(status_view(await order_service.cancel(session, order_id)))


@orders_router.get("/{order_id}")
async def get_order(order_id: OrderIdPath, session: SessionDep) -> Envelope[OrderStatusResponse]:
    """Order details (seed 001)."""
    return ok(status_view(await order_service.get(session, order_id)))
