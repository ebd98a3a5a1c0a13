"""How much a count-package use counts: pure, no I/O (property-tested)."""

from __future__ import annotations


def counts_for(
    *, energy_used: int, energy_per_count: int, new_holder_counts: int, remaining: int
) -> int:
    """The counts one USDT transfer from a package's address uses up.

    - It drew less than half a transfer's energy from the address (the customer burnt TRX for
      most of it, e.g. a second transfer in the same block before our top-up, which finds only
      the first one's leftover margin): 0 - we delivered next to nothing for it.
    - It drew energy (from our delegation, or from stake of the customer's own: on chain they
      are one energy balance and cannot be told apart): 1; ``new_holder_counts`` (1 or 2) when
      it drew more than one transfer's energy (``energy_per_count``, a recipient holding no
      USDT: about 130,285). A transfer that failed in its block counts too when it drew energy:
      the energy is gone and is topped up like any other.
    - Never more than what is left.
    """
    if energy_used <= 0 or 2 * energy_used < energy_per_count or remaining <= 0:
        return 0
    weight = new_holder_counts if energy_used > energy_per_count else 1
    return min(weight, remaining)


def idle_periods(*, since_block: int, head_block: int, period_blocks: int) -> int:
    """Whole idle periods between ``since_block`` (the last use, resume or start) and the
    scanned ``head_block``: chain time in block slots, never negative."""
    if period_blocks <= 0 or head_block <= since_block:
        return 0
    return (head_block - since_block) // period_blocks


def unused_refund(*, price_units: int, unused: int, bought: int) -> int:
    """The share of the price (integer units, rounded down: never more than was paid) of
    ``unused`` counts out of the ``bought`` ones; counts an operator added beyond those bought
    refund nothing."""
    if price_units <= 0 or unused <= 0 or bought <= 0:
        return 0
    return price_units * min(unused, bought) // bought
