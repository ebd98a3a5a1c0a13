"""The session a job owns: committed when the block succeeds, rolled back when it raises."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.db import transaction_scope
from tronrent.worker._context import get_worker_context


@asynccontextmanager
async def AsyncSessionMaker() -> AsyncIterator[AsyncSession]:
    """`async with AsyncSessionMaker() as session:` - one transaction, committed on success."""
    async with transaction_scope(get_worker_context().session_maker) as session:
        yield session
