"""Merchant API errors: every refused signature is a 401 with its own code."""

from __future__ import annotations

from tronrent.kit.errors import Conflict, NotFound, Unauthorized, ValidationFailed


class SignatureMissing(Unauthorized):
    """X-Api-Key, X-Timestamp, X-Nonce or X-Signature missing or malformed."""

    default_code = "SIGNATURE_HEADERS_MISSING"


class ApiKeyUnknown(Unauthorized):
    default_code = "API_KEY_UNKNOWN"


class ApiKeyRevoked(Unauthorized):
    default_code = "API_KEY_REVOKED"


class IpNotAllowed(Unauthorized):
    default_code = "IP_NOT_ALLOWED"


class RequestStale(Unauthorized):
    """The timestamp is outside the replay window."""

    default_code = "REQUEST_STALE"


class SignatureInvalid(Unauthorized):
    default_code = "SIGNATURE_INVALID"


class RequestReplayed(Unauthorized):
    """The nonce was seen before within the replay window."""

    default_code = "REQUEST_REPLAYED"


class ApiKeyNotFound(NotFound):
    default_code = "API_KEY_NOT_FOUND"


class InvalidCallbackUrl(ValidationFailed):
    default_code = "INVALID_CALLBACK_URL"


class InvalidAllowlist(ValidationFailed):
    default_code = "INVALID_IP_ALLOWLIST"


class TooManyKeys(Conflict):
    default_code = "TOO_MANY_API_KEYS"


class ClientOrderIdReused(Conflict):
    """The client order id names an earlier order with a different request."""

    default_code = "CLIENT_ORDER_ID_REUSED"


class ClientOrderIdInFlight(Conflict):
    """Another request with the same client order id was being written at the same moment (it
    won): repeat the request to get its order."""

    default_code = "CLIENT_ORDER_ID_IN_FLIGHT"


class NoMatchingPackage(ValidationFailed):
    """No energy package on sale sells that energy for that duration."""

    default_code = "NO_MATCHING_PACKAGE"


class KeyRevoked(Conflict):
    """A revoked key's settings cannot change (revoking is final)."""

    default_code = "API_KEY_REVOKED"
