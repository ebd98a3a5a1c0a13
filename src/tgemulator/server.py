"""The emulator: bots, chats, updates, webhooks and Telegram's flood limits, served by aiohttp."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from tgemulator.html import EntityParseError, html_to_text

JSON = dict[str, Any]
#: how long the waits for the bot wait by default (s): a hang detector, not a speed bar - a
#: bot answering on a loaded CI machine takes seconds, not 30
WAIT_S = 30.0
_TOKEN = re.compile(r"^(\d{1,20}):[A-Za-z0-9_-]{10,}$")
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_SENDING_METHODS = frozenset(
    {
        "sendmessage",
        "sendphoto",
        "senddocument",
        "sendmediagroup",
        "copymessage",
        "forwardmessage",
        "sendsticker",
        "sendanimation",
        "sendvideo",
        "sendaudio",
        "sendvoice",
    }
)


class ApiError(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code", "description"}``."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JSON:
        data: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            data["parameters"] = {"retry_after": self.retry_after}
        return data


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass
class TelegramLimits:
    """Flood limits. Off by default; ``enabled=True`` answers 429 like Telegram does."""

    enabled: bool = False
    per_bot: int = 30
    per_chat: int = 1
    window: float = 1.0


@dataclass
class ChatMessage:
    """One message of a chat, as the emulator keeps it (text is the plain text, markup stripped)."""

    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    text: str | None = None
    raw_text: str | None = None
    parse_mode: str | None = None
    caption: str | None = None
    photo: bytes | None = None
    reply_markup: JSON | None = None
    deleted: bool = False
    history: list[str | None] = field(default_factory=list)
    api: JSON = field(default_factory=dict)

    @property
    def body(self) -> str:
        """The text, or the caption of a photo."""
        return self.text if self.text is not None else (self.caption or "")

    def buttons(self) -> list[JSON]:
        """All inline keyboard buttons, row by row."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard") or []
        return [button for row in rows for button in row]

    def button(self, text_contains: str) -> JSON:
        """The first inline button whose text contains ``text_contains``."""
        for button in self.buttons():
            if text_contains in button.get("text", ""):
                return button
        raise LookupError(f"no button containing {text_contains!r} in {self.buttons()!r}")


@dataclass
class BotState:
    """Everything the emulator knows about one bot (one token)."""

    token: str
    id: int
    username: str
    first_name: str
    pending: list[JSON] = field(default_factory=list)
    next_update_id: int = 1
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_task: asyncio.Task[None] | None = None
    webhook_deliveries: list[int] = field(default_factory=list)
    commands: dict[str, list[JSON]] = field(default_factory=dict)
    chats: dict[int, dict[int, ChatMessage]] = field(default_factory=dict)
    chat_info: dict[int, JSON] = field(default_factory=dict)
    next_message_id: dict[int, int] = field(default_factory=dict)
    callback_queries: dict[str, JSON | None] = field(default_factory=dict)
    blocked_chats: set[int] = field(default_factory=set)
    forced_429: int = 0
    forced_retry_after: int = 1
    bot_window: deque[float] = field(default_factory=deque)
    chat_windows: dict[int, deque[float]] = field(default_factory=dict)
    sent_count: int = 0
    rejected_429: int = 0
    requests: dict[str, int] = field(default_factory=dict)

    def user(self) -> JSON:
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[ChatMessage]:
        """What the bot sent to ``chat_id``, oldest first."""
        return [
            m
            for m in self.chats.get(chat_id, {}).values()
            if m.from_bot and (include_deleted or not m.deleted)
        ]


Handler = Callable[[BotState, JSON, dict[str, bytes]], Awaitable[Any]]


class TelegramEmulator:
    """A local Bot API server. Use ``async with TelegramEmulator() as emu`` or ``start()/stop()``.

    ``auto_register=True`` accepts any well-formed token (the bot id is the token's number).
    """

    def __init__(self, *, limits: TelegramLimits | None = None, auto_register: bool = False):
        self.limits = limits or TelegramLimits()
        self.auto_register = auto_register
        self.bots: dict[str, BotState] = {}
        self._waiters: list[tuple[asyncio.Future[None], Callable[[], bool]]] = []
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self._callback_ids = itertools.count(1)
        self.url = ""
        self._methods: dict[str, Handler] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "editmessagetext": self._edit_message_text,
            "editmessagecaption": self._edit_message_caption,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "getchat": self._get_chat,
        }
        for name in (
            "sendchataction",
            "setmydescription",
            "setmyshortdescription",
            "setmyname",
            "setchatmenubutton",
            "close",
            "logout",
        ):
            self._methods[name] = self._true

    # ------------------------------------------------------------------ lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 = any free port); return the base URL."""
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_post("/control/bots", self._control_add_bot)
        app.router.add_post("/control/{token}/message", self._control_message)
        app.router.add_post("/control/{token}/callback", self._control_callback)
        app.router.add_get("/control/{token}/chats/{chat_id}", self._control_chat)
        app.router.add_post("/control/limits", self._control_limits)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        bound = sockets[0].getsockname()[1] if sockets else port
        self.url = f"http://{host}:{bound}"
        self._client = ClientSession(timeout=ClientTimeout(total=10))
        return self.url

    async def stop(self) -> None:
        for bot in self.bots.values():
            await self._stop_webhook(bot)
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TelegramEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ control side
    def add_bot(
        self, token: str | None = None, *, username: str | None = None, first_name: str = "Bot"
    ) -> BotState:
        """Register a bot; a token is generated if none is given."""
        if token is None:
            token = f"{secrets.randbelow(10**9) + 10**9}:{secrets.token_urlsafe(26)}"
        match = _TOKEN.match(token)
        if match is None:
            raise ValueError("token must look like '<digits>:<secret>'")
        bot_id = int(match.group(1))
        state = BotState(
            token=token,
            id=bot_id,
            username=username or f"bot{bot_id}_bot",
            first_name=first_name,
        )
        self.bots[token] = state
        return state

    def bot(self, token: str) -> BotState:
        return self.bots[token]

    def user_message(
        self,
        token: str,
        text: str,
        *,
        user_id: int,
        first_name: str = "User",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        chat_id: int | None = None,
    ) -> JSON:
        """A user sends ``text`` to the bot; return the message as the update carries it."""
        bot = self.bots[token]
        chat_id = chat_id if chat_id is not None else user_id
        sender = _user(
            user_id, first_name, last_name=last_name, username=username, language_code=language_code
        )
        chat = bot.chat_info.setdefault(chat_id, self._private_chat(chat_id, sender))
        message: JSON = {
            "message_id": self._next_message_id(bot, chat_id),
            "from": sender,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split(maxsplit=1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        bot.chats.setdefault(chat_id, {})[message["message_id"]] = ChatMessage(
            message_id=message["message_id"],
            chat_id=chat_id,
            from_bot=False,
            date=message["date"],
            text=text,
            raw_text=text,
            api=message,
        )
        self.inject_update(token, {"message": message})
        return message

    def press_button(
        self,
        token: str,
        *,
        user_id: int,
        message_id: int,
        data: str,
        chat_id: int | None = None,
        first_name: str = "User",
        language_code: str | None = "en",
    ) -> str:
        """A user presses an inline button carrying ``data``; return the callback query id."""
        bot = self.bots[token]
        chat_id = chat_id if chat_id is not None else user_id
        sender = _user(user_id, first_name, language_code=language_code)
        query_id = str(next(self._callback_ids) * 7919 + bot.id % 1000)
        query: JSON = {
            "id": query_id,
            "from": sender,
            "chat_instance": str(chat_id),
            "data": data,
        }
        stored = bot.chats.get(chat_id, {}).get(message_id)
        if stored is not None and not stored.deleted:
            query["message"] = stored.api
        else:
            query["message"] = {
                "chat": self._private_chat(chat_id, sender),
                "message_id": message_id,
                "date": 0,
            }
        bot.callback_queries[query_id] = None
        self.inject_update(token, {"callback_query": query})
        return query_id

    def inject_update(self, token: str, update: JSON) -> int:
        """Queue a raw update (any content); ``update_id`` is assigned when missing."""
        bot = self.bots[token]
        update = dict(update)
        if not isinstance(update.get("update_id"), int):
            update["update_id"] = bot.next_update_id
        bot.next_update_id = max(bot.next_update_id, update["update_id"]) + 1
        bot.pending.append(update)
        self._notify()
        return int(update["update_id"])

    def callback_answer(self, token: str, query_id: str) -> JSON | None:
        """The bot's answerCallbackQuery for ``query_id`` (None while unanswered)."""
        return self.bots[token].callback_queries.get(query_id)

    def force_429(self, token: str | None = None, *, count: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``count`` sending calls of a bot (or of every bot) with 429."""
        for bot in self.bots.values() if token is None else [self.bots[token]]:
            bot.forced_429 = count
            bot.forced_retry_after = retry_after

    def block(self, token: str, chat_id: int) -> None:
        """The user blocks the bot: sending to ``chat_id`` answers 403."""
        self.bots[token].blocked_chats.add(chat_id)

    async def wait_for(self, predicate: Callable[[], bool], seconds: float = WAIT_S) -> None:
        """Wait until ``predicate()`` holds (checked after every change); TimeoutError otherwise."""
        if predicate():
            return
        entry = (asyncio.get_running_loop().create_future(), predicate)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(asyncio.shield(entry[0]), seconds)
        finally:
            self._waiters.remove(entry)

    async def wait_messages(
        self, token: str, chat_id: int, count: int, seconds: float = WAIT_S
    ) -> list[ChatMessage]:
        """Wait until the bot has sent at least ``count`` messages to ``chat_id``; return them."""
        bot = self.bots[token]
        try:
            await self.wait_for(lambda: len(bot.messages(chat_id)) >= count, seconds)
        except TimeoutError:
            texts = [m.body for m in bot.messages(chat_id)]
            raise TimeoutError(
                f"expected {count} messages in chat {chat_id}, got {texts!r}"
            ) from None
        return bot.messages(chat_id)

    def _notify(self) -> None:
        for future, predicate in list(self._waiters):
            if not future.done():
                try:
                    ready = predicate()
                except Exception as exc:  # a test's predicate failing must surface in the test
                    future.set_exception(exc)
                    continue
                if ready:
                    future.set_result(None)

    # ------------------------------------------------------------------ HTTP: Bot API
    async def _handle_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"].lower()
        bot = self.bots.get(token)
        if bot is None and self.auto_register and _TOKEN.match(token):
            bot = self.add_bot(token)
        if bot is None:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        bot.requests[method] = bot.requests.get(method, 0) + 1
        handler = self._methods.get(method)
        if handler is None:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        try:
            params, files = await _read_params(request)
            result = await handler(bot, params, files)
        except ApiError as exc:
            return web.json_response(exc.body(), status=exc.code)
        self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _true(self, bot: BotState, params: JSON, files: dict[str, bytes]) -> bool:
        return True

    async def _get_me(self, bot: BotState, params: JSON, files: dict[str, bytes]) -> JSON:
        return bot.user()

    async def _get_chat(self, bot: BotState, params: JSON, files: dict[str, bytes]) -> JSON:
        chat_id = _int(params, "chat_id")
        info = bot.chat_info.get(chat_id)
        if info is None:
            raise _bad("chat not found")
        return info

    async def _get_updates(self, bot: BotState, params: JSON, files: dict[str, bytes]) -> Any:
        if bot.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _int(params, "offset", 0)
        limit = max(1, min(_int(params, "limit", 100), 100))
        timeout = max(0.0, float(params.get("timeout") or 0))
        if offset > 0:
            bot.pending = [u for u in bot.pending if u["update_id"] >= offset]
        elif offset < 0:
            bot.pending = bot.pending[offset:]
        if not bot.pending and timeout > 0:
            with contextlib.suppress(TimeoutError):
                await self.wait_for(lambda: bool(bot.pending) or bool(bot.webhook_url), timeout)
        return bot.pending[:limit]

    async def _set_webhook(self, bot: BotState, params: JSON, files: dict[str, bytes]) -> bool:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _bad("secret token contains unallowed characters")
        if _bool(params, "drop_pending_updates"):
            bot.pending.clear()
        await self._stop_webhook(bot)
        if not url:
            bot.webhook_url = None
            bot.webhook_secret = None
            return True
        if not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        bot.webhook_url = url
        bot.webhook_secret = str(secret) if secret is not None else None
        bot.webhook_task = asyncio.get_running_loop().create_task(self._push_webhook(bot))
        return True

    async def _delete_webhook(self, bot: BotState, params: JSON, files: dict[str, bytes]) -> bool:
        if _bool(params, "drop_pending_updates"):
            bot.pending.clear()
        await self._stop_webhook(bot)
        bot.webhook_url = None
        bot.webhook_secret = None
        return True

    async def _get_webhook_info(self, bot: BotState, params: JSON, files: dict[str, bytes]) -> JSON:
        return {
            "url": bot.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(bot.pending),
        }

    async def _stop_webhook(self, bot: BotState) -> None:
        task, bot.webhook_task = bot.webhook_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _push_webhook(self, bot: BotState) -> None:
        """Deliver pending updates one by one, like Telegram: retry until the hook answers 2xx."""
        backoff = 0.05
        while True:
            if not bot.pending:
                with contextlib.suppress(TimeoutError):
                    await self.wait_for(lambda: bool(bot.pending), 1.0)
                continue
            update = bot.pending[0]
            headers = {"Content-Type": "application/json"}
            if bot.webhook_secret is not None:
                headers["X-Telegram-Bot-Api-Secret-Token"] = bot.webhook_secret
            assert self._client is not None and bot.webhook_url is not None
            try:
                async with self._client.post(
                    bot.webhook_url, data=json.dumps(update), headers=headers
                ) as response:
                    status = response.status
                    body = await response.read()
            except (OSError, TimeoutError, ClientError):
                status, body = 0, b""
            bot.webhook_deliveries.append(status)
            self._notify()
            if 200 <= status < 300:
                if bot.pending and bot.pending[0] is update:
                    bot.pending.pop(0)
                await self._webhook_reply(bot, body)
                backoff = 0.05
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def _webhook_reply(self, bot: BotState, body: bytes) -> None:
        """A webhook may answer with a method call in its response body (Telegram runs it)."""
        with contextlib.suppress(ValueError):
            reply = json.loads(body) if body else None
            if isinstance(reply, dict) and isinstance(reply.get("method"), str):
                handler = self._methods.get(reply["method"].lower())
                if handler is not None:
                    params = {k: v for k, v in reply.items() if k != "method"}
                    with contextlib.suppress(ApiError):
                        await handler(bot, params, {})
                        self._notify()

    # ------------------------------------------------------------------ sending
    def _check_limits(self, bot: BotState, chat_id: int) -> None:
        if bot.forced_429 > 0:
            bot.forced_429 -= 1
            bot.rejected_429 += 1
            raise _too_many(bot.forced_retry_after)
        if chat_id in bot.blocked_chats:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        limits = self.limits
        if limits.enabled:
            now = time.monotonic()
            bot_window = bot.bot_window
            chat_window = bot.chat_windows.setdefault(chat_id, deque())
            for window in (bot_window, chat_window):
                while window and now - window[0] >= limits.window:
                    window.popleft()
            for window, cap in ((bot_window, limits.per_bot), (chat_window, limits.per_chat)):
                if len(window) >= cap:
                    bot.rejected_429 += 1
                    wait = limits.window - (now - window[0])
                    raise _too_many(max(1, math.ceil(wait)))
            bot_window.append(now)
            chat_window.append(now)
        bot.sent_count += 1

    def _store_bot_message(
        self,
        bot: BotState,
        chat_id: int,
        *,
        text: str | None,
        raw_text: str | None,
        parse_mode: str | None,
        caption: str | None = None,
        photo: bytes | None = None,
        reply_markup: JSON | None,
    ) -> ChatMessage:
        chat = bot.chat_info.setdefault(chat_id, self._private_chat(chat_id, None))
        message_id = self._next_message_id(bot, chat_id)
        api: JSON = {
            "message_id": message_id,
            "from": bot.user(),
            "chat": chat,
            "date": int(time.time()),
        }
        if text is not None:
            api["text"] = text
        if caption is not None:
            api["caption"] = caption
        if photo is not None:
            file_id = secrets.token_urlsafe(24)
            api["photo"] = [
                {
                    "file_id": file_id,
                    "file_unique_id": file_id[:12],
                    "width": 320,
                    "height": 320,
                    "file_size": len(photo),
                }
            ]
        if reply_markup:
            api["reply_markup"] = reply_markup
        message = ChatMessage(
            message_id=message_id,
            chat_id=chat_id,
            from_bot=True,
            date=api["date"],
            text=text,
            raw_text=raw_text,
            parse_mode=parse_mode,
            caption=caption,
            photo=photo,
            reply_markup=reply_markup or None,
            api=api,
        )
        bot.chats.setdefault(chat_id, {})[message_id] = message
        return message

    async def _send_message(self, bot: BotState, params: JSON, files: dict[str, bytes]) -> JSON:
        chat_id = _int(params, "chat_id")
        raw = params.get("text")
        if not raw or not str(raw).strip():
            raise _bad("message text is empty")
        raw = str(raw)
        parse_mode = _parse_mode(params)
        text = _render(raw, parse_mode)
        if len(text) > 4096:
            raise _bad("message is too long")
        markup = _markup(params)
        self._check_limits(bot, chat_id)
        message = self._store_bot_message(
            bot, chat_id, text=text, raw_text=raw, parse_mode=parse_mode, reply_markup=markup
        )
        return message.api

    async def _send_photo(self, bot: BotState, params: JSON, files: dict[str, bytes]) -> JSON:
        chat_id = _int(params, "chat_id")
        photo_ref = params.get("photo")
        data: bytes | None = None
        uploaded = False
        if isinstance(photo_ref, str) and photo_ref.startswith("attach://"):
            data, uploaded = files.get(photo_ref.removeprefix("attach://")), True
        elif "photo" in files:
            data, uploaded = files["photo"], True
        elif isinstance(photo_ref, str) and photo_ref:
            data = photo_ref.encode()  # a file_id or URL: keep the reference
        if not data:
            raise _bad("there is no photo in the request")
        if uploaded and not data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
            raise _bad("IMAGE_PROCESS_FAILED")
        parse_mode = _parse_mode(params)
        raw_caption = params.get("caption")
        caption = _render(str(raw_caption), parse_mode) if raw_caption else None
        if caption is not None and len(caption) > 1024:
            raise _bad("message caption is too long")
        markup = _markup(params)
        self._check_limits(bot, chat_id)
        message = self._store_bot_message(
            bot,
            chat_id,
            text=None,
            raw_text=str(raw_caption) if raw_caption else None,
            parse_mode=parse_mode,
            caption=caption,
            photo=data,
            reply_markup=markup,
        )
        return message.api

    def _editable(self, bot: BotState, params: JSON) -> ChatMessage:
        if params.get("inline_message_id"):
            raise _bad("inline messages are not supported by the emulator")
        chat_id = _int(params, "chat_id")
        message_id = _int(params, "message_id")
        message = bot.chats.get(chat_id, {}).get(message_id)
        if message is None or message.deleted or not message.from_bot:
            raise _bad("message to edit not found")
        return message

    async def _edit_message_text(
        self, bot: BotState, params: JSON, files: dict[str, bytes]
    ) -> JSON:
        message = self._editable(bot, params)
        if message.photo is not None:
            raise _bad("there is no text in the message to edit")
        raw = params.get("text")
        if not raw or not str(raw).strip():
            raise _bad("message text is empty")
        parse_mode = _parse_mode(params)
        text = _render(str(raw), parse_mode)
        markup = _markup(params)
        if text == message.text and markup == message.reply_markup:
            raise _not_modified()
        message.history.append(message.text)
        message.text, message.raw_text, message.parse_mode = text, str(raw), parse_mode
        message.reply_markup = markup
        return self._refresh(message)

    async def _edit_message_caption(
        self, bot: BotState, params: JSON, files: dict[str, bytes]
    ) -> JSON:
        message = self._editable(bot, params)
        if message.photo is None:
            raise _bad("there is no caption in the message to edit")
        parse_mode = _parse_mode(params)
        raw = params.get("caption")
        caption = _render(str(raw), parse_mode) if raw else None
        markup = _markup(params)
        if caption == message.caption and markup == message.reply_markup:
            raise _not_modified()
        message.history.append(message.caption)
        message.caption, message.raw_text, message.reply_markup = caption, raw, markup
        return self._refresh(message)

    async def _edit_message_reply_markup(
        self, bot: BotState, params: JSON, files: dict[str, bytes]
    ) -> JSON:
        message = self._editable(bot, params)
        markup = _markup(params)
        if markup == message.reply_markup:
            raise _not_modified()
        message.reply_markup = markup
        return self._refresh(message)

    def _refresh(self, message: ChatMessage) -> JSON:
        api = dict(message.api)
        api["edit_date"] = int(time.time())
        for key, value in (("text", message.text), ("caption", message.caption)):
            if value is not None:
                api[key] = value
        api.pop("reply_markup", None)
        if message.reply_markup:
            api["reply_markup"] = message.reply_markup
        message.api = api
        return api

    async def _delete_message(self, bot: BotState, params: JSON, files: dict[str, bytes]) -> bool:
        chat_id = _int(params, "chat_id")
        message_id = _int(params, "message_id")
        message = bot.chats.get(chat_id, {}).get(message_id)
        if message is None or message.deleted:
            raise _bad("message to delete not found")
        message.deleted = True
        return True

    async def _answer_callback_query(
        self, bot: BotState, params: JSON, files: dict[str, bytes]
    ) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in bot.callback_queries or bot.callback_queries[query_id] is not None:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        bot.callback_queries[query_id] = {
            "text": text,
            "show_alert": _bool(params, "show_alert"),
            "url": params.get("url"),
        }
        return True

    async def _set_my_commands(self, bot: BotState, params: JSON, files: dict[str, bytes]) -> bool:
        commands = _json(params, "commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("commands must be a list of at most 100 BotCommand")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND.match(str(command.get("command"))):
                raise _bad("BOT_COMMAND_INVALID")
            description = str(command.get("description") or "")
            if not 1 <= len(description) <= 256:
                raise _bad("command description must be non-empty")
        bot.commands[_commands_key(params)] = commands
        return True

    async def _get_my_commands(
        self, bot: BotState, params: JSON, files: dict[str, bytes]
    ) -> list[JSON]:
        return bot.commands.get(_commands_key(params), [])

    async def _delete_my_commands(
        self, bot: BotState, params: JSON, files: dict[str, bytes]
    ) -> bool:
        bot.commands.pop(_commands_key(params), None)
        return True

    # ------------------------------------------------------------------ HTTP: control side
    async def _control_add_bot(self, request: web.Request) -> web.Response:
        body = await request.json()
        bot = self.add_bot(body.get("token"), username=body.get("username"))
        return web.json_response({"token": bot.token, "id": bot.id, "username": bot.username})

    async def _control_message(self, request: web.Request) -> web.Response:
        body = await request.json()
        message = self.user_message(
            request.match_info["token"],
            str(body["text"]),
            user_id=int(body["user_id"]),
            first_name=str(body.get("first_name", "User")),
            language_code=body.get("language_code", "en"),
        )
        return web.json_response(message)

    async def _control_callback(self, request: web.Request) -> web.Response:
        body = await request.json()
        query_id = self.press_button(
            request.match_info["token"],
            user_id=int(body["user_id"]),
            message_id=int(body["message_id"]),
            data=str(body["data"]),
        )
        return web.json_response({"callback_query_id": query_id})

    async def _control_chat(self, request: web.Request) -> web.Response:
        bot = self.bots[request.match_info["token"]]
        messages = bot.messages(int(request.match_info["chat_id"]))
        return web.json_response([m.api for m in messages])

    async def _control_limits(self, request: web.Request) -> web.Response:
        body = await request.json()
        for key in ("enabled", "per_bot", "per_chat", "window"):
            if key in body:
                setattr(self.limits, key, body[key])
        return web.json_response({"ok": True})

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _private_chat(chat_id: int, sender: JSON | None) -> JSON:
        chat: JSON = {"id": chat_id, "type": "private" if chat_id > 0 else "group"}
        if chat_id > 0:
            chat["first_name"] = (sender or {}).get("first_name", "User")
        else:
            chat["title"] = f"Chat {chat_id}"
        return chat

    @staticmethod
    def _next_message_id(bot: BotState, chat_id: int) -> int:
        value = bot.next_message_id.get(chat_id, 1)
        bot.next_message_id[chat_id] = value + 1
        return value


async def _read_params(request: web.Request) -> tuple[JSON, dict[str, bytes]]:
    params: JSON = dict(request.query)
    files: dict[str, bytes] = {}
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as exc:
                raise _bad("can't parse JSON object") from exc
            if isinstance(body, dict):
                params.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = value.file.read()
                else:
                    params[key] = value
    return params, files


def _user(
    user_id: int,
    first_name: str,
    *,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = None,
) -> JSON:
    """A (human) Telegram ``User``; empty optional fields left out, as the Bot API does."""
    user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
    optional = {"last_name": last_name, "username": username, "language_code": language_code}
    user.update({key: value for key, value in optional.items() if value})
    return user


def _int(params: JSON, key: str, default: int | None = None) -> int:
    value = params.get(key)
    if value is None or value == "":
        if default is not None:
            return default
        raise _bad(f"{key} is empty")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise _bad(f"invalid {key} specified") from exc


def _bool(params: JSON, key: str) -> bool:
    value = params.get(key)
    return value is True or str(value).lower() in {"true", "1"}


def _json(params: JSON, key: str) -> Any:
    value = params.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise _bad(f"can't parse {key} JSON object") from exc
    return value


def _parse_mode(params: JSON) -> str | None:
    mode = params.get("parse_mode")
    if mode in (None, ""):
        return None
    if str(mode).lower() not in {"html", "markdown", "markdownv2"}:
        raise _bad(f"unsupported parse_mode {mode}")
    return str(mode)


def _render(raw: str, parse_mode: str | None) -> str:
    if parse_mode is not None and parse_mode.lower() == "html":
        try:
            return html_to_text(raw)
        except EntityParseError as exc:
            raise _bad(str(exc)) from exc
    return raw


def _markup(params: JSON) -> JSON | None:
    markup = _json(params, "reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is not None:
        if not isinstance(rows, list):
            raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
        for row in rows:
            for button in row if isinstance(row, list) else [None]:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _bad("can't parse inline keyboard button: text is empty")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise _bad("BUTTON_DATA_INVALID")
                if data is None and not any(
                    k in button for k in ("url", "copy_text", "switch_inline_query", "pay")
                ):
                    raise _bad("can't parse inline keyboard button: a button action is required")
        if not any(rows):
            return None
    return markup


def _commands_key(params: JSON) -> str:
    scope = _json(params, "scope") or {"type": "default"}
    return f"{json.dumps(scope, sort_keys=True)}|{params.get('language_code') or ''}"


def _too_many(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


def _not_modified() -> ApiError:
    return _bad(
        "message is not modified: specified new message content and reply markup are exactly "
        "the same as a current content and reply markup of the message"
    )
