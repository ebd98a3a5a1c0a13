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
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tronproto.keys import PrivateKey
from tronproto.tx import txid as compute_txid
from tronrent.delegation.port import (
    ChainPort,
    ChainUnavailableError,
    TxInfo,
    TxRejectedError,
    UnsignedTx,
)
from tronrent.kit.crypto import SecretBox
from tronrent.kit.time import utcnow
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.energy_pool import EnergyPool

log = logging.getLogger("tronrent.delegation")

_EXPIRED_HINTS = ("expired", "tapos")


class TxIdMismatch(Exception):
    """The txID the node returned is not the hash of the raw_data: refuse to sign."""


class Delivery(StrEnum):
    CONFIRMED = "confirmed"  # in a block, succeeded
    FAILED = "failed"  # rejected by the node or failed in its block
    EXPIRED = "expired"  # past expiration and absent: a new transaction may be built
    PENDING = "pending"  # broadcast (or node unreachable), not seen in a block yet


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    status: Delivery
    info: TxInfo | None = None
    error: str | None = None


def pool_key(box: SecretBox, pool: EnergyPool) -> PrivateKey:
    """Decrypt a pool's key (never logged; the Secret wrapper hides it from repr)."""
    key = PrivateKey.from_hex(box.decrypt(pool.private_key_encrypted).reveal())
    if key.address_base58 != pool.tron_address:
        raise ValueError(f"the stored key of pool {pool.name} does not match its address")
    return key


async def sign_and_store(
    session: AsyncSession,
    tx: UnsignedTx,
    key: PrivateKey,
    *,
    purpose: ChainTxPurpose,
    owner: str,
    to: str | None,
    amount_sun: int | None,
    **links: Any,
) -> ChainTransaction:
    """Check the txID, sign, add the row (status signed). The caller commits, then delivers."""
    local = compute_txid(tx.raw_data)
    if local != tx.txid.lower():
        raise TxIdMismatch(f"node txID {tx.txid} != local {local}; refusing to sign")
    signature = key.sign_hash(bytes.fromhex(local)).hex()
    row = ChainTransaction(
        purpose=purpose,
        txid=local,
        owner_address=owner,
        to_address=to,
        amount_sun=amount_sun,
        raw_data=tx.raw_data,
        raw_data_hex=tx.raw_data_hex,
        signatures=[signature],
        expiration_ms=tx.expiration_ms,
        status=ChainTxStatus.SIGNED,
        **links,
    )
    session.add(row)
    await session.flush()
    return row


def as_unsigned(row: ChainTransaction) -> UnsignedTx:
    return UnsignedTx(row.txid, dict(row.raw_data), row.raw_data_hex)


async def deliver(
    chain: ChainPort,
    row: ChainTransaction,
    *,
    wait_s: float,
    poll_s: float,
) -> DeliveryResult:
    """Bring a stored transaction on chain (see the module docstring); never raises for the
    node being down - that is PENDING, and the caller retries later."""
    tx = as_unsigned(row)
    try:
        info = await chain.transaction_info(tx.txid)
        if info is not None:
            return _from_info(info)
        head = await chain.head()
        if head.timestamp_ms > tx.expiration_ms:
            # past expiration: the chain will never include it; look once more (it may have
            # landed between the two reads) before declaring it gone
            info = await chain.transaction_info(tx.txid)
            if info is not None:
                return _from_info(info)
            return DeliveryResult(Delivery.EXPIRED)
        try:
            await chain.broadcast(tx, list(row.signatures))
        except TxRejectedError as exc:
            message = str(exc)
            if any(h in message.lower() for h in _EXPIRED_HINTS):
                return DeliveryResult(Delivery.PENDING, error=message)  # decided on next call
            return DeliveryResult(Delivery.FAILED, error=message)
    except ChainUnavailableError as exc:
        return DeliveryResult(Delivery.PENDING, error=str(exc))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while loop.time() < deadline:
        await asyncio.sleep(poll_s)
        try:
            info = await chain.transaction_info(tx.txid)
        except ChainUnavailableError:
            continue
        if info is not None:
            return _from_info(info)
    return DeliveryResult(Delivery.PENDING)


def _from_info(info: TxInfo) -> DeliveryResult:
    if info.success:
        return DeliveryResult(Delivery.CONFIRMED, info)
    return DeliveryResult(Delivery.FAILED, info, info.message or "failed in its block")


async def record_delivery(session: AsyncSession, chain_tx_id: int, result: DeliveryResult) -> None:
    """Write a delivery result on the stored transaction."""
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
            ChainTransaction.id == chain_tx_id,
            ChainTransaction.status.in_((ChainTxStatus.SIGNED, ChainTxStatus.BROADCAST)),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def live_tx(
    session: AsyncSession, *, purpose: ChainTxPurpose, **where: Any
) -> ChainTransaction | None:
    """The stored transaction of this purpose still able to land (signed/broadcast/confirmed)."""
    stmt = select(ChainTransaction).where(
        ChainTransaction.purpose == purpose,
        ChainTransaction.status.in_(
            (ChainTxStatus.SIGNED, ChainTxStatus.BROADCAST, ChainTxStatus.CONFIRMED)
        ),
    )
    for column, value in where.items():
        stmt = stmt.where(getattr(ChainTransaction, column) == value)
    return (await session.execute(stmt.order_by(ChainTransaction.id.desc()))).scalars().first()
