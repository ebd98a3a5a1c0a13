"""Energy flash rental (seed 000): pay-per-transaction, bought by an order or a walk-in.

The payment decides what is bought: ``count = min(floor(paid / single_price),
max_transactions)`` (less an activation fee quoted at create-order); a TRX payment no order
claims is a walk-in whose energy goes to the sender. An order taken by an agent's own bot is
weighed at the agent's price: ``single_price`` + the markup per transaction frozen on the
order; the agent's part of what it charged is ``agent_markup_units = count x markup``.
Creation stays in order.service (`FlashOrderService.create_order`, `build_walk_in`).
"""

from __future__ import annotations

from typing import ClassVar

from tronrent.kit.money import format_trx
from tronrent.models.order import Order, OrderType
from tronrent.order.flash_config import FlashConfig
from tronrent.pricing.calc import (
    FlashQuote,
    classify_flash_payment,
    classify_order_payment,
    with_flash_markup,
)
from tronrent.product.base import Delivery, SettleContext, Settlement


class FlashStrategy:
    order_type: ClassVar[OrderType] = OrderType.ENERGY_FLASH
    delivery: ClassVar[Delivery] = Delivery.ENERGY

    @staticmethod
    def classify(
        paid_units: int, ctx: SettleContext, activation_fee_sun: int = 0, markup_sun: int = 0
    ) -> FlashQuote:
        tolerance = ctx.tail_granularity - 1
        price = with_flash_markup(ctx.flash.price, markup_sun)
        if activation_fee_sun:
            return classify_order_payment(
                paid_units,
                price,
                tail_tolerance_sun=tolerance,
                activation_fee_sun=activation_fee_sun,
            )
        return classify_flash_payment(paid_units, price, tail_tolerance_sun=tolerance)

    def settle(self, order: Order, paid_units: int, ctx: SettleContext) -> Settlement:
        markup = agent_markup_sun(order)
        quote = self.classify(paid_units, ctx, order.activation_fee_sun or 0, markup)
        return self.settlement(quote, ctx, markup)

    @staticmethod
    def settlement(quote: FlashQuote, ctx: SettleContext, markup_sun: int = 0) -> Settlement:
        """The settlement of a classified flash payment (an order's, or a walk-in's);
        ``markup_sun``: the agent's markup per transaction of an agent's order."""
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
                "agent_markup_units": quote.count * markup_sun,
            },
            underpaid_reason=f"paid {format_trx(quote.paid_sun)} TRX, one transaction "
            f"costs {format_trx(cfg.price.single_price_sun + markup_sun)} TRX",
            event_payload={"transaction_count": quote.count, "energy": energy},
        )


def agent_markup_sun(order: Order) -> int:
    """The agent's markup per transaction frozen on an order taken by an agent's bot
    (``price_config["agent_markup_sun"]``, written by order.service); 0 for every other order."""
    value = (order.price_config or {}).get("agent_markup_sun")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


flash = FlashStrategy()
