"""Outgoing transfers from the refund account: refunds (payment.refund) and agent payouts
(agent.payout) build, sign, store and deliver them the same way.

`store_transfer` builds ONE transfer (TRX, or a TRC20 USDT ``transfer`` call whose energy the
account's TRX pays, at most `USDT_TRANSFER_FEE_LIMIT_SUN`) from the refund account (the pool
holding the key of the configured refund address, the flash address by default), signs it and
adds its ``chain_transactions`` row: the caller COMMITS before `deliver_transfer` broadcasts
it. `deliver_transfer` never waits for a block: a transfer sent less than ``confirm_timeout_s``
ago is left to the scanner; an older one is looked up and re-sent (same signed bytes); a
failed or provably expired one raises `Retry` so that the caller builds a new one.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.adapters.tron.port import BlockHeader
from tronrent.delegation.chain_tx import (
    Delivery,
    deliver,
    pool_key,
    record_delivery,
    sent_recently,
    sign_and_store,
)
from tronrent.delegation.flows import FlowDeps
from tronrent.delegation.rejection import classify_rejection
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose
from tronrent.models.common import Currency
from tronrent.order.service import order as order_service
from tronrent.pool.service import pool as pool_service
from tronrent.worker import Retry

log = logging.getLogger("tronrent.payment")

#: the most TRX a USDT transfer call may burn for energy (a transfer to a new holder burns ~27)
USDT_TRANSFER_FEE_LIMIT_SUN: Final = 100_000_000


class RefundAccountMissing(Exception):
    """No pool holds the key of the refund address (or only a delegate-only key)."""


async def store_transfer(
    session: AsyncSession,
    d: FlowDeps,
    ref: BlockHeader,
    *,
    asset: Currency,
    to: str,
    amount: int,
    purpose: ChainTxPurpose,
    **links: Any,
) -> ChainTransaction:
    """Build, sign and store one transfer of ``amount`` base units of ``asset`` to ``to``
    (``links``: the row's ``payment_id``/``order_id``/``withdrawal_id``). A USDT transfer needs
    ``d.rt.usdt_contract`` (the caller checks)."""
    cfg = await order_service.config(session, d.rt)
    address = cfg.refund_address or d.rt.payment_address
    pool = await pool_service.get_by_address(session, address)
    if pool is None or pool.delegate_only:  # a delegate-only key cannot send TRX
        raise RefundAccountMissing(f"no pool account holds the key of {address}")
    if asset is Currency.TRX:
        tx = d.chain.build_transfer_local(ref, address, to, amount)
    else:
        assert d.rt.usdt_contract is not None
        tx = d.chain.build_trc20_transfer_local(
            ref, address, d.rt.usdt_contract, to, amount, fee_limit_sun=USDT_TRANSFER_FEE_LIMIT_SUN
        )
    return await sign_and_store(
        session,
        d.chain,
        tx,
        pool_key(d.box, pool),
        purpose=purpose,
        owner=address,
        to=to,
        amount_sun=amount,
        pool_id=pool.id,
        **links,
    )


async def deliver_transfer(d: FlowDeps, row: ChainTransaction, what: str) -> bool:
    """Bring one stored transfer on its way (see the module docstring); True if it is in a
    block already (a lookup), so the caller applies it at once. ``what`` names it in logs and
    in the `Retry` (``refund``, ``payout``)."""
    if sent_recently(row, d.rt.confirm_timeout_s):
        return False
    result = await deliver(
        d.chain, row, wait_s=0, poll_s=d.rt.poll_s, head_max_age_s=d.rt.block_interval_ms / 1000
    )
    async with d.session_maker() as s:
        await record_delivery(s, row.id, result)
        await s.commit()
    if result.status in (Delivery.FAILED, Delivery.EXPIRED):
        why = result.error
        if result.status is Delivery.FAILED:  # e.g. pool_balance_insufficient: named for the
            # dead letter's operator alert and the order's limbo alert
            side = classify_rejection(
                result.error, owner=row.owner_address, recipient=row.to_address
            )
            why = f"{side.reason.value}: {why}"
        raise Retry(f"{what} tx {row.txid} {result.status.value}: {why}; rebuilding")
    if result.status is Delivery.PENDING and result.error:
        raise Retry(f"{what} tx {row.txid} not accepted yet: {result.error}", delay_s=d.rt.poll_s)
    if result.status is Delivery.CONFIRMED:
        log.info("%s tx %s found in a block", what, row.txid)
        return True
    return False
