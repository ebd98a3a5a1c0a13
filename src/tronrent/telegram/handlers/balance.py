"""/balance: platform balances, the last ledger entries and, for the bound TRON address, its
on-chain figures; the top-up button (currency -> amount -> payment card with a QR code)."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.db import release_write_lock
from tronrent.kit.errors import AppError
from tronrent.kit.i18n import Translator
from tronrent.kit.money import AmountError, format_trx, format_usdt, parse_units
from tronrent.models import BotUser, User
from tronrent.models.common import Currency
from tronrent.telegram import render
from tronrent.telegram.callbacks import MenuCb, TopUpCb
from tronrent.telegram.handlers.common import send_payment_card, show
from tronrent.telegram.handlers.errors import error_text
from tronrent.telegram.keyboards import (
    TOP_UP_AMOUNTS,
    balance_menu,
    top_up_amounts,
    top_up_currencies,
)
from tronrent.telegram.ports import ChainBalances, PackageOrders
from tronrent.telegram.states import Conversation
from tronrent.user.balance import balance as balance_service

_log = logging.getLogger("tronrent.telegram")
CHAIN_TIMEOUT_S = 5.0
UNITS_DECIMALS = 6  # TRX (sun) and USDT base units
UNITS = 10**UNITS_DECIMALS
#: a typed top-up amount, in base units: 1 to 1,000,000 TRX / USDT
MIN_TOP_UP_UNITS = UNITS
MAX_TOP_UP_UNITS = 1_000_000 * UNITS
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
    await release_write_lock(session)  # not held while the node answers
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


async def _top_up(
    bot: Bot,
    chat_id: int,
    currency: str,
    units: int,
    session: AsyncSession,
    packages: PackageOrders,
    user: User,
    bot_user: BotUser,
    t: Translator,
) -> str | None:
    """Create the top-up and send its QR code and card; the error text if it was refused."""
    try:
        view = await packages.create_top_up(
            session, user_id=user.id, currency=currency, amount_units=units
        )
    except AppError as exc:
        return error_text(t, exc)
    await send_payment_card(bot, chat_id, view, session, bot_user, t)
    return None


async def cb_top_up(
    callback: CallbackQuery,
    callback_data: TopUpCb,
    state: FSMContext,
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
    if callback_data.custom and message is not None:
        await state.clear()
        await state.set_state(Conversation.entering_top_up_amount)
        await state.update_data(top_up_currency=currency)
        await callback.answer()
        await message.answer(t("top_up.ask_amount", currency=currency, **_bounds()))
        return
    if not amount or message is None or callback.bot is None:
        await show(
            callback, t("top_up.choose_amount", currency=currency), top_up_amounts(t, currency)
        )
        await callback.answer()
        return
    problem = await _top_up(
        callback.bot,
        message.chat.id,
        currency,
        amount * UNITS,
        session,
        packages,
        user,
        bot_user,
        t,
    )
    await callback.answer(problem, show_alert=problem is not None)


def _bounds() -> dict[str, str]:
    return {"min": format_trx(MIN_TOP_UP_UNITS), "max": format_trx(MAX_TOP_UP_UNITS)}


async def on_top_up_amount(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    packages: PackageOrders,
    user: User,
    bot_user: BotUser,
    t: Translator,
) -> None:
    currency = (await state.get_data()).get("top_up_currency")
    if currency not in set(Currency) or message.bot is None:
        await state.clear()
        await message.answer(t("stale"))
        return
    text = (message.text or "").strip()
    try:
        units = parse_units(text.replace(",", ""), UNITS_DECIMALS)
    except AmountError:
        units = 0
    if not MIN_TOP_UP_UNITS <= units <= MAX_TOP_UP_UNITS:
        shown = text if len(text) <= 20 else text[:17] + "..."
        await message.answer(t("top_up.bad_amount", text=shown, currency=currency, **_bounds()))
        return
    await state.clear()
    problem = await _top_up(
        message.bot, message.chat.id, currency, units, session, packages, user, bot_user, t
    )
    if problem is not None:
        await message.answer(problem)


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
    router.message.register(
        on_top_up_amount, Conversation.entering_top_up_amount, F.text, ~F.text.startswith("/")
    )
    return router
