"""Small helpers the handler modules share."""

from __future__ import annotations

import re

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from tronproto.address import is_valid_base58
from tronrent.kit.i18n import Translator
from tronrent.telegram import render
from tronrent.telegram.keyboards import main_menu
from tronrent.telegram.ports import PackageOrders

_ADDRESS_SHAPE = re.compile(r"^T[1-9A-HJ-NP-Za-km-z]{33}$")


async def show(
    callback: CallbackQuery, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Edit the message the button belongs to; send a new one if it cannot be edited."""
    message = callback.message
    if isinstance(message, Message) and message.text is not None:
        try:
            edited = await message.edit_text(text, reply_markup=reply_markup)
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return message
        else:
            return edited if isinstance(edited, Message) else message
    if callback.message is not None:
        return await callback.bot.send_message(  # type: ignore[union-attr]
            callback.message.chat.id, text, reply_markup=reply_markup
        )
    return None


async def home(
    session: AsyncSession, packages: PackageOrders | None, t: Translator
) -> tuple[str, InlineKeyboardMarkup]:
    """The energy packages for sale (text to add below a title) and the main menu with one
    button per package."""
    offers = await packages.list_packages(session) if packages is not None else []
    return render.package_list(t, offers), main_menu(t, offers)


def address_problem(t: Translator, text: str) -> str | None:
    """Why ``text`` is not a TRON address (None: it is one)."""
    shown = text if len(text) <= 64 else text[:61] + "..."
    if not _ADDRESS_SHAPE.match(text):
        return t("flash.invalid_address", text=shown)
    if not is_valid_base58(text):
        return t("flash.bad_checksum", text=shown)
    return None


async def send_qr(bot: Bot, chat_id: int, address: str, caption: str) -> None:
    """A QR code image of a payment address, its caption the address to copy."""
    await bot.send_photo(
        chat_id, BufferedInputFile(render.qr_png(address), "address.png"), caption=caption
    )
