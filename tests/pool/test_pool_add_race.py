"""Two operators adding the same pool at once (a double submit): one adds it, the other is
told it exists (409 ``POOL_EXISTS``) - the unique address at the flush, not a 500 (SQLite
and PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trondevnet.testing import new_key
from tronrent.kit.crypto import SecretBox, generate_key
from tronrent.kit.db import transaction_scope
from tronrent.models.energy_pool import EnergyPool
from tronrent.pool.health import PoolCheck
from tronrent.pool.service import PoolExists
from tronrent.pool.service import pool as pool_service

BOX = SecretBox([generate_key()])


async def test_one_added_the_other_told_it_exists(
    session_maker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = new_key().hex()

    async def slow_check(*args: Any, **kwargs: Any) -> PoolCheck:
        await asyncio.sleep(0.3)  # the node's answer: both calls passed the existence check
        return PoolCheck()

    monkeypatch.setattr(pool_service, "check_account", slow_check)

    async def add() -> str:
        try:
            async with transaction_scope(session_maker) as s:
                await pool_service.add(s, BOX, chain=None, private_key=key)
        except PoolExists:
            return "exists"
        return "added"

    assert sorted(await asyncio.gather(add(), add())) == ["added", "exists"]
    async with session_maker() as s:
        assert await s.scalar(select(func.count()).select_from(EnergyPool)) == 1
