"""PLACEHOLDER (branch h/bot): the ``products`` helper's module replaces this file at merge.
Creates pending package orders and top-ups with a unique amount tail (or, paid from the balance,
no payment address); no delivery, no notifications."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.errors import NotFound, ValidationFailed
from tronrent.kit.time import now_ms, utcnow
from tronrent.models import EnergyPackage, Order
from tronrent.models.common import Currency
from tronrent.models.order import OrderType
from tronrent.order.recipient import RecipientState
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service
from tronrent.order.service import validate_address
from tronrent.payment.matching import choose_tail
from tronrent.pricing.quote import quote_order


async def _pending(
    session: AsyncSession, rt: FlashRuntime, amount: int, *, transfer: bool, **values: object
) -> Order:
    tail = (
        choose_tail(await order_service.open_tails(session, rt.payment_address)) if transfer else 0
    )
    order_id = f"PKG_{now_ms()}_{secrets.token_hex(5)}"
    order = Order(
        id=order_id,
        order_number=order_id,
        order_type=OrderType.ENERGY_RENTAL,
        payment_method="transfer" if transfer else "balance",
        payment_address=rt.payment_address if transfer else None,
        expected_amount_units=amount + tail if transfer else None,
        amount_tail_units=tail or None,
        expires_at=utcnow() + timedelta(seconds=rt.payment_timeout_s),
        **values,
    )
    session.add(order)
    await session.flush()
    return order


async def create_package_order(
    session: AsyncSession,
    rt: FlashRuntime,
    *,
    package_id: uuid.UUID,
    quantity: int,
    recipient_address: str,
    currency: Currency | str,
    payment_method: str,
    user_id: uuid.UUID | None = None,
    bot_id: uuid.UUID | None = None,
    chat_id: int | None = None,
    recipient_state: RecipientState | None = None,
) -> Order:
    package = await session.get(EnergyPackage, package_id)
    if package is None or not package.is_active:
        raise NotFound("package not found", "PACKAGE_NOT_FOUND")
    if quantity < 1:
        raise ValidationFailed("quantity must be at least 1", "INVALID_QUANTITY")
    price = await quote_order(session, package=package, quantity=quantity, currency=currency)
    fee = recipient_state.activation_fee_sun if recipient_state and price.currency == "TRX" else 0
    return await _pending(
        session,
        rt,
        price.final_price_units + fee,
        transfer=payment_method == "transfer",
        package_id=package.id,
        currency=price.currency,
        user_id=user_id,
        bot_id=bot_id,
        chat_id=chat_id,
        target_address=validate_address(recipient_address),
        energy_amount=package.energy_amount * quantity,
        duration_hours=package.duration_hours,
        price_units=price.price_units,
        original_price_units=price.original_price_units,
        discount_units=price.discount_units,
        final_price_units=price.final_price_units + fee,
        activation_fee_sun=fee or None,
    )


async def create_top_up(
    session: AsyncSession,
    rt: FlashRuntime,
    *,
    user_id: uuid.UUID,
    currency: Currency | str,
    amount_units: int,
) -> Order:
    if amount_units < 1:
        raise ValidationFailed("amount must be positive", "INVALID_AMOUNT")
    return await _pending(
        session,
        rt,
        amount_units,
        transfer=True,
        currency=Currency(currency),
        user_id=user_id,
        price_units=amount_units,
        final_price_units=amount_units,
    )
