"""FastAPI dependencies of the flash routes: chain, runtime, and the request's job scope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends

from tronrent.adapters.tron.port import ChainPort
from tronrent.api.deps import SessionDep, StateDep
from tronrent.kit.errors import ServiceUnavailable
from tronrent.order.recipient import RecipientCheck
from tronrent.order.runtime import FlashRuntime
from tronrent.worker import has_job_scope, job_scope

CHAIN_COMPONENT = "chain"
RUNTIME_COMPONENT = "flash_runtime"
ENGINE_COMPONENT = "flash_engine"
RECIPIENT_CHECK_COMPONENT = "recipient_check"


def _component(state: StateDep, name: str) -> Any:
    value = state.components.get(name)
    if value is None:
        raise ServiceUnavailable("the flash rental engine is not running", "FLASH_NOT_RUNNING")
    return value


def get_chain(state: StateDep) -> ChainPort:
    chain: ChainPort = _component(state, CHAIN_COMPONENT)
    return chain


def get_runtime(state: StateDep) -> FlashRuntime:
    rt: FlashRuntime = _component(state, RUNTIME_COMPONENT)
    return rt


async def get_recipient_check(state: StateDep, session: SessionDep) -> RecipientCheck | None:
    """The recipient account check (None when the engine runs without one), for the request's
    unit of work (SQLite: its write lock is not held while the node answers)."""
    check: RecipientCheck | None = state.components.get(RECIPIENT_CHECK_COMPONENT)
    return None if check is None else check.within(session)


async def block_interval_ms(state: StateDep) -> int:
    """The chain's block interval: the running engine's, else the configured one."""
    rt: FlashRuntime | None = state.components.get(RUNTIME_COMPONENT)
    return rt.block_interval_ms if rt is not None else state.settings.block_interval_ms


# `get_chain` and `get_runtime` are called by routes too; their dependencies are `async def`
# (a plain `def` dependency runs in a worker thread: api.deps)


async def _chain_dep(state: StateDep) -> ChainPort:
    return get_chain(state)


async def _runtime_dep(state: StateDep) -> FlashRuntime:
    return get_runtime(state)


ChainDep = Annotated[ChainPort, Depends(_chain_dep)]
BlockIntervalDep = Annotated[int, Depends(block_interval_ms)]
RecipientCheckDep = Annotated[RecipientCheck | None, Depends(get_recipient_check)]
RuntimeDep = Annotated[FlashRuntime, Depends(_runtime_dep)]


async def request_job_scope() -> AsyncIterator[None]:
    """Jobs enqueued while handling the request are sent after its transaction commits.

    Declared on the router before the session dependency, so it exits after the commit.
    """
    if has_job_scope():
        yield
        return
    async with job_scope():
        yield


JOB_SCOPE = Depends(request_job_scope, scope="function")
