"""Transaction-count packages (笔数套餐): N USDT transfers' energy, topped up as they are used.

Bought like an energy package (`create_count_order`, `POST /api/orders` with ``packageType``
``count``; paid by a TRX or USDT transfer or from the balance) from a catalogue package of type
``transaction_count``. The paid order is delivered by the ordinary delegation flow: one
transfer's energy (the package's ``energy_amount`` plus the drift margin) to the address,
**unlocked** (``price_config["unlocked"]``: the top-up must be able to undelegate it at once),
for the package's lifetime (``duration_hours``). From then on the scanner reports each USDT
transfer from the address (`count.service`), which counts it and tops the address up; the
last count reclaims the energy and completes the order. docs/count-packages.md has the why.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.models.common import Currency
from tronrent.models.count_package import CountPackage
from tronrent.models.energy_package import EnergyPackage, PackageType
from tronrent.models.order import Order, OrderType
from tronrent.order.recipient import RecipientState
from tronrent.order.runtime import FlashRuntime
from tronrent.pool.energy import energy_per_transaction
from tronrent.product.base import Delivery, SettleContext, Settlement
from tronrent.product.package import OrderShape, PackageStrategy, PaymentMethod
from tronrent.product.package import create_package_order as _create


def counts_of(order: Order) -> int:
    """The transfers an order bought: the package's count x the quantity."""
    snapshot = (order.price_config or {}).get("package") or {}
    per = int(snapshot.get("transactionCount") or 1)
    return per * (order.quantity or 1)


class CountStrategy:
    """Priced and paid like an energy package; what is delivered first is one transfer's
    energy, and the use of the address drives the rest (`tronrent.count`)."""

    order_type: ClassVar[OrderType] = OrderType.TRANSACTION_PACKAGE
    delivery: ClassVar[Delivery] = Delivery.ENERGY

    def settle(self, order: Order, paid_units: int, ctx: SettleContext) -> Settlement:
        base = PackageStrategy().settle(order, paid_units, ctx)
        base.paid_values["transaction_count"] = counts_of(order)
        base.event_payload.update(self.describe(order))
        return base

    @staticmethod
    def describe(order: Order) -> dict[str, Any]:
        return {**PackageStrategy.describe(order), "counts": counts_of(order)}


count = CountStrategy()


def _one_transfer(pkg: EnergyPackage, _quantity: int, margin_bp: int) -> int:
    return energy_per_transaction(pkg.energy_amount, margin_bp)


COUNT_SHAPE = OrderShape(
    PackageType.TRANSACTION_COUNT,
    OrderType.TRANSACTION_PACKAGE,
    _one_transfer,
    {"unlocked": True},
)


async def create_count_order(
    session: AsyncSession,
    rt: FlashRuntime,
    *,
    package_id: uuid.UUID,
    quantity: int,
    recipient_address: str,
    currency: Currency | str,
    payment_method: PaymentMethod,
    user_id: uuid.UUID | None = None,
    bot_id: uuid.UUID | None = None,
    chat_id: int | None = None,
    recipient_state: RecipientState | None = None,
    extra_config: Mapping[str, Any] | None = None,
) -> Order:
    """A pending count-package order (see `product.package.create_package_order`; the same
    errors, PACKAGE_UNAVAILABLE for a package that is not a count package) and its
    ``count_packages`` row (nothing used)."""
    order = await _create(
        session,
        rt,
        package_id=package_id,
        quantity=quantity,
        recipient_address=recipient_address,
        currency=currency,
        payment_method=payment_method,
        user_id=user_id,
        bot_id=bot_id,
        chat_id=chat_id,
        recipient_state=recipient_state,
        shape=COUNT_SHAPE,
        extra_config=extra_config,
    )
    pkg = await session.get(EnergyPackage, package_id)
    assert pkg is not None and order.target_address is not None
    order.transaction_count = counts_of(order)
    session.add(
        CountPackage(
            order_id=order.id,
            address=order.target_address,
            total_counts=order.transaction_count,
            used_counts=0,
            energy_per_count=pkg.energy_amount,
            new_holder_counts=rt.count_new_holder_counts,
        )
    )
    await session.flush()
    return order
