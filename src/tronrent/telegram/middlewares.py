"""Outer update middlewares, in the order the dispatcher installs them:

bot context (config + texts) -> maintenance -> per-user rate limit -> one DB session per update
(committed when the handler succeeds; jobs it enqueued are sent after the commit) -> user and
bot-user bookkeeping.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from html import escape
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TgUser
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.bot.service import BotConfig
from tronrent.bot.service import bot as bot_service
from tronrent.telegram.context import reply_plain, translator_for
from tronrent.user.service import TelegramProfile
from tronrent.user.service import user as user_service
from tronrent.worker import PendingJob, get_job_queue, job_scope

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

_log = logging.getLogger("tronrent.telegram")


async def send_job(job: PendingJob) -> None:
    """Send a job an update's committed transaction enqueued (an order paid from the balance:
    its delegation). Never raises - the update is done and its answer sent: a job that cannot
    be sent (no queue in this process, queue down) is logged, and the delegation sweep re-drives
    the paid order."""
    try:
        await get_job_queue().send(job)
    except Exception:
        _log.warning("telegram.job_not_sent job=%s args=%s", job.name, job.args, exc_info=True)


class BotContextMiddleware(BaseMiddleware):
    """Puts the running bot's ``bot_config`` and a first translator ``t`` into the data."""

    def __init__(self, configs: Mapping[int, BotConfig]) -> None:
        self.configs = configs

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        bot: Bot = data["bot"]
        config = self.configs.get(bot.id)
        if config is None:  # the bot was removed while this update was in flight
            return None
        data["bot_config"] = config
        user = data.get("event_from_user")
        data["t"] = translator_for(language_code=user.language_code if user else None)
        return await handler(event, data)


class MaintenanceMiddleware(BaseMiddleware):
    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        config: BotConfig = data["bot_config"]
        if config.maintenance_mode and isinstance(event, Update):
            text = config.maintenance_message
            await reply_plain(event, escape(text) if text else data["t"]("maintenance"))
            return None
        return await handler(event, data)


class RateLimitMiddleware(BaseMiddleware):
    """At most ``bots.rate_limit`` updates per user per minute; the first excess one is told."""

    def __init__(self, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._hits: dict[tuple[int, int], deque[float]] = {}
        self._warned: dict[tuple[int, int], float] = {}

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: TgUser | None = data.get("event_from_user")
        config: BotConfig = data["bot_config"]
        if user is None or not isinstance(event, Update):
            return await handler(event, data)
        key = (data["bot"].id, user.id)
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) >= config.rate_limit:
            if now - self._warned.get(key, -self.window) >= self.window:
                self._warned[key] = now
                await reply_plain(event, data["t"]("rate_limited"))
            return None
        hits.append(now)
        if len(self._hits) > 50_000:
            self._hits = {k: v for k, v in self._hits.items() if v and now - v[-1] < self.window}
        return await handler(event, data)


class DatabaseMiddleware(BaseMiddleware):
    """One session per update; committed if the handler returns, rolled back if it raises. The
    update runs in a job scope: jobs enqueued in its transaction are sent once it commits
    (dropped if it rolls back)."""

    def __init__(self, session_maker: async_sessionmaker[AsyncSession]) -> None:
        self.session_maker = session_maker

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with job_scope(send_job), self.session_maker() as session:
            data["session"] = session
            try:
                result = await handler(event, data)
            except BaseException:
                await session.rollback()
                raise
            await session.commit()
            return result


class UserMiddleware(BaseMiddleware):
    """Registers the sender (``user``), records the interaction (``bot_user``), picks texts."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: TgUser | None = data.get("event_from_user")
        if tg_user is None or tg_user.is_bot:
            return await handler(event, data)
        session: AsyncSession = data["session"]
        config: BotConfig = data["bot_config"]
        registration = await user_service.register_telegram_user(
            session,
            TelegramProfile(
                telegram_id=tg_user.id,
                first_name=tg_user.first_name,
                last_name=tg_user.last_name,
                username=tg_user.username,
                language_code=tg_user.language_code,
            ),
        )
        chat = data.get("event_chat")
        bot_user = await bot_service.touch_bot_user(
            session,
            bot_id=config.id,
            user_id=registration.user.id,
            chat_id=chat.id if chat is not None and chat.type == "private" else None,
        )
        data["user"] = registration.user
        data["user_created"] = registration.created
        data["bot_user"] = bot_user
        language = (bot_user.preferences or {}).get("language")
        data["t"] = translator_for(
            language if isinstance(language, str) else None, tg_user.language_code
        )
        return await handler(event, data)
