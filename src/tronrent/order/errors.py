"""Order errors (facts, with a code; mapped to HTTP in one place)."""

from __future__ import annotations

from tronrent.kit.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed


class OrderNotFound(NotFound):
    default_code = "ORDER_NOT_FOUND"


class OrderNotCancellable(Conflict):
    default_code = "ORDER_NOT_CANCELLABLE"


class InvalidRecipient(ValidationFailed):
    default_code = "INVALID_ADDRESS"


class FlashDisabled(ServiceUnavailable):
    default_code = "FLASH_DISABLED"


class NoPaymentTailAvailable(ServiceUnavailable):
    default_code = "TOO_MANY_OPEN_ORDERS"


class ChatNotStarted(ValidationFailed):
    default_code = "CHAT_NOT_STARTED"
