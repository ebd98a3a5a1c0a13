"""Handling recorded payments to the payment address: match, settle, move the orders on.

Runs in the `payment.process_payment` job for a batch of payment rows (the scanner enqueues one
job per block for the rows its INSERT created; `handled_at` makes a second run a no-op).
A batch costs a few statements whatever its size - the payments locked with one SELECT, the
candidate orders read once, matched in memory in chain order, the matched orders locked with
one SELECT, walk-ins inserted with one flush, the changes sent as batched UPDATEs, the outbox
rows as one INSERT - because per-payment SQL was the pipeline's bottleneck. The outcome is the
one the payments would have had processed one after another in chain order. Policies for
dust, underpayment and excess come from the flash config; every decision is recorded on the
payment (status, note) and told to the customer through the outbox.

Product-blind: a TRX or USDT payment is matched (amount tail, sender) among the open orders of
its currency; what it is worth and what the order then gets is its product's strategy
(`tronrent.product.registry`): energy (a delegation job) or a balance credit (a top-up, credited
in this transaction, once per payment). A TRX payment no order claims is a flash walk-in; a USDT
one is recorded for operators (ignored, "unmatched"). Refunds go back in the payment's
currency (payment.refund).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from tronrent.kit.money import format_trx
from tronrent.kit.time import to_ms, utcnow
from tronrent.models.common import Currency
from tronrent.models.order import Order, OrderPaymentStatus, OrderStatus
from tronrent.models.payment import MatchMethod, Payment, PaymentStatus
from tronrent.models.payment_monitoring_log import MonitoringStatus
from tronrent.order.flash_config import FlashConfig
from tronrent.order.notify import OrderEvent, notify_orders
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import Detected, stop_monitoring_many
from tronrent.order.service import order as order_service
from tronrent.order.state import check_transition
from tronrent.payment.matching import (
    IncomingTransfer,
    MatchKind,
    MatchResult,
    OpenOrder,
    match_payment,
)
from tronrent.pricing.calc import (
    FlashPaymentKind,
    FlashQuote,
    PaymentPolicy,
    classify_flash_payment,
    decide_refund,
)
from tronrent.product import topup
from tronrent.product.base import (
    USDT_DUST_UNITS,
    Delivery,
    SettleContext,
    Settlement,
    format_amount,
)
from tronrent.product.flash import flash as flash_strategy
from tronrent.product.registry import strategy_for
from tronrent.user import totals
from tronrent.worker import Retry, enqueue_job

log = logging.getLogger("tronrent.payment")

PROCESS_JOB = "payment.process_payment"
DELEGATE_JOB = "delegation.delegate_order"
REFUND_JOB = "payment.refund_payment"
#: order ids per delegation job
MAX_JOB_IDS = 200
#: the note of a payment with no order received while flash rental is disabled
DISABLED_NOTE = "flash rental disabled, no order"
#: how far back a payment past the grace period is still recognised as a late payment for an
#: expired order (and refunded) rather than taken as a walk-in
LATE_LOOKBACK_S = 86_400.0
#: the note of a USDT payment no open order claims (left for operators)
UNMATCHED_NOTE = "unmatched: no open order expects this USDT payment; left for an operator"

_METHOD = {
    MatchKind.ALREADY_MATCHED: MatchMethod.AMOUNT_TAIL,
    MatchKind.AMOUNT: MatchMethod.AMOUNT_TAIL,
    MatchKind.TAIL: MatchMethod.AMOUNT_TAIL,
    MatchKind.SENDER: MatchMethod.SENDER,
    MatchKind.WALK_IN: MatchMethod.WALK_IN,
    MatchKind.MANUAL: MatchMethod.MANUAL,
}
#: statuses in which an order still takes a payment an operator matched to it
MANUAL_MATCH_STATUSES = (OrderStatus.PENDING, OrderStatus.EXPIRED)


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    payment_id: int
    status: PaymentStatus
    order_id: str | None
    count: int = 0
    refund_sun: int = 0


def _open_order(o: Order) -> OpenOrder:
    return OpenOrder(
        order_id=o.id,
        recipient_address=o.target_address or "",
        expected_amount_sun=o.expected_amount_units or 0,
        tail_sun=o.amount_tail_units or 0,
        created_at_ms=to_ms(o.created_at),
    )


class _Candidates:
    """The orders a batch's payments may pay, read once per batch (the late tier only if a
    payment gets that far). An order taken by a payment of the batch is offered to no later
    payment: processed one by one, the later payment would have found it paid."""

    def __init__(
        self,
        session: AsyncSession,
        rt: FlashRuntime,
        currency: Currency,
        now: datetime,
        at: datetime,
    ) -> None:
        self.session = session
        self.rt = rt
        self.currency = currency
        self.now = now
        #: the earliest time a payment of the batch was made (its block's time; catching up
        #: after downtime, long before now): the tiers are read as of then, each payment
        #: then judged at its own time (`paid_at`)
        self.at = at
        #: the orders of the grace tier still in their grace when a payment was made, by
        #: that time less the grace (a batch's payments come from a few blocks)
        self._in_grace: dict[datetime, list[OpenOrder]] = {}
        self.taken: set[str] = set()
        self.orders: dict[str, Order] = {}
        self._open: tuple[list[OpenOrder], list[OpenOrder]] | None = None
        self._late: list[OpenOrder] | None = None

    async def _load(self, condition: Any) -> list[OpenOrder]:
        rows = (
            await self.session.execute(
                select(Order)
                .where(
                    Order.payment_address == self.rt.payment_address,
                    Order.currency == self.currency,
                    condition,
                )
                # the tiers and the status matched in come from the row, not from an older
                # copy in the identity map (the confirm route loads its order first)
                .execution_options(populate_existing=True)
            )
        ).scalars()
        found = []
        for o in rows:
            self.orders[o.id] = o
            found.append(o)
        return [_open_order(o) for o in found]

    async def open_tiers(self) -> tuple[list[OpenOrder], list[OpenOrder]]:
        """Pending orders, and orders whose window closed within the grace period before the
        batch's earliest payment (one query)."""
        if self._open is None:
            since = self.at - timedelta(seconds=self.rt.late_payment_grace_s)
            both = await self._load(
                or_(
                    Order.status == OrderStatus.PENDING,
                    and_(Order.status == OrderStatus.EXPIRED, Order.expires_at >= since),
                )
            )
            pending = [o for o in both if self.orders[o.order_id].status is OrderStatus.PENDING]
            expired = [o for o in both if self.orders[o.order_id].status is OrderStatus.EXPIRED]
            self._open = (pending, expired)
        return self._open

    async def late_tier(self) -> list[OpenOrder]:
        if self._late is None:
            since = self.at - timedelta(seconds=LATE_LOOKBACK_S)
            self._late = await self._load(
                and_(Order.status == OrderStatus.EXPIRED, Order.expires_at >= since)
            )
        return self._late

    async def preset(self, payment: Payment) -> Order | None:
        """The order an operator matched ``payment`` to (``match_method`` manual), if it still
        takes a payment: pending or expired, and not taken by an earlier payment of the batch."""
        assert payment.order_id is not None
        order = await self.session.get(Order, payment.order_id, populate_existing=True)
        if order is None or order.status not in MANUAL_MATCH_STATUSES or order.id in self.taken:
            return None
        self.orders[order.id] = order
        return order

    def _offer(self, tier: Iterable[OpenOrder]) -> list[OpenOrder]:
        return [o for o in tier if o.order_id not in self.taken]

    async def match(self, payment: Payment) -> tuple[MatchResult, Order | None]:
        """Open orders first, then orders whose window closed within the grace period before
        the payment was made - an exact amount in either before a tail or a sender in either;
        then orders closed longer ago (see below)."""
        transfer = IncomingTransfer(
            txid=payment.tx_hash,
            from_address=payment.from_address,
            to_address=payment.to_address,
            amount_sun=payment.amount_units,
            block_number=payment.block_number,
        )
        granularity = self.rt.tail_granularity_sun
        pending, closed = await self.open_tiers()
        since = paid_at(payment, self.now) - timedelta(seconds=self.rt.late_payment_grace_s)
        in_grace = self._in_grace.get(since)
        if in_grace is None:
            in_grace = [o for o in closed if _expired_since(self.orders[o.order_id], since)]
            self._in_grace[since] = in_grace
        loose: MatchResult | None = None  # the first match by tail or sender
        for tier in (pending, in_grace):
            result = match_payment(transfer, self._offer(tier), tail_granularity_sun=granularity)
            if result.kind in (MatchKind.ALREADY_MATCHED, MatchKind.AMOUNT):
                assert result.order_id is not None
                return result, self.orders[result.order_id]
            if loose is None and not result.is_walk_in:
                loose = result
        # past the grace: only an exact amount or tail proves the payment was meant for an
        # order; paid by its recipient, the walk-in rule already delivers where the customer
        # wanted. An exact amount there also beats a tail or sender match above: the tail of
        # an order closed past the grace may have been drawn again by a newer order, and the
        # amount proves whose payment this is (matched to it: a late payment, refunded)
        late = self._offer(await self.late_tier())
        result = match_payment(transfer, late, tail_granularity_sun=granularity)
        if result.kind is MatchKind.AMOUNT or (loose is None and result.kind is MatchKind.TAIL):
            assert result.order_id is not None
            order = self.orders[result.order_id]
            if order.target_address != payment.from_address:
                return result, order
        if loose is not None:
            assert loose.order_id is not None
            return loose, self.orders[loose.order_id]
        return MatchResult(MatchKind.WALK_IN, None, payment.from_address), None


def paid_at(payment: Payment, now: datetime) -> datetime:
    """When ``payment`` was made: its block's time (recorded by the scanner), never later than
    ``now`` (a node's clock ahead of ours); ``now`` when unknown."""
    stamp = payment.block_timestamp
    return now if stamp is None else min(stamp, now)


def _expired_since(order: Order, since: datetime) -> bool:
    return order.expires_at is not None and order.expires_at >= since


def _past_grace(order: Order, rt: FlashRuntime, at: datetime) -> bool:
    """Whether ``order`` had expired more than the grace period before ``at`` (when the
    payment was made)."""
    return (
        order.status is OrderStatus.EXPIRED
        and order.expires_at is not None
        and order.expires_at < at - timedelta(seconds=rt.late_payment_grace_s)
    )


def refund_owed(payment: Payment, amount: int) -> tuple[bool, str]:
    """(whether a refund job sends it, the note) for ``amount`` owed back to the payer, in the
    payment's currency (payment.refund)."""
    return True, f"refunding {format_amount(amount, payment.asset)}"


@dataclass(slots=True)
class _Paid:
    """A payment that moves an order (an open one, or its walk-in) to paid or underpaid."""

    payment: Payment
    settlement: Settlement
    match: MatchResult
    order: Order | None  # None: a walk-in, created once the batch is matched
    source: OrderStatus  # the status the order was matched in


#: what handling a payment writes, and what a paid/underpaid order gets: every row of a batch
#: is written with the same columns (unchanged ones flagged) so the flush sends one executemany
#: per table instead of one per run of rows that happen to change different columns
_PAYMENT_FIELDS = ("status", "note", "handled_at", "order_id", "match_method")
_ORDER_FIELDS = (
    "status",
    "payment_status",
    "transaction_count",
    "status_reason",
    "paid_amount_units",
    "from_address",
    "tron_tx_hash",
    "paid_at",
    "currency",
    "energy_amount",
    "energy_per_transaction",
    "final_price_units",
    "price_units",
    "agent_markup_units",
    "completed_at",
)


def _write(obj: Payment | Order, fields: tuple[str, ...], values: dict[str, Any]) -> None:
    """Set ``values`` on a loaded (locked) row and flag all ``fields`` for the UPDATE."""
    for name, value in values.items():
        setattr(obj, name, value)
    for name in fields:
        flag_modified(obj, name)


class PaymentService:
    async def process(
        self, session: AsyncSession, rt: FlashRuntime, payment_id: int
    ) -> PaymentOutcome | None:
        """Apply one payment; None if it was already handled (or is not ours). Raises `Retry`
        if its order changed while matching (the caller's transaction then matches again)."""
        outcomes, deferred = await self._process(session, rt, [payment_id])
        if deferred:
            raise Retry(f"the order of payment {payment_id} changed while matching")
        return outcomes[0] if outcomes else None

    async def process_many(
        self, session: AsyncSession, rt: FlashRuntime, payment_ids: Iterable[int]
    ) -> list[PaymentOutcome]:
        """Apply a batch of payments in chain order, with a few statements for the whole batch;
        the outcomes of those handled now (already handled or orphaned ones are left out). A
        payment whose order another process changed meanwhile is left unhandled and enqueued
        again on its own, so it is matched afresh - never lost, never the whole batch retried."""
        outcomes, deferred = await self._process(session, rt, payment_ids)
        for pid in deferred:
            enqueue_job(PROCESS_JOB, pid)
        return outcomes

    async def _process(
        self, session: AsyncSession, rt: FlashRuntime, payment_ids: Iterable[int]
    ) -> tuple[list[PaymentOutcome], list[int]]:
        ids = sorted({int(i) for i in payment_ids})
        if not ids:
            return [], []
        payments = (
            (
                await session.execute(
                    select(Payment)
                    .where(Payment.id.in_(ids), Payment.handled_at.is_(None))
                    .order_by(Payment.block_number, Payment.id)
                    .with_for_update()
                    # a row already in the identity map (the confirm route loads it first) must
                    # be re-read under the lock, or a stale handled_at lets it be processed twice
                    .execution_options(populate_existing=True)
                )
            )
            .scalars()
            .all()
        )
        now = utcnow()
        outcomes: list[PaymentOutcome] = []
        writes: dict[int, tuple[Payment, dict[str, Any]]] = {}
        paid: list[_Paid] = []
        cfg: FlashConfig | None = None
        made = [paid_at(p, now) for p in payments]
        at = min(made, default=now)
        candidates = {c: _Candidates(session, rt, c, now, at) for c in Currency}
        for payment in payments:
            if payment.status is PaymentStatus.ORPHANED:
                continue
            if payment.to_address != rt.payment_address:
                writes[payment.id] = (
                    payment,
                    {
                        "status": PaymentStatus.IGNORED,
                        "note": "not a payment to the payment address",
                    },
                )
                outcomes.append(PaymentOutcome(payment.id, PaymentStatus.IGNORED, None))
                continue
            if cfg is None:
                cfg = await order_service.config(session, rt)
            ctx = SettleContext(cfg, rt.tail_granularity_sun)
            quote = classify_flash_payment(
                payment.amount_units, cfg.price, tail_tolerance_sun=rt.tail_granularity_sun - 1
            )
            if payment.asset is Currency.TRX and quote.kind is FlashPaymentKind.DUST:
                outcome, values = self._dust(payment, quote, cfg)
            elif payment.asset is not Currency.TRX and payment.amount_units < USDT_DUST_UNITS:
                outcome, values = self._usdt_dust(payment)
            else:
                cands = candidates[payment.asset]
                if payment.match_method is MatchMethod.MANUAL and payment.order_id is not None:
                    order = await cands.preset(payment)
                    if order is None:
                        outcome, values = self._preset_gone(payment)
                        writes[payment.id] = (payment, values)
                        outcomes.append(outcome)
                        continue
                    match = MatchResult(MatchKind.MANUAL, order.id, order.target_address or "")
                else:
                    match, order = await cands.match(payment)
                if order is None and payment.asset is not Currency.TRX:
                    # no walk-in in USDT: recorded for operators (problem payments)
                    outcome = PaymentOutcome(payment.id, PaymentStatus.IGNORED, None)
                    values = {"status": PaymentStatus.IGNORED, "note": UNMATCHED_NOTE}
                    log.info("USDT payment %s matches no open order", payment.tx_hash)
                elif order is None and not rt.enabled:
                    # flash rental is off: a payment with no order is never delegated
                    outcome, values = self._disabled(payment, rt)
                # an operator's match pays the order even past the grace period
                elif (
                    order is None
                    or match.kind is MatchKind.MANUAL
                    or not _past_grace(order, rt, paid_at(payment, now))
                ):
                    if order is None:  # a flash walk-in
                        settlement = flash_strategy.settlement(quote, ctx)
                    else:
                        cands.taken.add(order.id)
                        strategy = strategy_for(order.order_type)
                        settlement = strategy.settle(order, payment.amount_units, ctx)
                    source = order.status if order is not None else OrderStatus.PENDING
                    paid.append(_Paid(payment, settlement, match, order, source))
                    continue
                else:
                    outcome, values = self._late(payment, order, match, rt)
            writes[payment.id] = (payment, values)
            outcomes.append(outcome)
        deferred: list[int] = []
        if paid:
            paid, deferred = await self._lock_orders(session, paid)
            assert cfg is not None
            outcomes += await self._apply(session, rt, cfg, paid, now, writes)
        for payment in payments:  # chain order
            if payment.id in writes:
                _, values = writes[payment.id]
                _write(payment, _PAYMENT_FIELDS, {**values, "handled_at": now})
        chain_order = {p.id: i for i, p in enumerate(payments)}
        outcomes.sort(key=lambda o: chain_order[o.payment_id])
        for outcome in outcomes:  # one refund job per refunded payment, in chain order
            if outcome.status is PaymentStatus.REFUNDING and outcome.refund_sun > 0:
                enqueue_job(REFUND_JOB, outcome.payment_id)
        await session.flush()
        if outcomes or deferred:
            self._log_batch(outcomes, deferred)
        return outcomes, deferred

    async def _lock_orders(
        self, session: AsyncSession, paid: list[_Paid]
    ) -> tuple[list[_Paid], list[int]]:
        """Lock the matched open orders (one SELECT, id order) and keep the payments whose
        order is still as it was matched; the others' payments, deferred."""
        source = {p.order.id: p.source for p in paid if p.order is not None}
        if not source:
            return paid, []
        rows = await session.execute(
            select(Order)
            .where(Order.id.in_(sorted(source)))
            .order_by(Order.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        status = {o.id: o.status for o in rows.scalars()}
        kept: list[_Paid] = []
        deferred: list[int] = []
        for p in paid:
            if p.order is not None and status.get(p.order.id) is not p.source:
                log.info(
                    "payment %s: order %s changed while matching (%s -> %s); matching again",
                    p.payment.tx_hash,
                    p.order.id,
                    p.source.value,
                    status.get(p.order.id),
                )
                deferred.append(p.payment.id)
            else:
                kept.append(p)
        return kept, deferred

    def _dust(
        self, payment: Payment, quote: FlashQuote, cfg: FlashConfig
    ) -> tuple[PaymentOutcome, dict[str, Any]]:
        decision = decide_refund(quote, cfg.policies)
        status = PaymentStatus.DUST
        note = f"dust below min_amount ({format_trx(cfg.price.min_amount_sun)} TRX)"
        if decision.amount_sun > 0:
            status = PaymentStatus.REFUNDING
            note += f"; refunding {format_trx(decision.amount_sun)} TRX"
        outcome = PaymentOutcome(payment.id, status, None, refund_sun=decision.amount_sun)
        return outcome, {"status": status, "note": note}

    @staticmethod
    def _usdt_dust(payment: Payment) -> tuple[PaymentOutcome, dict[str, Any]]:
        """A USDT transfer below `USDT_DUST_UNITS` (address-poisoning spam): recorded, kept."""
        note = f"dust below {format_amount(USDT_DUST_UNITS, Currency.USDT)}"
        return PaymentOutcome(payment.id, PaymentStatus.DUST, None), {
            "status": PaymentStatus.DUST,
            "note": note,
        }

    def _disabled(
        self, payment: Payment, rt: FlashRuntime
    ) -> tuple[PaymentOutcome, dict[str, Any]]:
        """A payment with no order while flash rental is disabled: refunded in full or kept,
        as ``ENERGY_FLASH_DISABLED_PAYMENTS`` says (see payment.refund.refund_amount)."""
        values: dict[str, Any] = {"match_method": MatchMethod.WALK_IN}
        if PaymentPolicy(rt.disabled_payments) is PaymentPolicy.REFUND:
            status = PaymentStatus.REFUNDING
            note = (
                f"{DISABLED_NOTE}; refunding {format_trx(payment.amount_units)} TRX to the sender"
            )
        else:
            status, note = PaymentStatus.IGNORED, f"{DISABLED_NOTE}; kept"
        log.info("payment %s with no order while flash is disabled: %s", payment.tx_hash, note)
        refund = payment.amount_units if status is PaymentStatus.REFUNDING else 0
        outcome = PaymentOutcome(payment.id, status, None, refund_sun=refund)
        return outcome, {**values, "status": status, "note": note}

    def _preset_gone(self, payment: Payment) -> tuple[PaymentOutcome, dict[str, Any]]:
        """An operator matched the payment to an order that was paid (or cancelled) before the
        payment was processed: unmatched again (ignored, no order), for the operator to refund
        or match elsewhere - never turned into a walk-in nobody asked for."""
        note = (
            f"{payment.note or ''}; order {payment.order_id} no longer takes a payment: "
            "manual match undone"
        )
        log.info("payment %s: manual match to %s undone", payment.tx_hash, payment.order_id)
        outcome = PaymentOutcome(payment.id, PaymentStatus.IGNORED, None)
        return outcome, {
            "status": PaymentStatus.IGNORED,
            "note": note,
            "order_id": None,
            "match_method": None,
        }

    def _late(
        self, payment: Payment, order: Order, match: MatchResult, rt: FlashRuntime
    ) -> tuple[PaymentOutcome, dict[str, Any]]:
        """A payment for an order that expired longer ago than the grace period: refunded in
        full to the sender (the order is not revived: its tail may belong to a newer order,
        and energy sent to an exchange's wallet would be lost to the customer)."""
        log.info("late payment %s for expired order %s: refunding", payment.tx_hash, order.id)
        sent, refund_note = refund_owed(payment, payment.amount_units)
        outcome = PaymentOutcome(
            payment.id,
            PaymentStatus.REFUNDING,
            order.id,
            refund_sun=payment.amount_units if sent else 0,
        )
        return outcome, {
            "order_id": order.id,
            "match_method": _METHOD[match.kind],
            "status": PaymentStatus.REFUNDING,
            "note": (
                f"late payment for order {order.id}, expired more than "
                f"{round(rt.late_payment_grace_s / 60)} min before; {refund_note} to the sender"
            ),
        }

    async def _apply(
        self,
        session: AsyncSession,
        rt: FlashRuntime,
        cfg: FlashConfig,
        paid: Sequence[_Paid],
        now: datetime,
        writes: dict[int, tuple[Payment, dict[str, Any]]],
    ) -> list[PaymentOutcome]:
        """Move the (locked) orders to paid/underpaid and create the walk-ins in their final
        state with one flush; record the payments' changes in ``writes``, close the watches,
        queue the events and one delegation job for the orders paid; credit the top-ups."""
        walk_ins: list[Order] = []
        events: list[OrderEvent] = []
        outcomes: list[PaymentOutcome] = []
        to_delegate: list[str] = []
        to_credit: list[tuple[Order, Payment]] = []
        paid_orders: list[Order] = []
        detected: dict[str, Detected] = {}
        for p in paid:
            payment, settlement = p.payment, p.settlement
            quote = settlement.quote
            order = p.order
            if order is None:
                order = order_service.build_walk_in(
                    rt, cfg, sender=payment.from_address, tx_hash=payment.tx_hash
                )
                walk_ins.append(order)
            else:
                detected[order.id] = Detected(
                    payment.tx_hash, payment.amount_units, payment.from_address
                )
            decision = decide_refund(quote, settlement.policies)
            refund_note, refund_sent = "", 0
            if decision.amount_sun > 0:
                sent, what = refund_owed(payment, decision.amount_sun)
                refund_note = f"; {what} ({quote.kind.value})"
                refund_sent = decision.amount_sun if sent else 0
            values: dict[str, Any] = {
                "paid_amount_units": payment.amount_units,
                "from_address": payment.from_address,
                "tron_tx_hash": payment.tx_hash,
                "paid_at": now,
                "currency": payment.asset,
            }
            steps: tuple[OrderStatus, ...] = (p.source,)
            if quote.kind is FlashPaymentKind.UNDERPAID:
                values.update(
                    status=OrderStatus.UNDERPAID,
                    payment_status=OrderPaymentStatus.UNDERPAID,
                    transaction_count=0,
                    status_reason=settlement.underpaid_reason + refund_note,
                )
                payment_status = PaymentStatus.UNDERPAID
                event, extra = settlement.underpaid_event, settlement.underpaid_payload
            else:
                values.update(
                    status=OrderStatus.PAID,
                    payment_status=(
                        OrderPaymentStatus.OVERPAID
                        if quote.kind is FlashPaymentKind.EXCESS
                        else OrderPaymentStatus.PAID
                    ),
                    **settlement.paid_values,
                )
                payment_status = (
                    PaymentStatus.EXCESS
                    if quote.kind is FlashPaymentKind.EXCESS
                    else PaymentStatus.MATCHED
                )
                if p.order is not None and strategy_for(order.order_type).delivery is (
                    Delivery.BALANCE
                ):
                    # delivered in this transaction: paid and completed at once
                    check_transition(steps, OrderStatus.PAID)
                    steps = (OrderStatus.PAID,)
                    values.update(status=OrderStatus.COMPLETED, completed_at=now)
                    to_credit.append((order, payment))
                else:
                    to_delegate.append(order.id)
                    paid_orders.append(order)
                event, extra = settlement.event, settlement.event_payload
            # the order is locked (or new): set on the object, sent with the batched UPDATE
            check_transition(steps, values["status"])
            if p.order is None:
                for name, value in values.items():
                    setattr(order, name, value)
            else:
                _write(order, _ORDER_FIELDS, values)
            if decision.amount_sun > 0:
                payment_status = PaymentStatus.REFUNDING
            money: dict[str, Any] = {}
            if payment.asset is Currency.TRX:
                money.update(paid_sun=payment.amount_units, refund_sun=decision.amount_sun)
            if settlement.amounts_as_text:
                money["paid"] = format_amount(payment.amount_units, payment.asset)
                if decision.amount_sun:
                    money["refund"] = format_amount(decision.amount_sun, payment.asset)
            events.append(
                (
                    order,
                    event,
                    {"tx_hash": payment.tx_hash, "kind": quote.kind.value, **money, **extra},
                )
            )
            writes[payment.id] = (
                payment,
                {
                    "order_id": order.id,
                    "match_method": _METHOD[p.match.kind],
                    "status": payment_status,
                    "note": f"{quote.kind.value} via {p.match.kind.value}{refund_note}",
                },
            )
            outcomes.append(
                PaymentOutcome(payment.id, payment_status, order.id, quote.count, refund_sent)
            )
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "payment %s -> order %s (%s, %s, count=%d, refund=%d)",
                    payment.tx_hash,
                    order.id,
                    p.match.kind.value,
                    quote.kind.value,
                    quote.count,
                    decision.amount_sun,
                )
        if walk_ins:
            # the walk-ins exist before a payment refers to them; grouped by status so their
            # rows (which leave different columns to their defaults) go out as one INSERT each
            walk_ins.sort(key=lambda o: o.status.value)
            session.add_all(walk_ins)
            await session.flush()
        for order, payment in to_credit:
            await topup.credit(session, order, payment)
        await stop_monitoring_many(
            session, list(detected), MonitoringStatus.COMPLETED, None, detected=detected
        )
        await totals.orders_paid(session, paid_orders)
        await notify_orders(session, events)
        for start in range(0, len(to_delegate), MAX_JOB_IDS):
            enqueue_job(DELEGATE_JOB, *to_delegate[start : start + MAX_JOB_IDS])
        return outcomes

    @staticmethod
    def _log_batch(outcomes: Sequence[PaymentOutcome], deferred: Sequence[int]) -> None:
        counts: dict[str, int] = {}
        for o in outcomes:
            counts[o.status.value] = counts.get(o.status.value, 0) + 1
        log.info(
            "payments: %d handled (%s), %d deferred",
            len(outcomes),
            ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "-",
            len(deferred),
        )


payment = PaymentService()
