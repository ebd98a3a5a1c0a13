"""Refunds: a real TRX (or USDT) transfer from the refund account, stored before broadcast, once.

A USDT payment is refunded in USDT: a TRC20 ``transfer`` call from the refund account (its TRX
pays the call's energy, at most `USDT_TRANSFER_FEE_LIMIT_SUN`; built, signed and stored by
`delegation.transfer`, shared with agent payouts), confirmed by the scanner like a TRX refund.
With no USDT contract configured (``FlashRuntime.usdt_contract``) it waits for an operator
(`USDT_REFUND_NOTE`).

The amount is recomputed from the payment and the price config snapshot kept on its order
(the current config for dust, which has no order), so a retried job always sends the same
amount; the partial unique index on live refund transactions per payment makes a second
transfer for the same payment impossible.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.adapters.tron.port import BlockHeader
from tronrent.agent import commission
from tronrent.delegation.flows import FlowDeps
from tronrent.delegation.transfer import deliver_transfer, store_transfer
from tronrent.models.chain_transaction import (
    LIVE_CHAIN_TX_STATUSES,
    ChainTransaction,
    ChainTxPurpose,
    ChainTxStatus,
)
from tronrent.models.common import Currency
from tronrent.models.order import Order, OrderPaymentStatus, OrderStatus
from tronrent.models.payment import MatchMethod, Payment, PaymentStatus
from tronrent.models.payment_change import PaymentAction, PaymentChange
from tronrent.order.flash_config import FlashConfig, parse_flash_config
from tronrent.order.notify import notify_order
from tronrent.order.service import order as order_service
from tronrent.order.state import transition
from tronrent.pricing.calc import (
    FlashPolicies,
    PaymentPolicy,
    classify_order_payment,
    decide_refund,
)
from tronrent.product.base import SettleContext, format_amount
from tronrent.product.registry import flash_config_snapshot, strategy_for
from tronrent.user import totals
from tronrent.worker import Retry

log = logging.getLogger("tronrent.payment")


#: a payment's refund transfers, in the order they are sent (policy refund, then the rest)
REFUND_PURPOSES = (ChainTxPurpose.REFUND, ChainTxPurpose.REFUND_REST)


#: the note on a USDT payment the refund job leaves to an operator
USDT_REFUND_NOTE = "no USDT contract configured: an operator sends this USDT refund"


async def refund_amount(
    session: AsyncSession, d: FlowDeps, payment: Payment, order: Order | None
) -> int:
    """What the payment's refunds total: the policy's amount, or all of it for a failed order
    or an order that expired before the payment came (a late payment past the grace). A refund
    an operator ordered (payment.admin) applies the refund policy to every kind of payment."""
    if order is not None and order.status is OrderStatus.EXPIRED:
        return payment.amount_units
    if (
        order is not None
        and order.status in (OrderStatus.FAILED, OrderStatus.REFUNDING, OrderStatus.REFUNDED)
        and (order.transaction_count or 0) > 0
    ):
        return payment.amount_units
    manual = await manually_refunded(session, payment.id)
    if order is None and (manual or payment.match_method is MatchMethod.WALK_IN):
        # received while flash rental was disabled (see payment.service), or an operator
        # refunds a payment no order took (dust, ignored): all of it, less the refund fee
        policies = (await order_service.config(session, d.rt)).policies
        # the refund fee is in TRX: a USDT refund is sent whole (see product.base)
        fee = policies.refund_fee_sun if payment.asset is Currency.TRX else 0
        return max(0, payment.amount_units - fee)
    snapshot = flash_config_snapshot(order) if order is not None else None
    if snapshot:
        cfg: FlashConfig = parse_flash_config(
            snapshot,
            None,
            default_energy=d.rt.default_energy,
            default_margin_bp=d.rt.margin_bp,
        )
    else:
        cfg = await order_service.config(session, d.rt)
    # an operator's refund applies the refund policy whatever the configured one is: an
    # underpaid payment comes back whole, an excess payment its excess (never what bought energy)
    if order is None:  # dust
        quote = classify_order_payment(
            payment.amount_units, cfg.price, tail_tolerance_sun=d.rt.tail_granularity_sun - 1
        )
        policies = _refund_all(cfg.policies) if manual else cfg.policies
        return decide_refund(quote, policies).amount_sun
    # what the order's product makes of the payment (see tronrent.product)
    ctx = SettleContext(cfg, d.rt.tail_granularity_sun)
    settlement = strategy_for(order.order_type).settle(order, payment.amount_units, ctx)
    policies = _refund_all(settlement.policies) if manual else settlement.policies
    return decide_refund(settlement.quote, policies).amount_sun


def _refund_all(policies: FlashPolicies) -> FlashPolicies:
    return replace(
        policies,
        dust=PaymentPolicy.REFUND,
        underpaid=PaymentPolicy.REFUND,
        excess=PaymentPolicy.REFUND,
    )


async def manually_refunded(session: AsyncSession, payment_id: int) -> bool:
    """Whether an operator ordered the payment's refund (a ``payment_changes`` row)."""
    stmt = select(PaymentChange.id).where(
        PaymentChange.payment_id == payment_id, PaymentChange.action == PaymentAction.REFUND
    )
    return (await session.execute(stmt.limit(1))).first() is not None


async def _refund_rows(session: AsyncSession, payment_id: int) -> list[ChainTransaction]:
    """The payment's live refund transfers (both purposes), oldest first."""
    stmt = select(ChainTransaction).where(
        ChainTransaction.payment_id == payment_id,
        ChainTransaction.purpose.in_(REFUND_PURPOSES),
        ChainTransaction.status.in_(LIVE_CHAIN_TX_STATUSES),
    )
    return list((await session.execute(stmt.order_by(ChainTransaction.id))).scalars().all())


async def _finish(session: AsyncSession, payment: Payment, order: Order | None, sent: int) -> str:
    """Everything owed went out (or nothing was left after fees): settle payment and order."""
    if sent <= 0:
        payment.status = PaymentStatus.MATCHED if order else PaymentStatus.DUST
        payment.note = f"{payment.note or ''}; nothing left to refund after fees"
        return payment.status.value
    payment.status = PaymentStatus.REFUNDED
    if order is not None and order.status is OrderStatus.REFUNDING:
        await commission.cancel_for_order(session, order.id)  # agents earn nothing on it
    if (
        order is not None
        and order.status is OrderStatus.REFUNDING
        and await transition(session, order.id, OrderStatus.REFUNDING, OrderStatus.REFUNDED)
        and order.payment_status in (OrderPaymentStatus.PAID, OrderPaymentStatus.OVERPAID)
    ):
        # counted when it was paid (an underpaid order never was)
        await totals.orders_refunded(session, [order])

    return PaymentStatus.REFUNDED.value


async def _build(
    session: AsyncSession,
    d: FlowDeps,
    ref: BlockHeader,
    payment: Payment,
    purpose: ChainTxPurpose,
    amount: int,
) -> ChainTransaction:
    return await store_transfer(
        session,
        d,
        ref,
        asset=payment.asset,
        to=payment.from_address,
        amount=amount,
        purpose=purpose,
        payment_id=payment.id,
        order_id=payment.order_id,
    )


async def refund_payment(d: FlowDeps, payment_id: int) -> str:
    """Send what the payment is owed (once) and record it; the status reached ('broadcast':
    a transfer is on its way, the scanner confirms it in its block and runs this again).

    What is owed is recomputed under the payment's row lock: the policy refund, or everything
    paid once the order failed. Live refund transfers already stored count against it, so an
    order that fails after its excess went out gets the rest in a second transfer
    (`refund_rest`) and the total never exceeds the payment. Each purpose has at most one live
    transfer per payment (partial unique index), so a retried or concurrent job cannot send
    twice. Nothing waits for a block: a transfer the scanner confirmed is applied (note, event)
    without a node call; one broadcast less than ``confirm_timeout_s`` ago is left to the
    scanner; an older one is looked up (the scanner was down, or the owner address is not one
    it knows: the sweeper re-drives the payment).
    """
    for _ in range(2 * len(REFUND_PURPOSES) + 1):  # apply/build per purpose, then finish
        # the reference block is read (cached per block) before the row lock is taken
        ref = await d.chain.reference_block(d.rt.block_interval_ms / 1000)
        async with d.session_maker() as s:
            payment = await s.get(Payment, payment_id, with_for_update=True, populate_existing=True)
            if payment is None:
                return "missing"
            if payment.status is not PaymentStatus.REFUNDING:
                return payment.status.value
            if payment.asset is not Currency.TRX and d.rt.usdt_contract is None:
                # no contract to send USDT through: an operator refunds it
                if USDT_REFUND_NOTE not in (payment.note or ""):
                    payment.note = f"{payment.note or ''}; {USDT_REFUND_NOTE}".strip("; ")
                    await s.commit()
                return "blocked"
            order = await s.get(Order, payment.order_id) if payment.order_id else None
            rows = await _refund_rows(s, payment_id)
            unapplied = [
                r for r in rows if r.status is ChainTxStatus.CONFIRMED and not _applied(payment, r)
            ]
            if unapplied:  # confirmed by the scanner (or a lookup that crashed before this)
                for row in unapplied:
                    await _apply_sent(s, payment, order, row)
                await s.commit()
                continue
            pending = [r for r in rows if r.status is not ChainTxStatus.CONFIRMED]
            if not pending:
                sent = sum(r.amount_sun or 0 for r in rows)
                amount = min(await refund_amount(s, d, payment, order), payment.amount_units) - sent
                if amount <= 0:
                    state = await _finish(s, payment, order, sent)
                    await s.commit()
                    return state
                used = {r.purpose for r in rows}
                purpose = next((p for p in REFUND_PURPOSES if p not in used), None)
                if purpose is None:
                    raise RuntimeError(f"payment {payment_id}: {amount} sun owed, no refund left")
                pending = [await _build(s, d, ref, payment, purpose, amount)]
                if purpose is ChainTxPurpose.REFUND_REST:
                    payment.note = (
                        f"{payment.note or ''}; refunding the rest: "
                        f"{format_amount(amount, payment.asset)}"
                    )
                if order is not None and order.status in (
                    OrderStatus.UNDERPAID,
                    OrderStatus.FAILED,
                ):
                    await transition(s, order.id, order.status, OrderStatus.REFUNDING)
            await s.commit()
        confirmed = False
        for row in pending:
            confirmed = await _deliver_refund(d, row, payment_id) or confirmed
        if not confirmed:
            return "broadcast"
    raise Retry(f"payment {payment_id}: refund still in progress", delay_s=d.rt.poll_s)


def _sent_note(payment: Payment, row: ChainTransaction) -> str:
    return f"refunded {format_amount(row.amount_sun or 0, payment.asset)} in tx {row.txid}"


def _applied(payment: Payment, row: ChainTransaction) -> bool:
    """Whether the confirmed transfer was applied to the payment already: its note names the
    txid (written in the same transaction as the customer's event)."""
    return f"in tx {row.txid}" in (payment.note or "")


async def _apply_sent(
    s: AsyncSession, payment: Payment, order: Order | None, row: ChainTransaction
) -> None:
    """A refund transfer is in a block: note it on the payment and tell the customer (once:
    the event's dedupe key)."""
    payment.note = f"{payment.note or ''}; {_sent_note(payment, row)}"
    if order is not None:
        rest = "" if row.purpose is ChainTxPurpose.REFUND else f":{row.purpose.value}"
        amount: dict[str, Any] = (
            {"amount_sun": row.amount_sun}
            if payment.asset is Currency.TRX
            else {"amount": format_amount(row.amount_sun or 0, payment.asset)}
        )
        await notify_order(
            s,
            order,
            "refund_sent" if payment.asset is Currency.TRX else "usdt_refund",
            {**amount, "tx_hash": row.txid, "to_address": payment.from_address},
            dedupe_suffix=f":{payment.id}{rest}",
        )
    log.info("refund of payment %s sent: %s", payment.id, row.txid)


async def _deliver_refund(d: FlowDeps, row: ChainTransaction, payment_id: int) -> bool:
    """Bring one stored refund transfer on its way without waiting for its block; True if it
    turned out to be in a block already (a lookup), so the caller applies it and goes on."""
    return await deliver_transfer(d, row, f"refund of payment {payment_id}")


async def refund_payments(d: FlowDeps, payment_ids: Sequence[int]) -> list[int]:
    """Each payment's refund step (`refund_payment`), one transaction each, so a payment that
    must wait holds back no other; those that must (a `Retry`) are returned, to be retried on
    their own. A single payment's `Retry` is raised (the job retries it)."""
    waiting: list[int] = []
    for pid in payment_ids:
        try:
            await refund_payment(d, pid)
        except Retry as exc:
            if len(payment_ids) == 1:
                raise
            log.info("refund of payment %s retried on its own: %s", pid, exc)
            waiting.append(pid)
    return waiting


async def pending_refunds(session: AsyncSession, limit: int = 200) -> list[int]:
    rows = await session.execute(
        select(Payment.id).where(Payment.status == PaymentStatus.REFUNDING).limit(limit)
    )
    return [int(i) for (i,) in rows]


__all__ = [
    "ChainTransaction",
    "pending_refunds",
    "refund_amount",
    "refund_payment",
    "refund_payments",
]
