"""``energy_transactions``: seed 001's record of the engine's chain actions.

One row per delegate or undelegate transaction the engine stores, added in the database
transaction that stores the signed transaction (``pending``, with its ``tx_hash``), and given its
outcome when the delivery is recorded: ``confirmed`` with the block number (a delegation also with
``expires_at``, the end of the rental, set when it is confirmed), or ``failed`` with why (refused
by the chain, failed in its block, expired unsent). A retried action is a new transaction, hence
a new row: ``retry_count`` stays 0. ``block_timestamp`` and ``gas_used`` are not recorded.

Batched like the flows it serves: one executemany INSERT per stored batch, one executemany UPDATE
per recorded batch, by ``tx_hash`` (indexed); only ``pending`` rows change, so recording an
outcome twice changes nothing. The exactly-once machinery is ``chain_transactions``; this is the
report of it, by order and pool.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.time import utcnow
from tronrent.models.energy_delegation import EnergyDelegation
from tronrent.models.energy_pool import EnergyPool
from tronrent.models.energy_transaction import (
    EnergyTransaction,
    EnergyTransactionStatus,
    EnergyTransactionType,
)

#: the Core table: executemany statements, not the ORM's bulk-by-primary-key paths
_TABLE: Table = EnergyTransaction.__table__  # type: ignore[assignment]
MAX_ERROR = 1000


def entry(
    kind: EnergyTransactionType,
    *,
    order_id: str,
    pool_id: uuid.UUID,
    from_address: str,
    to_address: str,
    energy: int,
    duration_hours: int,
    tx_hash: str,
    expires_at: datetime | None = None,
) -> dict[str, Any]:
    """The column values of a pending row (see `add`)."""
    return {
        "transaction_type": kind,
        "order_id": order_id,
        "pool_id": pool_id,
        "from_address": from_address,
        "to_address": to_address,
        "energy_amount": energy,
        "duration_hours": duration_hours,
        "tx_hash": tx_hash,
        "expires_at": expires_at,
        "status": EnergyTransactionStatus.PENDING,
    }


def of_delegation(
    kind: EnergyTransactionType, x: EnergyDelegation, pool: EnergyPool, tx_hash: str
) -> dict[str, Any]:
    """The pending row of a transaction about delegation ``x`` (its reclaim, a count top-up)
    sent by ``pool``."""
    return entry(
        kind,
        order_id=x.order_id,
        pool_id=pool.id,
        from_address=pool.tron_address,
        to_address=x.recipient_address,
        energy=x.energy_amount,
        duration_hours=x.duration_hours,
        tx_hash=tx_hash,
        expires_at=x.expires_at,
    )


async def add(session: AsyncSession, entries: Sequence[Mapping[str, Any]]) -> None:
    """INSERT the `entry` rows as one executemany (no ids read back)."""
    if entries:
        await session.execute(insert(_TABLE), [dict(e) for e in entries])


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a stored transaction (``tx_hash``)."""

    tx_hash: str
    status: EnergyTransactionStatus
    block_number: int | None = None
    expires_at: datetime | None = None
    error: str | None = None


_SETTLE = (
    update(_TABLE)
    .where(
        _TABLE.c.tx_hash == bindparam("b_tx"),
        _TABLE.c.status == EnergyTransactionStatus.PENDING,
    )
    .values(
        status=bindparam("b_status", type_=_TABLE.c.status.type),
        block_number=func.coalesce(
            bindparam("b_block", type_=_TABLE.c.block_number.type), _TABLE.c.block_number
        ),
        expires_at=func.coalesce(
            bindparam("b_expires", type_=_TABLE.c.expires_at.type), _TABLE.c.expires_at
        ),
        error_message=bindparam("b_error", type_=_TABLE.c.error_message.type),
        updated_at=bindparam("b_now", type_=_TABLE.c.updated_at.type),
    )
)


async def settle(session: AsyncSession, outcomes: Sequence[Outcome]) -> None:
    """Give the pending rows of these transactions their outcome: one executemany UPDATE."""
    if not outcomes:
        return
    now = utcnow()
    await session.execute(
        _SETTLE,
        [
            {
                "b_tx": o.tx_hash,
                "b_status": o.status,
                "b_block": o.block_number,
                "b_expires": o.expires_at,
                "b_error": o.error[:MAX_ERROR] if o.error else None,
                "b_now": now,
            }
            for o in sorted(outcomes, key=lambda o: o.tx_hash)
        ],
    )


async def of_order(
    session: AsyncSession,
    order_id: str,
    kind: EnergyTransactionType = EnergyTransactionType.DELEGATE,
) -> list[EnergyTransaction]:
    """An order's rows of ``kind``, oldest first."""
    rows = await session.execute(
        select(EnergyTransaction)
        .where(EnergyTransaction.order_id == order_id, EnergyTransaction.transaction_type == kind)
        .order_by(EnergyTransaction.created_at, EnergyTransaction.tx_hash)
    )
    return list(rows.scalars().all())
