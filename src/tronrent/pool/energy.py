"""Energy <-> staked TRX conversion under Stake 2.0, in exact integer arithmetic.

The chain grants an account ``floor(staked_TRX * TotalEnergyLimit / TotalEnergyWeight)`` energy
(java-tron ``EnergyProcessor.calculateGlobalEnergyLimitV2``; ``TotalEnergyWeight`` counts whole
TRX staked for energy network-wide). Both totals move with every stake, so every conversion takes
the chain's *current* values (``getaccountresource``) - never a constant ratio.

We only ever delegate whole TRX: then the formula gives the same result whether a node counts
staked sun as fractional TRX (Stake 2.0) or truncates it to whole TRX (Stake 1.0 code path).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from tronrent.kit.money import SUN_PER_TRX

BP_PER_UNIT: Final = 10_000
MIN_DELEGATION_SUN: Final = SUN_PER_TRX
"""java-tron: "delegateBalance must be greater than or equal to 1 TRX"."""
DEFAULT_BLOCK_INTERVAL_MS: Final = 3_000
MS_PER_HOUR: Final = 3_600_000


def _check_totals(total_energy_limit: int, total_energy_weight: int) -> None:
    if total_energy_limit <= 0 or total_energy_weight <= 0:
        raise ValueError("TotalEnergyLimit and TotalEnergyWeight must be positive")


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def energy_for_stake_sun(stake_sun: int, total_energy_limit: int, total_energy_weight: int) -> int:
    """Energy granted by ``stake_sun`` staked/delegated: ``floor(sun/1e6 * Limit / Weight)``."""
    if stake_sun < 0:
        raise ValueError("stake must not be negative")
    _check_totals(total_energy_limit, total_energy_weight)
    return stake_sun * total_energy_limit // (total_energy_weight * SUN_PER_TRX)


def stake_sun_for_energy(
    energy: int, total_energy_limit: int, total_energy_weight: int, margin_bp: int = 0
) -> int:
    """Whole-TRX stake (in sun) to delegate so the receiver gets at least ``energy``.

    The result is the largest whole-TRX amount whose energy does not exceed
    ``floor(energy * (1 + margin))`` - the margin absorbs a drop of the ratio between this
    computation and the delegation - but at least the smallest amount whose exact energy is
    strictly above ``energy`` (never exactly on it, see below), and at least 1 TRX. So the energy
    delivered lies in ``[energy, energy * (1 + margin)]`` whenever one TRX of energy
    (``Limit / Weight``) fits in the margin, else it exceeds ``energy`` by under one TRX's worth.
    """
    if energy < 1:
        raise ValueError("energy must be at least 1")
    if margin_bp < 0:
        raise ValueError("margin must not be negative")
    _check_totals(total_energy_limit, total_energy_weight)
    limit, weight = total_energy_limit, total_energy_weight
    # Smallest trx with trx * limit > energy * weight: strictly above, because java-tron computes
    # ``(long) (trx * ((double) limit / weight))`` and a double product landing exactly on an
    # integer may truncate to one less.
    min_trx = energy * weight // limit + 1
    # Largest trx with floor(trx * limit / weight) <= max_e  <=>  trx * limit < (max_e+1) * weight.
    max_energy = energy * (BP_PER_UNIT + margin_bp) // BP_PER_UNIT
    max_trx = ((max_energy + 1) * weight - 1) // limit
    return max(min_trx, max_trx, 1) * SUN_PER_TRX


def energy_per_transaction(base_energy: int, margin_bp: int = 0) -> int:
    """Energy for one transaction: the configured figure plus a margin, rounded up.

    Apply the drift margin in exactly one place: either here or in ``stake_sun_for_energy``.
    """
    if base_energy < 1:
        raise ValueError("base energy must be at least 1")
    if margin_bp < 0:
        raise ValueError("margin must not be negative")
    return _ceil_div(base_energy * (BP_PER_UNIT + margin_bp), BP_PER_UNIT)


def rental_lock_period_blocks(
    duration_hours: int, block_interval_ms: int = DEFAULT_BLOCK_INTERVAL_MS
) -> int:
    """``lock_period`` in blocks covering ``duration_hours`` (1 h at 3 s = 1200), rounded up."""
    return lock_period_blocks_for_ms(duration_hours * MS_PER_HOUR, block_interval_ms)


def lock_period_blocks_for_ms(
    duration_ms: int, block_interval_ms: int = DEFAULT_BLOCK_INTERVAL_MS
) -> int:
    """``lock_period`` in blocks covering ``duration_ms``, rounded up, at least 1.

    (0 would mean the chain's default of 3 days, so it is never returned.)
    """
    if duration_ms < 1:
        raise ValueError("rental duration must be positive")
    if block_interval_ms < 1:
        raise ValueError("block interval must be positive")
    return _ceil_div(duration_ms, block_interval_ms)


def delivered_share(delivered: int, sold: int) -> Fraction:
    """Delivered energy as an exact fraction of energy sold (1 = 100 %)."""
    if sold < 1:
        raise ValueError("sold energy must be positive")
    if delivered < 0:
        raise ValueError("delivered energy must not be negative")
    return Fraction(delivered, sold)


@dataclass(frozen=True, slots=True)
class EnergyRatio:
    """The current ``TotalEnergyLimit`` / ``TotalEnergyWeight`` (from getaccountresource)."""

    total_energy_limit: int
    total_energy_weight: int

    def __post_init__(self) -> None:
        _check_totals(self.total_energy_limit, self.total_energy_weight)

    def energy_for_stake_sun(self, stake_sun: int) -> int:
        """See the module function."""
        return energy_for_stake_sun(stake_sun, self.total_energy_limit, self.total_energy_weight)

    def stake_sun_for_energy(self, energy: int, margin_bp: int = 0) -> int:
        """See the module function."""
        return stake_sun_for_energy(
            energy, self.total_energy_limit, self.total_energy_weight, margin_bp
        )

    @property
    def energy_per_trx(self) -> Fraction:
        """Exact energy per staked TRX (display and monitoring)."""
        return Fraction(self.total_energy_limit, self.total_energy_weight)
