"""Energy packages in the bot: ``energy_package_*`` -> ``selecting_package`` (quantity) ->
``entering_address`` -> ``confirming_order`` (price breakdown; pay by TRX or USDT transfer, or
from the balance) -> the payment card (exact amount, address, deadline, QR code)."""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.bot.service import BotConfig
from tronrent.kit.errors import AppError
from tronrent.kit.i18n import Translator
from tronrent.models import BotUser, User
from tronrent.models.common import Currency
from tronrent.telegram import render
from tronrent.telegram.callbacks import ConfirmOrderCb, EnergyPackageCb, PackageCb, PackageQtyCb
from tronrent.telegram.handlers.common import (
    address_problem,
    refuse_blocked,
    send_payment_card,
    show,
)
from tronrent.telegram.handlers.errors import error_text
from tronrent.telegram.keyboards import package_payment, quantities, recipient_choice
from tronrent.telegram.ports import OrderView, PackageOffer, PackageOrders
from tronrent.telegram.states import Conversation
from tronrent.user.balance import balance as balance_service
from tronrent.user.service import user as user_service

FLOW = "package"
#: what a complete draft holds when ``confirming_order`` is confirmed
DRAFT = {"package_id": str, "quantity": int, "recipient": str}
METHODS = ("transfer", "balance")


async def in_package_flow(_event: object, state: FSMContext) -> bool:
    """The conversation's draft is a package order (``entering_address`` serves flash too)."""
    return (await state.get_data()).get("flow") == FLOW


async def _draft_offer(
    state: FSMContext, session: AsyncSession, packages: PackageOrders
) -> tuple[dict[str, Any], PackageOffer | None]:
    data = await state.get_data()
    package_id = data.get("package_id")
    if not isinstance(package_id, str):
        return data, None
    return data, await packages.get_package(session, package_id)


async def cb_package(
    callback: CallbackQuery,
    callback_data: EnergyPackageCb,
    state: FSMContext,
    session: AsyncSession,
    packages: PackageOrders,
    user: User,
    bot_config: BotConfig,
    t: Translator,
) -> None:
    if await refuse_blocked(callback, user, t):
        return
    offer = await packages.get_package(session, callback_data.package_id, bot_id=bot_config.id)
    if offer is None:
        await callback.answer(t("packages.unavailable"), show_alert=True)
        return
    await state.clear()
    if offer.counts and isinstance(callback.message, Message):
        # a count package is bought one at a time: straight to the address
        await state.set_state(Conversation.selecting_package)
        await state.update_data(flow=FLOW, package_id=offer.package_id)
        await show(callback, count_detail(t, offer), None)
        await _take_quantity(callback.message, state, offer, 1, user, t)
        await callback.answer()
        return
    await state.set_state(Conversation.selecting_package)
    await state.update_data(flow=FLOW, package_id=offer.package_id)
    text = t(
        "package.detail",
        name=offer.name,
        energy=f"{offer.energy:,}",
        duration=render.duration(t, offer.duration_hours),
        trx=render.money(offer.trx_price_units, Currency.TRX),
        usdt=render.money(offer.usdt_price_units, Currency.USDT),
        min=offer.min_quantity,
        max=offer.max_quantity,
    )
    await show(callback, text, quantities(t, offer.min_quantity, offer.max_quantity))
    await callback.answer()


def count_detail(t: Translator, offer: PackageOffer) -> str:
    return t(
        "count.detail",
        name=offer.name,
        counts=offer.counts or 0,
        energy=f"{offer.energy:,}",
        duration=render.duration(t, offer.duration_hours),
        trx=render.money(offer.trx_price_units, Currency.TRX),
        usdt=render.money(offer.usdt_price_units, Currency.USDT),
    )


async def _take_quantity(
    answer: Message,
    state: FSMContext,
    offer: PackageOffer,
    quantity: int,
    user: User,
    t: Translator,
) -> None:
    await state.set_state(Conversation.entering_address)
    await state.update_data(quantity=quantity)
    text = (
        t("count.ask_address")
        if offer.counts
        else t("package.ask_address", energy=f"{offer.energy * quantity:,}")
    )
    await answer.answer(text, reply_markup=recipient_choice(t, user.tron_address))


async def cb_quantity(
    callback: CallbackQuery,
    callback_data: PackageQtyCb,
    state: FSMContext,
    session: AsyncSession,
    packages: PackageOrders,
    user: User,
    t: Translator,
) -> None:
    _, offer = await _draft_offer(state, session, packages)
    message = callback.message
    if offer is None or not isinstance(message, Message):
        await state.clear()
        await callback.answer(t("stale"), show_alert=True)
        return
    await callback.answer()
    quantity = callback_data.quantity
    if quantity == 0:
        await message.answer(
            t("package.ask_quantity", min=offer.min_quantity, max=offer.max_quantity)
        )
    elif offer.min_quantity <= quantity <= offer.max_quantity:
        await _take_quantity(message, state, offer, quantity, user, t)
    else:  # a button of an older package version
        await message.answer(t("stale"))


async def on_quantity(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    packages: PackageOrders,
    user: User,
    t: Translator,
) -> None:
    _, offer = await _draft_offer(state, session, packages)
    if offer is None:
        await state.clear()
        await message.answer(t("stale"))
        return
    text = (message.text or "").strip()
    if (
        text.isdecimal()
        and len(text) <= 6
        and offer.min_quantity <= int(text) <= offer.max_quantity
    ):
        await _take_quantity(message, state, offer, int(text), user, t)
        return
    shown = text if len(text) <= 20 else text[:17] + "..."
    await message.answer(
        t("package.bad_quantity", text=shown, min=offer.min_quantity, max=offer.max_quantity)
    )


async def _confirm(
    answer: Message,
    state: FSMContext,
    session: AsyncSession,
    packages: PackageOrders,
    user: User,
    bot_config: BotConfig,
    t: Translator,
    recipient: str,
) -> None:
    data, offer = await _draft_offer(state, session, packages)
    quantity = data.get("quantity")
    if offer is None or not isinstance(quantity, int):
        await state.clear()
        await answer.answer(t("stale"))
        return
    quotes = [
        await packages.quote(
            session,
            package_id=offer.package_id,
            quantity=quantity,
            currency=currency,
            user_id=user.id,
            bot_id=bot_config.id,
        )
        for currency in offer.currencies
    ]
    fee = await packages.activation_fee_sun(recipient)
    balances = await balance_service.get_balances(session, user.id)
    shown = [(c, render.money(balances.of(c), c)) for c in offer.currencies]
    await state.set_state(Conversation.confirming_order)
    await state.update_data(recipient=recipient)
    keyboard = package_payment(t, shown, offer.currencies)
    await answer.answer(render.package_quote(t, quotes, recipient, fee), reply_markup=keyboard)


async def on_address(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    packages: PackageOrders,
    user: User,
    bot_config: BotConfig,
    t: Translator,
) -> None:
    text = (message.text or "").strip()
    problem = address_problem(t, text)
    if problem is not None:
        await message.answer(problem)
        return
    await _confirm(message, state, session, packages, user, bot_config, t, text)


async def cb_last_address(
    callback: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    packages: PackageOrders,
    user: User,
    bot_config: BotConfig,
    t: Translator,
) -> None:
    message = callback.message
    if not user.tron_address or not isinstance(message, Message):
        await callback.answer(t("stale"), show_alert=True)
        return
    await callback.answer()
    await _confirm(message, state, session, packages, user, bot_config, t, user.tron_address)


async def _order(
    callback_data: ConfirmOrderCb,
    data: dict[str, Any],
    session: AsyncSession,
    packages: PackageOrders,
    user: User,
    bot_config: BotConfig,
    chat_id: int,
) -> OrderView:
    order = {
        "package_id": data["package_id"],
        "quantity": data["quantity"],
        "recipient": data["recipient"],
        "currency": callback_data.currency,
        "user_id": user.id,
        "bot_id": bot_config.id,
        "chat_id": chat_id,
    }
    if callback_data.method == "transfer":
        return await packages.create_package_order(session, payment_method="transfer", **order)
    # created and paid together or not at all: a short balance leaves no unpaid order behind
    async with session.begin_nested():
        view = await packages.create_package_order(session, payment_method="balance", **order)
        return await packages.pay_from_balance(session, order_id=view.order_id, user_id=user.id)


async def cb_pay(
    callback: CallbackQuery,
    callback_data: ConfirmOrderCb,
    state: FSMContext,
    session: AsyncSession,
    packages: PackageOrders,
    user: User,
    bot_user: BotUser,
    bot_config: BotConfig,
    t: Translator,
) -> None:
    data = await state.get_data()
    message = callback.message
    draft = all(isinstance(data.get(k), v) for k, v in DRAFT.items())
    known = callback_data.currency in set(Currency) and callback_data.method in METHODS
    bot = callback.bot
    if not draft or message is None or bot is None or not known:
        await state.clear()
        await callback.answer(t("stale"), show_alert=True)
        return
    currency = Currency(callback_data.currency)
    if callback_data.method == "balance":
        quote = await packages.quote(
            session,
            package_id=data["package_id"],
            quantity=data["quantity"],
            currency=currency,
            user_id=user.id,
            bot_id=bot_config.id,
        )
        total = quote.final_price_units
        if currency == Currency.TRX:  # as the breakdown showed it
            total += await packages.activation_fee_sun(data["recipient"])
        have = (await balance_service.get_balances(session, user.id)).of(currency)
        if have < total:
            await callback.answer(
                t(
                    "package.balance_short",
                    currency=currency.value,
                    balance=render.money(have, currency),
                    total=render.money(total, currency),
                ),
                show_alert=True,
            )
            return
    try:
        view = await _order(
            callback_data, data, session, packages, user, bot_config, message.chat.id
        )
    except AppError as exc:
        await callback.answer(error_text(t, exc), show_alert=True)
        return
    await state.clear()
    await user_service.bind_tron_address(session, user, data["recipient"])
    await send_payment_card(bot, message.chat.id, view, session, bot_user, t)
    await callback.answer(None if view.status == render.PENDING else t("package.paid"))


def create_router() -> Router:
    """A fresh router (a router can belong to one dispatcher only); before the flash router,
    whose ``entering_address`` handler takes the drafts that are not packages."""
    router = Router(name="package")
    router.callback_query.register(cb_package, EnergyPackageCb.filter())
    router.callback_query.register(
        cb_quantity, Conversation.selecting_package, PackageQtyCb.filter()
    )
    router.message.register(
        on_quantity, Conversation.selecting_package, F.text, ~F.text.startswith("/")
    )
    router.message.register(
        on_address, Conversation.entering_address, in_package_flow, F.text, ~F.text.startswith("/")
    )
    router.callback_query.register(
        cb_last_address,
        Conversation.entering_address,
        in_package_flow,
        PackageCb.filter(F.action == "last_address"),
    )
    router.callback_query.register(
        cb_pay,
        Conversation.confirming_order,
        in_package_flow,
        ConfirmOrderCb.filter(F.kind == FLOW),
    )
    return router
