"""Package orders and balance top-ups over HTTP (seed 001 section 3.2), operator-authenticated.

Operators act for a customer here (customers use the bot; the merchant API brings customers'
own keys): ``POST /api/orders`` creates a package order paid by transfer (TRX or USDT, unique
amount tail) or from the balance; ``POST /api/users/{id}/top-ups`` opens a top-up by transfer.
``GET /api/orders/{id}`` (order.endpoints) shows every order type.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import Field

from tronrent.api.deps import SessionDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.auth.dependencies import OperatorDep
from tronrent.flash.api_deps import JOB_SCOPE, RecipientCheckDep, RuntimeDep
from tronrent.kit.errors import ValidationFailed
from tronrent.kit.money import sun_to_trx
from tronrent.kit.time import isoformat
from tronrent.models import User
from tronrent.models.common import Currency
from tronrent.models.order import Order, OrderType
from tronrent.order.schemas import TronAddress, TrxAmount
from tronrent.payment.balance_pay import pay_new_order
from tronrent.product.count import create_count_order
from tronrent.product.customer import customer_chat
from tronrent.product.package import create_package_order
from tronrent.product.topup import create_top_up
from tronrent.user.errors import UserNotFound

router = APIRouter(
    prefix="/api/orders", tags=["orders"], dependencies=[JOB_SCOPE], responses=ERROR_RESPONSES
)
top_ups_router = APIRouter(
    prefix="/api/users", tags=["top-ups"], dependencies=[JOB_SCOPE], responses=ERROR_RESPONSES
)

#: amounts on the wire: decimals of the currency (both TRX and USDT have 6)
Amount = Annotated[Decimal, Field(gt=0, max_digits=16, decimal_places=6)]


class PackageOrderRequest(ApiModel):
    user_id: uuid.UUID | None = None
    package_id: uuid.UUID
    quantity: int = Field(strict=True, ge=1, le=1_000_000)
    recipient_address: TronAddress
    currency: Currency = Currency.TRX
    payment_method: Literal["transfer", "balance"] = "transfer"
    #: ``energy`` (an energy package, the default) or ``count`` (a transaction-count package
    #: from the catalogue's ``transaction_count`` packages)
    package_type: Literal["energy", "count"] = "energy"


class PackageOrderResponse(ApiModel):
    """Seed 001 4.1's OrderResponse (``total_amount``, ``payment_address``, ``expires_at``) and
    what the caller needs to show: the frozen price, energy and rental length."""

    order_id: str
    status: str
    currency: str
    payment_method: str
    #: what to pay: the price with its unique tail (transfer), or the price (balance)
    total_amount: TrxAmount
    payment_address: str | None
    expires_at: str | None
    package_id: str
    quantity: int
    energy_amount: int
    duration_hours: int
    recipient_address: str
    price: TrxAmount
    original_price: TrxAmount | None
    discount: TrxAmount
    final_price: TrxAmount
    activation_fee: TrxAmount
    payment_tail: TrxAmount | None
    #: ``energy`` or ``count``; count packages: the transfers bought
    package_type: str = "energy"
    counts: int | None = None


class TopUpRequest(ApiModel):
    currency: Currency
    #: in TRX or USDT (up to 6 decimals), at least 1
    amount: Amount


class TopUpResponse(ApiModel):
    order_id: str
    user_id: str
    currency: str
    payment_address: str
    #: send exactly this (the requested amount lifted to a unique tail); all of it is credited
    amount: TrxAmount
    expires_at: str | None


def _units(amount: Decimal) -> int:
    units = amount * 1_000_000
    if units != units.to_integral_value():
        raise ValidationFailed("amount has more than 6 decimals")
    return int(units)


def _package_view(o: Order) -> PackageOrderResponse:
    assert o.package_id is not None and o.energy_amount is not None
    assert o.quantity is not None and o.target_address is not None
    total = o.expected_amount_units or (o.final_price_units + (o.activation_fee_sun or 0))
    return PackageOrderResponse(
        order_id=o.id,
        status=o.status.value,
        currency=o.currency.value,
        payment_method=o.payment_method or "transfer",
        total_amount=sun_to_trx(total),
        payment_address=o.payment_address,
        expires_at=isoformat(o.expires_at) if o.expires_at else None,
        package_id=str(o.package_id),
        quantity=o.quantity,
        energy_amount=o.energy_amount,
        duration_hours=o.duration_hours,
        recipient_address=o.target_address,
        price=sun_to_trx(o.price_units),
        original_price=(
            None if o.original_price_units is None else sun_to_trx(o.original_price_units)
        ),
        discount=sun_to_trx(o.discount_units),
        final_price=sun_to_trx(o.final_price_units),
        activation_fee=sun_to_trx(o.activation_fee_sun or 0),
        payment_tail=None if o.amount_tail_units is None else sun_to_trx(o.amount_tail_units),
        package_type="count" if o.order_type is OrderType.TRANSACTION_PACKAGE else "energy",
        counts=o.transaction_count if o.order_type is OrderType.TRANSACTION_PACKAGE else None,
    )


@router.post("", status_code=201)
async def create_order(
    body: PackageOrderRequest,
    session: SessionDep,
    rt: RuntimeDep,
    recipients: RecipientCheckDep,
    op: OperatorDep,
) -> Envelope[PackageOrderResponse]:
    """Create a package order (operator JWT). Transfer: pay `totalAmount` in `currency` to
    `paymentAddress` before `expiresAt` (the amount carries a unique tail; a recipient with no
    account on chain adds its activation fee in TRX orders). Balance (`userId` required): the
    order is paid from the user's balance at once, in the same transaction, and delegated in
    the next block (409 INSUFFICIENT_BALANCE: no order is created). 404 PACKAGE_NOT_FOUND /
    USER_NOT_FOUND; 422 PACKAGE_UNAVAILABLE, QUANTITY_OUT_OF_RANGE, CURRENCY_NOT_OFFERED.
    `packageType: count`: a transaction-count package (`packageId` of a `transaction_count`
    package; 422 PACKAGE_UNAVAILABLE otherwise): once paid, one transfer's energy is kept on
    the address and topped up after each USDT transfer it makes (docs/count-packages.md)."""
    if body.user_id is not None:
        if await session.get(User, body.user_id) is None:
            raise UserNotFound("user not found")
    elif body.payment_method == "balance":
        raise ValidationFailed("paying from the balance needs userId", "USER_REQUIRED")
    chat = await customer_chat(session, body.user_id)
    state = None
    if recipients is not None and body.payment_method == "transfer":
        state = await recipients.check(body.recipient_address, activates=rt.activates_recipients)
    args: dict[str, Any] = {
        "package_id": body.package_id,
        "quantity": body.quantity,
        "recipient_address": body.recipient_address,
        "currency": body.currency,
        "payment_method": body.payment_method,
        "user_id": body.user_id,
        "bot_id": chat.bot_id,
        "chat_id": chat.chat_id,
        "recipient_state": state,
    }
    actor = f"admin:{op.username}"
    if body.package_type == "count":
        order = await create_count_order(session, rt, **args)
        if body.payment_method == "balance":
            order = await pay_new_order(session, order, actor=actor)
    else:  # paid from the balance: written paid (no UPDATE after its INSERT)
        paid_by = actor if body.payment_method == "balance" else None
        order = await create_package_order(session, rt, **args, paid_by=paid_by)
    return ok(_package_view(order))


@top_ups_router.post("/{user_id}/top-ups", status_code=201)
async def create_user_top_up(
    user_id: Annotated[uuid.UUID, Path()],
    body: TopUpRequest,
    session: SessionDep,
    rt: RuntimeDep,
    _op: OperatorDep,
) -> Envelope[TopUpResponse]:
    """Open a balance top-up by transfer (operator JWT): send exactly `amount` in `currency`
    to `paymentAddress` before `expiresAt`; what arrives is credited to the balance once the
    transfer is in a block (ledger cause top_up). 404 USER_NOT_FOUND; 422 INVALID_TOP_UP."""
    order = await create_top_up(
        session, rt, user_id=user_id, currency=body.currency, amount_units=_units(body.amount)
    )
    assert order.payment_address is not None and order.expected_amount_units is not None
    return ok(
        TopUpResponse(
            order_id=order.id,
            user_id=str(user_id),
            currency=order.currency.value,
            payment_address=order.payment_address,
            amount=sun_to_trx(order.expected_amount_units),
            expires_at=isoformat(order.expires_at) if order.expires_at else None,
        )
    )
