"""Multi-bot runtime: every active ``bots`` row runs, added/changed/disabled bots follow the
database without a restart (``reload()``, also run periodically), polling or webhook per bot."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import BotCommand, BotCommandScopeDefault, Update
from aiohttp import ClientError, ClientSession, ClientTimeout
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.adapters.telegram.factory import DEFAULT_API_URL, create_bot
from tronrent.bot.service import BotConfig
from tronrent.bot.service import bot as bot_service
from tronrent.kit.crypto import SecretBox
from tronrent.kit.errors import AppError
from tronrent.kit.i18n import LANGUAGES, Translator
from tronrent.kit.metrics import ERRORS
from tronrent.telegram.dispatcher import build_dispatcher
from tronrent.telegram.locales import CATALOG
from tronrent.telegram.ports import ChainBalances, FlashOrders, PackageOrders

_log = logging.getLogger("tronrent.telegram")
DEFAULT_COMMANDS = ("start", "menu", "help", "balance", "orders")


@dataclass
class RunningBot:
    config: BotConfig
    bot: Bot
    telegram_id: int
    poller: asyncio.Task[None] | None = None
    chat_locks: dict[int, asyncio.Lock] = field(default_factory=dict)


def webhook_secret_for(config: BotConfig) -> str:
    """The configured secret, else one derived from the token (stable, never stored)."""
    if config.webhook_secret:
        return config.webhook_secret.reveal()
    key = config.token.reveal().encode()
    return hmac.new(key, b"tronrent.webhook", hashlib.sha256).hexdigest()


def webhook_url_for(config: BotConfig) -> str | None:
    url = config.webhook_url
    if not url:
        return None
    url = url.replace("{bot_id}", str(config.id))
    if url.rstrip("/").endswith("/webhook/telegram"):
        url = f"{url.rstrip('/')}/{config.id}"
    return url


def _chat_key(raw: dict[str, Any]) -> int:
    """The chat (or user) an update belongs to; its updates are handled one at a time."""
    for kind in ("message", "edited_message", "callback_query"):
        body = raw.get(kind)
        if isinstance(body, dict):
            chat = body.get("chat") if kind != "callback_query" else body.get("from")
            if isinstance(chat, dict) and isinstance(chat.get("id"), int):
                return int(chat["id"])
    return 0


class BotManager:
    """Runs the bots of the ``bots`` table on one dispatcher."""

    def __init__(
        self,
        *,
        session_maker: async_sessionmaker[AsyncSession],
        box: SecretBox,
        flash: FlashOrders,
        chain: ChainBalances | None = None,
        packages: PackageOrders | None = None,
        storage: BaseStorage | None = None,
        api_url: str = DEFAULT_API_URL,
        reload_interval: float = 30.0,
        polling_timeout: int = 25,
    ) -> None:
        self.session_maker = session_maker
        self.box = box
        self.flash = flash
        self.api_url = api_url.rstrip("/")
        self.reload_interval = reload_interval
        self.polling_timeout = polling_timeout
        self.configs: dict[int, BotConfig] = {}  # Telegram bot id -> config (read by middleware)
        self.running: dict[uuid.UUID, RunningBot] = {}
        #: the active bots of the table at the last reload
        self.wanted: set[uuid.UUID] = set()
        self.dispatcher: Dispatcher = build_dispatcher(
            session_maker=session_maker,
            flash=flash,
            chain=chain,
            packages=packages,
            configs=self.configs,
            storage=storage,
        )
        # the merchant API keys' secrets are encrypted with it (/apikey)
        self.dispatcher["secret_box"] = box
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reloader: asyncio.Task[None] | None = None
        self._http: ClientSession | None = None
        self._reload_lock = asyncio.Lock()

    # --- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        self._http = ClientSession(timeout=ClientTimeout(total=self.polling_timeout + 15))
        await self.reload()
        if self.reload_interval > 0:
            self._reloader = asyncio.create_task(self._reload_forever())

    async def stop(self) -> None:
        if self._reloader is not None:
            self._reloader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reloader
            self._reloader = None
        for bot_id in list(self.running):
            await self._stop_bot(bot_id)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None
        await self.dispatcher.storage.close()

    async def _reload_forever(self) -> None:
        while True:
            await asyncio.sleep(self.reload_interval)
            try:
                await self.reload()
            except Exception:
                _log.exception("telegram.reload_failed")

    async def reload(self) -> None:
        """Bring the running bots in line with the active ``bots`` rows."""
        async with self._reload_lock:
            wanted = await self._load_configs()
            self.wanted = set(wanted)
            for bot_id, running in list(self.running.items()):
                config = wanted.get(bot_id)
                if config is None or self._needs_restart(running.config, config):
                    await self._stop_bot(bot_id)
            for bot_id, config in wanted.items():
                current = self.running.get(bot_id)
                if current is None:
                    await self._start_bot(config)
                elif current.config != config:
                    if current.config.commands != config.commands:
                        await self._set_commands(current.bot, config)
                    current.config = config
                    self.configs[current.telegram_id] = config

    async def _load_configs(self) -> dict[uuid.UUID, BotConfig]:
        async with self.session_maker() as session:
            rows = await session.execute(bot_service.running_statement())
            configs: dict[uuid.UUID, BotConfig] = {}
            for row in rows.scalars():
                try:
                    configs[row.id] = bot_service.to_config(row, self.box)
                except AppError:
                    _log.error("telegram.bot_token_undecryptable bot_id=%s", row.id)
            return configs

    @staticmethod
    def _needs_restart(old: BotConfig, new: BotConfig) -> bool:
        return (
            old.token != new.token
            or old.webhook_url != new.webhook_url
            or old.webhook_secret != new.webhook_secret
        )

    async def _start_bot(self, config: BotConfig) -> None:
        bot = create_bot(config.token, api_url=self.api_url)
        try:
            me = await bot.get_me()
        except (TelegramAPIError, ClientError, TimeoutError, OSError) as exc:
            _log.error("telegram.bot_start_failed bot_id=%s: %s", config.id, type(exc).__name__)
            await bot.session.close()
            return
        running = RunningBot(config=config, bot=bot, telegram_id=me.id)
        self.configs[me.id] = config
        self.running[config.id] = running
        await self._set_commands(bot, config)
        url = webhook_url_for(config)
        try:
            if url:
                await bot.set_webhook(
                    url,
                    secret_token=webhook_secret_for(config),
                    allowed_updates=self.dispatcher.resolve_used_update_types(),
                )
            else:
                await bot.delete_webhook()
                running.poller = asyncio.create_task(self._poll(running))
        except TelegramAPIError as exc:
            _log.error("telegram.bot_mode_failed bot_id=%s: %s", config.id, exc.message)
        _log.info("telegram.bot_started bot_id=%s mode=%s", config.id, config.mode)

    async def _stop_bot(self, bot_id: uuid.UUID) -> None:
        running = self.running.pop(bot_id, None)
        if running is None:
            return
        self.configs.pop(running.telegram_id, None)
        if running.poller is not None:
            running.poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running.poller
        await running.bot.session.close()
        _log.info("telegram.bot_stopped bot_id=%s", bot_id)

    async def _set_commands(self, bot: Bot, config: BotConfig) -> None:
        try:
            if config.commands:
                commands = [
                    BotCommand(command=str(c["command"]), description=str(c["description"]))
                    for c in config.commands
                    if isinstance(c, dict) and "command" in c and "description" in c
                ]
                await bot.set_my_commands(commands, scope=BotCommandScopeDefault())
                return
            for language in LANGUAGES:
                t = Translator(CATALOG, language)
                commands = [
                    BotCommand(command=c, description=t(f"cmd.{c}")) for c in DEFAULT_COMMANDS
                ]
                await bot.set_my_commands(
                    commands,
                    scope=BotCommandScopeDefault(),
                    language_code=None if language == "zh" else language,
                )
        except (TelegramAPIError, ValidationError) as exc:
            _log.warning("telegram.set_commands_failed bot_id=%s: %s", config.id, exc)

    def status(self) -> dict[str, Any]:
        """The bots at a glance (health): active in the table, running here, and the ids of
        active ones that could not start (a bad token, Telegram unreachable)."""
        failed = sorted(str(i) for i in self.wanted if i not in self.running)
        return {"active": len(self.wanted), "running": len(self.running), "notRunning": failed}

    # --- lookups -------------------------------------------------------------------------------
    def bot_for(self, bot_id: uuid.UUID | None) -> Bot | None:
        """The running aiogram Bot of a ``bots`` row (None: the first running bot, for alerts)."""
        if bot_id is None:
            first = next(iter(self.running.values()), None)
            return first.bot if first is not None else None
        running = self.running.get(bot_id)
        return running.bot if running is not None else None

    # --- updates -------------------------------------------------------------------------------
    async def _poll(self, running: RunningBot) -> None:
        """Long polling on raw JSON: a malformed update is skipped, never blocks the ones after."""
        assert self._http is not None
        url = running.bot.session.api.api_url(token=running.bot.token, method="getUpdates")
        offset = 0
        backoff = 0.5
        while True:
            params = {"timeout": self.polling_timeout, "offset": offset}
            try:
                async with self._http.post(url, json=params) as response:
                    body = await response.json(content_type=None)
            except (ClientError, TimeoutError, OSError, ValueError) as exc:
                _log.warning("telegram.poll_failed bot_id=%s: %s", running.config.id, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30)
                continue
            if not isinstance(body, dict) or not body.get("ok"):
                code = body.get("error_code") if isinstance(body, dict) else None
                _log.warning("telegram.poll_refused bot_id=%s code=%s", running.config.id, code)
                if code == 409:  # a webhook is set: we are the polling bot, drop it
                    with contextlib.suppress(TelegramAPIError):
                        await running.bot.delete_webhook()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30)
                continue
            backoff = 0.5
            for raw in body.get("result") or []:
                if isinstance(raw, dict) and isinstance(raw.get("update_id"), int):
                    offset = max(offset, raw["update_id"] + 1)
                    self.submit(running, raw)

    def submit(self, running: RunningBot, raw: dict[str, Any]) -> asyncio.Task[None]:
        """Handle a raw update in the background (in order within its chat)."""
        task = asyncio.create_task(self._handle(running, raw))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _handle(self, running: RunningBot, raw: dict[str, Any]) -> None:
        try:
            update = Update.model_validate(raw, context={"bot": running.bot})
        except ValidationError:
            _log.warning("telegram.malformed_update bot_id=%s", running.config.id)
            return
        key = _chat_key(raw)
        lock = running.chat_locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                await self.dispatcher.feed_update(running.bot, update)
        except Exception:
            _log.exception("telegram.update_failed bot_id=%s", running.config.id)
            ERRORS.labels(component="bot").inc()
        finally:
            if not lock.locked() and len(running.chat_locks) > 10_000:
                running.chat_locks.pop(key, None)

    async def feed_webhook(
        self, bot_id: uuid.UUID, secret: str | None, body: bytes
    ) -> tuple[int, str]:
        """A webhook delivery: (HTTP status, reason). 401 on a wrong secret token."""
        running = self.running.get(bot_id)
        if running is None or not running.config.webhook_url:
            return 404, "unknown bot"
        expected = webhook_secret_for(running.config)
        if secret is None or not hmac.compare_digest(secret.encode(), expected.encode()):
            return 401, "wrong secret token"
        try:
            raw = json.loads(body)
        except ValueError:
            return 400, "body is not JSON"
        if not isinstance(raw, dict):
            return 400, "body is not an update"
        self.submit(running, raw)
        return 200, "ok"

    async def drain(self) -> None:
        """Wait until every update handed in so far has been handled (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
