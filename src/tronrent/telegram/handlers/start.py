"""/start (registration, referral), /menu, /help, /cancel."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.bot.service import BotConfig
from tronrent.kit.i18n import Translator, escape
from tronrent.models import User
from tronrent.telegram.callbacks import MenuCb
from tronrent.telegram.handlers.common import home, show
from tronrent.telegram.keyboards import main_menu
from tronrent.telegram.ports import PackageOrders
from tronrent.user.service import user as user_service


async def cmd_start(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    bot_config: BotConfig,
    packages: PackageOrders | None,
    t: Translator,
) -> None:
    await state.clear()
    packages_text, keyboard = await home(session, packages, t, bot_config.id)
    parts = [
        escape(bot_config.welcome_message)
        if bot_config.welcome_message
        else t("welcome", bot_name=bot_config.name)
    ]
    if command.args:
        referrer = await user_service.bind_referrer(session, user, command.args.strip()[:50])
        if referrer is not None:
            parts.append(t("referral.bound"))
    text = "\n\n".join(parts) + packages_text
    await message.answer(text, reply_markup=keyboard)


async def cmd_menu(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    packages: PackageOrders | None,
    bot_config: BotConfig,
    t: Translator,
) -> None:
    await state.clear()
    text, keyboard = await home(session, packages, t, bot_config.id)
    await message.answer(t("menu.title") + text, reply_markup=keyboard)


async def cb_menu(
    callback: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    packages: PackageOrders | None,
    bot_config: BotConfig,
    t: Translator,
) -> None:
    await state.clear()
    text, keyboard = await home(session, packages, t, bot_config.id)
    await show(callback, t("menu.title") + text, keyboard)
    await callback.answer()


def help_text(bot_config: BotConfig, t: Translator) -> str:
    return escape(bot_config.help_message) if bot_config.help_message else t("help")


async def cmd_help(message: Message, bot_config: BotConfig, t: Translator) -> None:
    await message.answer(help_text(bot_config, t), reply_markup=main_menu(t))


async def cb_help(callback: CallbackQuery, bot_config: BotConfig, t: Translator) -> None:
    await show(callback, help_text(bot_config, t), main_menu(t))
    await callback.answer()


async def cmd_cancel(message: Message, state: FSMContext, t: Translator) -> None:
    had_state = await state.get_state() is not None
    await state.clear()
    await message.answer(
        t("cancelled") if had_state else t("nothing_to_cancel"), reply_markup=main_menu(t)
    )


def create_router() -> Router:
    """A fresh router (a router can belong to one dispatcher only)."""
    router = Router(name="start")
    router.message.filter(F.chat.type == "private")
    router.message.register(cmd_start, CommandStart())
    router.message.register(cmd_menu, Command("menu"))
    router.callback_query.register(cb_menu, MenuCb.filter(F.action == "home"))
    router.message.register(cmd_help, Command("help"))
    router.callback_query.register(cb_help, MenuCb.filter(F.action == "help"))
    router.message.register(cmd_cancel, Command("cancel"))
    return router
