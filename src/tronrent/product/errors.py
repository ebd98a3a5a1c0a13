"""Errors of the product modules (facts with a code; mapped to HTTP in one place)."""

from __future__ import annotations

from tronrent.kit.errors import Forbidden, NotFound, ValidationFailed


class PackageNotFound(NotFound):
    default_code = "PACKAGE_NOT_FOUND"


class PackageUnavailable(ValidationFailed):
    default_code = "PACKAGE_UNAVAILABLE"


class QuantityOutOfRange(ValidationFailed):
    default_code = "QUANTITY_OUT_OF_RANGE"


class InvalidTopUp(ValidationFailed):
    default_code = "INVALID_TOP_UP"


class UserBlocked(Forbidden):
    """The user is blocked by an operator (status ``banned``): no orders, top-ups or balance
    payments until unblocked."""

    default_code = "USER_BLOCKED"
