"""FastAPI dependencies shared by every router.

Every dependency is ``async def``, even when it awaits nothing: FastAPI runs a plain ``def``
dependency in a worker thread (a thread hand-off per call, several per request), an
``async def`` one inline on the event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.api.state import AppState
from tronrent.config import Settings
from tronrent.kit.db import transaction_scope
from tronrent.kit.errors import ServiceUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis


async def get_app_state(request: Request) -> AppState:
    state: AppState | None = getattr(request.app.state, "tronrent", None)
    if state is None:
        raise ServiceUnavailable("service is starting", "NOT_READY")
    return state


StateDep = Annotated[AppState, Depends(get_app_state)]


async def get_settings(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_db_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    """One session per request; the request owns the transaction.

    Commits when the handler returns, rolls back when it raises. Used with
    ``scope="function"`` so the commit happens before the response is sent: a failed commit
    turns into an error answer, never a success the database does not hold.
    """
    async with transaction_scope(state.session_maker) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_db_session, scope="function")]


async def get_redis(state: StateDep) -> Redis | None:
    """The Redis client, or None on the embedded default."""
    return state.redis


RedisDep = Annotated["Redis | None", Depends(get_redis)]
