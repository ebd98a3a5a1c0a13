"""Queries of count packages the scanner needs: which addresses to follow, and the intake of
their uses (unique on the tx hash: a replayed batch records nothing twice)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.db import insert_new_rows
from tronrent.models.auto_top_up import AutoTopUp
from tronrent.models.count_package import CountPackage, CountUse, CountUseStatus
from tronrent.models.order import Order, OrderStatus
from tronrent.models.scanner_checkpoint import ScannerCheckpoint
from tronrent.scanner.blocks import CountUseSeen


async def followed_addresses(session: AsyncSession) -> dict[str, str]:
    """Address -> order id of every active, unpaused count package and every active, unpaused
    auto top-up (two queries). An address with two active packages is followed for the older one
    (its uses count there first); a count package comes before an auto top-up (creating an
    auto top-up for a followed address is refused, buying a package for it is not)."""
    autos = await session.execute(
        select(AutoTopUp.address, AutoTopUp.order_id)
        .join(Order, Order.id == AutoTopUp.order_id)
        .where(
            Order.status == OrderStatus.ACTIVE,
            AutoTopUp.stopped_reason.is_(None),
            AutoTopUp.paused.is_(False),
        )
        .order_by(AutoTopUp.created_at.desc(), AutoTopUp.order_id.desc())
    )
    rows = await session.execute(
        select(CountPackage.address, CountPackage.order_id)
        .join(Order, Order.id == CountPackage.order_id)
        .where(Order.status == OrderStatus.ACTIVE, CountPackage.paused.is_(False))
        .order_by(CountPackage.created_at.desc(), CountPackage.order_id.desc())
    )
    return {address: order_id for address, order_id in [*autos, *rows]}


async def scanned_block(session: AsyncSession, scanner: str = "main") -> int | None:
    """The last block the scanner processed: the chain time idle periods are measured in
    (None: it never ran)."""
    row = await session.get(ScannerCheckpoint, scanner)
    return int(row.block_number) if row is not None else None


async def record_uses(
    session: AsyncSession, uses: Sequence[CountUseSeen], followed: Mapping[str, str]
) -> list[int]:
    """INSERT the uses (ON CONFLICT on the tx hash DO NOTHING); the ids of the new rows, in
    chain order."""
    rows = [
        {
            "order_id": followed[u.from_address],
            "tx_hash": u.tx_hash,
            "block_number": u.block_number,
            "to_address": u.to_address,
            "succeeded": u.succeeded,
            "energy_used": u.energy_used,
            "energy_total": u.energy_total,
            "energy_fee_sun": u.energy_fee_sun,
            "counts": 0,
            "status": CountUseStatus.SEEN,
        }
        for u in uses
        if u.from_address in followed
    ]
    new = await insert_new_rows(session, CountUse, rows, conflict=("tx_hash",), returning=("id",))
    return sorted(int(r[0]) for r in new)
