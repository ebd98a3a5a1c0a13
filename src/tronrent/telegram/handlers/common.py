"""Small helpers the handler modules share."""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message


async def show(
    callback: CallbackQuery, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Edit the message the button belongs to; send a new one if it cannot be edited."""
    message = callback.message
    if isinstance(message, Message) and message.text is not None:
        try:
            edited = await message.edit_text(text, reply_markup=reply_markup)
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return message
        else:
            return edited if isinstance(edited, Message) else message
    if callback.message is not None:
        return await callback.bot.send_message(  # type: ignore[union-attr]
            callback.message.chat.id, text, reply_markup=reply_markup
        )
    return None
