"""User domain errors."""

from __future__ import annotations

from tronrent.kit.errors import Conflict, NotFound, ValidationFailed


class InvalidReferralCode(ValidationFailed):
    default_code = "INVALID_REFERRAL_CODE"


class UserNotFound(NotFound):
    default_code = "USER_NOT_FOUND"


class InsufficientBalance(Conflict):
    """A debit would take a balance below zero (the database CHECK refused it)."""

    default_code = "INSUFFICIENT_BALANCE"


class LedgerCauseReused(Conflict):
    """A cause (or adjustment reference) already applied with another user or amount."""

    default_code = "LEDGER_CAUSE_REUSED"


class InvalidLedgerChange(ValidationFailed):
    default_code = "INVALID_LEDGER_CHANGE"
