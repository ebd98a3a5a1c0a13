"""Build aiogram ``Bot`` objects pointed at the configured Bot API server (``TELEGRAM_API_URL``)."""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode

from tronrent.kit.crypto import Secret

DEFAULT_API_URL = "https://api.telegram.org"


def create_bot(token: str | Secret, *, api_url: str = DEFAULT_API_URL) -> Bot:
    """A Bot using HTML parse mode, no link previews, on the Bot API server at ``api_url``."""
    plain = token.reveal() if isinstance(token, Secret) else token
    api = TelegramAPIServer.from_base(api_url.rstrip("/"))
    return Bot(
        plain,
        session=AiohttpSession(api=api),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )
