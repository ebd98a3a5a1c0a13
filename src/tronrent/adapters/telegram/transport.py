"""``MessageTransport`` on aiogram: sends through the running bots, maps Bot API errors."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import InlineKeyboardMarkup
from aiohttp import ClientError

from tronrent.notification.ports import (
    DeliveryError,
    DeliveryRejected,
    DeliveryRetryAfter,
    DeliveryUnavailable,
)

BotLookup = Callable[[uuid.UUID | None], Bot | None]


class TelegramTransport:
    """Sends with the bot ``lookup(bot_id)`` returns (None: that bot is not running)."""

    def __init__(self, lookup: BotLookup) -> None:
        self.lookup = lookup

    def bot_key(self, bot_id: uuid.UUID | None) -> str | None:
        bot = self.lookup(bot_id)
        return None if bot is None else str(bot.id)

    async def send_html(self, bot_id: uuid.UUID | None, chat_id: int, text: str) -> int:
        bot = self._bot(bot_id)
        try:
            message = await bot.send_message(chat_id, text, parse_mode="HTML")
        except Exception as exc:
            raise translate_error(exc) from exc
        return message.message_id

    async def edit_html(
        self,
        bot_id: uuid.UUID | None,
        chat_id: int,
        message_id: int,
        text: str,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        """Edit a message in place; "not modified" is success."""
        bot = self._bot(bot_id)
        try:
            await bot.edit_message_text(
                text=text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode="HTML",
                reply_markup=reply_markup,
            )
        except TelegramBadRequest as exc:
            if "not modified" not in exc.message:
                raise DeliveryRejected(exc.message) from exc
        except Exception as exc:
            raise translate_error(exc) from exc

    def _bot(self, bot_id: uuid.UUID | None) -> Bot:
        bot = self.lookup(bot_id)
        if bot is None:
            raise DeliveryUnavailable(f"bot {bot_id} is not running")
        return bot


def translate_error(exc: BaseException) -> DeliveryError:
    """Bot API / network failure -> the notification domain's delivery error."""
    if isinstance(exc, TelegramRetryAfter):
        return DeliveryRetryAfter(exc.message, retry_after=float(exc.retry_after))
    if isinstance(exc, TelegramForbiddenError | TelegramBadRequest | TelegramNotFound):
        return DeliveryRejected(exc.message)
    if isinstance(exc, TelegramUnauthorizedError):
        return DeliveryUnavailable("bot token rejected by the Bot API")
    if isinstance(
        exc, TelegramNetworkError | TelegramServerError | ClientError | TimeoutError | OSError
    ):
        return DeliveryUnavailable(f"Bot API unreachable: {type(exc).__name__}")
    if isinstance(exc, TelegramAPIError):
        return DeliveryError(exc.message)
    return DeliveryError(f"{type(exc).__name__}: {exc}")
