"""/agent: the referral link, and for agents their referrals, earnings by status, withdrawable
commission and withdrawals.

``/agent apply <about you>`` files an application (operators review it);
``/agent withdraw <TRX|USDT> <amount> <T-address>`` asks for a payout of settled commission;
``/agent bot`` lists the agent's own bots, ``/agent bot add <token> <@username> [markup %]``
registers one (an operator approves it), ``/agent bot markup <@username> <percent>`` sets its
markup within the operator's bounds.
"""

from __future__ import annotations

import contextlib
import functools

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.agent import queries
from tronrent.agent.config import AgentConfig
from tronrent.agent.service import agent as agent_service
from tronrent.agent.withdrawal import withdrawal as withdrawal_service
from tronrent.bot.agent_bots import agent_bots
from tronrent.bot.service import BotConfig
from tronrent.kit.crypto import SecretBox
from tronrent.kit.errors import AppError
from tronrent.kit.i18n import Translator, escape
from tronrent.kit.money import AmountError, format_units, parse_units
from tronrent.models import Agent, AgentApplication, ApplicationStatus, User
from tronrent.models import Bot as BotRow
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
    secret_box: SecretBox,
) -> None:
    args = (command.args or "").split(maxsplit=1)
    action = args[0].lower() if args else ""
    rest = args[1] if len(args) > 1 else ""
    if action == "apply":
        await _apply(message, session, user, t, rest)
    elif action == "withdraw":
        await _withdraw(message, session, user, t, rest)
    elif action == "bot":
        await _bots(message, session, user, t, rest, secret_box)
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


def _percent(bps: int) -> str:
    return format_units(bps, 2)


def _markup_bps(text: str) -> int:
    """``"12.5%"`` -> 1250 basis points; a negative one is parsed so that the service refuses
    it with its reason (never below the operator's price), not with the usage text."""
    return parse_units(text.rstrip("%"), 2, allow_negative=True)


def _bot_line(t: Translator, bot: BotRow) -> str:
    state = "pending" if bot.approved_at is None else bot.status.value
    return t(
        "agent.bot_line",
        username=escape(bot.username),
        status=t(f"agent.bot.{state}"),
        markup=_percent(bot.agent_markup_bps),
        low=_percent(bot.min_markup_bps),
        high=_percent(bot.max_markup_bps),
    )


async def _bots(
    message: Message,
    session: AsyncSession,
    user: User,
    t: Translator,
    rest: str,
    box: SecretBox,
) -> None:
    parts = rest.split()
    verb = parts[0].lower() if parts else ""
    try:
        if verb == "add" and len(parts) in (3, 4):
            markup = _markup_bps(parts[3]) if len(parts) == 4 else 0
            if message.text and parts[1] in message.text:
                # the token should not stay in the chat history
                with contextlib.suppress(TelegramAPIError):
                    await message.delete()
            async with session.begin_nested():
                bot = await agent_bots.register(
                    session,
                    box=box,
                    user_id=user.id,
                    token=parts[1],
                    username=parts[2],
                    markup_bps=markup,
                )
            await message.answer(t("agent.bot_registered", username=escape(bot.username)))
            return
        if verb == "markup" and len(parts) == 3:
            markup = _markup_bps(parts[2])
            name = parts[1].lstrip("@").lower()
            mine = await agent_bots.list_for_user(session, user.id)
            found = next((b for b in mine if b.username.lower() == name), None)
            if found is None:
                await message.answer(t("agent.bot_usage"))
                return
            async with session.begin_nested():
                bot = await agent_bots.set_markup(
                    session, user_id=user.id, bot_id=found.id, markup_bps=markup
                )
            await message.answer(t("agent.bot_markup_set") + _bot_line(t, bot))
            return
    except AmountError:
        await message.answer(t("agent.bot_usage"))
        return
    except AppError as exc:
        await message.answer(error_text(t, exc))
        return
    if verb:
        await message.answer(t("agent.bot_usage"))
        return
    bots = await agent_bots.list_for_user(session, user.id)
    text = t("agent.bots") + "".join(_bot_line(t, b) for b in bots) if bots else t("agent.no_bots")
    await message.answer(text + "\n\n" + t("agent.bot_usage"))


def create_router() -> Router:
    router = Router(name="agent")
    router.message.register(cmd_agent, Command("agent"), F.chat.type == "private")
    return router
