"""How much a count-package use counts (pure; property-tested)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tronrent.count.rules import counts_for

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
