"""Auto top-up orders in the product registry: paid from the balance when an operator creates
them (`tronrent.count.auto.create`), never by a transfer; delivered as energy, followed and
billed per top-up by `tronrent.count`."""

from __future__ import annotations

from typing import ClassVar

from tronrent.models.order import Order, OrderType
from tronrent.product.base import Delivery, SettleContext, Settlement
from tronrent.product.errors import PackageUnavailable


class AutoTopUpStrategy:
    order_type: ClassVar[OrderType] = OrderType.AUTO_TOP_UP
    delivery: ClassVar[Delivery] = Delivery.ENERGY

    def settle(self, order: Order, paid_units: int, ctx: SettleContext) -> Settlement:
        """Never called: an auto top-up order has no payment address to match a transfer to."""
        raise PackageUnavailable(f"order {order.id} is an auto top-up, paid from the balance")


auto_top_up = AutoTopUpStrategy()
