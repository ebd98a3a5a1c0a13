"""/orders: the user's order history, five per page."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.i18n import Translator
from tronrent.models import User
from tronrent.telegram import render
from tronrent.telegram.callbacks import MenuCb, OrdersPageCb
from tronrent.telegram.handlers.common import show
from tronrent.telegram.keyboards import orders_pager
from tronrent.telegram.ports import FlashOrders

PAGE_SIZE = 5


async def orders_page(
    session: AsyncSession, flash: FlashOrders, user: User, t: Translator, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    page = max(0, page)
    result = await flash.list_orders_for_user(
        session, user_id=user.id, offset=page * PAGE_SIZE, limit=PAGE_SIZE
    )
    if result.total == 0:
        return t("orders.empty"), None
    pages = (result.total + PAGE_SIZE - 1) // PAGE_SIZE
    if page >= pages:  # a stale "next" button after orders disappeared
        return await orders_page(session, flash, user, t, pages - 1)
    text = t("orders.title", page=page + 1, pages=pages, total=result.total)
    text += "".join(render.order_line(t, view) for view in result.orders)
    return text, orders_pager(t, page, pages)


async def cmd_orders(
    message: Message, session: AsyncSession, flash: FlashOrders, user: User, t: Translator
) -> None:
    text, keyboard = await orders_page(session, flash, user, t, 0)
    await message.answer(text, reply_markup=keyboard)


async def cb_orders(
    callback: CallbackQuery, session: AsyncSession, flash: FlashOrders, user: User, t: Translator
) -> None:
    text, keyboard = await orders_page(session, flash, user, t, 0)
    await show(callback, text, keyboard)
    await callback.answer()


async def cb_orders_page(
    callback: CallbackQuery,
    callback_data: OrdersPageCb,
    session: AsyncSession,
    flash: FlashOrders,
    user: User,
    t: Translator,
) -> None:
    text, keyboard = await orders_page(session, flash, user, t, callback_data.page)
    await show(callback, text, keyboard)
    await callback.answer()


def create_router() -> Router:
    """A fresh router (a router can belong to one dispatcher only)."""
    router = Router(name="orders")
    router.message.register(cmd_orders, Command("orders"), F.chat.type == "private")
    router.callback_query.register(cb_orders, MenuCb.filter(F.action == "orders"))
    router.callback_query.register(cb_orders_page, OrdersPageCb.filter())
    return router
