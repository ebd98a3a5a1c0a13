"""Per-update helpers shared by middlewares and handlers."""

from __future__ import annotations

from typing import Any

from aiogram.types import Update, User

from tronrent.kit.i18n import Translator, pick_language
from tronrent.telegram.locales import CATALOG


def translator_for(language: str | None = None, language_code: str | None = None) -> Translator:
    """The user's chosen language, else the one of their Telegram client."""
    return Translator(CATALOG, language or pick_language(language_code))


def translator_from_data(data: dict[str, Any]) -> Translator:
    t = data.get("t")
    if isinstance(t, Translator):
        return t
    user = data.get("event_from_user")
    return translator_for(language_code=user.language_code if isinstance(user, User) else None)


async def reply_plain(update: Update, text: str) -> None:
    """Answer whatever the update is with a short text (a message, or a callback alert)."""
    if update.message is not None:
        await update.message.answer(text)
    elif update.callback_query is not None:
        await update.callback_query.answer(text[:200], show_alert=True)
    elif update.edited_message is not None:
        await update.edited_message.answer(text)
