"""Manual payment confirmation (`POST /api/energy-flash/confirm-payment`), verified on chain.

The transaction must exist in a block with the configured confirmations on top of it
(``CONFIRMATIONS``, as the scanner waits for; fewer: 404 ``TX_NOT_FOUND`` "try again", with
``details.confirmations``/``required``), have succeeded, be a TRX transfer to the flash address
paying at least `min_amount`, and not have been used for another order; it is then recorded
exactly like a scanned payment (same unique key, with its block's number, id and time, so a
fork rewind orphans it only if that block left the chain) and must match the given order by its
amount tail or its sender (= the order's recipient) - a customer cannot claim someone else's
payment. Idempotent: confirming the same payment for the same order again changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.adapters.tron.errors import ChainError
from tronrent.adapters.tron.port import ChainPort, TxState
from tronrent.kit.errors import Conflict, NotFound, ValidationFailed
from tronrent.kit.metrics import PAYMENT_MONITORING_CHECKS
from tronrent.kit.money import format_trx
from tronrent.kit.time import from_ms
from tronrent.models.common import Currency
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service
from tronrent.payment import repository as payment_repo
from tronrent.payment.service import PaymentOutcome
from tronrent.payment.service import payment as payment_service
from tronrent.worker import Retry


class PaymentNotOnChain(NotFound):
    default_code = "TX_NOT_FOUND"


class PaymentNotAcceptable(ValidationFailed):
    default_code = "PAYMENT_NOT_ACCEPTABLE"


class PaymentAlreadyUsed(Conflict):
    default_code = "PAYMENT_ALREADY_USED"


class PaymentNotConfirmed(PaymentNotOnChain):
    """In a block, but fewer than the configured confirmations on top of it: the customer tries
    again a few blocks later (the scanner records it anyway once it is deep enough). The same
    404 ``TX_NOT_FOUND`` as a transaction not in a block yet, with ``details``."""


class OrderChangedMeanwhile(Conflict):
    """The order kept changing while the payment was matched to it (another payment, a
    balance payment, the expiry sweeper, at the same moment): 409, try again."""

    default_code = "ORDER_CHANGED"


#: matching attempts when the order changes under the payment (`worker.Retry`)
MATCH_ATTEMPTS = 3


async def _process(
    session: AsyncSession, rt: FlashRuntime, payment_id: int
) -> PaymentOutcome | None:
    """`PaymentService.process` of the confirmed payment, matched again (in this transaction:
    a deferred payment wrote nothing) when its order changed while it was matched - with the
    order as it is now, the payment may find it paid by another and belong to none."""
    for attempt in range(MATCH_ATTEMPTS):
        try:
            return await payment_service.process(session, rt, payment_id)
        except Retry:
            if attempt == MATCH_ATTEMPTS - 1:
                raise OrderChangedMeanwhile(
                    "the order changed while this payment was matched to it; try again"
                ) from None
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Confirmation:
    order_id: str
    tx_hash: str
    status: str
    already: bool


async def confirm_payment(
    session: AsyncSession, rt: FlashRuntime, chain: ChainPort, *, order_id: str, tx_hash: str
) -> Confirmation:
    order = await order_service.get(session, order_id)
    existing = await payment_repo.get_by_tx(session, tx_hash)
    if existing is not None and existing.handled_at is not None:
        if existing.order_id == order_id:
            return Confirmation(order_id, tx_hash, order.status.value, already=True)
        raise PaymentAlreadyUsed("this transaction was already used for another payment")
    try:  # a payment lookup: one payment monitoring check (metrics)
        tx = await chain.get_transaction(tx_hash)
    except ChainError:
        PAYMENT_MONITORING_CHECKS.labels(result="failure").inc()
        raise
    PAYMENT_MONITORING_CHECKS.labels(result="success").inc()
    if tx is None:
        raise PaymentNotOnChain("transaction not found on chain (not in a block yet?)")
    if tx.contract_type != "TransferContract":
        raise PaymentNotAcceptable("the transaction is not a TRX transfer")
    if tx.contract_ret != "SUCCESS":
        raise PaymentNotAcceptable(f"the transaction did not succeed ({tx.contract_ret})")
    to = str(tx.parameter.get("to_address", ""))
    if to != rt.payment_address:
        raise PaymentNotAcceptable("the transaction was not sent to the payment address")
    amount = int(tx.parameter.get("amount", 0))
    cfg = await order_service.config(session, rt)
    if amount < cfg.price.min_amount_sun:
        raise PaymentNotAcceptable(
            f"paid {format_trx(amount)} TRX, below the minimum "
            f"{format_trx(cfg.price.min_amount_sun)} TRX"
        )
    block_number, block_id, block_ms = await _confirmed_block(chain, tx_hash, rt.confirmations)
    if existing is None:
        await payment_repo.insert_payment_if_new(
            session,
            tx_hash=tx_hash,
            event_index=0,
            asset=Currency.TRX,
            from_address=str(tx.parameter.get("owner_address", "")),
            to_address=to,
            amount_units=amount,
            block_number=block_number,
            block_id=block_id,
            block_timestamp=from_ms(block_ms) if block_ms else None,
        )
    payment = await payment_repo.get_by_tx(session, tx_hash)
    assert payment is not None
    outcome = await _process(session, rt, payment.id)
    if outcome is None:
        # handled meanwhile by the scanner (its row lock released, PostgreSQL skipped the row):
        # read what it decided instead of the copy loaded before
        await session.refresh(payment)
    if payment.order_id != order_id:
        # the caller's transaction rolls back; the scanner will handle the payment normally
        raise PaymentAlreadyUsed(
            "this payment does not belong to the order (its amount tail does not match and "
            "it was not sent from the order's recipient address)"
        )
    await session.refresh(order)
    return Confirmation(order_id, tx_hash, order.status.value, already=outcome is None)


async def _confirmed_block(
    chain: ChainPort, tx_hash: str, confirmations: int
) -> tuple[int, str, int]:
    """The block holding ``tx_hash`` (number, id, timestamp ms) once it has ``confirmations``
    blocks on top of it; `PaymentNotOnChain` (not in a block) or `PaymentNotConfirmed` (not
    deep enough, or its block changed while we looked: a fork) otherwise."""
    found = await chain.find_transaction(tx_hash, confirmations=confirmations)
    if found.state is TxState.ABSENT or found.block_number is None:
        raise PaymentNotOnChain("transaction not found in a block yet")
    if found.state is TxState.FAILED:
        raise PaymentNotAcceptable(f"the transaction failed ({found.message or 'FAILED'})")
    if found.state is TxState.PENDING:
        raise PaymentNotConfirmed(
            f"the transaction has {found.confirmations} of {confirmations} confirmations: "
            "try again in a few blocks",
            details={"confirmations": found.confirmations, "required": confirmations},
        )
    # its block's id, so a fork rewind orphans the payment only if that very block is gone
    blocks = await chain.get_blocks(found.block_number, found.block_number + 1)
    block = next(
        (
            b
            for b in blocks
            if _block_number(b) == found.block_number
            and any(_txid_of(t) == found.txid.lower() for t in b.get("transactions") or ())
        ),
        None,
    )
    if block is None:  # the node moved to another branch between the two reads
        raise PaymentNotConfirmed(
            "the transaction's block is changing (a fork?): try again in a few blocks",
            details={"confirmations": 0, "required": confirmations},
        )
    header = (block.get("block_header") or {}).get("raw_data") or {}
    return found.block_number, str(block["blockID"]), int(header.get("timestamp") or 0)


def _block_number(block: Mapping[str, Any]) -> int:
    return int(((block.get("block_header") or {}).get("raw_data") or {}).get("number") or 0)


def _txid_of(tx: Mapping[str, Any]) -> str:
    return str(tx.get("txID", "")).lower()
