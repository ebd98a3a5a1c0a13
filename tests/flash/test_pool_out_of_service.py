"""A pool an operator puts in maintenance (or disables) gets no new delegations - a new order
waits for capacity - while its active delegation is still reclaimed normally (devnet, both
databases)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from trondevnet.testing import funded_key
from tronrent.delegation.flows import delegation
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.energy_pool import PoolStatus
from tronrent.models.order import OrderStatus
from tronrent.pool.service import Actor
from tronrent.pool.service import pool as pool_service

from .conftest import TRX, FlashFactory, send_trx
from .test_reclaim_batch import deps, order_ids, pay, wait_due, without_sweeper


@pytest.mark.parametrize("status", [PoolStatus.MAINTENANCE, PoolStatus.INACTIVE])
async def test_out_of_service_pool_not_allocated_but_reclaimed(
    flash: FlashFactory, status: PoolStatus
) -> None:
    f = await flash(rental_s=1.0)
    async with without_sweeper(f):
        await pay(f, 1)
        [first] = await order_ids(f)
        async with f.session_maker() as s, s.begin():
            await pool_service.edit(
                s, f.pool.id, {"status": status}, actor=Actor("cli:test"), reason="maintenance"
            )
        late = funded_key(f.devnet.chain, 100 * TRX)
        send_trx(f.devnet, late, f.address, 3 * TRX)
        waiting = await f.wait_order(
            lambda o: o.status is OrderStatus.PAID and "waiting" in (o.status_reason or ""),
            sender=late.address_base58,
        )
        async with f.session_maker() as s:
            held = (
                (
                    await s.execute(
                        select(EnergyDelegation).where(EnergyDelegation.order_id == waiting.id)
                    )
                )
                .scalars()
                .all()
            )
        assert held == []
        await wait_due(f)
        # the engine's own reclaim job (scheduled at delegation for the rental's end) may get
        # there first on a slow machine: either way the out-of-service pool's delegation is
        # undelegated, by that pool, and the order completes
        states = await delegation.reclaim_orders(deps(f), [first])
        assert states[first] in ("broadcast", "completed")
        await f.wait_order(lambda o: o.status is OrderStatus.COMPLETED, order_id=first)
        async with f.session_maker() as s:
            mine = select(EnergyDelegation).where(EnergyDelegation.order_id == first)
            [d] = (await s.execute(mine)).scalars().all()
            assert d.status is DelegationStatus.EXPIRED
            [undelegate] = (
                (
                    await s.execute(
                        select(ChainTransaction).where(
                            ChainTransaction.order_id == first,
                            ChainTransaction.purpose == ChainTxPurpose.UNDELEGATE,
                        )
                    )
                )
                .scalars()
                .all()
            )
            assert undelegate.pool_id == f.pool.id
            assert (await pool_service.get(s, f.pool.id)).status is status
