"""Outbox event names and the payload keys each one uses (the contract with the flash workers).

Amounts are integer sun (``*_sun``) or USDT units (``*_units``); times are ISO 8601 strings
(``tronrent.kit.time.isoformat``); every key is optional for rendering (a missing one shows "-").
``recipient_address`` may be spelt ``recipient``; ``tx_hashes`` (a list) may replace ``tx_hash``;
``order_created`` shows ``amount_sun`` or else ``single_price_sun + tail_sun``.
"""

from __future__ import annotations

import enum


class NotificationEvent(enum.StrEnum):
    # --- customer events (chat_id / user_id + bot_id of the customer) -----------------------------
    ORDER_CREATED = "order_created"  # order_id, payment_address, amount_sun, expires_at, recipient
    PAYMENT_RECEIVED = "payment_received"  # order_id, paid_sun, tx_hash, transaction_count, energy
    ENERGY_DELIVERED = "energy_delivered"  # order_id, recipient, energy, transaction_count,
    #                                        tx_hash, ends_at
    PAYMENT_UNDERPAID = "payment_underpaid"  # order_id, paid_sun, tx_hash, refund_sun
    WAITING_FOR_ENERGY = "waiting_for_energy"  # order_id, energy (pools exhausted, order waits)
    RENTAL_ENDING = "rental_ending"  # order_id, recipient, ends_at, minutes_left
    RENTAL_ENDED = "rental_ended"  # order_id, recipient, tx_hash
    REFUND = "refund"  # order_id, amount_sun, tx_hash, reason
    PAYMENT_PROBLEM = "payment_problem"  # order_id, amount_sun, tx_hash, reason
    #                                      (reason: dust | underpaid | excess), policy (refund|keep)
    ORDER_EXPIRED = "order_expired"  # order_id
    ORDER_FAILED = "order_failed"  # order_id, reason
    RECIPIENT_ACTIVATING = "recipient_activating"  # order_id, recipient, fee_sun
    # --- operator alerts (chat_id and user_id NULL: sent to TELEGRAM_ADMIN_CHAT_ID) -------------
    POOL_LOW = "pool_low"  # pool_name, pool_address, available_energy, threshold
    POOL_UNUSABLE = "pool_unusable"  # pool_name, pool_address, reason (flag), detail
    DELEGATION_FAILING = "delegation_failing"  # order_id, pool_address, error, attempts
    JOB_DEAD_LETTERED = "job_dead_lettered"  # job_name, job_id, error
    ORDER_IN_LIMBO = "order_in_limbo"  # order_id, status, reason, blocks, recipient


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

#: Names the workers write for an event (left) and the event it is shown as (right).
ALIASES: dict[str, NotificationEvent] = {
    "refund_sent": NotificationEvent.REFUND,  # payment.refund: the refund transfer is on chain
}


def canonical(event: str) -> str:
    """The event an outbox ``event_type`` stands for (aliases resolved)."""
    return ALIASES.get(event, event)
