"""Pool jobs: sync each pool's figures from the chain."""

from __future__ import annotations

import logging

from sqlalchemy import select

from tronrent.adapters.tron.errors import ChainUnavailable
from tronrent.adapters.tron.port import ChainPort
from tronrent.kit.time import utcnow
from tronrent.models.energy_pool import EnergyPool, PoolStatus
from tronrent.notification import alerts
from tronrent.pool.energy import EnergyRatio
from tronrent.worker import Priority, actor, get_worker_context

log = logging.getLogger("tronrent.pool")


async def sync_pool(chain: ChainPort, pool: EnergyPool) -> None:
    """Energy limit, used, delegated and getcandelegatedmaxsize from the chain."""
    try:
        account = await chain.get_account(pool.tron_address)
        resource = await chain.get_account_resource(pool.tron_address)
        can_sun = await chain.can_delegate_max_size(pool.tron_address)
    except ChainUnavailable as exc:
        pool.last_sync_error = exc.message[:500]
        return
    ratio = EnergyRatio(resource.total_energy_limit, resource.total_energy_weight)
    available = ratio.energy_for_stake_sun(can_sun)
    pool.chain_energy_limit = resource.energy_limit
    pool.chain_energy_used = resource.energy_used
    pool.chain_delegated_energy_sun = account.delegated_energy_sun if account else 0
    pool.can_delegate_max_sun = can_sun
    pool.trx_balance_sun = account.balance_sun if account else 0
    pool.available_energy = available
    pool.delegated_energy = ratio.energy_for_stake_sun(pool.chain_delegated_energy_sun)
    pool.total_energy = available + pool.delegated_energy
    pool.last_synced_at = utcnow()
    pool.last_sync_error = None


@actor("pool.sync_pools", priority=Priority.LOW, max_retries=2, period_s=30.0)
async def sync_pools() -> None:
    ctx = get_worker_context()
    chain = ctx.get(ChainPort)  # type: ignore[type-abstract]
    async with ctx.session_maker() as s:
        for pool in (await s.execute(select(EnergyPool))).scalars():
            await sync_pool(chain, pool)
            if pool.status is PoolStatus.ACTIVE and pool.last_sync_error is None:
                await alerts.pool_low(
                    s,
                    pool_id=pool.id,
                    pool_name=pool.name,
                    pool_address=pool.tron_address,
                    available_energy=pool.available_energy,
                )
        await s.commit()
