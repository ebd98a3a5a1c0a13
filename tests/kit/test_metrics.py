"""Metric helpers: facts recorded only once their transaction commits (SQLite and PostgreSQL),
and the pool gauges (property-tested)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.kit.db import after_commit
from tronrent.kit.metrics import REGISTRY, set_pool_energy


class TestAfterCommit:
    async def test_called_once_on_commit_dropped_on_rollback(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        seen: list[int] = []
        async with session_maker() as s:
            await s.execute(text("SELECT 1"))
            after_commit(s, seen.append, 1)
            assert seen == []  # not before the commit
            await s.commit()
            assert seen == [1]
            await s.execute(text("SELECT 1"))
            after_commit(s, seen.append, 2)
            await s.rollback()
            await s.execute(text("SELECT 1"))
            await s.commit()  # the rolled back transaction's callback never runs
            assert seen == [1]
            after_commit(s, seen.append, 3)
            await s.commit()  # a later commit runs it (once)
            await s.commit()
        assert seen == [1, 3]

    async def test_dropped_when_the_session_closes_uncommitted(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        seen: list[int] = []
        async with session_maker() as s:
            await s.execute(text("SELECT 1"))
            after_commit(s, seen.append, 1)
        async with session_maker() as s:
            await s.execute(text("SELECT 1"))
            await s.commit()
        assert seen == []


def gauge(name: str, pool: str) -> float | None:
    return REGISTRY.get_sample_value(f"tronrent_pool_energy_{name}", {"pool": pool})


pools = st.dictionaries(
    st.text("TABCDEFGHJKLMNPQRSTUVWXYZ123456789", min_size=3, max_size=8),
    st.tuples(st.integers(0, 10**15), st.integers(0, 10**15)),
    max_size=5,
)


@settings(deadline=None)  # no wall-clock limit: the machine is shared
@given(first=pools, second=pools)
def test_pool_gauges_replace_the_previous_sync(
    first: dict[str, tuple[int, int]], second: dict[str, tuple[int, int]]
) -> None:
    set_pool_energy((a, available, delegated) for a, (available, delegated) in first.items())
    set_pool_energy((a, available, delegated) for a, (available, delegated) in second.items())
    for address, (available, delegated) in second.items():
        capacity = available + delegated
        assert gauge("available", address) == available
        assert gauge("capacity", address) == capacity
        utilisation = gauge("utilisation", address)
        assert utilisation is not None and 0.0 <= utilisation <= 1.0
        assert utilisation == (delegated / capacity if capacity else 0.0)
    for address in set(first) - set(second):  # a pool gone since: no stale series
        assert gauge("available", address) is None
