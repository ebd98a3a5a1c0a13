"""Process-wide resources handed to jobs (session maker, chain gateway, settings...).

Created at worker boot (or app lifespan / test fixture) and passed in, never built at import.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T = TypeVar("T")


class WorkerNotConfigured(RuntimeError):
    """A job ran before `set_worker_context` was called."""


@dataclass
class WorkerContext:
    """What a job needs: a session maker and typed clients looked up by their class."""

    session_maker: async_sessionmaker[AsyncSession]
    resources: dict[type[Any], Any] = field(default_factory=dict)

    def get(self, kind: type[T]) -> T:
        """The resource registered for `kind`, e.g. `ctx.get(TronGateway)`."""
        try:
            return cast(T, self.resources[kind])
        except KeyError:
            raise WorkerNotConfigured(f"no {kind.__name__} registered in the worker") from None

    def maybe(self, kind: type[T]) -> T | None:
        """The resource registered for `kind`, or None."""
        return cast(T | None, self.resources.get(kind))

    def provide(self, kind: type[T], value: T) -> None:
        """Register `value` as the resource for `kind`."""
        self.resources[kind] = value


_context: ContextVar[WorkerContext | None] = ContextVar("tronrent_worker_context", default=None)
_global: list[WorkerContext] = []


def set_worker_context(ctx: WorkerContext | None) -> None:
    """Install the resources jobs of this process use (None to clear)."""
    _global.clear()
    if ctx is not None:
        _global.append(ctx)
    _context.set(ctx)


def get_worker_context() -> WorkerContext:
    """The resources installed by `set_worker_context`."""
    ctx = _context.get()
    if ctx is None and _global:
        ctx = _global[0]
    if ctx is None:
        raise WorkerNotConfigured("worker context not configured (set_worker_context)")
    return ctx
