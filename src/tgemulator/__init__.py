"""A local Telegram Bot API server for tests and benchmarks.

It speaks the real Bot API over HTTP (``/bot<token>/<method>``, JSON, urlencoded and multipart
bodies), so an unmodified aiogram talks to it through
``AiohttpSession(api=TelegramAPIServer.from_base(emulator.url))``. A control side (Python and
HTTP) injects what users do and reads what each bot sent. Imports nothing of ``tronrent``.
"""

from tgemulator.server import (
    BotState,
    ChatMessage,
    TelegramEmulator,
    TelegramLimits,
)

__all__ = ["BotState", "ChatMessage", "TelegramEmulator", "TelegramLimits"]
