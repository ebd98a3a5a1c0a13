"""The merchant side of ``tronrent serve``: the callback sender."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tronrent.api.state import AppState
from tronrent.merchant.callbacks import CallbackSender

SENDER_COMPONENT = "merchant_callback_sender"


@asynccontextmanager
async def merchant_lifespan(state: AppState) -> AsyncIterator[None]:
    settings = state.settings
    sender = CallbackSender(
        state.session_maker,
        state.secret_box,
        allow_private=settings.merchant_callback_allow_private,
        timeout_s=settings.merchant_callback_timeout_seconds,
        nonce_ttl_s=2 * settings.merchant_signature_window_seconds,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop), name="merchant-callbacks")
    state.components[SENDER_COMPONENT] = sender
    try:
        yield
    finally:
        state.components.pop(SENDER_COMPONENT, None)
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
