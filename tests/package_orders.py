"""Test helpers: a user with a balance, and a pending package order inserted directly (what
``POST /api/orders`` will create), so balance payments are tested without the package
catalogue."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tronproto.keys import PrivateKey
from tronrent.kit.time import now_ms, utcnow
from tronrent.models import User
from tronrent.models.balance_ledger import LedgerCause
from tronrent.models.common import Currency
from tronrent.models.order import Order, OrderPaymentStatus, OrderStatus, OrderType
from tronrent.models.payment_monitoring_log import PaymentMonitoringLog
from tronrent.order import ids
from tronrent.user.balance import balance as balance_service

TRX = 1_000_000
#: a valid address that is never funded (orders that are not delegated need no account)
SOME_ADDRESS = PrivateKey.random().address_base58


async def new_user(
    session: AsyncSession, *, trx_sun: int = 0, usdt_units: int = 0, chat_id: int | None = None
) -> User:
    """A user, topped up through the ledger (cause ``top_up``) with the given balances."""
    user = User(id=uuid.uuid4(), telegram_id=chat_id or 10**9 + uuid.uuid4().int % 10**12)
    session.add(user)
    await session.flush()
    for currency, amount in ((Currency.TRX, trx_sun), (Currency.USDT, usdt_units)):
        if amount:
            await balance_service.apply(
                session,
                user_id=user.id,
                currency=currency,
                delta_units=amount,
                cause_type=LedgerCause.TOP_UP,
                cause_id=f"test-top-up-{uuid.uuid4().hex}",
            )
    return user


def build_package_order(
    user_id: uuid.UUID | None,
    *,
    chat_id: int | None = None,
    price_units: int = 5 * TRX,
    currency: Currency = Currency.TRX,
    energy: int = 66_300,
    duration_hours: int = 1,
    target_address: str = SOME_ADDRESS,
    payment_address: str | None = None,
) -> Order:
    """A pending ``energy_rental`` order with its price set (not added to a session)."""
    order_id = ids.new_order_id(ids.PACKAGE_PREFIX, now_ms())
    return Order(
        id=order_id,
        order_number=order_id,
        order_type=OrderType.ENERGY_RENTAL,
        status=OrderStatus.PENDING,
        payment_status=OrderPaymentStatus.PENDING,
        user_id=user_id,
        chat_id=chat_id,
        currency=currency,
        energy_amount=energy,
        duration_hours=duration_hours,
        price_units=price_units,
        original_price_units=price_units,
        final_price_units=price_units,
        transaction_count=1,
        energy_per_transaction=energy,
        target_address=target_address,
        payment_address=payment_address,
        expires_at=utcnow() + timedelta(minutes=30),
    )


async def insert_package_order(
    session: AsyncSession,
    user: User | None,
    *,
    watch: bool = True,
    **kw: Any,
) -> Order:
    """A pending package order of ``user`` (see `build_package_order` for ``kw``) and, with
    ``watch``, its open payment watch."""
    order = build_package_order(
        user.id if user is not None else None,
        chat_id=user.telegram_id if user is not None else None,
        **kw,
    )
    session.add(order)
    if watch:
        session.add(
            PaymentMonitoringLog(
                order_id=order.id,
                payment_address=order.payment_address or SOME_ADDRESS,
                monitoring_started_at=utcnow(),
                timeout_at=order.expires_at,
                expected_amount_units=order.final_price_units,
            )
        )
    await session.flush()
    return order
