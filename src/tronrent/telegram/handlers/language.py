"""Language choice (zh / en), stored per bot user."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.bot.service import bot as bot_service
from tronrent.kit.i18n import LANGUAGES, Translator
from tronrent.models import BotUser
from tronrent.telegram.callbacks import LangCb, MenuCb
from tronrent.telegram.context import translator_for
from tronrent.telegram.handlers.common import show
from tronrent.telegram.keyboards import languages, main_menu


async def cmd_language(message: Message, t: Translator) -> None:
    await message.answer(t("lang.choose"), reply_markup=languages())


async def cb_language(callback: CallbackQuery, t: Translator) -> None:
    await show(callback, t("lang.choose"), languages())
    await callback.answer()


async def cb_set_language(
    callback: CallbackQuery, callback_data: LangCb, session: AsyncSession, bot_user: BotUser
) -> None:
    await bot_service.set_preference(session, bot_user, "language", callback_data.code)
    t = translator_for(callback_data.code)
    await show(callback, t("lang.set"), main_menu(t))
    await callback.answer()


def create_router() -> Router:
    """A fresh router (a router can belong to one dispatcher only)."""
    router = Router(name="language")
    router.message.register(cmd_language, Command("language", "lang"), F.chat.type == "private")
    router.callback_query.register(cb_language, MenuCb.filter(F.action == "lang"))
    router.callback_query.register(cb_set_language, LangCb.filter(F.code.in_(LANGUAGES)))
    return router
