"""Signed transactions are stored before they are broadcast, and delivered exactly once.

`sign_and_store` recomputes the txID from `raw_data` (a node that hands us another hash gets
nothing signed), signs, and adds the `chain_transactions` row; the caller COMMITS before calling
`deliver`. `deliver` is safe to call any number of times for the same row, after any crash:
it looks the txid up on chain first, re-broadcasts the same signed bytes when absent, and
reports EXPIRED only when the head block is past the expiration and the chain does not have
it - the one case where building a new transaction cannot deliver twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.adapters.tron.errors import ChainUnavailable, TransactionRejected
from tronrent.adapters.tron.port import (
    BlockHeader,
    ChainPort,
    SignedTx,
    TxLookup,
    TxState,
    UnsignedTx,
)
from tronrent.delegation.rejection import classify_rejection
from tronrent.kit.crypto import Secret, SecretBox
from tronrent.kit.time import utcnow
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.energy_pool import EnergyPool

log = logging.getLogger("tronrent.delegation")


class Delivery(StrEnum):
    CONFIRMED = "confirmed"  # in a block, succeeded
    FAILED = "failed"  # rejected by the node or failed in its block
    EXPIRED = "expired"  # past expiration and absent: a new transaction may be built
    PENDING = "pending"  # broadcast (or node unreachable), not seen in a block yet


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    status: Delivery
    info: TxLookup | None = None
    error: str | None = None


def pool_key(box: SecretBox, pool: EnergyPool) -> Secret:
    """Decrypt a pool's key just in time (a Secret: hidden from repr, logs and errors)."""
    return box.decrypt(pool.private_key_encrypted)


async def sign_and_store(
    session: AsyncSession,
    chain: ChainPort,
    tx: UnsignedTx,
    key: Secret,
    *,
    purpose: ChainTxPurpose,
    owner: str,
    to: str | None,
    amount_sun: int | None,
    **links: Any,
) -> ChainTransaction:
    """Sign (the signer re-checks the txID and the owner) and add the row (status signed).

    The caller commits, then delivers.
    """
    row = stored_row(
        chain.sign(tx, key.reveal()),
        purpose=purpose,
        owner=owner,
        to=to,
        amount_sun=amount_sun,
        **links,
    )
    session.add(row)
    await session.flush()
    return row


def stored_row(
    signed: SignedTx,
    *,
    purpose: ChainTxPurpose,
    owner: str,
    to: str | None,
    amount_sun: int | None,
    **links: Any,
) -> ChainTransaction:
    """The `chain_transactions` row of a signed transaction (status signed), not yet added."""
    return ChainTransaction(
        **stored_values(signed, purpose=purpose, owner=owner, to=to, amount_sun=amount_sun, **links)
    )


def stored_values(
    signed: SignedTx,
    *,
    purpose: ChainTxPurpose,
    owner: str,
    to: str | None,
    amount_sun: int | None,
    **links: Any,
) -> dict[str, Any]:
    """`stored_row`'s column values: a batch of them is one executemany INSERT (see
    `insert_stored`)."""
    return {
        "purpose": purpose,
        "txid": signed.txid,
        "owner_address": owner,
        "to_address": to,
        "amount_sun": amount_sun,
        "raw_data": dict(signed.raw_data),
        "raw_data_hex": signed.raw_data_hex,
        "signatures": list(signed.signature),
        "expiration_ms": signed.expiration_ms,
        "status": ChainTxStatus.SIGNED,
        **links,
    }


async def insert_stored(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT rows of `stored_values` (the same links each) as one executemany, no ids read
    back: one statement for a batch on SQLite too, where the ORM inserts row by row to learn
    the ids."""
    if rows:
        await session.execute(insert(ChainTransaction), [dict(r) for r in rows])


def as_signed(row: ChainTransaction) -> SignedTx:
    """The stored transaction, its txID recomputed from raw_data (TxidMismatch otherwise)."""
    return SignedTx.from_json(
        {"txID": row.txid, "raw_data": row.raw_data, "signature": list(row.signatures)}
    )


async def _lookup(chain: ChainPort, txid: str) -> DeliveryResult | None:
    found = await chain.find_transaction(txid)
    if found.state is TxState.CONFIRMED:
        return DeliveryResult(Delivery.CONFIRMED, found)
    if found.state is TxState.FAILED:
        return DeliveryResult(Delivery.FAILED, found, found.message or "failed in its block")
    return None


async def deliver(
    chain: ChainPort,
    row: ChainTransaction,
    *,
    wait_s: float,
    poll_s: float,
    head_max_age_s: float = 0.0,
    head: BlockHeader | None = None,
) -> DeliveryResult:
    """Bring a stored transaction on chain (see the module docstring); never raises for the
    node being down - that is PENDING, and the caller retries later.

    A transaction never handed to a node before (status signed, no attempt recorded) is
    broadcast without a lookup first: if a crashed run did broadcast it, the node answers "Dup
    transaction" (a success) and, were it already in a block, the scanner confirms it.
    ``head_max_age_s``: the head block may be the cached reference block (at most that old; an
    older head only delays the expiry verdict, never makes it wrong); ``head``: that head, read
    once by the caller for a whole batch (no head read here). ``wait_s`` 0: broadcast and
    return PENDING without waiting for a block.
    """
    tx = as_signed(row)
    try:
        fresh = row.status is ChainTxStatus.SIGNED and not row.attempts
        if not fresh:
            done = await _lookup(chain, tx.txid)
            if done is not None:
                return done
        if head is None and head_max_age_s > 0:
            head = await chain.reference_block(head_max_age_s)
        elif head is None:
            head = await chain.get_head_block()
        if head.timestamp_ms > tx.expiration_ms:
            # past expiration: the chain will never include it; look once more (it may have
            # landed between the two reads) before declaring it gone
            done = await _lookup(chain, tx.txid)
            return done or DeliveryResult(Delivery.EXPIRED)
        try:
            await chain.broadcast(tx)
        except TransactionRejected as exc:
            message = f"{exc.java_code}: {exc.node_message}"
            rejection = classify_rejection(
                message, owner=row.owner_address, recipient=row.to_address
            )
            if rejection.resend_same:
                # TaPoS, expiration, a busy node: the same bytes again later (an expiry is
                # decided on the next call, from the head block)
                return DeliveryResult(Delivery.PENDING, error=message)
            return DeliveryResult(Delivery.FAILED, error=message)
    except ChainUnavailable as exc:
        return DeliveryResult(Delivery.PENDING, error=exc.message)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while loop.time() < deadline:
        await asyncio.sleep(poll_s)
        try:
            done = await _lookup(chain, tx.txid)
        except ChainUnavailable:
            continue
        if done is not None:
            return done
    return DeliveryResult(Delivery.PENDING)


def sent_recently(row: ChainTransaction, within_s: float) -> bool:
    """Accepted by a node less than ``within_s`` ago with no error since: the scanner will see
    it in its block, so nobody needs to look it up (or broadcast it again) yet."""
    return (
        row.status is ChainTxStatus.BROADCAST
        and row.last_error is None
        and row.broadcast_at is not None
        and row.broadcast_at > utcnow() - timedelta(seconds=within_s)
    )


async def record_delivery(
    session: AsyncSession, chain_tx_ids: int | Collection[int], result: DeliveryResult
) -> None:
    """Write a delivery result on the stored transaction(s): one UPDATE."""
    ids = [chain_tx_ids] if isinstance(chain_tx_ids, int) else sorted(chain_tx_ids)
    if not ids:
        return
    values: dict[str, Any] = {"attempts": ChainTransaction.attempts + 1}
    if result.status is Delivery.CONFIRMED and result.info is not None:
        values.update(
            status=ChainTxStatus.CONFIRMED,
            block_number=result.info.block_number,
            confirmed_at=utcnow(),
        )
    elif result.status is Delivery.FAILED:
        values.update(status=ChainTxStatus.FAILED, last_error=(result.error or "")[:2000])
        if result.info is not None:
            values["block_number"] = result.info.block_number
    elif result.status is Delivery.EXPIRED:
        values.update(status=ChainTxStatus.EXPIRED)
    else:
        values.update(status=ChainTxStatus.BROADCAST, broadcast_at=utcnow())
        if result.error:
            values["last_error"] = result.error[:2000]
    await session.execute(
        update(ChainTransaction)
        .where(
            ChainTransaction.id.in_(ids),
            ChainTransaction.status.in_((ChainTxStatus.SIGNED, ChainTxStatus.BROADCAST)),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
