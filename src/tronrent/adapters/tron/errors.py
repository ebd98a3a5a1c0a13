"""Chain failures as the domains see them: retry later, or give up for good.

``ChainUnavailable`` - no node gave a usable answer (down, timeouts, 5xx, 429, busy): retrying
later may succeed. ``TransactionRejected`` - the chain refused a transaction or a request for a
reason that retrying the same thing will not fix (java-tron's code and message are kept).
``TxidMismatch`` - a node handed us a txID that is not the hash of the transaction we built: we
refuse to sign it. ``SignerKeyMismatch`` - the key is not the transaction owner's.
"""

from __future__ import annotations

from tronrent.kit.errors import AppError, ServiceUnavailable, ValidationFailed


class ChainError(AppError):
    """Base of every chain gateway error."""

    default_code = "CHAIN_ERROR"


class ChainUnavailable(ServiceUnavailable, ChainError):
    """No TRON node answered usefully; retry later (``retry_after`` seconds, if known)."""

    default_code = "CHAIN_UNAVAILABLE"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TransactionRejected(ChainError):
    """The node refused the request or transaction permanently.

    ``java_code``: java-tron's response code (``CONTRACT_VALIDATE_ERROR``, ``SIGERROR``,
    ``TAPOS_ERROR``, ``TRANSACTION_EXPIRATION_ERROR``, ``BANDWITH_ERROR``, ``OTHER_ERROR``...) or
    ``ERROR`` for a ``{"Error": ...}`` answer; ``node_message``: its message, decoded.
    """

    default_code = "TRANSACTION_REJECTED"

    def __init__(self, java_code: str, node_message: str, *, txid: str | None = None) -> None:
        super().__init__(f"the TRON node rejected it: {java_code}: {node_message}")
        self.java_code = java_code
        self.node_message = node_message
        self.txid = txid


class TxidMismatch(ChainError):
    """The txID a node returned is not sha256 of the raw transaction: never sign it."""

    default_code = "TXID_MISMATCH"

    def __init__(self, expected: str, got: str) -> None:
        super().__init__(f"txID mismatch: computed {expected}, node said {got}; refusing to sign")
        self.expected = expected
        self.got = got


class SignerKeyMismatch(ChainError):
    """The private key does not belong to the transaction's owner address."""

    default_code = "SIGNER_KEY_MISMATCH"


class InvalidChainInput(ValidationFailed, ChainError):
    """A malformed address, hash or amount was handed to the gateway (caught before any I/O)."""

    default_code = "INVALID_CHAIN_INPUT"
