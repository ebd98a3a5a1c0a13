from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tronrent.pool.energy import (
    EnergyRatio,
    delivered_share,
    energy_for_stake_sun,
    energy_per_transaction,
    lock_period_blocks_for_ms,
    rental_lock_period_blocks,
    stake_sun_for_energy,
)

MAINNET_LIMIT = 180_000_000_000
TRX = 1_000_000

limits = st.integers(1, 10**12)
weights = st.integers(1, 10**12)
realistic_weights = st.integers(10**9, 10**11)
energies = st.integers(1, 10**9)
sold_energies = st.integers(1, 10).map(lambda n: n * 65_000) | st.integers(65_000, 10**8)


class TestEnergyForStakeSun:
    def test_mainnet_example(self) -> None:
        # 2025-ish: ~19e9 TRX staked for energy -> ~9.47 energy per TRX.
        assert energy_for_stake_sun(7_000 * TRX, MAINNET_LIMIT, 19_000_000_000) == 66_315

    def test_fractional_trx_counts(self) -> None:
        assert energy_for_stake_sun(1_500_000, 10, 1) == 15
        assert energy_for_stake_sun(0, 10, 1) == 0

    @pytest.mark.parametrize(("limit", "weight"), [(0, 1), (1, 0), (-1, 1)])
    def test_bad_totals(self, limit: int, weight: int) -> None:
        with pytest.raises(ValueError):
            energy_for_stake_sun(TRX, limit, weight)

    def test_negative_stake(self) -> None:
        with pytest.raises(ValueError):
            energy_for_stake_sun(-1, 1, 1)

    @given(a=st.integers(0, 10**16), b=st.integers(0, 10**16), limit=limits, weight=weights)
    def test_monotonic_and_superadditive(self, a: int, b: int, limit: int, weight: int) -> None:
        lo, hi = sorted((a, b))
        assert energy_for_stake_sun(lo, limit, weight) <= energy_for_stake_sun(hi, limit, weight)
        # A receiver's energy from existing stake + a delegation is at least the two parts.
        assert energy_for_stake_sun(a + b, limit, weight) >= energy_for_stake_sun(
            a, limit, weight
        ) + energy_for_stake_sun(b, limit, weight)


class TestStakeSunForEnergy:
    def test_mainnet_example(self) -> None:
        stake = stake_sun_for_energy(65_000, MAINNET_LIMIT, 19_000_000_000)
        assert stake % TRX == 0
        assert stake == 6_862 * TRX  # ceil(65_000 * 19e9 / 180e9) TRX
        assert 65_000 <= energy_for_stake_sun(stake, MAINNET_LIMIT, 19_000_000_000) < 65_010

    def test_margin(self) -> None:
        stake = stake_sun_for_energy(65_000, MAINNET_LIMIT, 19_000_000_000, margin_bp=200)
        energy = energy_for_stake_sun(stake, MAINNET_LIMIT, 19_000_000_000)
        assert 66_290 <= energy <= 66_300

    def test_minimum_one_trx(self) -> None:
        assert stake_sun_for_energy(1, 1000, 1) == TRX

    def test_coarse_ratio_rounds_up(self) -> None:
        # 1000 energy per TRX: 1500 energy needs 2 TRX even with no margin.
        assert stake_sun_for_energy(1500, 1000, 1) == 2 * TRX

    def test_exact_boundary_gets_one_more_trx(self) -> None:
        # 2000 energy is exactly 2 TRX at 1000/TRX; a double product may truncate to 1999.
        assert stake_sun_for_energy(2000, 1000, 1) == 3 * TRX

    @pytest.mark.parametrize(("energy", "margin"), [(0, 0), (-5, 0), (1, -1)])
    def test_invalid(self, energy: int, margin: int) -> None:
        with pytest.raises(ValueError):
            stake_sun_for_energy(energy, 1, 1, margin)

    @given(energy=energies, limit=limits, weight=weights, margin=st.integers(0, 1000))
    def test_always_enough_whole_trx(
        self, energy: int, limit: int, weight: int, margin: int
    ) -> None:
        stake = stake_sun_for_energy(energy, limit, weight, margin)
        assert stake >= TRX
        assert stake % TRX == 0
        assert energy_for_stake_sun(stake, limit, weight) >= energy
        max_energy = energy * (10_000 + margin) // 10_000
        got = energy_for_stake_sun(stake, limit, weight)
        if got <= max_energy:
            # The largest whole-TRX stake within the margin window.
            assert energy_for_stake_sun(stake + TRX, limit, weight) > max_energy
        else:
            # The window holds no whole TRX: the smallest stake that is enough (or 1 TRX).
            # (exact boundaries get one TRX more, against java-tron's double rounding).
            assert stake == TRX or stake - TRX <= energy * weight // limit * TRX
            assert stake == TRX or energy_for_stake_sun(stake - TRX, limit, weight) <= energy

    @given(sold=sold_energies, weight=realistic_weights, margin=st.integers(0, 200))
    def test_realistic_within_100_102_percent(self, sold: int, weight: int, margin: int) -> None:
        stake = stake_sun_for_energy(sold, MAINNET_LIMIT, weight, margin)
        delivered = energy_for_stake_sun(stake, MAINNET_LIMIT, weight)
        assert 1 <= delivered_share(delivered, sold) <= Fraction(102, 100)
        # Within the margin, or within one TRX's worth of energy above the request.
        assert delivered <= max(sold * (10_000 + margin) // 10_000, sold + MAINNET_LIMIT // weight)

    @given(sold=sold_energies, weight=realistic_weights)
    def test_margin_covers_drift(self, sold: int, weight: int) -> None:
        # With a 2 % margin, a 1.5 % rise of the network weight still leaves the customer whole.
        stake = stake_sun_for_energy(sold, MAINNET_LIMIT, weight, 200)
        assert energy_for_stake_sun(stake, MAINNET_LIMIT, weight * 1015 // 1000) >= sold

    @given(a=energies, b=energies, limit=limits, weight=weights)
    def test_monotonic(self, a: int, b: int, limit: int, weight: int) -> None:
        lo, hi = sorted((a, b))
        assert stake_sun_for_energy(lo, limit, weight) <= stake_sun_for_energy(hi, limit, weight)


class TestEnergyRatio:
    def test_methods(self) -> None:
        ratio = EnergyRatio(MAINNET_LIMIT, 19_000_000_000)
        assert ratio.energy_per_trx == Fraction(180, 19)
        assert ratio.stake_sun_for_energy(65_000) == stake_sun_for_energy(
            65_000, MAINNET_LIMIT, 19_000_000_000
        )
        assert ratio.energy_for_stake_sun(TRX) == 9

    def test_rejects_zero(self) -> None:
        with pytest.raises(ValueError):
            EnergyRatio(MAINNET_LIMIT, 0)


class TestEnergyPerTransaction:
    def test_default_margin(self) -> None:
        assert energy_per_transaction(65_000) == 65_000
        assert energy_per_transaction(65_000, 200) == 66_300
        assert energy_per_transaction(1, 1) == 2  # rounded up

    def test_invalid(self) -> None:
        with pytest.raises(ValueError):
            energy_per_transaction(0)
        with pytest.raises(ValueError):
            energy_per_transaction(1, -1)

    @given(base=energies, margin=st.integers(0, 10_000))
    def test_bounds(self, base: int, margin: int) -> None:
        e = energy_per_transaction(base, margin)
        assert base * (10_000 + margin) <= e * 10_000 < base * (10_000 + margin) + 10_000


class TestLockPeriod:
    def test_one_hour_three_seconds(self) -> None:
        assert rental_lock_period_blocks(1) == 1200
        assert rental_lock_period_blocks(24) == 28_800
        assert rental_lock_period_blocks(1, 1000) == 3600

    def test_rounds_up(self) -> None:
        assert lock_period_blocks_for_ms(3001) == 2
        assert lock_period_blocks_for_ms(1) == 1

    @pytest.mark.parametrize(("ms", "interval"), [(0, 3000), (1, 0)])
    def test_invalid(self, ms: int, interval: int) -> None:
        with pytest.raises(ValueError):
            lock_period_blocks_for_ms(ms, interval)

    @given(ms=st.integers(1, 10**10), interval=st.integers(1, 10**5))
    def test_covers_duration(self, ms: int, interval: int) -> None:
        blocks = lock_period_blocks_for_ms(ms, interval)
        assert blocks * interval >= ms > (blocks - 1) * interval


class TestDeliveredShare:
    def test_exact(self) -> None:
        assert delivered_share(66_300, 65_000) == Fraction(102, 100)

    def test_invalid(self) -> None:
        with pytest.raises(ValueError):
            delivered_share(1, 0)
        with pytest.raises(ValueError):
            delivered_share(-1, 1)


def test_java_tron_documentation_vector() -> None:
    import json
    from pathlib import Path

    vectors = json.loads(
        (Path(__file__).resolve().parents[1] / "tronproto" / "data" / "vectors.json").read_text()
    )
    [vector] = [v for v in vectors if v["kind"] == "energy_share_formula"]
    for case in vector["cases"]:
        assert (
            energy_for_stake_sun(
                case["frozen_sun"], vector["total_energy_limit"], case["total_energy_weight_trx"]
            )
            == case["expected_energy_limit"]
        )
