"""Whatever no other router took: unknown commands, text in the wrong state, stale buttons."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from tronrent.kit.i18n import Translator
from tronrent.telegram.keyboards import main_menu
from tronrent.telegram.states import Conversation


async def unknown_command(message: Message, t: Translator) -> None:
    command = (message.text or "").split(maxsplit=1)[0][:40]
    await message.answer(t("unknown_command", command=command))


async def wrong_state(message: Message, t: Translator) -> None:
    await message.answer(t("wrong_state"))


async def address_not_text(message: Message, t: Translator) -> None:
    await message.answer(t("flash.ask_address"))


async def unknown_text(message: Message, t: Translator) -> None:
    await message.answer(t("unknown_text"), reply_markup=main_menu(t))


async def not_text(message: Message, t: Translator) -> None:
    await message.answer(t("non_text"))


async def stale_callback(callback: CallbackQuery, t: Translator) -> None:
    await callback.answer(t("stale"), show_alert=True)


def create_router() -> Router:
    """A fresh router (a router can belong to one dispatcher only)."""
    router = Router(name="fallback")
    router.message.register(unknown_command, F.text.startswith("/"))
    router.message.register(wrong_state, Conversation.selecting_package)
    router.message.register(wrong_state, Conversation.confirming_order)
    router.message.register(address_not_text, Conversation.entering_address)
    router.message.register(unknown_text, F.text)
    router.message.register(not_text)
    router.callback_query.register(stale_callback)
    return router
