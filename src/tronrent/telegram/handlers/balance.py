"""/balance: platform balances, the last ledger entries and, for the bound TRON address, its
on-chain figures; the top-up button (currency -> amount -> payment card with a QR code)."""

from __future__ import annotations

import asyncio
import logging

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.errors import AppError
from tronrent.kit.i18n import Translator
from tronrent.kit.money import format_trx, format_usdt
from tronrent.models import BotUser, User
from tronrent.models.common import Currency
from tronrent.telegram import render
from tronrent.telegram.callbacks import MenuCb, TopUpCb
from tronrent.telegram.handlers.common import send_qr, show
from tronrent.telegram.handlers.errors import error_text
from tronrent.telegram.handlers.flash import remember_card
from tronrent.telegram.keyboards import (
    TOP_UP_AMOUNTS,
    balance_menu,
    order_card,
    top_up_amounts,
    top_up_currencies,
)
from tronrent.telegram.ports import ChainBalances, PackageOrders
from tronrent.user.balance import balance as balance_service

_log = logging.getLogger("tronrent.telegram")
CHAIN_TIMEOUT_S = 5.0
UNITS = 1_000_000  # base units per TRX (sun) and per USDT
LEDGER_ENTRIES = 5


async def balance_text(
    session: AsyncSession, user: User, t: Translator, chain: ChainBalances | None
) -> str:
    balances = await balance_service.get_balances(session, user.id)
    text = t(
        "balance.platform",
        trx=format_trx(balances.trx_sun),
        usdt=format_usdt(balances.usdt_units),
    )
    page = await balance_service.list_entries(session, user.id, limit=LEDGER_ENTRIES)
    text += render.ledger_lines(t, page.entries)
    address = user.tron_address
    if not address:
        return text + t("balance.no_address")
    if chain is None:
        return text + t("balance.chain_unavailable", address=address)
    try:
        async with asyncio.timeout(CHAIN_TIMEOUT_S):
            balance = await chain.address_balance(address)
    except Exception:  # the node is down or slow: say so, never fail the command
        _log.warning("telegram.balance_chain_failed", exc_info=True)
        return text + t("balance.chain_unavailable", address=address)
    return text + render.address_balance(t, address, balance)


async def cmd_balance(
    message: Message,
    session: AsyncSession,
    user: User,
    t: Translator,
    chain: ChainBalances | None,
) -> None:
    text = await balance_text(session, user, t, chain)
    await message.answer(text, reply_markup=balance_menu(t))


async def cb_balance(
    callback: CallbackQuery,
    session: AsyncSession,
    user: User,
    t: Translator,
    chain: ChainBalances | None,
) -> None:
    await callback.answer()
    await show(callback, await balance_text(session, user, t, chain), balance_menu(t))


async def cb_top_up(
    callback: CallbackQuery,
    callback_data: TopUpCb,
    session: AsyncSession,
    packages: PackageOrders,
    user: User,
    bot_user: BotUser,
    t: Translator,
) -> None:
    currency, amount = callback_data.currency, callback_data.amount
    message = callback.message
    if not currency:
        await show(callback, t("top_up.choose_currency"), top_up_currencies(t))
        await callback.answer()
        return
    if currency not in set(Currency) or (amount and amount not in TOP_UP_AMOUNTS):
        await callback.answer(t("stale"), show_alert=True)
        return
    if not amount or message is None or callback.bot is None:
        await show(
            callback, t("top_up.choose_amount", currency=currency), top_up_amounts(t, currency)
        )
        await callback.answer()
        return
    try:
        view = await packages.create_top_up(
            session, user_id=user.id, currency=currency, amount_units=amount * UNITS
        )
    except AppError as exc:
        await callback.answer(error_text(t, exc), show_alert=True)
        return
    if view.payment_address:
        caption = t("payment.qr_caption", address=view.payment_address)
        await send_qr(callback.bot, message.chat.id, view.payment_address, caption)
    card = await callback.bot.send_message(
        message.chat.id,
        render.order_card(t, view),
        reply_markup=order_card(t, view.order_id, pending=view.status == render.PENDING),
    )
    await remember_card(session, bot_user, view.order_id, card.message_id)
    await callback.answer()


def create_router() -> Router:
    """A fresh router (a router can belong to one dispatcher only)."""
    router = Router(name="balance")
    router.message.register(cmd_balance, Command("balance"), F.chat.type == "private")
    router.callback_query.register(cb_balance, MenuCb.filter(F.action == "balance"))
    return router


def create_top_up_router() -> Router:
    """The top-up buttons (only where a ``PackageOrders`` is wired)."""
    router = Router(name="top_up")
    router.callback_query.register(cb_top_up, TopUpCb.filter())
    return router
