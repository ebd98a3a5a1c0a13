"""The ``tronrent serve`` process: the API app plus everything started alongside it.

Hook point for later issues: :func:`lifespan_hooks` returns the async context managers entered
(in order) after the database, Redis and auth state exist - start the in-process devnet when
``settings.embedded_chain``, the chain gateway (register ``state.health.register("chain", ...)``),
the workers and the block scanner there; they are stopped in reverse order on shutdown.
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from tronrent.api.app import LifespanHook, create_app
from tronrent.config import Settings


def lifespan_hooks(settings: Settings) -> list[LifespanHook]:
    """Components started with the API, in start order."""
    return []


def build_app(settings: Settings) -> FastAPI:
    return create_app(settings, lifespan_hooks=lifespan_hooks(settings))


def run(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn, our JSON logging, no uvicorn access log)."""
    config = uvicorn.Config(
        build_app(settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=True,
        lifespan="on",
    )
    uvicorn.Server(config).run()
