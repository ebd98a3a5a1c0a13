"""Which pools delegate how much: scoring and the fewest-pools allocation plan (pure).

Amounts are in one unit throughout, in whole multiples of ``unit_sun``: by default sun of staked
TRX (what ``DelegateResourceContract.balance`` takes) in whole TRX (see ``pool.energy``); a caller
may as well plan in energy units with ``unit_sun=1`` - nothing here depends on the unit. The
caller reserves the planned amounts atomically in the database; this module only decides.

Score of a pool (an integer, higher is better), each component scaled to 0..1000:

- ``cost``: 1000 for the cheapest ``cost_per_energy`` among the candidates, 0 for the dearest,
  linear in between (1000 for all when they cost the same);
- ``availability``: ``1000 * min(capacity, required) / required`` - can it cover the request alone;
- ``priority``: 1000 for the highest priority, 0 for the lowest, linear (1000 when all equal);
- ``failures``: ``failure_step`` per recent failure, at most 1000 - a penalty.

``score = w_cost*cost + w_availability*availability + w_priority*priority - w_failures*failures``
with default weights 4, 3, 3, 4. All arithmetic is exact (``Fraction``), floored at the end.

A request's ``priority`` (seed 001's ``EnergyAllocationRequest.priority``) picks the weights
(`weights_for`): ``normal`` the balanced defaults; ``low`` cost only (the cheapest pools, a pool
with recent failures still penalised); ``high`` priority only (the operator's most trusted pools,
whatever they cost, failures penalised). The fewest-pools rule holds for every priority.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Final

from tronrent.kit.money import SUN_PER_TRX

COMPONENT_MAX: Final = 1000
DEFAULT_COMBINATION_BUDGET: Final = 200_000


@dataclass(frozen=True, slots=True)
class PoolCandidate:
    """A pool as the allocator sees it.

    ``available_sun``: what it can delegate now (``getcandelegatedmaxsize`` minus open
    reservations); ``min/max_delegation_sun``: per-delegation bounds (``None`` = none);
    ``daily_remaining_sun``: what today's limit still allows (``None`` = unlimited);
    ``priority``: higher is preferred; ``recent_failures``: failed delegations lately.
    """

    pool_id: str
    available_sun: int
    min_delegation_sun: int = 0
    max_delegation_sun: int | None = None
    daily_remaining_sun: int | None = None
    priority: int = 1
    cost_per_energy: Decimal | int = 0
    recent_failures: int = 0

    def capacity_sun(self, unit_sun: int = SUN_PER_TRX) -> int:
        """Largest amount this pool may delegate in one go, a multiple of ``unit_sun``."""
        cap = self.available_sun
        if self.max_delegation_sun is not None:
            cap = min(cap, self.max_delegation_sun)
        if self.daily_remaining_sun is not None:
            cap = min(cap, self.daily_remaining_sun)
        return max(cap, 0) // unit_sun * unit_sun

    def minimum_sun(self, unit_sun: int = SUN_PER_TRX) -> int:
        """Smallest amount this pool may delegate, a multiple of ``unit_sun`` (at least one)."""
        lo = max(self.min_delegation_sun, unit_sun)
        return -(-lo // unit_sun) * unit_sun


@dataclass(frozen=True, slots=True)
class ScoreWeights:
    """Weights of the score components (see the module docstring)."""

    cost: int = 4
    availability: int = 3
    priority: int = 3
    failures: int = 4
    failure_step: int = 250


class AllocationPriority(StrEnum):
    """Seed 001's allocation priorities (see the module docstring)."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


_PRIORITY_WEIGHTS: Final = {
    AllocationPriority.LOW: ScoreWeights(cost=4, availability=0, priority=0, failures=4),
    AllocationPriority.NORMAL: ScoreWeights(),
    AllocationPriority.HIGH: ScoreWeights(cost=0, availability=0, priority=4, failures=4),
}


def weights_for(priority: AllocationPriority | str) -> ScoreWeights:
    """The score weights of a request's priority."""
    return _PRIORITY_WEIGHTS[AllocationPriority(priority)]


def part_cost(part: AllocationPart, pools: Sequence[PoolCandidate]) -> int:
    """Seed 001's ``estimated_cost`` of a part: its amount times its pool's ``cost_per_energy``,
    rounded up to a whole unit (exact: ``Fraction``)."""
    cost = next(Fraction(p.cost_per_energy) for p in pools if p.pool_id == part.pool_id)
    return -(-part.amount_sun * cost.numerator // cost.denominator)


@dataclass(frozen=True, slots=True)
class ScoredPool:
    candidate: PoolCandidate
    score: int
    minimum_sun: int
    capacity_sun: int


class AllocationStatus(StrEnum):
    """``allocated``: the parts cover the requirement; ``insufficient_capacity``: all usable pools
    together cannot; ``below_minimum``: enough capacity, but every combination would have to
    delegate more than required because of the pools' minimum delegation."""

    ALLOCATED = "allocated"
    INSUFFICIENT_CAPACITY = "insufficient_capacity"
    BELOW_MINIMUM = "below_minimum"


@dataclass(frozen=True, slots=True)
class AllocationPart:
    pool_id: str
    amount_sun: int


@dataclass(frozen=True, slots=True)
class AllocationPlan:
    """The outcome: ``parts`` sum to ``required_sun`` when ``status`` is ``ALLOCATED``, else empty.

    ``shortage_sun`` is how much capacity is missing (0 unless ``INSUFFICIENT_CAPACITY``).
    """

    required_sun: int
    status: AllocationStatus
    parts: tuple[AllocationPart, ...] = ()
    shortage_sun: int = 0

    @property
    def is_complete(self) -> bool:
        return self.status is AllocationStatus.ALLOCATED

    @property
    def allocated_sun(self) -> int:
        return sum(p.amount_sun for p in self.parts)

    @property
    def pool_ids(self) -> tuple[str, ...]:
        return tuple(p.pool_id for p in self.parts)


def _normalised(value: Fraction, lo: Fraction, hi: Fraction, *, invert: bool) -> Fraction:
    if hi == lo:
        return Fraction(COMPONENT_MAX)
    share = (value - lo) / (hi - lo)
    return COMPONENT_MAX * (1 - share if invert else share)


def score_pools(
    pools: Sequence[PoolCandidate],
    required_sun: int,
    *,
    weights: ScoreWeights = ScoreWeights(),
    unit_sun: int = SUN_PER_TRX,
) -> list[ScoredPool]:
    """Score every candidate for a request of ``required_sun``; best first (ties by pool id)."""
    if not pools:
        return []
    required = max(required_sun, 1)
    costs = [Fraction(p.cost_per_energy) for p in pools]
    prios = [Fraction(p.priority) for p in pools]
    cost_lo, cost_hi, prio_lo, prio_hi = min(costs), max(costs), min(prios), max(prios)
    scored = []
    for pool, cost, prio in zip(pools, costs, prios, strict=True):
        capacity = pool.capacity_sun(unit_sun)
        availability = Fraction(COMPONENT_MAX * min(capacity, required), required)
        failures = min(COMPONENT_MAX, max(pool.recent_failures, 0) * weights.failure_step)
        total = (
            weights.cost * _normalised(cost, cost_lo, cost_hi, invert=True)
            + weights.availability * availability
            + weights.priority * _normalised(prio, prio_lo, prio_hi, invert=False)
            - weights.failures * failures
        )
        scored.append(ScoredPool(pool, int(total // 1), pool.minimum_sun(unit_sun), capacity))
    scored.sort(key=lambda s: (-s.score, s.candidate.pool_id))
    return scored


def _distribute(chosen: Sequence[ScoredPool], required: int) -> tuple[AllocationPart, ...]:
    """Each pool its minimum, then the rest to the best-scored pools first, up to capacity."""
    amounts = [s.minimum_sun for s in chosen]
    rest = required - sum(amounts)
    for i, s in enumerate(chosen):
        extra = min(s.capacity_sun - amounts[i], rest)
        amounts[i] += extra
        rest -= extra
    assert rest == 0
    return tuple(
        AllocationPart(s.candidate.pool_id, a) for s, a in zip(chosen, amounts, strict=True)
    )


def plan_allocation(
    required_sun: int,
    pools: Sequence[PoolCandidate],
    *,
    exclude: Collection[str] = frozenset(),
    weights: ScoreWeights = ScoreWeights(),
    unit_sun: int = SUN_PER_TRX,
    combination_budget: int = DEFAULT_COMBINATION_BUDGET,
) -> AllocationPlan:
    """Plan delegations covering ``required_sun`` (rounded up to ``unit_sun``).

    One pool when one can cover it (the best-scored such pool); otherwise the fewest pools
    (among equally few, the highest total score), each given at least its minimum and at most
    its capacity (available, max delegation and daily limit). Pools in ``exclude`` (e.g. one
    whose delegation just failed) are skipped. Combinations are searched exhaustively up to
    ``combination_budget`` per pool count, then greedily by capacity.
    """
    if required_sun < 1:
        raise ValueError("required amount must be positive")
    if unit_sun < 1:
        raise ValueError("unit must be positive")
    required = -(-required_sun // unit_sun) * unit_sun
    candidates = [p for p in pools if p.pool_id not in exclude]
    usable = [
        s
        for s in score_pools(candidates, required, weights=weights, unit_sun=unit_sun)
        if s.minimum_sun <= s.capacity_sun
    ]
    total_capacity = sum(s.capacity_sun for s in usable)
    if total_capacity < required:
        return AllocationPlan(
            required, AllocationStatus.INSUFFICIENT_CAPACITY, shortage_sun=required - total_capacity
        )
    by_capacity = sorted(usable, key=lambda s: -s.capacity_sun)
    for k in range(1, len(usable) + 1):
        if sum(s.capacity_sun for s in by_capacity[:k]) < required:
            continue  # no k pools can hold it
        chosen = _best_combination(usable, by_capacity, k, required, combination_budget)
        if chosen is not None:
            return AllocationPlan(
                required, AllocationStatus.ALLOCATED, parts=_distribute(chosen, required)
            )
    return AllocationPlan(required, AllocationStatus.BELOW_MINIMUM)


def _feasible(combo: Sequence[ScoredPool], required: int) -> bool:
    return sum(s.minimum_sun for s in combo) <= required <= sum(s.capacity_sun for s in combo)


def _best_combination(
    by_score: Sequence[ScoredPool],
    by_capacity: Sequence[ScoredPool],
    k: int,
    required: int,
    budget: int,
) -> tuple[ScoredPool, ...] | None:
    best: tuple[ScoredPool, ...] | None = None
    best_score = 0
    for n, combo in enumerate(itertools.combinations(by_score, k)):
        if n >= budget:
            break
        if _feasible(combo, required):
            total = sum(s.score for s in combo)
            if best is None or total > best_score:
                best, best_score = combo, total
    else:
        return best
    if best is not None:
        return best
    # Too many combinations to try them all and none feasible among those tried: the k largest
    # pools, as a best effort.
    greedy = tuple(by_capacity[:k])
    if _feasible(greedy, required):
        return tuple(sorted(greedy, key=lambda s: (-s.score, s.candidate.pool_id)))
    return None
