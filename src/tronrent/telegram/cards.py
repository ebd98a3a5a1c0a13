"""``OrderCards`` for the notification sender: the order card the bot showed is edited in place
(same text and buttons as the bot's own card) when the order's status changes."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.adapters.telegram.transport import TelegramTransport
from tronrent.telegram import keyboards, render
from tronrent.telegram.context import translator_for
from tronrent.telegram.ports import FlashOrders


class OrderCardEditor:
    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        flash: FlashOrders,
        transport: TelegramTransport,
    ) -> None:
        self.session_maker = session_maker
        self.flash = flash
        self.transport = transport

    async def update_card(
        self,
        *,
        bot_id: uuid.UUID,
        chat_id: int,
        message_id: int,
        order_id: str,
        user_id: uuid.UUID | None,
        language: str,
    ) -> None:
        if user_id is None:
            return
        async with self.session_maker() as session:
            view = await self.flash.get_order_for_user(session, order_id=order_id, user_id=user_id)
        if view is None:
            return
        t = translator_for(language)
        markup = keyboards.card_buttons(t, view)
        await self.transport.edit_html(
            bot_id, chat_id, message_id, render.order_card(t, view), reply_markup=markup
        )
