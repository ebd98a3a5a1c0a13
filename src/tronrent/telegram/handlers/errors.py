"""The one place that turns errors into answers: AppError codes -> locale keys, anything else ->
a generic apology. Never raises."""

from __future__ import annotations

import logging
from html import escape

from aiogram import Router
from aiogram.types import ErrorEvent, User

from tronrent.bot.service import BotConfig
from tronrent.kit.errors import AppError
from tronrent.kit.i18n import Translator
from tronrent.kit.metrics import ERRORS
from tronrent.telegram.context import reply_plain, translator_for

_log = logging.getLogger("tronrent.telegram")


def error_text(t: Translator, exc: AppError) -> str:
    key = f"error.{exc.code}"
    return t(key) if t.has(key) else escape(exc.message)


async def on_error(
    event: ErrorEvent,
    event_from_user: User | None = None,
    bot_config: BotConfig | None = None,
) -> bool:
    exc = event.exception
    t = translator_for(language_code=event_from_user.language_code if event_from_user else None)
    if isinstance(exc, AppError):
        text = error_text(t, exc)
        _log.info("telegram.app_error code=%s", exc.code)
    else:
        _log.error("telegram.handler_failed update=%s", event.update.update_id, exc_info=exc)
        ERRORS.labels(component="bot").inc()
        if bot_config is not None and bot_config.error_message:
            text = escape(bot_config.error_message)
        else:
            text = t("error")
    try:
        await reply_plain(event.update, text)
    except Exception:  # the answer itself failed (blocked bot, flood): nothing more to do
        _log.warning("telegram.error_answer_failed", exc_info=True)
    return True


def create_router() -> Router:
    """A fresh router (a router can belong to one dispatcher only)."""
    router = Router(name="errors")
    router.errors.register(on_error)
    return router
