"""Auto top-up in the bot ("keep energy on my address"): ``/auto`` or the transfer packages'
button shows the customer's running auto top-up (with a stop button) or how it works and its
price; setting one up asks the address, then the threshold, and pays the first transfer's worth
from the balance. The top-ups and the stop (the balance ran out) are told by the ordinary
notices (``auto_top_up_charged`` / ``auto_top_up_stopped``) in this chat."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.bot.service import BotConfig
from tronrent.kit.errors import AppError
from tronrent.kit.i18n import Translator
from tronrent.models import User
from tronrent.telegram import render
from tronrent.telegram.callbacks import AutoCb
from tronrent.telegram.handlers.common import address_problem, refuse_blocked, show
from tronrent.telegram.handlers.errors import error_text
from tronrent.telegram.keyboards import AUTO_THRESHOLDS, auto_menu, auto_thresholds
from tronrent.telegram.ports import AutoOffer, PackageOrders
from tronrent.telegram.states import Conversation


async def cmd_auto(
    message: Message, session: AsyncSession, packages: PackageOrders, user: User, t: Translator
) -> None:
    offer = await packages.auto_offer(session, user_id=user.id)
    await message.answer(render.auto_status(t, offer), reply_markup=auto_menu(t, offer))


async def cb_auto(
    callback: CallbackQuery,
    callback_data: AutoCb,
    state: FSMContext,
    session: AsyncSession,
    packages: PackageOrders,
    user: User,
    bot_config: BotConfig,
    t: Translator,
) -> None:
    action, message = callback_data.action, callback.message
    if action == "show":
        offer = await packages.auto_offer(session, user_id=user.id)
        await show(callback, render.auto_status(t, offer), auto_menu(t, offer))
        await callback.answer()
        return
    if action in ("new", "threshold") and await refuse_blocked(callback, user, t):
        return
    if action == "new" and message is not None:
        await state.clear()
        await state.set_state(Conversation.entering_auto_address)
        await callback.answer()
        await message.answer(t("auto.ask_address"))
        return
    if action == "threshold" and message is not None:
        address = (await state.get_data()).get("auto_address")
        if not isinstance(address, str) or callback_data.energy not in AUTO_THRESHOLDS:
            await state.clear()
            await callback.answer(t("stale"), show_alert=True)
            return
        try:
            view = await packages.start_auto(
                session,
                user_id=user.id,
                address=address,
                threshold_energy=callback_data.energy,
                bot_id=bot_config.id,
                chat_id=message.chat.id,
            )
        except AppError as exc:
            await callback.answer(error_text(t, exc), show_alert=True)
            return
        await state.clear()
        offer = AutoOffer(view.currency, view.price_units, view)
        await show(callback, render.auto_status(t, offer), auto_menu(t, offer))
        await callback.answer(t("auto.started"))
        return
    if action == "stop":
        try:
            view = await packages.stop_auto(
                session, user_id=user.id, order_id=callback_data.order_id
            )
        except AppError as exc:
            await callback.answer(error_text(t, exc), show_alert=True)
            return
        await show(callback, render.auto_card(t, view), auto_menu(t, AutoOffer("", None, None)))
        await callback.answer(t("auto.stopped"))
        return
    await callback.answer(t("stale"), show_alert=True)


async def on_auto_address(message: Message, state: FSMContext, t: Translator) -> None:
    text = (message.text or "").strip()
    problem = address_problem(t, text)
    if problem is not None:
        await message.answer(problem)  # still waiting for the address
        return
    await state.update_data(auto_address=text)
    await message.answer(t("auto.ask_threshold", address=text), reply_markup=auto_thresholds(t))


def create_router() -> Router:
    """A fresh router (a router can belong to one dispatcher only)."""
    router = Router(name="auto")
    router.message.register(cmd_auto, Command("auto"), F.chat.type == "private")
    router.callback_query.register(cb_auto, AutoCb.filter())
    router.message.register(
        on_auto_address, Conversation.entering_auto_address, F.text, ~F.text.startswith("/")
    )
    return router
