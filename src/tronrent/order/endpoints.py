"""Flash rental routes (seed 000 section 4) and seed 001's order detail.

Customer routes are addressed by the order id. Anyone with the id sees the public view (status,
amounts, where to pay); cancel and confirm need the order token returned once by create-order
(``X-Order-Token``) or an operator's JWT, which also see the full view (order.auth, order.access,
docs/customer-auth.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from tronrent.api.deps import SessionDep, StateDep
from tronrent.api.envelope import ERROR_RESPONSES, Envelope, ok
from tronrent.count import service as count_service
from tronrent.count.schemas import package_view
from tronrent.flash.api_deps import (
    JOB_SCOPE,
    ChainDep,
    RecipientCheckDep,
    RuntimeDep,
    get_chain,
    get_runtime,
)
from tronrent.kit.money import sun_to_trx
from tronrent.kit.time import isoformat
from tronrent.models.order import Order, OrderType
from tronrent.order.access import Access, hash_order_token, new_order_token
from tronrent.order.auth import (
    CustomerOrderDep,
    OrderCredentialsDep,
    ViewedOrderDep,
    authorize_loaded,
    authorize_order,
)
from tronrent.order.schemas import (
    BalancePaymentRequest,
    ConfirmPaymentRequest,
    ConfirmPaymentResponse,
    CreateOrderRequest,
    CreateOrderResponse,
    OrderId,
    OrderPaymentResponse,
    OrderStatusResponse,
    PaymentRequest,
    PriceConfigOut,
)
from tronrent.order.service import order as order_service
from tronrent.payment.balance_pay import pay_from_balance
from tronrent.payment.confirm import confirm_payment
from tronrent.product.customer import ensure_may_order

router = APIRouter(
    prefix="/api/energy-flash",
    tags=["energy-flash"],
    dependencies=[JOB_SCOPE],
    responses=ERROR_RESPONSES,
)
orders_router = APIRouter(prefix="/api/orders", tags=["orders"], responses=ERROR_RESPONSES)

#: delegation result keys anyone may see (the tx hash leads to the recipient on chain)
PUBLIC_DELEGATION_KEYS = frozenset({"transactionIndex", "poolAccount", "energyAmount", "success"})


def _public_entry(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict):
        return {}
    return {k: v for k, v in entry.items() if k in PUBLIC_DELEGATION_KEYS}


def status_view(o: Order, access: Access = Access.PUBLIC) -> OrderStatusResponse:
    """The order as ``access`` may see it: the public view keeps status, amounts and where to
    pay; recipient, tx hashes, chat and status reason need the token or an operator."""
    full = access is not Access.PUBLIC
    entries = list(o.delegation_result or [])
    return OrderStatusResponse(
        order_id=o.id,
        status=o.status.value,
        paid_amount=None if o.paid_amount_units is None else sun_to_trx(o.paid_amount_units),
        transaction_count=o.transaction_count,
        delegation_result=entries if full else [_public_entry(e) for e in entries],
        recipient_address=o.target_address if full else None,
        energy_amount=o.energy_amount,
        expires_at=isoformat(o.expires_at) if o.expires_at else None,
        status_reason=o.status_reason if full else None,
        access=access.value,
        payment_address=o.payment_address,
        expected_amount=(
            None if o.expected_amount_units is None else sun_to_trx(o.expected_amount_units)
        ),
        chat_id=o.chat_id if full else None,
        payment_tx_hash=o.tron_tx_hash if full else None,
        order_type=o.order_type.value,
        currency=o.currency.value,
        payment_method=o.payment_method,
        **(_package_fields(o) if o.order_type in _PACKAGE_TYPES else {}),
    )


_PACKAGE_TYPES = (OrderType.ENERGY_RENTAL, OrderType.TRANSACTION_PACKAGE)


def _package_fields(o: Order) -> dict[str, Any]:
    """A package order's package, quantity, length and frozen price (amounts in its currency)."""
    return {
        "package_id": str(o.package_id) if o.package_id else None,
        "quantity": o.quantity,
        "duration_hours": o.duration_hours,
        "price": sun_to_trx(o.price_units),
        "original_price": (
            None if o.original_price_units is None else sun_to_trx(o.original_price_units)
        ),
        "discount": sun_to_trx(o.discount_units),
        "final_price": sun_to_trx(o.final_price_units),
        "activation_fee": sun_to_trx(o.activation_fee_sun or 0),
    }


@router.post("/create-order")
async def create_order(
    body: CreateOrderRequest, session: SessionDep, rt: RuntimeDep, recipients: RecipientCheckDep
) -> Envelope[CreateOrderResponse]:
    """Create a flash order: pay `n x single_price + activationFee + paymentTail` TRX to
    `paymentAddress`. `recipientActivated`: whether the recipient has an account on chain
    (null: the node could not tell); without one, `activationFee` is what activating it costs
    (added to the amount when the platform activates recipients, else 0: the order is
    refunded if the address is still not activated when it is paid).

    `chatId` must be a chat that started the bot (422 CHAT_NOT_STARTED otherwise; 0: no
    Telegram messages) and whose user is not blocked (403 USER_BLOCKED). `orderToken` is
    returned once: send it as `X-Order-Token` to cancel or confirm the order
    (docs/customer-auth.md)."""
    chat = await order_service.started_chat(session, body.chat_id)
    if chat is not None:  # an operator blocked the chat's user: no order told to that chat
        await ensure_may_order(session, chat.user_id)
    state = None
    if recipients is not None and rt.enabled:
        state = await recipients.check(body.recipient_address, activates=rt.activates_recipients)
    token = new_order_token()
    order, cfg = await order_service.create_order(
        session,
        rt,
        recipient_address=body.recipient_address,
        chat_id=chat.telegram_chat_id if chat is not None else None,
        bot_id=chat.bot_id if chat is not None else None,
        recipient_state=state,
        access_token_hash=hash_order_token(token),
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
            order_token=token,
        )
    )


@router.post("/confirm-payment")
async def confirm(
    body: ConfirmPaymentRequest,
    session: SessionDep,
    rt: RuntimeDep,
    chain: ChainDep,
    creds: OrderCredentialsDep,
) -> ConfirmPaymentResponse:
    """Confirm a payment by its tx hash (verified on chain; idempotent). Needs the order's
    `X-Order-Token` (or an operator's bearer JWT): 401 ORDER_TOKEN_REQUIRED without it, 403
    ORDER_TOKEN_INVALID with a wrong one."""
    await authorize_order(session, body.order_id, creds)
    result = await confirm_payment(session, rt, chain, order_id=body.order_id, tx_hash=body.tx_hash)
    return ConfirmPaymentResponse(
        message="支付已确认" if result.already else "支付确认处理中",
        data={"orderId": result.order_id, "txHash": result.tx_hash, "status": result.status},
    )


@router.get("/order-status/{order_id}")
async def order_status(viewed: ViewedOrderDep) -> Envelope[OrderStatusResponse]:
    """Order status with the delegation results. Without the order's `X-Order-Token` (or an
    operator's JWT) the public view: no recipient, tx hashes, chat or status reason."""
    return ok(status_view(viewed.order, viewed.access))


@router.post("/cancel-order/{order_id}")
async def cancel_order(
    order: CustomerOrderDep, session: SessionDep, creds: OrderCredentialsDep
) -> Envelope[OrderStatusResponse]:
    """Cancel an order that was not paid yet (409 otherwise). Needs the order's
    `X-Order-Token` (or an operator's bearer JWT): 401 ORDER_TOKEN_REQUIRED without it, 403
    ORDER_TOKEN_INVALID with a wrong one."""
    access = Access.OPERATOR if creds.operator is not None else Access.OWNER
    return ok(status_view(await order_service.cancel(session, order.id), access))


@orders_router.get("/{order_id}")
async def get_order(viewed: ViewedOrderDep, session: SessionDep) -> Envelope[OrderStatusResponse]:
    """Order details (seed 001); the public view without the order token (see order-status).
    A count-package order carries `countPackage` (total, used, remaining; with the token or
    an operator's JWT also `uses`: each transfer's tx and our top-up's)."""
    view = status_view(viewed.order, viewed.access)
    if viewed.order.order_type is OrderType.TRANSACTION_PACKAGE:
        full = viewed.access is not Access.PUBLIC
        state = await count_service.state_of(session, viewed.order.id, uses=full)
        out = package_view(state.package, list(state.uses) if full else None)
        view.count_package = out.model_dump(by_alias=True, exclude_none=not full)
        if not full:
            view.count_package.pop("address", None)
    return ok(view)


@orders_router.post("/{order_id}/payment", dependencies=[JOB_SCOPE])
async def pay_order(
    order_id: Annotated[OrderId, Path(description="the order id")],
    body: PaymentRequest,
    session: SessionDep,
    state: StateDep,
    creds: OrderCredentialsDep,
) -> Envelope[OrderPaymentResponse]:
    """Pay an order (seed 001). Needs the order's `X-Order-Token` or an operator's bearer JWT
    (401 ORDER_TOKEN_REQUIRED / 403 ORDER_TOKEN_INVALID).

    `{"method": "balance"}`: from the user's balance, in the order's currency; the energy is
    delegated in the next block. 409 INSUFFICIENT_BALANCE (nothing changes), 409
    ORDER_NOT_PAYABLE (not pending, no user, or no price yet: a flash order is paid by
    transfer). Idempotent: an order already paid from the balance is answered as it is.

    `{"method": "transfer", "txHash": ...}`: the transfer that paid it, verified on chain (as
    `POST /api/energy-flash/confirm-payment`; idempotent)."""
    tx_hash = None
    if isinstance(body, BalancePaymentRequest):
        actor = f"admin:{creds.operator.username}" if creds.operator is not None else "customer"
        # authorized on the row the payment locks: the order is read once
        order = await pay_from_balance(
            session, order_id, actor=actor, authorize=lambda o: authorize_loaded(o, creds)
        )
    else:
        await authorize_order(session, order_id, creds)
        result = await confirm_payment(
            session, get_runtime(state), get_chain(state), order_id=order_id, tx_hash=body.tx_hash
        )
        tx_hash = result.tx_hash
        order = await order_service.get(session, order_id)
    return ok(
        OrderPaymentResponse(
            order_id=order.id,
            method=body.method,
            status=order.status.value,
            payment_status=order.payment_status.value,
            currency=order.currency.value,
            paid_amount_units=order.paid_amount_units,
            tx_hash=tx_hash,
        )
    )
