"""Pool jobs: sync each pool's figures from the chain; one pool's failure never stops the others.

A pool whose account is unusable (missing, no stake, key not the owner's) is flagged (see
``pool.health``) and alerted (deduplicated, ``alerts.pool_unusable``); a node failure for one
pool is recorded on that pool (``last_sync_error``) and the sync goes on with the next.

The node is read with no write held (slow round trips), and the figures are written after. A
delegation confirmed (``pool.service.confirm``) or reclaimed in between has already moved the
pool's ``available_energy`` / ``delegated_energy``, and the chain figure read before may or may
not include it - no delta is exact. So the pool's row is read again, locked, before writing, and
when those two changed since the figures loaded before the chain read, the energy figures are
left to the next sync (``SyncOutcome.deferred``); its health check is applied all the same.
``reserve`` / ``release`` move only ``reserved_energy``, which the sync never writes: they do
not defer it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.adapters.tron.errors import ChainError
from tronrent.adapters.tron.port import Account, AccountResource, ChainPort
from tronrent.kit.crypto import SecretBox
from tronrent.kit.db import release_write_lock
from tronrent.kit.metrics import set_pool_energy
from tronrent.kit.time import utcnow
from tronrent.models.energy_pool import EnergyPool, PoolStatus
from tronrent.notification import alerts
from tronrent.pool.energy import EnergyRatio
from tronrent.pool.health import apply_check, assess, check_stored_key
from tronrent.worker import Priority, actor, get_worker_context

log = logging.getLogger("tronrent.pool")


class SyncState(StrEnum):
    """``ok``: figures read, the pool is usable; ``flagged``: read, but unusable (see
    ``EnergyPool.flag``, or ``last_sync_error`` for a pool an operator disabled); ``error``: the
    chain could not be read for this pool (figures kept, ``last_sync_error`` says why)."""

    OK = "ok"
    FLAGGED = "flagged"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    state: SyncState
    detail: str = ""
    #: a flag was set or changed by this sync / cleared by it
    flagged: bool = False
    cleared: bool = False
    #: the energy figures were not written: the pool's bookkeeping changed during the chain
    #: read (a delegation confirmed or reclaimed); the next sync writes them
    deferred: bool = False


@dataclass(frozen=True, slots=True)
class ChainFigures:
    """What one pool sync reads from the chain (``error``: the node failed)."""

    account: Account | None = None
    resource: AccountResource | None = None
    can_delegate_sun: int = 0
    error: str | None = None


async def read_pool_figures(chain: ChainPort, address: str) -> ChainFigures:
    """The account, its resources and getcandelegatedmaxsize; never raises for a chain
    failure (it comes back as ``error``). Call it with no write transaction open (SQLite: see
    ``kit.db.release_write_lock``)."""
    try:
        account = await chain.get_account(address)
        if account is None:
            return ChainFigures()
        resource = await chain.get_account_resource(address)
        can_sun = await chain.can_delegate_max_size(address)
    except ChainError as exc:
        log.warning("pool.sync_failed address=%s error=%s", address, exc.message)
        return ChainFigures(error=exc.message)
    return ChainFigures(account, resource, can_sun)


async def sync_pool(
    chain: ChainPort, pool: EnergyPool, *, box: SecretBox | None = None
) -> SyncOutcome:
    """Energy limit, used, delegated and getcandelegatedmaxsize from the chain, and the flag
    (with ``box``, the stored key is checked too).

    Never raises for a chain failure: it is recorded on the pool and returned. It writes the
    figures it read whatever happened meanwhile: for a pool no delegation can use yet (just
    added); otherwise `sync_one`.
    """
    return apply_figures(pool, await read_pool_figures(chain, pool.tron_address), box=box)


#: what a delegation's confirm / reclaim changes on a pool, and the sync overwrites
Bookkeeping = tuple[int, int]


def bookkeeping(pool: EnergyPool) -> Bookkeeping:
    """The pool's ``(available_energy, delegated_energy)`` as loaded: taken before the chain
    read, compared after `lock_current` (see the module docstring)."""
    return (pool.available_energy, pool.delegated_energy)


async def lock_current(session: AsyncSession, pool: EnergyPool) -> None:
    """Re-read ``pool``'s row into it, locked until the commit (``FOR UPDATE`` on PostgreSQL;
    on SQLite the statement begins the transaction that holds the write lock): no confirm or
    reclaim can commit between this read and the sync's write."""
    await session.execute(
        select(EnergyPool)
        .where(EnergyPool.id == pool.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def sync_one(
    session: AsyncSession, chain: ChainPort, pool: EnergyPool, *, box: SecretBox | None = None
) -> SyncOutcome:
    """`sync_pool` for ``pool`` loaded in ``session``: the node read with no write lock held,
    then the row locked and re-read; figures the pool's bookkeeping moved past in between are
    left to the next sync. The caller commits."""
    before = bookkeeping(pool)
    await release_write_lock(session)  # not held while the node answers
    figures = await read_pool_figures(chain, pool.tron_address)
    await lock_current(session, pool)
    return apply_figures(pool, figures, box=box, current=bookkeeping(pool) == before)


def apply_figures(
    pool: EnergyPool, figures: ChainFigures, *, box: SecretBox | None = None, current: bool = True
) -> SyncOutcome:
    """Write what `read_pool_figures` read onto the pool, and its flag. ``current=False``: the
    pool's bookkeeping changed since the read (see the module docstring), only the flag and
    the error are written."""
    address = pool.tron_address
    if figures.error is not None:
        pool.last_sync_error = figures.error[:500]
        return SyncOutcome(SyncState.ERROR, figures.error)
    account, resource = figures.account, figures.resource
    now = utcnow()
    if not current:
        log.info("pool.sync_deferred address=%s", address)
    elif account is None or resource is None:
        pool.chain_energy_limit = pool.chain_energy_used = 0
        pool.chain_delegated_energy_sun = pool.can_delegate_max_sun = 0
        pool.trx_balance_sun = pool.available_energy = pool.delegated_energy = 0
        pool.total_energy = 0
    else:
        can_sun = figures.can_delegate_sun
        ratio = EnergyRatio(resource.total_energy_limit, resource.total_energy_weight)
        available = ratio.energy_for_stake_sun(can_sun)
        pool.chain_energy_limit = resource.energy_limit
        pool.chain_energy_used = resource.energy_used
        pool.chain_delegated_energy_sun = account.delegated_energy_sun
        pool.can_delegate_max_sun = can_sun
        pool.trx_balance_sun = account.balance_sun
        pool.available_energy = available
        pool.delegated_energy = ratio.energy_for_stake_sun(account.delegated_energy_sun)
        pool.total_energy = available + pool.delegated_energy
    if current:
        pool.last_synced_at = now
    pool.last_sync_error = None
    check = assess(address, account, signer=pool.signer_address, permission_id=pool.permission_id)
    if check.usable and box is not None:
        check = check_stored_key(box, pool)
    change = apply_check(pool, check, now)
    if change.flagged:
        log.warning("pool.flagged address=%s flag=%s", address, check.flag)
    elif change.cleared:
        log.info("pool.flag_cleared address=%s", address)
    deferred = not current
    if check.usable:
        detail = "energy figures left to the next sync (a delegation moved)" if deferred else ""
        return SyncOutcome(SyncState.OK, detail, cleared=change.cleared, deferred=deferred)
    return SyncOutcome(
        SyncState.FLAGGED, check.reason or "", flagged=change.flagged, deferred=deferred
    )


async def apply_and_alert(
    session: AsyncSession,
    pool: EnergyPool,
    figures: ChainFigures,
    *,
    box: SecretBox | None,
    current: bool = True,
) -> SyncOutcome:
    """:func:`apply_figures`, then the operator alerts: pool unusable (deduplicated) or pool
    low."""
    outcome = apply_figures(pool, figures, box=box, current=current)
    if pool.flag is not None:
        await alerts.pool_unusable(
            session,
            pool_id=pool.id,
            pool_name=pool.name,
            pool_address=pool.tron_address,
            flag=pool.flag.value,
            detail=pool.flag_reason or "",
        )
    elif outcome.state is SyncState.OK and pool.status is PoolStatus.ACTIVE:
        await alerts.pool_low(
            session,
            pool_id=pool.id,
            pool_name=pool.name,
            pool_address=pool.tron_address,
            available_energy=pool.available_energy,
        )
    return outcome


async def sync_all(
    session: AsyncSession, chain: ChainPort, *, box: SecretBox | None = None
) -> list[tuple[EnergyPool, SyncOutcome]]:
    """Sync every pool (not removed ones), each on its own: an unexpected failure of one is
    recorded and skipped. The node is read for all of them first, with no write lock held;
    then each row is locked and re-read before its figures are written (one query a pool), and
    a pool whose bookkeeping moved during the read keeps it (see the module docstring)."""
    pools = (
        (
            await session.execute(
                select(EnergyPool)
                .where(EnergyPool.removed_at.is_(None))
                .order_by(EnergyPool.created_at)
            )
        )
        .scalars()
        .all()
    )
    # the node is read with no transaction open: on SQLite one would hold every other
    # writer back for as long as the node takes (its whole timeout when it is down)
    before = [bookkeeping(pool) for pool in pools]
    await release_write_lock(session)
    read = [await read_pool_figures(chain, pool.tron_address) for pool in pools]
    results: list[tuple[EnergyPool, SyncOutcome]] = []
    for pool, figures, was in zip(pools, read, before, strict=True):
        try:
            await lock_current(session, pool)
            current = bookkeeping(pool) == was
            outcome = await apply_and_alert(session, pool, figures, box=box, current=current)
        except Exception as exc:  # a bug for one pool must not stop the others
            log.exception("pool.sync_crashed address=%s", pool.tron_address)
            detail = f"sync failed: {type(exc).__name__}"
            pool.last_sync_error = detail
            outcome = SyncOutcome(SyncState.ERROR, detail)
        results.append((pool, outcome))
    set_pool_energy(
        (pool.tron_address, pool.available_energy, pool.delegated_energy)
        for pool in pools
        if pool.last_synced_at is not None
    )
    return results


@actor("pool.sync_pools", priority=Priority.LOW, max_retries=2, period_s=30.0)
async def sync_pools() -> None:
    ctx = get_worker_context()
    chain = ctx.get(ChainPort)  # type: ignore[type-abstract]
    async with ctx.session_maker() as s:
        await sync_all(s, chain, box=ctx.maybe(SecretBox))
        await s.commit()


@actor("pool.settle_staking", priority=Priority.LOW, max_retries=2, period_s=30.0)
async def settle_staking() -> None:
    """Deliver staking transactions left in flight (``Staking.settle_in_flight``): after a
    crash between storing and broadcasting, or a broadcast that missed its block, the stake
    lands without waiting for the operator's next staking call."""
    from tronrent.pool.staking import Staking  # it imports this module

    ctx = get_worker_context()
    box = ctx.maybe(SecretBox)
    if box is None:
        return
    staking = Staking(ctx.session_maker, ctx.get(ChainPort), box, wait_s=5.0)  # type: ignore[type-abstract]
    for result in await staking.settle_in_flight():
        log.info("pool.staking_settled status=%s", result.status.value)
