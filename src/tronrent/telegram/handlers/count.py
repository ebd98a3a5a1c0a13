"""Count packages (笔数套餐) in the bot: the catalogue (``count:list``; a package is then
bought through the package flow: address, pay by TRX / USDT transfer or the balance) and the
card's pause / resume buttons (``count:pause`` / ``count:resume``)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.errors import AppError
from tronrent.kit.i18n import Translator
from tronrent.models import User
from tronrent.telegram import render
from tronrent.telegram.callbacks import CountCb
from tronrent.telegram.handlers.common import refuse_blocked, show
from tronrent.telegram.handlers.errors import error_text
from tronrent.telegram.keyboards import card_buttons, count_packages
from tronrent.telegram.ports import PackageOrders


async def cb_list(
    callback: CallbackQuery, session: AsyncSession, packages: PackageOrders, t: Translator
) -> None:
    offers = await packages.list_count_packages(session)
    await show(callback, render.count_list(t, offers), count_packages(t, offers))
    await callback.answer()


async def cb_pause_resume(
    callback: CallbackQuery,
    callback_data: CountCb,
    session: AsyncSession,
    packages: PackageOrders,
    user: User,
    t: Translator,
) -> None:
    if await refuse_blocked(callback, user, t):
        return
    pause = callback_data.action == "pause"
    try:
        view = await packages.pause_count(
            session, order_id=callback_data.order_id, user_id=user.id, pause=pause
        )
    except AppError as exc:
        await callback.answer(error_text(t, exc), show_alert=True)
        return
    await show(callback, render.order_card(t, view), card_buttons(t, view))
    await callback.answer(t("count.paused" if pause else "count.resumed"))


def create_router() -> Router:
    """A fresh router (a router can belong to one dispatcher only)."""
    router = Router(name="count")
    router.callback_query.register(cb_list, CountCb.filter(F.action == "list"))
    router.callback_query.register(
        cb_pause_resume, CountCb.filter(F.action.in_({"pause", "resume"}))
    )
    return router
