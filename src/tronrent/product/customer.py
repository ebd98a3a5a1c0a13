"""A customer as the order flows see them: may they order (not blocked), and where their order
events go (the bot and chat the user talked to last)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.models.bot import Bot, BotStatus
from tronrent.models.bot_user import BotUser, BotUserStatus
from tronrent.models.user import User, UserStatus
from tronrent.product.errors import UserBlocked


@dataclass(frozen=True, slots=True)
class CustomerChat:
    bot_id: uuid.UUID | None
    chat_id: int | None


async def customer_chat(session: AsyncSession, user_id: uuid.UUID | None) -> CustomerChat:
    """The active bot the user talked to most recently and its private chat; no bot (None,
    None): the events are recorded for operators only."""
    if user_id is None:
        return CustomerChat(None, None)
    row = (
        await session.execute(
            select(BotUser.bot_id, BotUser.telegram_chat_id)
            .join(Bot, Bot.id == BotUser.bot_id)
            .where(
                BotUser.user_id == user_id,
                BotUser.status == BotUserStatus.ACTIVE,
                BotUser.telegram_chat_id.is_not(None),
                Bot.status == BotStatus.ACTIVE,
            )
            .order_by(BotUser.last_interaction_at.desc(), BotUser.id)
            .limit(1)
        )
    ).first()
    return CustomerChat(None, None) if row is None else CustomerChat(row[0], row[1])


def ensure_not_blocked(user: User) -> None:
    """Raise `UserBlocked` (403 USER_BLOCKED) if an operator blocked ``user``."""
    ensure_status_not_blocked(user.id, user.status)


def ensure_status_not_blocked(user_id: uuid.UUID, status: UserStatus | None) -> None:
    """`ensure_not_blocked` for a user's id and status read by the caller (with another row)."""
    if status is UserStatus.BANNED:
        raise UserBlocked("this user is blocked and cannot order", details={"userId": str(user_id)})


async def ensure_may_order(session: AsyncSession, user_id: uuid.UUID | None) -> None:
    """`ensure_not_blocked` for the user ``user_id`` (None, or an unknown user: nothing to
    check here - the caller reports an unknown user)."""
    if user_id is None:
        return
    user = await session.get(User, user_id)
    if user is not None:
        ensure_not_blocked(user)
