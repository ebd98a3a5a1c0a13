"""PostgreSQL LISTEN: call back on every notification of a channel, reconnecting when the
connection is lost (asyncpg-listen's `NotificationListener`, on a connection of its own made
with the engine's own connect arguments).

A notification is a wake-up, never the fact itself: the listener's connection may be down for
a while (notifications sent meanwhile are lost), so whoever listens also reads the database
on a timer of its own. SQLite has no NOTIFY (`supports_listen`): callers do not listen there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Final

from asyncpg_listen import (
    ListenPolicy,
    NotificationListener,
    NotificationOrTimeout,
    Timeout,
    connect_func,
)
from sqlalchemy.ext.asyncio import AsyncEngine

#: seconds between attempts to connect again
RECONNECT_DELAY_S: Final = 1.0
#: seconds without a notification after which the connection is checked (a third of it)
IDLE_CHECK_S: Final = 30.0


def supports_listen(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


async def listen(
    engine: AsyncEngine, channel: str, on_notify: Callable[[], None], stop: asyncio.Event
) -> None:
    """Until ``stop`` is set: ``on_notify()`` after each notification on ``channel`` (several
    waiting at once: one call). PostgreSQL only (`supports_listen`)."""
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    listener = NotificationListener(
        connect_func(*args, **kwargs), reconnect_delay=RECONNECT_DELAY_S
    )

    async def handle(event: NotificationOrTimeout) -> None:
        if not isinstance(event, Timeout):
            on_notify()

    task = asyncio.create_task(
        listener.run(
            {channel: handle}, policy=ListenPolicy.LAST, notification_timeout=IDLE_CHECK_S
        ),
        name=f"listen-{channel}",
    )
    try:
        await stop.wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
