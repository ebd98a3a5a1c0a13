"""Order type -> product strategy: the one place the engine learns which products exist."""

from __future__ import annotations

from typing import Any

from tronrent.models.order import Order, OrderType
from tronrent.product.auto_top_up import auto_top_up
from tronrent.product.base import ProductStrategy
from tronrent.product.count import count
from tronrent.product.flash import flash
from tronrent.product.package import package
from tronrent.product.topup import top_up

STRATEGIES: dict[OrderType, ProductStrategy] = {
    s.order_type: s for s in (flash, package, count, top_up, auto_top_up)
}


class UnknownProduct(LookupError):
    """An order type no strategy serves (a programming error, not a customer's)."""


def strategy_for(order_type: OrderType) -> ProductStrategy:
    try:
        return STRATEGIES[order_type]
    except KeyError:
        raise UnknownProduct(f"no product strategy for order type {order_type.value}") from None


def flash_config_snapshot(order: Order) -> dict[str, Any] | None:
    """The flash config JSON frozen on the order (wrong-amount policies, refund fee): a flash
    order's whole ``price_config``; other products keep it under ``"flash"``."""
    snapshot = order.price_config
    if not snapshot:
        return None
    if order.order_type is OrderType.ENERGY_FLASH:
        return snapshot
    inner = snapshot.get("flash")
    return inner if isinstance(inner, dict) else None
