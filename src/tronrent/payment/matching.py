"""Matching TRX payments to the flash address with open orders (pure).

An ordered purchase is paid ``count * single_price + tail`` where ``tail`` (1 .. granularity-1
sun, 0.01 TRX by default) is unique among open orders, so a payment from an exchange - whose
sender we cannot know - still finds its order. The tail stays below one price step, so it never
changes the number of transactions bought.

Order of rules for one payment (first hit wins):

1. the order this very payment was already matched to (re-processing is idempotent);
2. an open order whose expected amount equals the payment exactly;
3. an open order whose tail equals the payment's tail (same order, a different count);
4. an open order whose recipient is the sender (several: the oldest);
5. otherwise a walk-in: energy goes to the sender.

An order already paid (``paid_txid`` set) only ever matches its own payment. The caller decides
which orders are open (status, payment window) and passes them in.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

DEFAULT_TAIL_GRANULARITY_SUN: Final = 10_000
"""Tails are 1..9_999 sun: below 0.01 TRX."""
_RANDOM_TRIES: Final = 32


class TailsExhausted(RuntimeError):
    """Every tail of the granularity is taken by an open order."""


@dataclass(frozen=True, slots=True)
class IncomingTransfer:
    """A TRX transfer to the payment address, as seen on chain."""

    txid: str
    from_address: str
    to_address: str
    amount_sun: int
    block_number: int = 0
    timestamp_ms: int = 0


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An order waiting for its payment (``paid_txid`` set once a payment was matched)."""

    order_id: str
    recipient_address: str
    expected_amount_sun: int
    tail_sun: int
    created_at_ms: int
    paid_txid: str | None = None


class MatchKind(StrEnum):
    ALREADY_MATCHED = "already_matched"
    AMOUNT = "amount"
    TAIL = "tail"
    SENDER = "sender"
    WALK_IN = "walk_in"
    #: an operator attached the payment to its order (payment.admin); no rule applied
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class MatchResult:
    """``order_id`` is ``None`` for a walk-in; ``recipient_address`` receives the energy."""

    kind: MatchKind
    order_id: str | None
    recipient_address: str

    @property
    def is_walk_in(self) -> bool:
        return self.kind is MatchKind.WALK_IN


def choose_tail(
    open_tails: Collection[int],
    granularity_sun: int = DEFAULT_TAIL_GRANULARITY_SUN,
    rng: random.Random | None = None,
) -> int:
    """A random tail in ``[1, granularity_sun - 1]`` not in ``open_tails``.

    Raises ``TailsExhausted`` when all are taken (the caller should retry later or widen the
    granularity). Random (not sequential) so tails do not reveal the order volume.
    """
    if granularity_sun < 2:
        raise ValueError("tail granularity must be at least 2 sun")
    rng = rng or random.SystemRandom()
    for _ in range(_RANDOM_TRIES):
        tail = rng.randrange(1, granularity_sun)
        if tail not in open_tails:
            return tail
    free = sorted(set(range(1, granularity_sun)) - set(open_tails))
    if not free:
        raise TailsExhausted(f"all {granularity_sun - 1} payment tails are in use")
    return rng.choice(free)


def expected_amount_sun(count: int, single_price_sun: int, tail: int) -> int:
    """What an order for ``count`` transactions asks to be paid: ``count * price + tail``."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if single_price_sun < 1:
        raise ValueError("price must be positive")
    if not 0 <= tail < single_price_sun:
        raise ValueError("tail must be below one price step")
    return count * single_price_sun + tail


def _oldest(orders: Sequence[OpenOrder]) -> OpenOrder:
    return min(orders, key=lambda o: (o.created_at_ms, o.order_id))


def match_payment(
    payment: IncomingTransfer,
    open_orders: Sequence[OpenOrder],
    *,
    tail_granularity_sun: int = DEFAULT_TAIL_GRANULARITY_SUN,
) -> MatchResult:
    """Decide which order ``payment`` pays, or that it is a walk-in (see the module docstring)."""
    for order in open_orders:
        if order.paid_txid is not None and order.paid_txid == payment.txid:
            return MatchResult(MatchKind.ALREADY_MATCHED, order.order_id, order.recipient_address)
    unpaid = [o for o in open_orders if o.paid_txid is None]
    by_amount = [o for o in unpaid if o.expected_amount_sun == payment.amount_sun]
    if by_amount:
        order = _oldest(by_amount)
        return MatchResult(MatchKind.AMOUNT, order.order_id, order.recipient_address)
    tail = payment.amount_sun % tail_granularity_sun
    if tail:
        by_tail = [o for o in unpaid if o.tail_sun == tail]
        if by_tail:
            order = _oldest(by_tail)
            return MatchResult(MatchKind.TAIL, order.order_id, order.recipient_address)
    by_sender = [o for o in unpaid if o.recipient_address == payment.from_address]
    if by_sender:
        order = _oldest(by_sender)
        return MatchResult(MatchKind.SENDER, order.order_id, order.recipient_address)
    return MatchResult(MatchKind.WALK_IN, None, payment.from_address)


def match_payments(
    payments: Sequence[IncomingTransfer],
    open_orders: Sequence[OpenOrder],
    *,
    tail_granularity_sun: int = DEFAULT_TAIL_GRANULARITY_SUN,
) -> list[MatchResult]:
    """Match several payments in chain order; an order paid by one is not matched by a later one.

    Indexed by amount, tail and recipient, so a block's payments cost O(payments + orders), not
    O(payments x orders). Same result as calling ``match_payment`` one by one and marking each
    matched order paid.
    """
    orders: dict[str, OpenOrder] = {o.order_id: o for o in open_orders}
    by_txid = {o.paid_txid: o for o in open_orders if o.paid_txid is not None}
    by_amount: dict[int, list[OpenOrder]] = {}
    by_tail: dict[int, list[OpenOrder]] = {}
    by_recipient: dict[str, list[OpenOrder]] = {}
    for o in sorted(open_orders, key=lambda o: (o.created_at_ms, o.order_id)):
        if o.paid_txid is None:
            by_amount.setdefault(o.expected_amount_sun, []).append(o)
            if o.tail_sun:
                by_tail.setdefault(o.tail_sun, []).append(o)
            by_recipient.setdefault(o.recipient_address, []).append(o)
    paid: set[str] = set()

    def first_unpaid(bucket: list[OpenOrder] | None) -> OpenOrder | None:
        while bucket:
            if bucket[0].order_id not in paid:
                return bucket[0]
            bucket.pop(0)  # lists are short: one per amount/tail, few per recipient
        return None

    results = []
    for payment in payments:
        known = by_txid.get(payment.txid)
        if known is not None:
            results.append(
                MatchResult(MatchKind.ALREADY_MATCHED, known.order_id, known.recipient_address)
            )
            continue
        tail = payment.amount_sun % tail_granularity_sun
        result = MatchResult(MatchKind.WALK_IN, None, payment.from_address)
        for kind, bucket in (
            (MatchKind.AMOUNT, by_amount.get(payment.amount_sun)),
            (MatchKind.TAIL, by_tail.get(tail) if tail else None),
            (MatchKind.SENDER, by_recipient.get(payment.from_address)),
        ):
            order = first_unpaid(bucket)
            if order is not None:
                result = MatchResult(kind, order.order_id, order.recipient_address)
                paid.add(order.order_id)
                by_txid[payment.txid] = orders[order.order_id]
                break
        results.append(result)
    return results
