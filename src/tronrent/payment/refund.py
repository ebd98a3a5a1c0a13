"""Refunds: a real TRX transfer from the refund account, stored before broadcast, once.

The amount is recomputed from the payment and the price config snapshot kept on its order
(the current config for dust, which has no order), so a retried job always sends the same
amount; the partial unique index on live refund transactions per payment makes a second
transfer for the same payment impossible.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.delegation.chain_tx import (
    Delivery,
    deliver,
    live_tx,
    pool_key,
    record_delivery,
    sign_and_store,
)
from tronrent.delegation.flows import FlowDeps
from tronrent.kit.money import format_trx
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose
from tronrent.models.order import Order, OrderStatus
from tronrent.models.payment import Payment, PaymentStatus
from tronrent.order.flash_config import FlashConfig, parse_flash_config
from tronrent.order.notify import notify_order
from tronrent.order.service import order as order_service
from tronrent.order.state import transition
from tronrent.pool.service import pool as pool_service
from tronrent.pricing.calc import classify_flash_payment, decide_refund
from tronrent.worker import Retry

log = logging.getLogger("tronrent.payment")


class RefundAccountMissing(Exception):
    """No pool holds the key of the refund address."""


async def refund_amount(
    session: AsyncSession, d: FlowDeps, payment: Payment, order: Order | None
) -> int:
    """What the payment's refund is: the policy's amount, or all of it for a failed order."""
    if (
        order is not None
        and order.status in (OrderStatus.FAILED, OrderStatus.REFUNDING)
        and (order.transaction_count or 0) > 0
    ):
        return payment.amount_units
    if order is not None and order.price_config:
        cfg: FlashConfig = parse_flash_config(
            order.price_config,
            None,
            default_energy=d.rt.default_energy,
            default_margin_bp=d.rt.margin_bp,
        )
    else:
        cfg = await order_service.config(session, d.rt)
    quote = classify_flash_payment(
        payment.amount_units, cfg.price, tail_tolerance_sun=d.rt.tail_granularity_sun - 1
    )
    return decide_refund(quote, cfg.policies).amount_sun


async def refund_payment(d: FlowDeps, payment_id: int) -> str:
    """Send the payment's refund (once) and record it; the status reached."""
    async with d.session_maker() as s:
        payment = await s.get(Payment, payment_id, with_for_update=True)
        if payment is None:
            return "missing"
        if payment.status is not PaymentStatus.REFUNDING:
            return payment.status.value
        order = await s.get(Order, payment.order_id) if payment.order_id else None
        row = await live_tx(s, purpose=ChainTxPurpose.REFUND, payment_id=payment_id)
        if row is None:
            amount = await refund_amount(s, d, payment, order)
            if amount <= 0:
                payment.status = PaymentStatus.MATCHED if order else PaymentStatus.DUST
                payment.note = f"{payment.note or ''}; nothing left to refund after fees"
                await s.commit()
                return payment.status.value
            cfg = await order_service.config(s, d.rt)
            address = cfg.refund_address or d.rt.payment_address
            pool = await pool_service.get_by_address(s, address)
            if pool is None:
                raise RefundAccountMissing(f"no pool account holds the key of {address}")
            tx = await d.chain.build_transfer(address, payment.from_address, amount)
            row = await sign_and_store(
                s,
                d.chain,
                tx,
                pool_key(d.box, pool),
                purpose=ChainTxPurpose.REFUND,
                owner=address,
                to=payment.from_address,
                amount_sun=amount,
                payment_id=payment_id,
                order_id=payment.order_id,
                pool_id=pool.id,
            )
            if order is not None and order.status in (OrderStatus.UNDERPAID, OrderStatus.FAILED):
                await transition(s, order.id, order.status, OrderStatus.REFUNDING)
        await s.commit()
    result = await deliver(d.chain, row, wait_s=d.rt.confirm_timeout_s, poll_s=d.rt.poll_s)
    async with d.session_maker() as s:
        await record_delivery(s, row.id, result)
        payment = await s.get(Payment, payment_id, with_for_update=True)
        assert payment is not None
        if result.status is Delivery.CONFIRMED:
            payment.status = PaymentStatus.REFUNDED
            payment.note = (
                f"{payment.note or ''}; refunded {format_trx(row.amount_sun or 0)} TRX "
                f"in tx {row.txid}"
            )
            order = await s.get(Order, payment.order_id) if payment.order_id else None
            if order is not None:
                if order.status is OrderStatus.REFUNDING:
                    await transition(s, order.id, OrderStatus.REFUNDING, OrderStatus.REFUNDED)
                    await s.refresh(order)
                await notify_order(
                    s,
                    order,
                    "refund_sent",
                    {
                        "amount_sun": row.amount_sun,
                        "tx_hash": row.txid,
                        "to_address": payment.from_address,
                    },
                    dedupe_suffix=f":{payment.id}",
                )
            await s.commit()
            log.info("refund of payment %s sent: %s", payment_id, row.txid)
            return PaymentStatus.REFUNDED.value
        await s.commit()
    if result.status in (Delivery.FAILED, Delivery.EXPIRED):
        raise Retry(f"refund tx {row.txid} {result.status.value}: {result.error}; rebuilding")
    raise Retry(f"refund tx {row.txid} not in a block yet", delay_s=d.rt.poll_s)


async def pending_refunds(session: AsyncSession, limit: int = 200) -> list[int]:
    rows = await session.execute(
        select(Payment.id).where(Payment.status == PaymentStatus.REFUNDING).limit(limit)
    )
    return [int(i) for (i,) in rows]


__all__ = ["ChainTransaction", "pending_refunds", "refund_amount", "refund_payment"]
