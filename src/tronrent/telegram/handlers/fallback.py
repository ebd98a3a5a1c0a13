"""Whatever no other router took: unknown commands, text in the wrong state, stale buttons."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from tronrent.kit.i18n import Translator
from tronrent.telegram.keyboards import main_menu
from tronrent.telegram.states import Conversation

router = Router(name="fallback")


@router.message(F.text.startswith("/"))
async def unknown_command(message: Message, t: Translator) -> None:
    command = (message.text or "").split(maxsplit=1)[0][:40]
    await message.answer(t("unknown_command", command=command))


@router.message(Conversation.selecting_package)
@router.message(Conversation.confirming_order)
async def wrong_state(message: Message, t: Translator) -> None:
    await message.answer(t("wrong_state"))


@router.message(Conversation.entering_address)
async def address_not_text(message: Message, t: Translator) -> None:
    await message.answer(t("flash.ask_address"))


@router.message(F.text)
async def unknown_text(message: Message, t: Translator) -> None:
    await message.answer(t("unknown_text"), reply_markup=main_menu(t))


@router.message()
async def not_text(message: Message, t: Translator) -> None:
    await message.answer(t("non_text"))


@router.callback_query()
async def stale_callback(callback: CallbackQuery, t: Translator) -> None:
    await callback.answer(t("stale"), show_alert=True)
