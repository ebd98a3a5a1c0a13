"""Where a customer's order events go: the bot and chat the user talked to last."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.models.bot import Bot, BotStatus
from tronrent.models.bot_user import BotUser, BotUserStatus


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
