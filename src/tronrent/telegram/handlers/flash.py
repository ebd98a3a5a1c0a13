"""Energy flash rental in the bot: price and rules with the address (text + QR), ordering for an
address (``entering_address`` -> ``confirming_order``), and the order card with its buttons."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.bot.service import BotConfig
from tronrent.kit.errors import AppError
from tronrent.kit.i18n import Translator
from tronrent.kit.money import format_trx
from tronrent.models import BotUser, User
from tronrent.notification.messages import format_duration
from tronrent.telegram import render
from tronrent.telegram.callbacks import (
    CancelCb,
    CheckPaymentCb,
    ConfirmOrderCb,
    FlashCb,
    MenuCb,
    MyOrderCb,
)
from tronrent.telegram.handlers.common import (
    address_problem,
    refuse_blocked,
    remember_card,
    send_qr,
    show,
)
from tronrent.telegram.handlers.errors import error_text
from tronrent.telegram.keyboards import card_buttons, confirm_order, flash_menu, main_menu
from tronrent.telegram.ports import FlashOrders, OrderView
from tronrent.telegram.states import Conversation
from tronrent.user.service import user as user_service


async def cb_flash(
    callback: CallbackQuery,
    session: AsyncSession,
    flash: FlashOrders,
    bot_config: BotConfig,
    t: Translator,
) -> None:
    await callback.answer()
    if callback.message is None:
        return
    terms = await flash.flash_terms(session, bot_config.id)
    chat_id = callback.message.chat.id
    bot = callback.bot
    assert bot is not None
    if terms.walk_in:
        caption = t("flash.qr_caption", address=terms.payment_address)
        await send_qr(bot, chat_id, terms.payment_address, caption)
    # an agent's own bot: no bare address - a walk-in payment has no bot, so it would be
    # neither at the agent's price nor the agent's; its orders carry both
    await bot.send_message(
        chat_id,
        t(
            "flash.intro" if terms.walk_in else "flash.intro_order",
            price=format_trx(terms.single_price_sun),
            price2=format_trx(2 * terms.single_price_sun),
            energy=f"{terms.energy_per_transaction:,}",
            duration=format_duration(terms.rental_seconds or terms.expiry_hours * 3600, t.language),
            max=terms.max_transactions,
            min=format_trx(terms.min_amount_sun),
            address=terms.payment_address,
        ),
        reply_markup=flash_menu(t),
    )


async def cb_rent(callback: CallbackQuery, state: FSMContext, t: Translator) -> None:
    await state.clear()  # drop any other draft (a package's) before this one
    await state.set_state(Conversation.entering_address)
    await callback.answer()
    if callback.message is not None:
        await callback.message.answer(t("flash.ask_address"))


async def cb_abort(callback: CallbackQuery, state: FSMContext, t: Translator) -> None:
    await state.clear()
    await show(callback, t("cancelled"), main_menu(t))
    await callback.answer()


async def on_address(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    flash: FlashOrders,
    bot_config: BotConfig,
    t: Translator,
) -> None:
    text = (message.text or "").strip()
    problem = address_problem(t, text)
    if problem is not None:
        await message.answer(problem)
        return
    terms = await flash.flash_terms(session, bot_config.id)
    await state.set_state(Conversation.confirming_order)
    await state.update_data(recipient=text)
    await message.answer(
        t(
            "flash.confirm",
            recipient=text,
            price=format_trx(terms.single_price_sun),
            max=terms.max_transactions,
        ),
        reply_markup=confirm_order(t),
    )


async def cb_confirm(
    callback: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    flash: FlashOrders,
    user: User,
    bot_user: BotUser,
    bot_config: BotConfig,
    t: Translator,
) -> None:
    if await refuse_blocked(callback, user, t):
        await state.clear()
        return
    recipient = (await state.get_data()).get("recipient")
    if not isinstance(recipient, str) or callback.message is None:
        await state.clear()
        await callback.answer(t("stale"), show_alert=True)
        return
    try:
        view = await flash.create_flash_order(
            session,
            recipient=recipient,
            chat_id=callback.message.chat.id,
            user_id=user.id,
            bot_id=bot_config.id,
        )
    except AppError as exc:
        await callback.answer(error_text(t, exc), show_alert=True)
        return
    await state.clear()
    await user_service.bind_tron_address(session, user, recipient)
    card = await show(callback, render.order_card(t, view), card_buttons(t, view))
    if card is not None:
        await remember_card(session, bot_user, view.order_id, card.message_id)
    await callback.answer()


async def _owned_order(
    callback: CallbackQuery,
    session: AsyncSession,
    flash: FlashOrders,
    user: User,
    order_id: str,
    t: Translator,
) -> OrderView | None:
    view = await flash.get_order_for_user(session, order_id=order_id, user_id=user.id)
    if view is None:
        await callback.answer(t("order.not_found"), show_alert=True)
    return view


async def cb_check_payment(
    callback: CallbackQuery,
    callback_data: CheckPaymentCb,
    session: AsyncSession,
    flash: FlashOrders,
    user: User,
    t: Translator,
) -> None:
    view = await _owned_order(callback, session, flash, user, callback_data.order_id, t)
    if view is None:
        return
    pending = view.status == render.PENDING
    await show(callback, render.order_card(t, view), card_buttons(t, view))
    if pending:
        await callback.answer(t("order.not_paid_yet"), show_alert=True)
    else:
        await callback.answer(t("order.status_now", status=render.status_text(t, view.status)))


async def cb_cancel(
    callback: CallbackQuery,
    callback_data: CancelCb,
    session: AsyncSession,
    flash: FlashOrders,
    user: User,
    t: Translator,
) -> None:
    view = await _owned_order(callback, session, flash, user, callback_data.order_id, t)
    if view is None:
        return
    try:
        view = await flash.cancel_order(session, order_id=view.order_id, user_id=user.id)
    except AppError as exc:
        await callback.answer(error_text(t, exc), show_alert=True)
        return
    await show(callback, render.order_card(t, view), card_buttons(t, view))
    await callback.answer(t("order.cancelled"))


async def cb_my_order(
    callback: CallbackQuery,
    callback_data: MyOrderCb,
    session: AsyncSession,
    flash: FlashOrders,
    user: User,
    t: Translator,
) -> None:
    view = await _owned_order(callback, session, flash, user, callback_data.order_id, t)
    if view is None or callback.message is None:
        return
    await callback.message.answer(render.order_card(t, view), reply_markup=card_buttons(t, view))
    await callback.answer()


def create_router() -> Router:
    """A fresh router (a router can belong to one dispatcher only)."""
    router = Router(name="flash")
    router.callback_query.register(cb_flash, MenuCb.filter(F.action == "flash"))
    router.callback_query.register(cb_rent, FlashCb.filter(F.action == "rent"))
    router.callback_query.register(cb_abort, FlashCb.filter(F.action == "abort"))
    router.message.register(
        on_address, Conversation.entering_address, F.text, ~F.text.startswith("/")
    )
    router.callback_query.register(
        cb_confirm, Conversation.confirming_order, ConfirmOrderCb.filter(F.kind == "flash")
    )
    router.callback_query.register(cb_check_payment, CheckPaymentCb.filter())
    router.callback_query.register(cb_cancel, CancelCb.filter())
    router.callback_query.register(cb_my_order, MyOrderCb.filter())
    return router
