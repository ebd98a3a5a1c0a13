from __future__ import annotations

import itertools
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tronrent.pool.allocation import (
    AllocationPlan,
    AllocationPriority,
    AllocationStatus,
    PoolCandidate,
    ScoreWeights,
    part_cost,
    plan_allocation,
    score_pools,
    weights_for,
)

TRX = 1_000_000


def pool(pid: str, available_trx: int, **kw: object) -> PoolCandidate:
    return PoolCandidate(pool_id=pid, available_sun=available_trx * TRX, **kw)  # type: ignore[arg-type]


candidates = st.builds(
    PoolCandidate,
    pool_id=st.text("abcdefgh", min_size=1, max_size=3),
    available_sun=st.integers(0, 50).map(lambda t: t * TRX) | st.integers(0, 50 * TRX),
    min_delegation_sun=st.sampled_from([0, TRX, 5 * TRX, 12 * TRX + 1]),
    max_delegation_sun=st.none() | st.integers(0, 60).map(lambda t: t * TRX),
    daily_remaining_sun=st.none() | st.integers(0, 60 * TRX),
    priority=st.integers(1, 5),
    cost_per_energy=st.sampled_from([0, 1, Decimal("0.5"), Decimal("1.25")]),
    recent_failures=st.integers(0, 5),
)
pool_lists = st.lists(candidates, max_size=7, unique_by=lambda p: p.pool_id)


def check_valid(plan: AllocationPlan, pools: list[PoolCandidate], exclude: frozenset[str]) -> None:
    by_id = {p.pool_id: p for p in pools}
    if plan.status is AllocationStatus.ALLOCATED:
        assert plan.allocated_sun == plan.required_sun
        assert len(set(plan.pool_ids)) == len(plan.parts)
        for part in plan.parts:
            p = by_id[part.pool_id]
            assert part.pool_id not in exclude
            assert part.amount_sun % TRX == 0
            assert max(TRX, p.min_delegation_sun) <= part.amount_sun <= p.available_sun
            if p.max_delegation_sun is not None:
                assert part.amount_sun <= p.max_delegation_sun
            if p.daily_remaining_sun is not None:
                assert part.amount_sun <= p.daily_remaining_sun
    else:
        assert plan.parts == ()
        assert plan.allocated_sun == 0


def brute_force_min_pools(
    required: int, pools: list[PoolCandidate], exclude: frozenset[str]
) -> int | None:
    usable = [
        (p.minimum_sun(), p.capacity_sun())
        for p in pools
        if p.pool_id not in exclude and p.minimum_sun() <= p.capacity_sun()
    ]
    for k in range(1, len(usable) + 1):
        for combo in itertools.combinations(usable, k):
            if sum(lo for lo, _ in combo) <= required <= sum(hi for _, hi in combo):
                return k
    return None


class TestPlanAllocation:
    def test_single_pool_best_score(self) -> None:
        pools = [
            pool("cheap", 1000, cost_per_energy=1),
            pool("dear", 1000, cost_per_energy=2),
            pool("small", 10, cost_per_energy=0),
        ]
        plan = plan_allocation(500 * TRX, pools)
        assert plan.is_complete
        assert plan.parts[0].pool_id == "cheap"
        assert plan.pool_ids == ("cheap",)

    def test_priority_breaks_equal_cost(self) -> None:
        pools = [pool("a", 1000, priority=1), pool("b", 1000, priority=2)]
        assert plan_allocation(10 * TRX, pools).pool_ids == ("b",)

    def test_failures_push_down(self) -> None:
        pools = [pool("a", 1000, recent_failures=3), pool("b", 1000)]
        assert plan_allocation(10 * TRX, pools).pool_ids == ("b",)

    def test_exclude_moves_to_next_pool(self) -> None:
        pools = [pool("a", 1000, priority=5), pool("b", 1000)]
        assert plan_allocation(10 * TRX, pools).pool_ids == ("a",)
        assert plan_allocation(10 * TRX, pools, exclude={"a"}).pool_ids == ("b",)
        plan = plan_allocation(10 * TRX, pools, exclude={"a", "b"})
        assert plan.status is AllocationStatus.INSUFFICIENT_CAPACITY
        assert plan.shortage_sun == 10 * TRX

    def test_split_over_fewest(self) -> None:
        pools = [pool("a", 60), pool("b", 50), pool("c", 30), pool("d", 20), pool("e", 20)]
        plan = plan_allocation(100 * TRX, pools)
        assert plan.is_complete
        assert sorted(plan.pool_ids) == ["a", "b"]
        assert plan.allocated_sun == 100 * TRX

    def test_split_prefers_better_pair(self) -> None:
        pools = [pool("a", 60, cost_per_energy=5), pool("b", 60, cost_per_energy=1), pool("c", 60)]
        plan = plan_allocation(100 * TRX, pools)
        assert sorted(plan.pool_ids) == ["b", "c"]
        # The better-scored pool is filled first.
        assert plan.parts[0].amount_sun == 60 * TRX

    def test_limits(self) -> None:
        pools = [
            pool("max", 1000, max_delegation_sun=40 * TRX),
            pool("daily", 1000, daily_remaining_sun=30 * TRX),
            pool("min", 1000, min_delegation_sun=500 * TRX),
        ]
        plan = plan_allocation(70 * TRX, pools)
        assert plan.is_complete
        assert sorted((p.pool_id, p.amount_sun) for p in plan.parts) == [
            ("daily", 30 * TRX),
            ("max", 40 * TRX),
        ]
        assert plan_allocation(600 * TRX, pools).pool_ids == ("min",)

    def test_insufficient(self) -> None:
        plan = plan_allocation(100 * TRX, [pool("a", 30), pool("b", 40)])
        assert plan.status is AllocationStatus.INSUFFICIENT_CAPACITY
        assert plan.shortage_sun == 30 * TRX
        assert not plan.is_complete

    def test_below_minimum(self) -> None:
        plan = plan_allocation(2 * TRX, [pool("a", 100, min_delegation_sun=10 * TRX)])
        assert plan.status is AllocationStatus.BELOW_MINIMUM
        assert plan.shortage_sun == 0

    def test_rounds_up_to_whole_trx(self) -> None:
        plan = plan_allocation(1, [pool("a", 10)])
        assert plan.required_sun == TRX
        assert plan.parts[0].amount_sun == TRX

    def test_fractional_available_is_floored(self) -> None:
        plan = plan_allocation(2 * TRX, [PoolCandidate("a", 2 * TRX - 1)])
        assert plan.status is AllocationStatus.INSUFFICIENT_CAPACITY

    def test_invalid(self) -> None:
        with pytest.raises(ValueError):
            plan_allocation(0, [pool("a", 1)])
        with pytest.raises(ValueError):
            plan_allocation(1, [pool("a", 1)], unit_sun=0)

    def test_budget_fallback(self) -> None:
        pools = [pool(f"p{i:02d}", 10) for i in range(30)]
        plan = plan_allocation(50 * TRX, pools, combination_budget=3)
        assert plan.is_complete
        assert len(plan.parts) == 5

    @settings(max_examples=300, deadline=None)
    @given(
        required_trx=st.integers(1, 200),
        pools=pool_lists,
        exclude=st.frozensets(st.text("abcdefgh", min_size=1, max_size=3), max_size=2),
    )
    def test_against_brute_force(
        self, required_trx: int, pools: list[PoolCandidate], exclude: frozenset[str]
    ) -> None:
        required = required_trx * TRX
        plan = plan_allocation(required, pools, exclude=exclude)
        check_valid(plan, pools, exclude)
        expected_k = brute_force_min_pools(required, pools, exclude)
        if expected_k is None:
            assert not plan.is_complete
            usable_cap = sum(
                p.capacity_sun()
                for p in pools
                if p.pool_id not in exclude and p.minimum_sun() <= p.capacity_sun()
            )
            if usable_cap < required:
                assert plan.status is AllocationStatus.INSUFFICIENT_CAPACITY
                assert plan.shortage_sun == required - usable_cap
            else:
                assert plan.status is AllocationStatus.BELOW_MINIMUM
        else:
            assert plan.is_complete
            assert len(plan.parts) == expected_k
            if expected_k == 1:
                # The best-scored pool that can cover it alone.
                scored = score_pools([p for p in pools if p.pool_id not in exclude], required)
                single = [s for s in scored if s.minimum_sun <= required <= s.capacity_sun]
                assert plan.pool_ids == (single[0].candidate.pool_id,)


class TestScorePools:
    def test_components(self) -> None:
        pools = [
            pool("a", 100, cost_per_energy=1, priority=1),
            pool("b", 100, cost_per_energy=2, priority=2),
            pool("c", 50, cost_per_energy=1, priority=2, recent_failures=1),
        ]
        scores = {s.candidate.pool_id: s.score for s in score_pools(pools, 100 * TRX)}
        assert scores == {
            "a": 4 * 1000 + 3 * 1000 + 0,
            "b": 0 + 3 * 1000 + 3 * 1000,
            "c": 4 * 1000 + 3 * 500 + 3 * 1000 - 4 * 250,
        }

    def test_custom_weights_and_empty(self) -> None:
        assert score_pools([], TRX) == []
        w = ScoreWeights(cost=0, availability=0, priority=0, failures=1, failure_step=1000)
        [s] = score_pools([pool("a", 1, recent_failures=9)], TRX, weights=w)
        assert s.score == -1000


class TestPriority:
    """Seed 001's request priority: ``low`` the cheapest pool, ``high`` the operator's highest
    priority, ``normal`` the balanced score; the plan is valid whatever the priority."""

    single = st.lists(
        st.builds(
            PoolCandidate,
            pool_id=st.text("abcdefgh", min_size=1, max_size=3),
            available_sun=st.integers(10, 50).map(lambda t: t * TRX),
            priority=st.integers(1, 5),
            cost_per_energy=st.integers(0, 9) | st.sampled_from([Decimal("0.5"), Decimal("1.25")]),
        ),
        min_size=1,
        max_size=7,
        unique_by=lambda p: p.pool_id,
    )

    @given(single, st.integers(1, 10))
    def test_low_cheapest_high_highest_priority(
        self, pools: list[PoolCandidate], required_trx: int
    ) -> None:
        # every pool can cover the request alone and none failed lately: one pool, the best
        low = plan_allocation(required_trx * TRX, pools, weights=weights_for("low"))
        high = plan_allocation(required_trx * TRX, pools, weights=weights_for("high"))
        by_id = {p.pool_id: p for p in pools}
        [cheap] = low.parts
        [trusted] = high.parts
        assert by_id[cheap.pool_id].cost_per_energy == min(p.cost_per_energy for p in pools)
        assert by_id[trusted.pool_id].priority == max(p.priority for p in pools)

    @given(pool_lists, st.integers(1, 100), st.sampled_from(list(AllocationPriority)))
    @settings(max_examples=200)
    def test_plan_valid_for_every_priority(
        self, pools: list[PoolCandidate], required_trx: int, priority: AllocationPriority
    ) -> None:
        plan = plan_allocation(required_trx * TRX, pools, weights=weights_for(priority))
        check_valid(plan, pools, frozenset())
        assert plan.status is plan_allocation(required_trx * TRX, pools).status

    def test_normal_is_the_default(self) -> None:
        assert weights_for("normal") == ScoreWeights()
        with pytest.raises(ValueError):
            weights_for("urgent")

    @given(single, st.integers(1, 10_000))
    def test_part_cost_is_exact(self, pools: list[PoolCandidate], energy: int) -> None:
        plan = plan_allocation(energy, pools, unit_sun=1)
        for part in plan.parts:
            cost = Fraction(by_id(pools)[part.pool_id].cost_per_energy) * part.amount_sun
            assert part_cost(part, pools) == math.ceil(cost)


def by_id(pools: list[PoolCandidate]) -> dict[str, PoolCandidate]:
    return {p.pool_id: p for p in pools}
