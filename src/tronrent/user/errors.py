"""User domain errors."""

from __future__ import annotations

from tronrent.kit.errors import ValidationFailed


class InvalidReferralCode(ValidationFailed):
    default_code = "INVALID_REFERRAL_CODE"
