"""Settling a payment against a package order, and the tail an order asks for (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tronrent.models.order import Order, OrderType
from tronrent.order.flash_config import parse_flash_config
from tronrent.pricing.calc import FlashPaymentKind
from tronrent.product.base import SettleContext
from tronrent.product.flash import flash
from tronrent.product.package import settle_package_payment
from tronrent.product.registry import STRATEGIES
from tronrent.product.tail import lift_to_tail

GRANULARITY = 10_000
prices = st.integers(min_value=0, max_value=10**12)
tails = st.integers(min_value=1, max_value=GRANULARITY - 1)
paid_amounts = st.integers(min_value=0, max_value=2 * 10**12)


class TestSettlePackagePayment:
    @given(prices, tails, paid_amounts)
    def test_kind_and_money(self, price: int, tail: int, paid: int) -> None:
        expected = lift_to_tail(price, tail, GRANULARITY)
        q = settle_package_payment(paid, price_units=price, expected_units=expected)
        assert q.paid_sun == paid
        assert q.charged_sun + q.excess_sun <= paid  # never more than was paid
        if paid < price:
            assert q.kind is FlashPaymentKind.UNDERPAID
            assert (q.count, q.charged_sun, q.excess_sun) == (0, 0, 0)
        elif paid <= expected:
            assert q.kind is FlashPaymentKind.EXACT
            assert (q.count, q.charged_sun, q.excess_sun) == (1, price, 0)
        else:
            assert q.kind is FlashPaymentKind.EXCESS
            assert q.count == 1 and q.charged_sun == price
            assert q.charged_sun + q.excess_sun == paid

    @given(prices, tails)
    def test_the_amount_asked_for_is_exact(self, price: int, tail: int) -> None:
        expected = lift_to_tail(price, tail, GRANULARITY)
        q = settle_package_payment(expected, price_units=price, expected_units=expected)
        assert q.kind is FlashPaymentKind.EXACT and q.excess_sun == 0


class TestLiftToTail:
    @given(prices, tails)
    def test_above_the_price_by_at_most_one_granule_with_the_tail(
        self, price: int, tail: int
    ) -> None:
        amount = lift_to_tail(price, tail, GRANULARITY)
        assert price < amount <= price + GRANULARITY
        assert amount % GRANULARITY == tail


def test_every_order_type_with_a_product_has_one_strategy() -> None:
    assert {s.order_type for s in STRATEGIES.values()} == set(STRATEGIES)


class TestAgentFlashOrder:
    """A flash order of an agent's bot is weighed at its frozen price (docs/agents.md)."""

    @staticmethod
    def ctx() -> SettleContext:
        cfg = parse_flash_config(None, None, default_energy=65_000, default_margin_bp=200)
        return SettleContext(cfg, GRANULARITY)

    @staticmethod
    def order(snapshot: dict[str, object]) -> Order:
        return Order(order_type=OrderType.ENERGY_FLASH, price_config=snapshot)

    def test_weighed_at_the_agents_price(self) -> None:
        order = self.order({"agent_markup_bps": 2000, "agent_markup_sun": 300_000})
        got = flash.settle(order, 2 * 1_800_000 + 123, self.ctx())
        assert (got.quote.kind, got.quote.count) == (FlashPaymentKind.EXACT, 2)
        assert got.paid_values["final_price_units"] == 3_600_000
        assert got.paid_values["agent_markup_units"] == 600_000
        short = flash.settle(order, 1_500_123, self.ctx())  # the operator's price
        assert short.quote.kind is FlashPaymentKind.UNDERPAID
        assert "costs 1.8 TRX" in short.underpaid_reason

    def test_no_or_unreadable_markup_is_the_operators_price(self) -> None:
        for snapshot in (
            {},
            {"agent_markup_sun": -5},
            {"agent_markup_sun": "9"},
            {"agent_markup_sun": True},
        ):
            got = flash.settle(self.order(snapshot), 1_500_123, self.ctx())
            assert got.quote.count == 1 and got.paid_values["agent_markup_units"] == 0
