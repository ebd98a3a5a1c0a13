"""/agent: the referral link, and for agents their referrals, earnings by status, withdrawable
commission and withdrawals.

``/agent apply <about you>`` files an application (operators review it);
``/agent withdraw <TRX|USDT> <amount> <T-address>`` asks for a payout of settled commission.
"""

from __future__ import annotations

import functools

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.agent import queries
from tronrent.agent.config import AgentConfig
from tronrent.agent.service import agent as agent_service
from tronrent.agent.withdrawal import withdrawal as withdrawal_service
from tronrent.bot.service import BotConfig
from tronrent.kit.errors import AppError
from tronrent.kit.i18n import Translator, escape
from tronrent.kit.money import AmountError, format_units, parse_units
from tronrent.models import Agent, AgentApplication, ApplicationStatus, User
from tronrent.models.common import Currency
from tronrent.telegram.handlers.errors import error_text

MAX_ABOUT = 2000


@functools.cache
def agent_config() -> AgentConfig:
    return AgentConfig.from_settings()


def _money(units: int, currency: Currency) -> str:
    return f"{format_units(units, 6)} {currency.value}"


async def _overview(session: AsyncSession, user: User, bot_config: BotConfig, t: Translator) -> str:
    link = f"https://t.me/{bot_config.username}?start={user.referral_code}"
    text = t("agent.link", code=escape(user.referral_code or ""), link=escape(link))
    agent = (
        await session.execute(select(Agent).where(Agent.user_id == user.id))
    ).scalar_one_or_none()
    if agent is None:
        pending = await session.execute(
            select(AgentApplication.id).where(
                AgentApplication.user_id == user.id,
                AgentApplication.status == ApplicationStatus.PENDING,
            )
        )
        key = "agent.application_pending" if pending.first() else "agent.not_agent"
        return text + t(key)
    s = await queries.summary(session, agent)
    text += t(
        "agent.summary",
        status=t(f"agent.status.{agent.status.value}"),
        level=agent.level,
        rate=format_units(agent.commission_bps, 2),
        referrals=s.referrals,
    )
    lines = [
        t(
            "agent.earning_line",
            status=t(f"agent.earning.{e.status.value}"),
            amount=_money(e.amount_units, e.currency),
            count=e.count,
        )
        for e in s.earnings
    ]
    text += "".join(lines) if lines else t("agent.no_earnings")
    text += t(
        "agent.available",
        trx=_money(agent.available_balance_sun, Currency.TRX),
        usdt=_money(agent.available_balance_usdt_units, Currency.USDT),
        withdrawn_trx=_money(agent.withdrawn_amount_sun, Currency.TRX),
    )
    for w in await withdrawal_service.list_for_agent(session, agent.id, limit=3):
        text += t(
            "agent.withdrawal_line",
            amount=_money(w.amount_units, w.currency),
            status=t(f"agent.withdrawal.{w.status.value}"),
        )
    return text + t("agent.withdraw_hint")


async def cmd_agent(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    user: User,
    bot_config: BotConfig,
    t: Translator,
) -> None:
    args = (command.args or "").split(maxsplit=1)
    action = args[0].lower() if args else ""
    rest = args[1] if len(args) > 1 else ""
    if action == "apply":
        await _apply(message, session, user, t, rest)
    elif action == "withdraw":
        await _withdraw(message, session, user, t, rest)
    else:
        await message.answer(await _overview(session, user, bot_config, t))


async def _apply(
    message: Message, session: AsyncSession, user: User, t: Translator, about: str
) -> None:
    about = about.strip()
    if not about or len(about) > MAX_ABOUT:
        await message.answer(t("agent.apply_usage"))
        return
    contact = {"telegramId": user.telegram_id, "username": user.username}
    try:
        async with session.begin_nested():
            await agent_service.apply(session, user.id, contact_info=contact, experience=about)
    except AppError as exc:
        await message.answer(error_text(t, exc))
        return
    await message.answer(t("agent.applied"))


async def _withdraw(
    message: Message, session: AsyncSession, user: User, t: Translator, rest: str
) -> None:
    parts = rest.split()
    if len(parts) != 3 or parts[0].upper() not in ("TRX", "USDT"):
        await message.answer(t("agent.withdraw_usage"))
        return
    currency = Currency(parts[0].upper())
    try:
        amount = parse_units(parts[1], 6)
    except AmountError:
        await message.answer(t("agent.withdraw_usage"))
        return
    try:
        async with session.begin_nested():
            w = await withdrawal_service.request(
                session,
                user.id,
                currency=currency,
                amount_units=amount,
                to_address=parts[2],
                cfg=agent_config(),
            )
    except AppError as exc:
        await message.answer(error_text(t, exc))
        return
    await message.answer(
        t(
            "agent.withdraw_requested",
            amount=_money(w.amount_units, w.currency),
            payout=_money(w.payout_units, w.currency),
            status=t(f"agent.withdrawal.{w.status.value}"),
        )
    )


def create_router() -> Router:
    router = Router(name="agent")
    router.message.register(cmd_agent, Command("agent"), F.chat.type == "private")
    return router
