"""The commission and withdrawal maths, property-tested."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tronrent.agent.calc import BPS, commission, level_rates, quote_withdrawal, shares

bases = st.integers(min_value=0, max_value=10**15)


@st.composite
def rate_lists(draw: st.DrawFn) -> list[int]:
    """1 to 10 rates summing to at most 10000 bp."""
    n = draw(st.integers(1, 10))
    rates: list[int] = []
    left = BPS
    for _ in range(n):
        r = draw(st.integers(0, left))
        rates.append(r)
        left -= r
    return rates


class TestShares:
    @given(bases, rate_lists())
    def test_never_more_than_the_base(self, base: int, rates: list[int]) -> None:
        total = sum(s.amount_units for s in shares(base, rates))
        assert total <= base
        assert total <= base * sum(rates) // BPS

    @given(bases, rate_lists())
    def test_each_share_is_the_floor_of_its_rate(self, base: int, rates: list[int]) -> None:
        for s in shares(base, rates):
            assert s.amount_units == base * rates[s.level - 1] // BPS
            assert s.amount_units * BPS <= base * s.commission_bps < (s.amount_units + 1) * BPS
            assert s.amount_units > 0

    @given(bases, st.integers(0, BPS), st.integers(0, BPS))
    def test_a_higher_rate_never_earns_less(self, base: int, a: int, b: int) -> None:
        lo, hi = sorted((a, b))
        assert commission(base, lo) <= commission(base, hi)

    def test_three_levels(self) -> None:
        assert [s.amount_units for s in shares(10_000_000, [1000, 300, 100])] == [
            1_000_000,
            300_000,
            100_000,
        ]

    def test_override_replaces_the_first_level(self) -> None:
        assert level_rates([1000, 300], 1500) == [1500, 300]
        assert level_rates([1000, 300], None) == [1000, 300]


class TestQuoteWithdrawal:
    @given(
        st.integers(0, 10**12), st.integers(1, 10**9), st.integers(0, 10**9), st.integers(0, 10**12)
    )
    def test_payout_plus_fee_is_the_amount(
        self, amount: int, minimum: int, fee: int, auto: int
    ) -> None:
        q = quote_withdrawal(amount, minimum_units=minimum, fee_units=fee, auto_approve_units=auto)
        if amount < minimum or amount <= fee:
            assert q is None
        else:
            assert q is not None
            assert q.payout_units + q.fee_units == amount and q.payout_units > 0
            assert q.needs_review == (amount > auto)
