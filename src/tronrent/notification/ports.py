"""What the sender needs from a messenger (implemented by ``tronrent.adapters.telegram``)."""

from __future__ import annotations

import uuid
from typing import Protocol

from tronrent.kit.errors import AppError


class DeliveryError(AppError):
    """A message could not be delivered."""

    default_code = "DELIVERY_FAILED"


class DeliveryRetryAfter(DeliveryError):
    """The messenger asked us to wait ``retry_after`` seconds (Telegram 429)."""

    default_code = "DELIVERY_RETRY_AFTER"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeliveryUnavailable(DeliveryError):
    """The bot is not running or the messenger is unreachable: try again later, no attempt lost."""

    default_code = "DELIVERY_UNAVAILABLE"


class DeliveryRejected(DeliveryError):
    """Permanent: the user blocked the bot, the chat does not exist, the text was refused."""

    default_code = "DELIVERY_REJECTED"


class MessageTransport(Protocol):
    """Sends one HTML message with a bot (``bot_id`` None: the default/operator bot)."""

    async def send_html(self, bot_id: uuid.UUID | None, chat_id: int, text: str) -> int:
        """Send ``text``; return the message id. Raises ``DeliveryError`` subclasses only."""
        ...

    def bot_key(self, bot_id: uuid.UUID | None) -> str | None:
        """A stable key of the bot that would send for ``bot_id`` (None: no such bot running)."""
        ...


class OrderCards(Protocol):
    """Re-renders the order card message a customer already has (edit in place)."""

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
        """Show the order's current status on message ``message_id``. Raises ``DeliveryError``
        subclasses only (a card that cannot be edited any more is ``DeliveryRejected``)."""
        ...
