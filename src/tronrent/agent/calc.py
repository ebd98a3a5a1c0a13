"""Pure commission and withdrawal maths: integer base units, basis points, no session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

BPS: Final = 10_000


@dataclass(frozen=True, slots=True)
class Share:
    """What one agent of the chain earns on an order."""

    level: int  # 1 = the buyer's referrer
    commission_bps: int
    amount_units: int


def commission(base_units: int, bps: int) -> int:
    """``base * bps / 10000`` rounded down (the platform keeps the fraction)."""
    if base_units < 0 or not 0 <= bps <= BPS:
        raise ValueError("base must be >= 0 and bps within 0..10000")
    return base_units * bps // BPS


def level_rates(levels_bps: Sequence[int], first_override_bps: int | None) -> list[int]:
    """The rate of each level: the configured levels, the first replaced by the referring
    agent's own rate when it has one."""
    rates = list(levels_bps)
    if rates and first_override_bps is not None:
        rates[0] = first_override_bps
    return rates


def shares(base_units: int, rates_bps: Sequence[int]) -> list[Share]:
    """One share per level with a non-zero amount (a level that earns nothing gets no row).

    Each share is rounded down on its own, so the shares never sum to more than
    ``base * sum(rates) / 10000``, hence never more than the base when the rates sum to at most
    10000 (the settings validator guarantees it for the configured levels).
    """
    out: list[Share] = []
    for level, bps in enumerate(rates_bps, start=1):
        amount = commission(base_units, bps)
        if amount > 0:
            out.append(Share(level, bps, amount))
    return out


@dataclass(frozen=True, slots=True)
class WithdrawalQuote:
    amount_units: int  # leaves the balance
    fee_units: int  # kept by the platform
    payout_units: int  # sent on chain
    needs_review: bool  # above the auto-approve threshold


def quote_withdrawal(
    amount_units: int, *, minimum_units: int, fee_units: int, auto_approve_units: int
) -> WithdrawalQuote | None:
    """The withdrawal of ``amount_units`` (fee included), or None when below the minimum or
    nothing would be left to send after the fee."""
    if amount_units < minimum_units or amount_units <= fee_units:
        return None
    return WithdrawalQuote(
        amount_units=amount_units,
        fee_units=fee_units,
        payout_units=amount_units - fee_units,
        needs_review=amount_units > auto_approve_units,
    )
