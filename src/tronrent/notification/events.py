"""Outbox event names and the payload keys each one uses (the contract with the flash workers).

Amounts are integer sun (``*_sun``) or USDT units (``*_units``); times are ISO 8601 strings
(``tronrent.kit.time.isoformat``); durations are seconds (``duration_s``, ``seconds_left``).
``PAYLOADS`` names, per event, the keys its texts need (``required``: a template placeholder of
the same name; a missing one fails ``render(..., strict=True)`` and the tests) and those it may
show (``optional``: the line holding the placeholder is left out when the key is missing or
empty). Order events also carry ``order_id``, ``status``, ``recipient_address``, ``order_type``,
``currency`` and ``package_name`` (a package order's; added by ``tronrent.order.notify``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class NotificationEvent(enum.StrEnum):
    # --- customer events (chat_id / user_id + bot_id of the customer) -----------------------------
    ORDER_CREATED = "order_created"  # order_id, payment_address, amount_sun, expires_at, recipient
    PAYMENT_RECEIVED = "payment_received"  # order_id, paid_sun, tx_hash, transaction_count, energy
    ENERGY_DELIVERED = "energy_delivered"  # order_id, recipient_address, energy,
    #                               transaction_count, tx_hashes, ends_at, duration_s
    PAYMENT_UNDERPAID = "payment_underpaid"  # order_id, paid_sun, tx_hash, refund_sun
    WAITING_FOR_ENERGY = "waiting_for_energy"  # order_id, energy (pools exhausted, order waits)
    RENTAL_ENDING = "rental_ending"  # order_id, recipient_address, ends_at, seconds_left
    RENTAL_ENDED = "rental_ended"  # order_id, recipient_address, duration_s, tx_hashes
    REFUND = "refund"  # order_id, amount_sun, tx_hash, reason
    PAYMENT_PROBLEM = "payment_problem"  # order_id, amount_sun, tx_hash, reason
    #                                      (reason: dust | underpaid | excess), policy (refund|keep)
    ORDER_EXPIRED = "order_expired"  # order_id
    ORDER_FAILED = "order_failed"  # order_id, reason
    RECIPIENT_ACTIVATING = "recipient_activating"  # order_id, recipient_address, fee_sun
    # package orders and top-ups: amounts as text with their currency ("12.5 USDT")
    PACKAGE_ORDER_CREATED = "package_order_created"  # order_id, package_name, quantity, energy,
    #                 duration_s, recipient_address, price, amount, payment_address, expires_at
    PACKAGE_PAYMENT_RECEIVED = "package_payment_received"  # order_id, paid, energy, duration_s,
    #                                                        tx_hash, refund
    PACKAGE_PAYMENT_UNDERPAID = "package_payment_underpaid"  # order_id, paid, price, refund
    TOP_UP_CREATED = "top_up_created"  # order_id, amount, payment_address, expires_at
    TOP_UP_CREDITED = "top_up_credited"  # order_id, amount, tx_hash
    USDT_REFUND = "usdt_refund"  # order_id, amount ("2.5 USDT"), tx_hash (a USDT refund)
    COUNT_PACKAGE_USED = "count_package_used"  # order_id, used, total, remaining, tx_hash
    AUTO_TOP_UP_CHARGED = "auto_top_up_charged"  # order_id, price, transfers, top_ups, tx_hash
    AUTO_TOP_UP_STOPPED = (
        "auto_top_up_stopped"  # order_id, reason (balance|operator|customer), price,
    )
    #                                              tx_hash
    #: an idle period (no use) used ``counts``: order_id, counts, used, total, remaining, period
    COUNT_PACKAGE_IDLE_FEE = "count_package_idle_fee"
    #: a count package ended with counts unused: order_id, reason (idle | idle_fee | lifetime),
    #: unused, used, total, refund (an amount with its currency, when refunded to the balance)
    COUNT_PACKAGE_ENDED = "count_package_ended"
    # --- operator alerts (chat_id and user_id NULL: sent to TELEGRAM_ADMIN_CHAT_ID) -------------
    POOL_LOW = "pool_low"  # pool_name, pool_address, available_energy, threshold
    POOL_UNUSABLE = "pool_unusable"  # pool_name, pool_address, reason (flag), detail
    DELEGATION_FAILING = "delegation_failing"  # order_id, pool_address, error, attempts
    JOB_DEAD_LETTERED = "job_dead_lettered"  # job_name, job_id, error
    ORDER_IN_LIMBO = "order_in_limbo"  # order_id, status, reason, blocks, recipient_address


CUSTOMER_EVENTS = frozenset(
    {
        NotificationEvent.ORDER_CREATED,
        NotificationEvent.PAYMENT_RECEIVED,
        NotificationEvent.PAYMENT_UNDERPAID,
        NotificationEvent.WAITING_FOR_ENERGY,
        NotificationEvent.ENERGY_DELIVERED,
        NotificationEvent.RENTAL_ENDING,
        NotificationEvent.RENTAL_ENDED,
        NotificationEvent.REFUND,
        NotificationEvent.PAYMENT_PROBLEM,
        NotificationEvent.ORDER_EXPIRED,
        NotificationEvent.ORDER_FAILED,
        NotificationEvent.RECIPIENT_ACTIVATING,
        NotificationEvent.PACKAGE_ORDER_CREATED,
        NotificationEvent.PACKAGE_PAYMENT_RECEIVED,
        NotificationEvent.PACKAGE_PAYMENT_UNDERPAID,
        NotificationEvent.TOP_UP_CREATED,
        NotificationEvent.TOP_UP_CREDITED,
        NotificationEvent.USDT_REFUND,
        NotificationEvent.COUNT_PACKAGE_USED,
        NotificationEvent.AUTO_TOP_UP_CHARGED,
        NotificationEvent.AUTO_TOP_UP_STOPPED,
        NotificationEvent.COUNT_PACKAGE_IDLE_FEE,
        NotificationEvent.COUNT_PACKAGE_ENDED,
    }
)
OPERATOR_EVENTS = frozenset(
    {
        NotificationEvent.POOL_LOW,
        NotificationEvent.POOL_UNUSABLE,
        NotificationEvent.DELEGATION_FAILING,
        NotificationEvent.JOB_DEAD_LETTERED,
        NotificationEvent.ORDER_IN_LIMBO,
    }
)


@dataclass(frozen=True)
class Payload:
    """The payload keys an event's texts use (see the module docstring)."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()


_ORDER = ("order_id",)
PAYLOADS: dict[NotificationEvent, Payload] = {
    NotificationEvent.ORDER_CREATED: Payload(
        (*_ORDER, "payment_address", "amount_sun", "recipient_address", "expires_at"),
        ("activation_fee_sun",),
    ),
    NotificationEvent.PAYMENT_RECEIVED: Payload(
        (*_ORDER, "paid_sun", "transaction_count", "energy"), ("tx_hash", "refund_sun")
    ),
    NotificationEvent.PAYMENT_UNDERPAID: Payload((*_ORDER, "paid_sun"), ("tx_hash", "refund_sun")),
    NotificationEvent.WAITING_FOR_ENERGY: Payload(_ORDER, ("energy",)),
    NotificationEvent.ENERGY_DELIVERED: Payload(
        (*_ORDER, "recipient_address", "energy", "transaction_count", "ends_at", "duration_s"),
        ("tx_hashes",),
    ),
    NotificationEvent.RENTAL_ENDING: Payload(
        (*_ORDER, "recipient_address", "ends_at", "seconds_left")
    ),
    NotificationEvent.RENTAL_ENDED: Payload(
        (*_ORDER, "recipient_address", "duration_s"), ("tx_hashes",)
    ),
    NotificationEvent.REFUND: Payload((*_ORDER, "amount_sun"), ("reason", "tx_hash")),
    NotificationEvent.PAYMENT_PROBLEM: Payload((*_ORDER, "amount_sun", "reason"), ("tx_hash",)),
    NotificationEvent.ORDER_EXPIRED: Payload(_ORDER),
    NotificationEvent.ORDER_FAILED: Payload((*_ORDER, "reason")),
    NotificationEvent.RECIPIENT_ACTIVATING: Payload((*_ORDER, "recipient_address", "fee_sun")),
    NotificationEvent.PACKAGE_ORDER_CREATED: Payload(
        (*_ORDER, "package_name", "quantity", "energy", "duration_s", "recipient_address"),
        ("price", "amount", "payment_address", "expires_at"),
    ),
    NotificationEvent.PACKAGE_PAYMENT_RECEIVED: Payload(
        (*_ORDER, "paid", "energy", "duration_s"), ("package_name", "tx_hash", "refund")
    ),
    NotificationEvent.PACKAGE_PAYMENT_UNDERPAID: Payload(
        (*_ORDER, "paid", "price"), ("tx_hash", "refund")
    ),
    NotificationEvent.TOP_UP_CREATED: Payload((*_ORDER, "amount", "payment_address", "expires_at")),
    NotificationEvent.TOP_UP_CREDITED: Payload((*_ORDER, "amount"), ("tx_hash",)),
    NotificationEvent.USDT_REFUND: Payload((*_ORDER, "amount"), ("tx_hash",)),
    NotificationEvent.COUNT_PACKAGE_USED: Payload(
        (*_ORDER, "used", "total", "remaining"), ("tx_hash",)
    ),
    NotificationEvent.AUTO_TOP_UP_CHARGED: Payload(
        (*_ORDER, "price", "transfers", "top_ups"), ("tx_hash",)
    ),
    NotificationEvent.AUTO_TOP_UP_STOPPED: Payload((*_ORDER, "reason"), ("price", "tx_hash")),
    NotificationEvent.COUNT_PACKAGE_IDLE_FEE: Payload(
        (*_ORDER, "counts", "used", "total", "remaining")
    ),
    NotificationEvent.COUNT_PACKAGE_ENDED: Payload(
        (*_ORDER, "reason", "unused", "total"), ("refund",)
    ),
    NotificationEvent.POOL_LOW: Payload(
        ("pool_name", "pool_address", "available_energy", "threshold")
    ),
    NotificationEvent.POOL_UNUSABLE: Payload(("pool_name", "pool_address", "reason"), ("detail",)),
    NotificationEvent.DELEGATION_FAILING: Payload(_ORDER, ("pool_address", "attempts", "error")),
    NotificationEvent.JOB_DEAD_LETTERED: Payload(("job_name", "job_id", "error")),
    NotificationEvent.ORDER_IN_LIMBO: Payload(
        (*_ORDER, "status", "blocks"), ("reason", "recipient_address")
    ),
}

#: Names the workers write for an event (left) and the event it is shown as (right).
ALIASES: dict[str, NotificationEvent] = {
    "refund_sent": NotificationEvent.REFUND,  # payment.refund: the refund transfer is on chain
}


def canonical(event: str) -> str:
    """The event an outbox ``event_type`` stands for (aliases resolved)."""
    return ALIASES.get(event, event)


#: Texts of package orders (``order_type`` ``energy_rental`` in the payload) where the flash text
#: does not fit: amounts in the order's ``currency`` (``*_units``; a ``*_sun`` key of the same
#: name is read when absent), the package's energy and rental length instead of a transfer count.
#: The other events use the flash text for every order type.
PACKAGE_ORDER_TYPE = "energy_rental"
_MONEY = ("currency",)
PACKAGE_PAYLOADS: dict[NotificationEvent, Payload] = {
    NotificationEvent.ORDER_CREATED: Payload(
        (*_ORDER, "payment_address", "amount_units", "recipient_address", "expires_at"),
        (*_MONEY, "package_name", "activation_fee_sun"),
    ),
    NotificationEvent.PAYMENT_RECEIVED: Payload(
        (*_ORDER, "paid_units", "energy"), (*_MONEY, "package_name", "duration_s", "tx_hash")
    ),
    NotificationEvent.PAYMENT_UNDERPAID: Payload(
        (*_ORDER, "paid_units"), (*_MONEY, "tx_hash", "refund_units")
    ),
    NotificationEvent.ENERGY_DELIVERED: Payload(
        (*_ORDER, "recipient_address", "energy", "ends_at", "duration_s"),
        ("package_name", "tx_hashes"),
    ),
    NotificationEvent.REFUND: Payload((*_ORDER, "amount_units"), (*_MONEY, "reason", "tx_hash")),
    NotificationEvent.PAYMENT_PROBLEM: Payload(
        (*_ORDER, "amount_units", "reason"), (*_MONEY, "tx_hash")
    ),
}
