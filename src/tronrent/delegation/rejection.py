"""Which side of a transaction a chain rejection is about, and whether retrying can help (pure).

Every place a transaction can be refused - a delegation, an undelegation, a refund or activation
transfer, at broadcast or failed in its block - hands the node's answer to `classify_rejection`:

- ``RECIPIENT`` (permanent): the receiving address is the problem - its account does not exist
  (java-tron's ``Account[<receiver>] not exists``), it is a contract, it is the sender itself.
  Another pool would be refused the same way: the order goes to the activation policy (a missing
  account) or is refunded with that reason.
- ``POOL`` (permanent): the sending account is the problem - it does not exist, has too little
  stake or TRX, its key or permission does not sign for it, the lock clashes with its earlier
  delegation. Another pool may succeed: the order moves on, the pool is counted as failing.
- ``TRANSIENT``: nothing is wrong with either side - a reference block the node has not got yet
  (TaPoS), an expiration, a busy node, a lock not over yet. The same transaction (or, once it
  expired, a new one on the same pool) is tried again later.

A permanent rejection is never taken for a lack of pool capacity. An answer matching no rule is
taken as ``POOL`` (the safe choice: another pool is tried, and the order fails and is refunded
after ``max_pool_attempts``). Rules are matched on java-tron's response code and message (see
java-tron's ``DelegateResourceActuator``, ``UnDelegateResourceActuator``, ``TransferActuator``
and ``Return.response_code``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from tronproto.address import is_valid_base58, to_hex


class RejectionSide(StrEnum):
    RECIPIENT = "recipient"
    POOL = "pool"
    TRANSIENT = "transient"


class RejectionReason(StrEnum):
    """The true reason, short enough for a status, an event payload and a metric label."""

    RECIPIENT_NOT_ACTIVATED = "recipient_not_activated"
    RECIPIENT_IS_CONTRACT = "recipient_is_contract"
    RECIPIENT_IS_OWNER = "recipient_is_owner"
    RECIPIENT_INVALID = "recipient_invalid"
    POOL_ACCOUNT_MISSING = "pool_account_missing"
    POOL_STAKE_INSUFFICIENT = "pool_stake_insufficient"
    POOL_BALANCE_INSUFFICIENT = "pool_balance_insufficient"
    POOL_BANDWIDTH_INSUFFICIENT = "pool_bandwidth_insufficient"
    POOL_KEY_MISMATCH = "pool_key_mismatch"
    POOL_LOCK_CLASH = "pool_lock_clash"
    POOL_OTHER = "pool_other"
    TAPOS = "tapos"
    EXPIRED = "expired"
    NODE_BUSY = "node_busy"
    LOCK_NOT_OVER = "lock_not_over"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class Rejection:
    side: RejectionSide
    reason: RejectionReason

    @property
    def permanent(self) -> bool:
        return self.side is not RejectionSide.TRANSIENT

    @property
    def resend_same(self) -> bool:
        """The same signed bytes may still land (TaPoS, busy node...): broadcast them again. A
        lock not over yet needs a new transaction later, not the same one again."""
        return not self.permanent and self.reason is not RejectionReason.LOCK_NOT_OVER


_R = RejectionReason
_MISSING_ACCOUNT = re.compile(r"account\[([0-9a-zA-Z]+)\]\s*not\s*exist", re.IGNORECASE)

#: (substring of the lower-cased "CODE: message", side, reason), first hit wins
_RULES: tuple[tuple[str, RejectionSide, RejectionReason], ...] = (
    # transient: the same transaction (or a new one on the same pool) can still succeed
    ("tapos", RejectionSide.TRANSIENT, _R.TAPOS),
    ("transaction_expiration_error", RejectionSide.TRANSIENT, _R.EXPIRED),
    ("transaction expired", RejectionSide.TRANSIENT, _R.EXPIRED),
    ("expiration", RejectionSide.TRANSIENT, _R.EXPIRED),
    ("server_busy", RejectionSide.TRANSIENT, _R.NODE_BUSY),
    ("server busy", RejectionSide.TRANSIENT, _R.NODE_BUSY),
    ("too many pending", RejectionSide.TRANSIENT, _R.NODE_BUSY),
    ("dup transaction", RejectionSide.TRANSIENT, _R.DUPLICATE),
    ("dup_transaction_error", RejectionSide.TRANSIENT, _R.DUPLICATE),
    ("insufficient delegatefrozenbalance", RejectionSide.TRANSIENT, _R.LOCK_NOT_OVER),
    # recipient side
    ("contract addresses", RejectionSide.RECIPIENT, _R.RECIPIENT_IS_CONTRACT),
    ("to a smart contract", RejectionSide.RECIPIENT, _R.RECIPIENT_IS_CONTRACT),
    ("receiveraddress must not be the same", RejectionSide.RECIPIENT, _R.RECIPIENT_IS_OWNER),
    ("transfer trx to yourself", RejectionSide.RECIPIENT, _R.RECIPIENT_IS_OWNER),
    ("invalid receiveraddress", RejectionSide.RECIPIENT, _R.RECIPIENT_INVALID),
    ("invalid toaddress", RejectionSide.RECIPIENT, _R.RECIPIENT_INVALID),
    # pool side
    ("no owneraccount", RejectionSide.POOL, _R.POOL_ACCOUNT_MISSING),
    ("sigerror", RejectionSide.POOL, _R.POOL_KEY_MISMATCH),
    ("signature", RejectionSide.POOL, _R.POOL_KEY_MISMATCH),
    ("permission", RejectionSide.POOL, _R.POOL_KEY_MISMATCH),
    ("signer_key_mismatch", RejectionSide.POOL, _R.POOL_KEY_MISMATCH),
    ("available freezeenergyv2 balance", RejectionSide.POOL, _R.POOL_STAKE_INSUFFICIENT),
    ("available freezebandwidthv2 balance", RejectionSide.POOL, _R.POOL_STAKE_INSUFFICIENT),
    ("frozen balance", RejectionSide.POOL, _R.POOL_STAKE_INSUFFICIENT),
    ("balance is not sufficient", RejectionSide.POOL, _R.POOL_BALANCE_INSUFFICIENT),
    ("account resource insufficient", RejectionSide.POOL, _R.POOL_BANDWIDTH_INSUFFICIENT),
    ("bandwith_error", RejectionSide.POOL, _R.POOL_BANDWIDTH_INSUFFICIENT),
    ("lock period", RejectionSide.POOL, _R.POOL_LOCK_CLASH),
)


def _hex(address: str | None) -> str | None:
    """An address as lower-case hex (41...), whatever form it was given in."""
    if not address:
        return None
    text = address.strip()
    if is_valid_base58(text):
        return to_hex(text).lower()
    return text.lower().removeprefix("0x")


def classify_rejection(
    error: str | None, *, owner: str | None = None, recipient: str | None = None
) -> Rejection:
    """Classify a node's rejection (``"<java code>: <message>"`` or the message alone).

    ``owner`` and ``recipient`` (base58 or hex) tell whose ``Account[...] not exists`` it is:
    java-tron words it the same way for both sides.
    """
    text = (error or "").lower()
    found = _MISSING_ACCOUNT.search(text)
    if found is not None:
        named = found.group(1).lower()
        if named == _hex(recipient):
            return Rejection(RejectionSide.RECIPIENT, _R.RECIPIENT_NOT_ACTIVATED)
        return Rejection(RejectionSide.POOL, _R.POOL_ACCOUNT_MISSING)
    for needle, side, reason in _RULES:
        if needle in text:
            return Rejection(side, reason)
    return Rejection(RejectionSide.POOL, _R.POOL_OTHER)
