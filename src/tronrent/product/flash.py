"""Energy flash rental (seed 000): pay-per-transaction, bought by an order or a walk-in.

The payment decides what is bought: ``count = min(floor(paid / single_price),
max_transactions)`` (less an activation fee quoted at create-order); a TRX payment no order
claims is a walk-in whose energy goes to the sender. Creation stays in order.service
(`FlashOrderService.create_order`, `build_walk_in`).
"""

from __future__ import annotations

from typing import ClassVar

from tronrent.kit.money import format_trx
from tronrent.models.order import Order, OrderType
from tronrent.order.flash_config import FlashConfig
from tronrent.pricing.calc import FlashQuote, classify_flash_payment, classify_order_payment
from tronrent.product.base import Delivery, SettleContext, Settlement


class FlashStrategy:
    order_type: ClassVar[OrderType] = OrderType.ENERGY_FLASH
    delivery: ClassVar[Delivery] = Delivery.ENERGY

    @staticmethod
    def classify(paid_units: int, ctx: SettleContext, activation_fee_sun: int = 0) -> FlashQuote:
        tolerance = ctx.tail_granularity - 1
        if activation_fee_sun:
            return classify_order_payment(
                paid_units,
                ctx.flash.price,
                tail_tolerance_sun=tolerance,
                activation_fee_sun=activation_fee_sun,
            )
        return classify_flash_payment(paid_units, ctx.flash.price, tail_tolerance_sun=tolerance)

    def settle(self, order: Order, paid_units: int, ctx: SettleContext) -> Settlement:
        return self.settlement(self.classify(paid_units, ctx, order.activation_fee_sun or 0), ctx)

    @staticmethod
    def settlement(quote: FlashQuote, ctx: SettleContext) -> Settlement:
        """The settlement of a classified flash payment (an order's, or a walk-in's)."""
        cfg: FlashConfig = ctx.flash
        energy = cfg.energy_for(quote.count)
        return Settlement(
            quote=quote,
            policies=cfg.policies,
            paid_values={
                "transaction_count": quote.count,
                "energy_amount": energy,
                "energy_per_transaction": cfg.energy_per_transaction,
                "final_price_units": quote.charged_sun,
                "price_units": quote.charged_sun,
            },
            underpaid_reason=f"paid {format_trx(quote.paid_sun)} TRX, one transaction "
            f"costs {format_trx(cfg.price.single_price_sun)} TRX",
            event_payload={"transaction_count": quote.count, "energy": energy},
        )


flash = FlashStrategy()
