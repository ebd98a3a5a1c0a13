"""/balance: platform balances, the last ledger entries and, for the bound TRON address, its
on-chain figures."""

from __future__ import annotations

import asyncio
import logging

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.i18n import Translator
from tronrent.kit.money import format_trx, format_usdt
from tronrent.models import User
from tronrent.telegram import render
from tronrent.telegram.callbacks import MenuCb
from tronrent.telegram.handlers.common import show
from tronrent.telegram.keyboards import main_menu
from tronrent.telegram.ports import ChainBalances
from tronrent.user.balance import balance as balance_service

_log = logging.getLogger("tronrent.telegram")
CHAIN_TIMEOUT_S = 5.0
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
    await message.answer(text, reply_markup=main_menu(t))


async def cb_balance(
    callback: CallbackQuery,
    session: AsyncSession,
    user: User,
    t: Translator,
    chain: ChainBalances | None,
) -> None:
    await callback.answer()
    await show(callback, await balance_text(session, user, t, chain), main_menu(t))


def create_router() -> Router:
    """A fresh router (a router can belong to one dispatcher only)."""
    router = Router(name="balance")
    router.message.register(cmd_balance, Command("balance"), F.chat.type == "private")
    router.callback_query.register(cb_balance, MenuCb.filter(F.action == "balance"))
    return router
