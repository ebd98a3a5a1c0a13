"""Settling a payment against a package order, and the tail an order asks for (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tronrent.pricing.calc import FlashPaymentKind
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
