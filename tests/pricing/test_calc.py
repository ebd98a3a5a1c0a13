from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tronrent.pricing.calc import (
    FlashPaymentKind,
    FlashPolicies,
    FlashPrice,
    PaymentPolicy,
    PriceConditions,
    PriceConfigError,
    PriceContext,
    PriceRule,
    QuantityTier,
    agent_flash_markup_sun,
    classify_flash_payment,
    decide_refund,
    quote_best,
    quote_price,
    refund_amount_sun,
    select_rule,
    unit_price,
    with_flash_markup,
)

SEED = {
    "single_price": 1.5,
    "max_transactions": 10,
    "expiry_hours": 1,
    "min_amount": 1.0,
    "description": "能量闪租服务",
}
PRICE = FlashPrice.from_config(SEED)

prices = st.builds(
    lambda single, max_tx, min_frac: FlashPrice(
        single_price_sun=single,
        max_transactions=max_tx,
        expiry_hours=1,
        min_amount_sun=single * min_frac // 100,
    ),
    st.integers(1, 10**9),
    st.integers(1, 1000),
    st.integers(0, 100),
)
policies = st.builds(
    FlashPolicies,
    dust=st.sampled_from(PaymentPolicy),
    underpaid=st.sampled_from(PaymentPolicy),
    excess=st.sampled_from(PaymentPolicy),
    refund_fee_sun=st.integers(0, 10**8),
)


class TestFlashPriceFromConfig:
    def test_seed_config(self) -> None:
        assert (
            FlashPrice(
                single_price_sun=1_500_000,
                max_transactions=10,
                expiry_hours=1,
                min_amount_sun=1_000_000,
            )
            == PRICE
        )
        assert PRICE.cap_sun == 15_000_000

    def test_json_text_is_exact(self) -> None:
        price = FlashPrice.from_config('{"single_price": 0.1, "max_transactions": 3}')
        assert price.single_price_sun == 100_000
        assert price.min_amount_sun == 100_000
        assert price.expiry_hours == 1

    def test_float_goes_through_str(self) -> None:
        # 1.1 is not exact in binary; Decimal(1.1) would give 1.100000000000000088...
        assert FlashPrice.from_config(
            {"single_price": 1.1, "max_transactions": 1}
        ).single_price_sun == (1_100_000)

    @pytest.mark.parametrize(
        "config",
        [
            {"max_transactions": 10},
            {"single_price": 1.5},
            {"single_price": -1, "max_transactions": 10},
            {"single_price": 0, "max_transactions": 10},
            {"single_price": "abc", "max_transactions": 10},
            {"single_price": 1.5, "max_transactions": 0},
            {"single_price": 1.5, "max_transactions": 2.5},
            {"single_price": 1.5, "max_transactions": True},
            {"single_price": 0.0000001, "max_transactions": 1},
            {"single_price": "NaN", "max_transactions": 1},
            {"single_price": 1.5, "max_transactions": 1, "min_amount": 2},
            {"single_price": 1.5, "max_transactions": 1, "expiry_hours": 0},
        ],
    )
    def test_invalid(self, config: dict[str, object]) -> None:
        with pytest.raises(PriceConfigError):
            FlashPrice.from_config(config)

    def test_not_an_object(self) -> None:
        with pytest.raises(PriceConfigError):
            FlashPrice.from_config("[1, 2]")


class TestClassifyFlashPayment:
    @pytest.mark.parametrize(
        ("paid", "kind", "count", "excess"),
        [
            (0, FlashPaymentKind.DUST, 0, 0),
            (1, FlashPaymentKind.DUST, 0, 0),
            (999_999, FlashPaymentKind.DUST, 0, 0),
            (1_000_000, FlashPaymentKind.UNDERPAID, 0, 0),
            (1_499_999, FlashPaymentKind.UNDERPAID, 0, 0),
            (1_500_000, FlashPaymentKind.EXACT, 1, 0),
            (2_999_999, FlashPaymentKind.EXACT, 1, 0),
            (3_000_000, FlashPaymentKind.EXACT, 2, 0),
            (15_000_000, FlashPaymentKind.EXACT, 10, 0),
            (15_000_001, FlashPaymentKind.EXCESS, 10, 1),
            (100_000_000, FlashPaymentKind.EXCESS, 10, 85_000_000),
        ],
    )
    def test_seed_examples(
        self, paid: int, kind: FlashPaymentKind, count: int, excess: int
    ) -> None:
        quote = classify_flash_payment(paid, PRICE)
        assert (quote.kind, quote.count, quote.excess_sun) == (kind, count, excess)

    def test_tail_tolerance_at_cap(self) -> None:
        assert classify_flash_payment(15_009_999, PRICE, tail_tolerance_sun=9_999).kind == "exact"
        quote = classify_flash_payment(15_010_000, PRICE, tail_tolerance_sun=9_999)
        assert quote.kind == FlashPaymentKind.EXCESS
        assert quote.excess_sun == 10_000

    def test_negative_rejected(self) -> None:
        with pytest.raises(ValueError):
            classify_flash_payment(-1, PRICE)
        with pytest.raises(ValueError):
            classify_flash_payment(1, PRICE, tail_tolerance_sun=-1)

    @given(price=prices, paid=st.integers(0, 10**13), tol=st.integers(0, 10**6))
    def test_properties(self, price: FlashPrice, paid: int, tol: int) -> None:
        quote = classify_flash_payment(paid, price, tail_tolerance_sun=tol)
        assert quote.paid_sun == paid
        assert quote.count == (
            min(paid // price.single_price_sun, price.max_transactions)
            if paid >= price.min_amount_sun
            else 0
        )
        assert quote.charged_sun == quote.count * price.single_price_sun <= paid
        assert 0 <= quote.excess_sun <= quote.unused_sun <= paid
        if quote.kind is FlashPaymentKind.DUST:
            assert paid < price.min_amount_sun
        elif quote.kind is FlashPaymentKind.UNDERPAID:
            assert price.min_amount_sun <= paid < price.single_price_sun
        elif quote.kind is FlashPaymentKind.EXACT:
            assert 1 <= quote.count <= price.max_transactions
            assert price.single_price_sun <= paid <= price.cap_sun + tol
            assert quote.unused_sun < price.single_price_sun + tol + 1
        else:
            assert quote.count == price.max_transactions
            assert paid > price.cap_sun + tol
            assert quote.excess_sun == paid - price.cap_sun

    @given(price=prices, a=st.integers(0, 10**12), b=st.integers(0, 10**12))
    def test_count_monotonic(self, price: FlashPrice, a: int, b: int) -> None:
        lo, hi = sorted((a, b))
        assert classify_flash_payment(lo, price).count <= classify_flash_payment(hi, price).count


class TestAgentFlashMarkup:
    """An agent's markup on flash: per transaction, a multiple of the tail granularity, never
    negative (never below the operator's price)."""

    def test_rounded_down_to_the_granularity(self) -> None:
        assert agent_flash_markup_sun(1_500_000, 2000, 10_000) == 300_000
        assert agent_flash_markup_sun(1_500_000, 100, 10_000) == 10_000  # 15,000 -> 10,000
        assert agent_flash_markup_sun(1_500_000, 50, 10_000) == 0  # 7,500: below one step
        assert agent_flash_markup_sun(1_500_000, 0, 10_000) == 0

    def test_negative_is_none(self) -> None:
        assert agent_flash_markup_sun(1_500_000, -2000, 10_000) == 0
        with pytest.raises(ValueError, match="never negative"):
            with_flash_markup(PRICE, -1)

    def test_price_follows_cap_and_dust_do_not_move(self) -> None:
        marked = with_flash_markup(PRICE, 300_000)
        assert marked.single_price_sun == 1_800_000 and marked.cap_sun == 18_000_000
        assert marked.min_amount_sun == PRICE.min_amount_sun
        assert with_flash_markup(PRICE, 0) is PRICE
        # the operator's price on an agent's order buys nothing
        q = classify_flash_payment(1_500_123, marked, tail_tolerance_sun=9_999)
        assert q.kind is FlashPaymentKind.UNDERPAID and q.count == 0

    @given(
        steps=st.integers(1, 10**6),
        bps=st.lists(st.integers(-10_000, 10_000), min_size=2, max_size=2),
        fees=st.lists(st.integers(0, 1000), min_size=2, max_size=2),
        tails=st.lists(st.integers(1, 9_999), min_size=2, max_size=2, unique=True),
    )
    def test_expected_amounts_stay_unique_and_keep_their_tail(
        self, steps: int, bps: list[int], fees: list[int], tails: list[int]
    ) -> None:
        g, price = 10_000, steps * 10_000
        amounts = []
        for markup_bps, fee_steps, tail in zip(bps, fees, tails, strict=True):
            markup = agent_flash_markup_sun(price, markup_bps, g)
            assert 0 <= markup <= max(0, price * markup_bps // 10_000) and markup % g == 0
            amount = price + markup + fee_steps * g + tail
            assert amount % g == tail  # the tail match still finds the order
            amounts.append(amount)
        assert amounts[0] != amounts[1]  # two open orders never expect the same amount


class TestDecideRefund:
    def test_defaults(self) -> None:
        pol = FlashPolicies()
        assert refund_amount_sun(classify_flash_payment(1, PRICE), pol) == 0  # dust kept
        assert refund_amount_sun(classify_flash_payment(1_200_000, PRICE), pol) == 1_200_000
        assert refund_amount_sun(classify_flash_payment(20_000_000, PRICE), pol) == 5_000_000
        assert refund_amount_sun(classify_flash_payment(4_000_000, PRICE), pol) == 0

    def test_fee(self) -> None:
        pol = FlashPolicies(refund_fee_sun=300_000)
        decision = decide_refund(classify_flash_payment(20_000_000, PRICE), pol)
        assert decision.policy is PaymentPolicy.REFUND
        assert (decision.refundable_sun, decision.fee_sun, decision.amount_sun) == (
            5_000_000,
            300_000,
            4_700_000,
        )

    def test_fee_larger_than_refund(self) -> None:
        pol = FlashPolicies(dust=PaymentPolicy.REFUND, refund_fee_sun=1_000_000)
        assert refund_amount_sun(classify_flash_payment(10, PRICE), pol) == 0

    def test_keep(self) -> None:
        pol = FlashPolicies(excess=PaymentPolicy.KEEP, underpaid=PaymentPolicy.KEEP)
        assert refund_amount_sun(classify_flash_payment(20_000_000, PRICE), pol) == 0
        assert refund_amount_sun(classify_flash_payment(1_200_000, PRICE), pol) == 0

    def test_negative_fee_rejected(self) -> None:
        with pytest.raises(PriceConfigError):
            FlashPolicies(refund_fee_sun=-1)

    @given(price=prices, pol=policies, paid=st.integers(0, 10**13))
    def test_never_negative_never_more_than_paid(
        self, price: FlashPrice, pol: FlashPolicies, paid: int
    ) -> None:
        quote = classify_flash_payment(paid, price)
        decision = decide_refund(quote, pol)
        assert 0 <= decision.amount_sun <= paid
        assert decision.amount_sun + quote.charged_sun <= paid
        assert decision.amount_sun == max(0, decision.refundable_sun - pol.refund_fee_sun)
        if quote.kind is FlashPaymentKind.EXACT or pol.policy_for(quote.kind) is PaymentPolicy.KEEP:
            assert decision.amount_sun == 0


def rule(**kw: object) -> PriceRule:
    defaults: dict[str, object] = {"config_id": "r", "base_price": 10_000_000}
    defaults.update(kw)
    return PriceRule(**defaults)  # type: ignore[arg-type]


class TestUnitPrice:
    def test_markups(self) -> None:
        assert unit_price(rule(markup_bp=1050, markup_fixed=500_000)) == 11_550_000

    def test_rounding_half_up(self) -> None:
        assert unit_price(rule(base_price=3, markup_bp=5000)) == 5  # 3 + 1.5 -> 5
        assert unit_price(rule(base_price=3, markup_bp=4999)) == 4

    def test_clamp(self) -> None:
        assert unit_price(rule(markup_bp=5000, max_price=12_000_000)) == 12_000_000
        assert unit_price(rule(markup_bp=-5000, min_price=8_000_000)) == 8_000_000

    def test_invalid(self) -> None:
        with pytest.raises(PriceConfigError):
            rule(base_price=-1)
        with pytest.raises(PriceConfigError):
            rule(min_price=5, max_price=4)
        with pytest.raises(PriceConfigError):
            rule(markup_bp=-10_001)

    @given(
        base=st.integers(0, 10**12),
        bp=st.integers(-10_000, 100_000),
        fixed=st.integers(0, 10**9),
        lo=st.none() | st.integers(0, 10**12),
        width=st.integers(0, 10**12),
    )
    def test_within_bounds(
        self, base: int, bp: int, fixed: int, lo: int | None, width: int
    ) -> None:
        hi = None if lo is None else lo + width
        price = unit_price(
            rule(base_price=base, markup_bp=bp, markup_fixed=fixed, min_price=lo, max_price=hi)
        )
        assert price >= 0
        if lo is not None and hi is not None:
            assert lo <= price <= hi


class TestFromColumns:
    def test_numeric_columns(self) -> None:
        r = PriceRule.from_columns(
            "c1",
            base_price=Decimal("6.50000000"),
            markup_percentage=Decimal("10.00"),
            markup_fixed=Decimal("0.5"),
            min_price=Decimal("1"),
            max_price=None,
            conditions={
                "quantity_tiers": [
                    {"min_quantity": 10, "discount_percentage": 5},
                    {"min_quantity": 2, "discount_percentage": "2.5"},
                ],
                "agent_discount_percentage": 3,
                "agent_levels": [1, 2],
            },
        )
        assert r.base_price == 6_500_000
        assert r.markup_bp == 1000
        assert r.markup_fixed == 500_000
        assert r.min_price == 1_000_000 and r.max_price is None
        assert r.conditions.tiers == (QuantityTier(2, 250), QuantityTier(10, 500))
        assert r.conditions.agent_levels == frozenset({1, 2})
        assert r.conditions.agent_discount_bp == 300

    @pytest.mark.parametrize(
        "conditions",
        [
            {"quantity_tiers": "x"},
            {"quantity_tiers": [{"min_quantity": 0, "discount_percentage": 1}]},
            {"quantity_tiers": [{"min_quantity": 1, "discount_percentage": 101}]},
            {"agent_discount_percentage": "1.234"},
            {"max_quantity": 0},
        ],
    )
    def test_bad_conditions(self, conditions: dict[str, object]) -> None:
        with pytest.raises(PriceConfigError):
            PriceRule.from_columns("c", base_price=1, conditions=conditions)

    def test_too_precise(self) -> None:
        with pytest.raises(PriceConfigError):
            PriceRule.from_columns("c", base_price=Decimal("0.0000001"))


class TestQuotePrice:
    def test_tiers_and_agent(self) -> None:
        r = rule(
            conditions=PriceConditions(
                tiers=(QuantityTier(5, 500), QuantityTier(10, 1000)), agent_discount_bp=200
            )
        )
        assert quote_price(r, PriceContext(quantity=1)).total == 10_000_000
        q = quote_price(r, PriceContext(quantity=5))
        assert (q.subtotal, q.discount_bp, q.discount, q.total) == (
            50_000_000,
            500,
            2_500_000,
            47_500_000,
        )
        q = quote_price(r, PriceContext(quantity=12, agent_level=1))
        assert q.discount_bp == 1200
        assert q.total == 120_000_000 - 14_400_000

    def test_discount_rounds_in_customer_favour(self) -> None:
        r = rule(base_price=3, conditions=PriceConditions(tiers=(QuantityTier(1, 5000),)))
        assert quote_price(r, PriceContext(quantity=1)).total == 1  # 3 - ceil(1.5)

    def test_quantity_must_be_positive(self) -> None:
        with pytest.raises(ValueError):
            quote_price(rule(), PriceContext(quantity=0))

    @given(
        base=st.integers(0, 10**10),
        qty=st.integers(1, 10_000),
        tier_bp=st.integers(0, 10_000),
        agent_bp=st.integers(0, 10_000),
        agent=st.none() | st.integers(1, 5),
    )
    def test_total_bounds(
        self, base: int, qty: int, tier_bp: int, agent_bp: int, agent: int | None
    ) -> None:
        r = rule(
            base_price=base,
            conditions=PriceConditions(
                tiers=(QuantityTier(1, tier_bp),), agent_discount_bp=agent_bp
            ),
        )
        q = quote_price(r, PriceContext(quantity=qty, agent_level=agent))
        assert q.subtotal == q.unit_price * qty
        assert 0 <= q.total <= q.subtotal
        assert q.total == q.subtotal - q.discount
        assert q.discount_bp <= 10_000


class TestSelectRule:
    def test_priority_then_specificity_then_id(self) -> None:
        rules = [
            rule(config_id="global", priority=1),
            rule(config_id="bot", priority=1, bot_id="b1"),
            rule(config_id="z-high", priority=5),
            rule(config_id="a-high", priority=5),
            rule(config_id="inactive", priority=9, is_active=False),
        ]
        assert select_rule(rules, PriceContext(bot_id="b1")) == rules[3]
        assert select_rule(rules[:2], PriceContext(bot_id="b1")) == rules[1]
        assert select_rule(rules[:2], PriceContext(bot_id="b2")) == rules[0]

    def test_conditions(self) -> None:
        bulk = rule(config_id="bulk", priority=2, conditions=PriceConditions(min_quantity=10))
        small = rule(config_id="small", priority=2, conditions=PriceConditions(max_quantity=9))
        agents = rule(config_id="agents", priority=3, conditions=PriceConditions(agent_only=True))
        gold = rule(
            config_id="gold", priority=4, conditions=PriceConditions(agent_levels=frozenset({3}))
        )
        usdt = rule(config_id="usdt", priority=9, currency="USDT")
        pkg = rule(config_id="pkg", priority=9, package_id="p1")
        rules = [bulk, small, agents, gold, usdt, pkg]
        assert select_rule(rules, PriceContext(quantity=1)) == small
        assert select_rule(rules, PriceContext(quantity=10)) == bulk
        assert select_rule(rules, PriceContext(quantity=10, agent_level=1)) == agents
        assert select_rule(rules, PriceContext(quantity=10, agent_level=3)) == gold
        assert select_rule(rules, PriceContext(currency="USDT")) == usdt
        assert select_rule(rules, PriceContext(package_id="p1")) == pkg
        assert select_rule([usdt], PriceContext()) is None
        assert quote_best([usdt], PriceContext()) is None
        best = quote_best(rules, PriceContext(quantity=2))
        assert best is not None and best.config_id == "small"
