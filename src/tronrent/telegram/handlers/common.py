"""Small helpers the handler modules share."""

from __future__ import annotations

import re
import uuid

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from tronproto.address import is_valid_base58
from tronrent.bot.service import bot as bot_service
from tronrent.kit.i18n import Translator
from tronrent.models import BotUser, User
from tronrent.product.customer import ensure_not_blocked
from tronrent.product.errors import UserBlocked
from tronrent.telegram import render
from tronrent.telegram.keyboards import card_buttons, main_menu
from tronrent.telegram.ports import OrderView, PackageOrders

_ADDRESS_SHAPE = re.compile(r"^T[1-9A-HJ-NP-Za-km-z]{33}$")
MAX_REMEMBERED_CARDS = 20


async def refuse_blocked(callback: CallbackQuery, user: User, t: Translator) -> bool:
    """Tell a user an operator blocked that they cannot order (an alert); True if so. The
    order services refuse them too (``USER_BLOCKED``): this answers before the walk starts."""
    try:
        ensure_not_blocked(user)
    except UserBlocked:
        await callback.answer(t("error.USER_BLOCKED"), show_alert=True)
        return True
    return False


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
    session: AsyncSession,
    packages: PackageOrders | None,
    t: Translator,
    bot_id: uuid.UUID | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    """The energy packages for sale through ``bot_id`` (its prices: an agent's bot adds the
    agent's markup) as text to add below a title, and the main menu with one button per
    package (and the count packages' button when some are for sale)."""
    offers = await packages.list_packages(session, bot_id=bot_id) if packages is not None else []
    counts = bool(await packages.list_count_packages(session)) if packages is not None else False
    return render.package_list(t, offers), main_menu(t, offers, counts=counts)


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


async def remember_card(
    session: AsyncSession, bot_user: BotUser, order_id: str, message_id: int
) -> None:
    """Keep the order card's message id so status changes can edit it in place."""
    cards = dict((bot_user.preferences or {}).get("order_cards") or {})
    cards[order_id] = message_id
    while len(cards) > MAX_REMEMBERED_CARDS:
        cards.pop(next(iter(cards)))
    await bot_service.set_preference(session, bot_user, "order_cards", cards)


async def send_payment_card(
    bot: Bot,
    chat_id: int,
    view: OrderView,
    session: AsyncSession,
    bot_user: BotUser,
    t: Translator,
) -> None:
    """A new order's messages: while it waits for a transfer, the QR code of the payment
    address; then its card (remembered, so status changes edit it)."""
    pending = view.status == render.PENDING
    if pending and view.payment_address:
        caption = t("payment.qr_caption", address=view.payment_address)
        await send_qr(bot, chat_id, view.payment_address, caption)
    card = await bot.send_message(
        chat_id,
        render.order_card(t, view),
        reply_markup=card_buttons(t, view),
    )
    await remember_card(session, bot_user, view.order_id, card.message_id)
