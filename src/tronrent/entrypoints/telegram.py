"""The Telegram side of ``tronrent serve``: the bots of the ``bots`` table and the outbox sender.

``telegram_lifespan(state)`` (a ``LifespanHook``, entered after the flash hook) seeds a bot from
``TELEGRAM_BOT_TOKEN`` when the table has none, runs every active bot (``BotManager``, FSM state
in Redis when ``REDIS_URL`` is set) and the ``NotificationSender`` (operator alerts to
``TELEGRAM_ADMIN_CHAT_ID``). The bots use the chain gateway and flash runtime the flash hook put
in ``state.components`` - looked up per use, so they are never built twice and a bot answers
"unavailable" while the engine is not running. ``telegram_routers()`` serves the webhooks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiogram.exceptions import TelegramAPIError
from aiohttp import ClientError
from fastapi import APIRouter, Request
from sqlalchemy import func, select

from tronrent.adapters.telegram.factory import create_bot
from tronrent.adapters.telegram.transport import TelegramTransport
from tronrent.api.state import AppState
from tronrent.bot.admin_endpoints import RELOAD_COMPONENT
from tronrent.bot.errors import BotAlreadyExists
from tronrent.bot.service import bot as bot_service
from tronrent.bot.service import token_hash
from tronrent.flash.api_deps import (
    CHAIN_COMPONENT,
    RECIPIENT_CHECK_COMPONENT,
    RUNTIME_COMPONENT,
)
from tronrent.kit.logging import get_logger
from tronrent.models import Bot as BotRow
from tronrent.notification.sender import NotificationSender
from tronrent.telegram.cards import OrderCardEditor
from tronrent.telegram.chain_gateway import PortChainBalances
from tronrent.telegram.dispatcher import create_storage
from tronrent.telegram.flash_gateway import ServiceFlashOrders
from tronrent.telegram.manager import BotManager
from tronrent.telegram.package_gateway import ServicePackageOrders
from tronrent.telegram.webhook import webhook_router

#: ``state.components`` key of the running ``BotManager``
TELEGRAM_COMPONENT = "telegram"
SENDER_COMPONENT = "notification_sender"

_log = get_logger("tronrent.telegram")


async def seed_default_bot(state: AppState) -> bool:
    """Add the ``TELEGRAM_BOT_TOKEN`` bot when the ``bots`` table is empty; True if added."""
    secret = state.settings.telegram_bot_token
    if secret is None:
        return False
    token = secret.get_secret_value()
    async with state.session_maker() as session:
        count = await session.scalar(select(func.count()).select_from(BotRow))
        if count:
            return False
    username = f"bot{token.split(':', 1)[0]}"
    bot = create_bot(token, api_url=state.settings.telegram_api_url)
    try:
        me = await bot.get_me()
        username = me.username or username
    except (TelegramAPIError, ClientError, TimeoutError, OSError) as exc:
        _log.warning("telegram.seed_get_me_failed", error=type(exc).__name__)
    finally:
        await bot.session.close()
    async with state.session_maker() as session, session.begin():
        if await session.scalar(select(BotRow.id).where(BotRow.token_hash == token_hash(token))):
            return False
        try:
            row = await bot_service.create(
                session, box=state.secret_box, token=token, name=username, username=username
            )
        except BotAlreadyExists:  # another process seeded it first
            return False
    _log.info("telegram.bot_seeded", bot_id=str(row.id), username=username)
    return True


def build_manager(state: AppState, **kwargs: Any) -> BotManager:
    """The bots of this process, on the flash engine and chain gateway of ``state``."""
    settings = state.settings
    return BotManager(
        session_maker=state.session_maker,
        box=state.secret_box,
        flash=ServiceFlashOrders(
            lambda: state.components.get(RUNTIME_COMPONENT),
            lambda: state.components.get(RECIPIENT_CHECK_COMPONENT),
        ),
        chain=PortChainBalances(
            lambda: state.components.get(CHAIN_COMPONENT), usdt_contract=settings.usdt_contract
        ),
        packages=ServicePackageOrders(
            lambda: state.components.get(RUNTIME_COMPONENT),
            lambda: state.components.get(RECIPIENT_CHECK_COMPONENT),
        ),
        storage=create_storage(settings.redis_url),
        api_url=settings.telegram_api_url,
        **kwargs,
    )


def build_sender(state: AppState, manager: BotManager, **kwargs: Any) -> NotificationSender:
    transport = TelegramTransport(manager.bot_for)
    return NotificationSender(
        state.session_maker,
        transport,
        admin_chat_id=state.settings.telegram_admin_chat_id,
        admin_language=state.settings.operator_alert_language,
        tx_url=state.settings.tx_url,
        cards=OrderCardEditor(state.session_maker, manager.flash, transport),
        **kwargs,
    )


@asynccontextmanager
async def telegram_lifespan(state: AppState) -> AsyncIterator[None]:
    await seed_default_bot(state)
    manager = build_manager(state)
    sender = build_sender(state, manager)
    await manager.start()
    stop = asyncio.Event()
    sending = asyncio.create_task(sender.run(stop), name="notification-sender")
    state.components[TELEGRAM_COMPONENT] = manager
    state.components[SENDER_COMPONENT] = sender
    state.components[RELOAD_COMPONENT] = manager.reload
    _log.info("telegram.started", bots=len(manager.running))
    try:
        yield
    finally:
        state.components.pop(TELEGRAM_COMPONENT, None)
        state.components.pop(SENDER_COMPONENT, None)
        state.components.pop(RELOAD_COMPONENT, None)
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        await manager.stop()
        _log.info("telegram.stopped")


def _running_manager(request: Request) -> BotManager | None:
    state: AppState | None = getattr(request.app.state, "tronrent", None)
    manager = state.components.get(TELEGRAM_COMPONENT) if state is not None else None
    return manager if isinstance(manager, BotManager) else None


def telegram_routers() -> tuple[APIRouter, ...]:
    """``POST /webhook/telegram/{bot_id}`` on the manager the lifespan runs."""
    return (webhook_router(_running_manager),)
