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
