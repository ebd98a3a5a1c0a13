"""Handling a recorded payment to the flash address: match, classify, move the order on.

Runs in the `payment.process_payment` job, once per new payment row (the scanner enqueues it
only when its INSERT created the row; `handled_at` makes a second run a no-op). Policies for
dust, underpayment and excess come from the flash config; every decision is recorded on the
payment (status, note) and told to the customer through the outbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.money import format_trx
from tronrent.kit.time import to_ms, utcnow
from tronrent.models.common import Currency
from tronrent.models.order import Order, OrderPaymentStatus, OrderStatus
from tronrent.models.payment import MatchMethod, Payment, PaymentStatus
from tronrent.models.payment_monitoring_log import MonitoringStatus
from tronrent.order.flash_config import FlashConfig
from tronrent.order.notify import notify_order
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service
from tronrent.order.service import stop_monitoring
from tronrent.order.state import transition
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
    classify_flash_payment,
    decide_refund,
)
from tronrent.worker import Retry, enqueue_job

log = logging.getLogger("tronrent.payment")

DELEGATE_JOB = "delegation.delegate_order"
REFUND_JOB = "payment.refund_payment"
#: how far back a payment past the grace period is still recognised as a late payment for an
#: expired order (and refunded) rather than taken as a walk-in
LATE_LOOKBACK_S = 86_400.0

_METHOD = {
    MatchKind.ALREADY_MATCHED: MatchMethod.AMOUNT_TAIL,
    MatchKind.AMOUNT: MatchMethod.AMOUNT_TAIL,
    MatchKind.TAIL: MatchMethod.AMOUNT_TAIL,
    MatchKind.SENDER: MatchMethod.SENDER,
    MatchKind.WALK_IN: MatchMethod.WALK_IN,
}


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


async def _candidates(
    session: AsyncSession, rt: FlashRuntime, statuses: tuple[OrderStatus, ...], since_s: float
) -> list[Order]:
    stmt = select(Order).where(
        Order.payment_address == rt.payment_address, Order.status.in_(statuses)
    )
    if OrderStatus.EXPIRED in statuses:
        stmt = stmt.where(Order.expires_at >= utcnow() - timedelta(seconds=since_s))
    return list((await session.execute(stmt)).scalars().all())


async def find_match(
    session: AsyncSession, rt: FlashRuntime, payment: Payment
) -> tuple[MatchResult, Order | None]:
    """Open orders first; then orders whose window closed within the grace period."""
    transfer = IncomingTransfer(
        txid=payment.tx_hash,
        from_address=payment.from_address,
        to_address=payment.to_address,
        amount_sun=payment.amount_units,
        block_number=payment.block_number,
    )
    for statuses in ((OrderStatus.PENDING,), (OrderStatus.EXPIRED,)):
        orders = await _candidates(session, rt, statuses, rt.late_payment_grace_s)
        result = match_payment(
            transfer,
            [_open_order(o) for o in orders],
            tail_granularity_sun=rt.tail_granularity_sun,
        )
        if not result.is_walk_in:
            return result, next(o for o in orders if o.id == result.order_id)
    # past the grace: only an exact amount or tail proves the payment was meant for an order;
    # paid by its recipient, the walk-in rule already delivers where the customer wanted
    orders = await _candidates(session, rt, (OrderStatus.EXPIRED,), LATE_LOOKBACK_S)
    result = match_payment(
        transfer, [_open_order(o) for o in orders], tail_granularity_sun=rt.tail_granularity_sun
    )
    if result.kind in (MatchKind.AMOUNT, MatchKind.TAIL):
        order = next(o for o in orders if o.id == result.order_id)
        if order.target_address != payment.from_address:
            return result, order
    return MatchResult(MatchKind.WALK_IN, None, payment.from_address), None


def _past_grace(order: Order, rt: FlashRuntime) -> bool:
    return (
        order.status is OrderStatus.EXPIRED
        and order.expires_at is not None
        and order.expires_at < utcnow() - timedelta(seconds=rt.late_payment_grace_s)
    )


class PaymentService:
    async def process(
        self, session: AsyncSession, rt: FlashRuntime, payment_id: int
    ) -> PaymentOutcome | None:
        """Apply one payment; None if it was already handled (or is not ours)."""
        payment = (
            await session.execute(
                select(Payment)
                .where(Payment.id == payment_id)
                .with_for_update()
                # a row already in the identity map (the confirm route loads it first) must be
                # re-read under the lock, or a stale handled_at lets it be processed twice
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
        if payment is None or payment.handled_at is not None:
            return None
        if payment.status is PaymentStatus.ORPHANED:
            return None
        now = utcnow()
        if payment.asset is not Currency.TRX or payment.to_address != rt.payment_address:
            payment.status = PaymentStatus.IGNORED
            payment.note = "not a TRX payment to the flash address"
            payment.handled_at = now
            return PaymentOutcome(payment.id, payment.status, None)
        cfg = await order_service.config(session, rt)
        quote = classify_flash_payment(
            payment.amount_units, cfg.price, tail_tolerance_sun=rt.tail_granularity_sun - 1
        )
        if quote.kind is FlashPaymentKind.DUST:
            return self._dust(payment, quote, cfg)
        match, order = await find_match(session, rt, payment)
        if order is not None and _past_grace(order, rt):
            return self._late(payment, order, match, rt)
        if order is None:
            order = await order_service.create_walk_in(
                session, rt, cfg, sender=payment.from_address, tx_hash=payment.tx_hash
            )
        outcome = await self._apply(session, payment, order, match, quote, cfg)
        payment.handled_at = now
        return outcome

    def _dust(self, payment: Payment, quote: FlashQuote, cfg: FlashConfig) -> PaymentOutcome:
        decision = decide_refund(quote, cfg.policies)
        payment.status = PaymentStatus.DUST
        payment.note = f"dust below min_amount ({format_trx(cfg.price.min_amount_sun)} TRX)"
        if decision.amount_sun > 0:
            payment.status = PaymentStatus.REFUNDING
            payment.note += f"; refunding {format_trx(decision.amount_sun)} TRX"
            enqueue_job(REFUND_JOB, payment.id)
        payment.handled_at = utcnow()
        return PaymentOutcome(payment.id, payment.status, None, refund_sun=decision.amount_sun)

    def _late(
        self, payment: Payment, order: Order, match: MatchResult, rt: FlashRuntime
    ) -> PaymentOutcome:
        """A payment for an order that expired longer ago than the grace period: refunded in
        full to the sender (the order is not revived: its tail may belong to a newer order,
        and energy sent to an exchange's wallet would be lost to the customer)."""
        payment.order_id = order.id
        payment.match_method = _METHOD[match.kind]
        payment.status = PaymentStatus.REFUNDING
        payment.note = (
            f"late payment for order {order.id}, expired more than "
            f"{round(rt.late_payment_grace_s / 60)} min before; refunding "
            f"{format_trx(payment.amount_units)} TRX to the sender"
        )
        payment.handled_at = utcnow()
        enqueue_job(REFUND_JOB, payment.id)
        log.info("late payment %s for expired order %s: refunding", payment.tx_hash, order.id)
        return PaymentOutcome(payment.id, payment.status, order.id, refund_sun=payment.amount_units)

    async def _apply(
        self,
        session: AsyncSession,
        payment: Payment,
        order: Order,
        match: MatchResult,
        quote: FlashQuote,
        cfg: FlashConfig,
    ) -> PaymentOutcome:
        decision = decide_refund(quote, cfg.policies)
        source = (
            (order.status,) if order.status in (OrderStatus.PENDING, OrderStatus.EXPIRED) else ()
        )
        if not source:
            raise Retry(f"order {order.id} is no longer open; matching again")
        common = {
            "paid_amount_units": payment.amount_units,
            "from_address": payment.from_address,
            "tron_tx_hash": payment.tx_hash,
            "paid_at": utcnow(),
            "currency": Currency.TRX,
        }
        payment.order_id = order.id
        payment.match_method = _METHOD[match.kind]
        refund_note = ""
        if decision.amount_sun > 0:
            refund_note = f"; refunding {format_trx(decision.amount_sun)} TRX ({quote.kind.value})"
        if quote.kind is FlashPaymentKind.UNDERPAID:
            ok = await transition(
                session,
                order.id,
                source,
                OrderStatus.UNDERPAID,
                payment_status=OrderPaymentStatus.UNDERPAID,
                transaction_count=0,
                status_reason=f"paid {format_trx(quote.paid_sun)} TRX, one transaction costs "
                f"{format_trx(cfg.price.single_price_sun)} TRX{refund_note}",
                **common,
            )
            if not ok:
                raise Retry(f"order {order.id} changed while matching")
            payment.status = PaymentStatus.UNDERPAID
            event, extra = "payment_underpaid", {}
        else:
            count = quote.count
            ok = await transition(
                session,
                order.id,
                source,
                OrderStatus.PAID,
                payment_status=(
                    OrderPaymentStatus.OVERPAID
                    if quote.kind is FlashPaymentKind.EXCESS
                    else OrderPaymentStatus.PAID
                ),
                transaction_count=count,
                energy_amount=cfg.energy_for(count),
                energy_per_transaction=cfg.energy_per_transaction,
                final_price_units=quote.charged_sun,
                price_units=quote.charged_sun,
                **common,
            )
            if not ok:
                raise Retry(f"order {order.id} changed while matching")
            payment.status = (
                PaymentStatus.EXCESS
                if quote.kind is FlashPaymentKind.EXCESS
                else PaymentStatus.MATCHED
            )
            enqueue_job(DELEGATE_JOB, order.id)
            event = "payment_received"
            extra = {"transaction_count": count, "energy": cfg.energy_for(count)}
        if decision.amount_sun > 0:
            payment.status = PaymentStatus.REFUNDING
            enqueue_job(REFUND_JOB, payment.id)
        payment.note = f"{quote.kind.value} via {match.kind.value}{refund_note}"
        await stop_monitoring(
            session,
            order.id,
            MonitoringStatus.COMPLETED,
            None,
            tx_hash=payment.tx_hash,
            amount=payment.amount_units,
            sender=payment.from_address,
        )
        await session.refresh(order)
        await notify_order(
            session,
            order,
            event,
            {
                "tx_hash": payment.tx_hash,
                "paid_sun": payment.amount_units,
                "kind": quote.kind.value,
                "refund_sun": decision.amount_sun,
                **extra,
            },
        )
        log.info(
            "payment %s -> order %s (%s, %s, count=%d, refund=%d)",
            payment.tx_hash,
            order.id,
            match.kind.value,
            quote.kind.value,
            quote.count,
            decision.amount_sun,
        )
        return PaymentOutcome(
            payment.id, payment.status, order.id, quote.count, decision.amount_sun
        )


payment = PaymentService()
