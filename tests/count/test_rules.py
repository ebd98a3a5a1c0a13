"""How much a count-package use counts, idle periods in chain time, the refund of unused
counts (pure; property-tested)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tronrent.count.rules import counts_for, idle_periods, unused_refund

energy = st.integers(min_value=0, max_value=10**7)
per_count = st.integers(min_value=1, max_value=10**6)
weights = st.sampled_from([1, 2])
left = st.integers(min_value=0, max_value=1_000)


class TestCountsFor:
    @given(energy, per_count, weights, left)
    def test_bounds(self, used: int, per: int, weight: int, remaining: int) -> None:
        n = counts_for(
            energy_used=used, energy_per_count=per, new_holder_counts=weight, remaining=remaining
        )
        assert 0 <= n <= min(weight, remaining)
        if 2 * used < per or remaining == 0:
            assert n == 0
        elif used <= per:
            assert n == 1
        else:
            assert n == min(weight, remaining)

    def test_the_devnet_figures(self) -> None:
        def n(used: int, weight: int = 2, remaining: int = 10) -> int:
            return counts_for(
                energy_used=used,
                energy_per_count=65_000,
                new_holder_counts=weight,
                remaining=remaining,
            )

        assert n(64_285) == 1  # a transfer to an address holding USDT
        assert n(66_300) == 2 and n(66_300, weight=1) == 1  # to a new holder, all we held
        assert n(66_300, remaining=1) == 1  # never more than is left
        assert n(2_015) == 0  # only the leftover margin: TRX burnt for the rest
        assert n(0) == 0


blocks = st.integers(min_value=0, max_value=10**9)
periods = st.integers(min_value=1, max_value=10**6)


class TestIdlePeriods:
    @given(blocks, blocks, periods)
    def test_whole_periods_only(self, since: int, head: int, period: int) -> None:
        n = idle_periods(since_block=since, head_block=head, period_blocks=period)
        assert n >= 0
        if head > since:
            assert n * period <= head - since < (n + 1) * period
        else:
            assert n == 0

    @given(blocks, periods, st.integers(min_value=0, max_value=10**6))
    def test_monotonic_in_chain_time(self, since: int, period: int, later: int) -> None:
        a = idle_periods(since_block=since, head_block=since + later, period_blocks=period)
        b = idle_periods(since_block=since, head_block=since + later + 1, period_blocks=period)
        assert b in (a, a + 1)

    def test_a_day_of_three_second_blocks(self) -> None:
        assert idle_periods(since_block=100, head_block=100 + 28_799, period_blocks=28_800) == 0
        assert idle_periods(since_block=100, head_block=100 + 28_800, period_blocks=28_800) == 1


prices = st.integers(min_value=0, max_value=10**15)
bought_counts = st.integers(min_value=1, max_value=10_000)


class TestUnusedRefund:
    @given(prices, st.integers(min_value=0, max_value=20_000), bought_counts)
    def test_never_more_than_paid_and_exact_share(
        self, price: int, unused: int, bought: int
    ) -> None:
        r = unused_refund(price_units=price, unused=unused, bought=bought)
        assert 0 <= r <= price
        kept = min(unused, bought)
        # rounded down: the exact share minus less than one unit
        assert r * bought <= price * kept < (r + 1) * bought

    @given(prices, bought_counts)
    def test_all_unused_refunds_the_price(self, price: int, bought: int) -> None:
        assert unused_refund(price_units=price, unused=bought, bought=bought) == price

    def test_examples(self) -> None:
        assert unused_refund(price_units=12_000_000, unused=2, bought=4) == 6_000_000
        assert unused_refund(price_units=10, unused=1, bought=3) == 3  # 3.33 rounded down
        assert unused_refund(price_units=10, unused=5, bought=3) == 10  # goodwill counts: 0
