"""Staking a pool's TRX (Stake 2.0) by an operator: stake, unstake, withdraw, cancel unstakes.

Each operation is one transaction signed with the pool's (owner) key, exactly once:

1. the pool row is locked, the chain's figures read and the request checked against them (a
   clear 4xx before anything is signed); the transaction is built, signed and stored in
   ``chain_transactions`` together with the ``pool_changes`` row (who, why, the txid) - one
   commit;
2. then delivered (``delegation.chain_tx.deliver``: broadcast, or looked up first when it may
   have been broadcast already) and its result written on the stored row;
3. once confirmed, the pool is synced (its capacity follows its stake).

A partial unique index lets a pool have at most one staking transaction in flight (signed or
broadcast): a second operator (or a retry after a crash) gets ``STAKING_IN_FLIGHT`` after the
one in flight was delivered again - never a second transaction. A delegate-only pool cannot
stake: its owner key is offline (``POOL_OWNER_KEY_OFFLINE``); stake with a wallet holding it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.adapters.tron.errors import TransactionRejected
from tronrent.adapters.tron.port import Account, ChainPort, UnsignedTx
from tronrent.delegation.chain_tx import (
    Delivery,
    DeliveryResult,
    deliver,
    pool_key,
    record_delivery,
    sign_and_store,
)
from tronrent.kit.audit import Actor, require_reason
from tronrent.kit.crypto import SecretBox
from tronrent.kit.errors import Conflict, ValidationFailed
from tronrent.kit.time import utcnow
from tronrent.models.chain_transaction import (
    STAKING_PURPOSES,
    ChainTransaction,
    ChainTxPurpose,
    ChainTxStatus,
)
from tronrent.models.energy_pool import EnergyPool
from tronrent.models.pool_change import PoolAction, PoolChange
from tronrent.pool.service import pool as pool_service
from tronrent.pool.tasks import sync_one

TRX: Final = 1_000_000
#: java-tron: at most this many unstakes pending per account
MAX_PENDING_UNSTAKES: Final = 32


class StakeOp(StrEnum):
    STAKE = "stake"
    UNSTAKE = "unstake"
    WITHDRAW = "withdraw"
    CANCEL_UNSTAKE = "cancel_unstake"


PURPOSE: Final = {
    StakeOp.STAKE: ChainTxPurpose.FREEZE,
    StakeOp.UNSTAKE: ChainTxPurpose.UNFREEZE,
    StakeOp.WITHDRAW: ChainTxPurpose.WITHDRAW,
    StakeOp.CANCEL_UNSTAKE: ChainTxPurpose.CANCEL_UNFREEZE,
}
ACTION: Final = {
    StakeOp.STAKE: PoolAction.STAKE,
    StakeOp.UNSTAKE: PoolAction.UNSTAKE,
    StakeOp.WITHDRAW: PoolAction.WITHDRAW,
    StakeOp.CANCEL_UNSTAKE: PoolAction.CANCEL_UNSTAKE,
}


class OwnerKeyOffline(Conflict):
    default_code = "POOL_OWNER_KEY_OFFLINE"


class StakingInFlight(Conflict):
    default_code = "STAKING_IN_FLIGHT"


class StakingRefused(ValidationFailed):
    """The request does not fit the chain's figures (or the chain refused it)."""

    default_code = "STAKING_REFUSED"


@dataclass(frozen=True, slots=True)
class PendingUnstake:
    amount_sun: int
    expire_time_ms: int
    withdrawable: bool


@dataclass(frozen=True, slots=True)
class StakeFigures:
    """A pool account's staking figures as the chain reports them now (sun, energy units)."""

    address: str
    balance_sun: int
    staked_energy_sun: int
    """Staked for energy and not delegated (``frozenV2`` ENERGY): what can be unstaked."""
    delegated_energy_sun: int
    unstaking: tuple[PendingUnstake, ...]
    withdrawable_sun: int
    energy_limit: int
    energy_used: int
    can_delegate_sun: int
    chain_time_ms: int

    @property
    def unstakes_left(self) -> int:
        pending = sum(1 for u in self.unstaking if not u.withdrawable)
        return max(0, MAX_PENDING_UNSTAKES - pending)

    def as_dict(self) -> dict[str, Any]:
        return {
            "balanceSun": self.balance_sun,
            "stakedEnergySun": self.staked_energy_sun,
            "delegatedEnergySun": self.delegated_energy_sun,
            "unstakingSun": sum(u.amount_sun for u in self.unstaking),
            "withdrawableSun": self.withdrawable_sun,
            "energyLimit": self.energy_limit,
        }


async def figures(chain: ChainPort, address: str) -> StakeFigures:
    """The chain's staking figures of ``address`` (``StakingRefused`` when it has no account)."""
    account = await chain.get_account(address)
    if account is None:
        raise StakingRefused(f"account {address} does not exist on chain", "POOL_ACCOUNT_MISSING")
    resource = await chain.get_account_resource(address)
    can = await chain.can_delegate_max_size(address)
    now = (await chain.get_head_block()).timestamp_ms
    return _figures(account, now, resource.energy_limit, resource.energy_used, can)


def _figures(account: Account, now_ms: int, limit: int, used: int, can: int) -> StakeFigures:
    unstaking = tuple(
        PendingUnstake(u.amount_sun, u.expire_time_ms, u.expire_time_ms <= now_ms)
        for u in account.unfreezing
        if u.resource == "ENERGY"
    )
    return StakeFigures(
        address=account.address,
        balance_sun=account.balance_sun,
        staked_energy_sun=account.frozen_energy_sun,
        delegated_energy_sun=account.delegated_energy_sun,
        unstaking=unstaking,
        withdrawable_sun=account.withdrawable_sun(now_ms),
        energy_limit=limit,
        energy_used=used,
        can_delegate_sun=can,
        chain_time_ms=now_ms,
    )


def check_request(op: StakeOp, amount_sun: int | None, now: StakeFigures) -> None:
    """``StakingRefused`` when the request cannot succeed on chain (java-tron's rules)."""
    if op in (StakeOp.STAKE, StakeOp.UNSTAKE):
        if amount_sun is None or isinstance(amount_sun, bool) or amount_sun < 1:
            raise StakingRefused("amountSun must be a positive number of sun")
    elif amount_sun is not None:
        raise StakingRefused(f"{op.value} takes no amount")
    if op is StakeOp.STAKE:
        assert amount_sun is not None
        if amount_sun < TRX:
            raise StakingRefused("at least 1 TRX (1000000 sun) can be staked")
        if amount_sun > now.balance_sun:
            raise StakingRefused(
                f"the account holds {now.balance_sun} sun, less than {amount_sun}",
                details={"balanceSun": now.balance_sun},
            )
    elif op is StakeOp.UNSTAKE:
        assert amount_sun is not None
        if amount_sun > now.staked_energy_sun:
            raise StakingRefused(
                f"only {now.staked_energy_sun} sun is staked for energy and not delegated "
                "(delegated TRX cannot be unstaked: reclaim it first)",
                details={"stakedEnergySun": now.staked_energy_sun},
            )
        if now.unstakes_left < 1:
            raise StakingRefused(
                f"{MAX_PENDING_UNSTAKES} unstakes are pending (the chain's limit): withdraw or "
                "cancel first"
            )
    elif op is StakeOp.WITHDRAW:
        if now.withdrawable_sun < 1:
            raise StakingRefused("nothing to withdraw: no unstake has finished its wait")
    elif not now.unstaking:
        raise StakingRefused("no unstake is pending: nothing to cancel")


@dataclass(frozen=True, slots=True)
class StakeResult:
    op: StakeOp
    pool_id: uuid.UUID
    txid: str | None
    status: str
    """``confirmed``, ``failed``, ``expired`` or ``pending`` (broadcast, not in a block yet)."""
    error: str | None
    amount_sun: int | None
    after: StakeFigures | None = field(default=None)


def _build(
    chain: ChainPort, op: StakeOp, address: str, amount: int | None
) -> Awaitable[UnsignedTx]:
    if op is StakeOp.STAKE:
        return chain.build_freeze(address, amount or 0)
    if op is StakeOp.UNSTAKE:
        return chain.build_unfreeze(address, amount or 0)
    if op is StakeOp.WITHDRAW:
        return chain.build_withdraw_unfrozen(address)
    return chain.build_cancel_unfreeze(address)


async def _in_flight(session: AsyncSession, pool_id: uuid.UUID) -> list[ChainTransaction]:
    return list(
        (
            await session.execute(
                select(ChainTransaction)
                .where(
                    ChainTransaction.pool_id == pool_id,
                    ChainTransaction.purpose.in_(STAKING_PURPOSES),
                    ChainTransaction.status.in_((ChainTxStatus.SIGNED, ChainTxStatus.BROADCAST)),
                )
                .order_by(ChainTransaction.id)
            )
        )
        .scalars()
        .all()
    )


class Staking:
    """Runs staking operations; owns its transactions (it commits between steps, see the
    module docstring), so it takes a session maker rather than a session."""

    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        chain: ChainPort,
        box: SecretBox,
        *,
        wait_s: float = 10.0,
        poll_s: float = 0.5,
    ) -> None:
        self._sessions = session_maker
        self._chain = chain
        self._box = box
        self._wait_s = wait_s
        self._poll_s = poll_s

    async def show(self, ref: str) -> tuple[EnergyPool, StakeFigures, list[ChainTransaction]]:
        """The pool, the chain's figures and its staking transactions in flight."""
        async with self._sessions() as s:
            pool = await pool_service.find(s, ref)
            return pool, await figures(self._chain, pool.tron_address), await _in_flight(s, pool.id)

    async def run(
        self, ref: str, op: StakeOp, amount_sun: int | None, *, actor: Actor, reason: str
    ) -> StakeResult:
        """Run ``op`` on the pool ``ref`` (id or address); see the module docstring."""
        why = require_reason(reason, "staking operation")
        await self._resume(ref)
        async with self._sessions() as s:
            pool = await pool_service.find(s, ref)
            if pool.delegate_only:
                raise OwnerKeyOffline(
                    f"pool {pool.tron_address} signs with a delegate-only key; its owner key is "
                    "offline: stake and unstake with a wallet holding the owner key"
                )
            before = await figures(self._chain, pool.tron_address)
            check_request(op, amount_sun, before)
            try:
                tx = await _build(self._chain, op, pool.tron_address, amount_sun)
            except TransactionRejected as exc:
                raise StakingRefused(f"the node refused to build it: {exc.node_message}") from None
            # the unique index on a pool's staking transaction in flight fires at the flush
            # that stores it (another operator's, signed at the same moment), or at the commit
            try:
                row = await sign_and_store(
                    s,
                    self._chain,
                    tx,
                    pool_key(self._box, pool),
                    purpose=PURPOSE[op],
                    owner=pool.tron_address,
                    to=None,
                    amount_sun=amount_sun,
                    pool_id=pool.id,
                )
                s.add(
                    PoolChange(
                        pool_id=pool.id,
                        actor=actor.name[:100],
                        actor_id=actor.admin_id,
                        action=ACTION[op],
                        before=before.as_dict(),
                        after={"amountSun": amount_sun, "txid": row.txid},
                        reason=why,
                    )
                )
                await s.commit()
            except IntegrityError:
                raise StakingInFlight(
                    "another staking transaction of this pool was signed at the same time; "
                    "try again once it is delivered"
                ) from None
            pool_id, row_id = pool.id, row.id
        result = await self._deliver(row_id)
        after = await self._sync(pool_id) if result.status is Delivery.CONFIRMED else None
        return StakeResult(
            op, pool_id, row.txid, result.status.value, result.error, amount_sun, after
        )

    async def settle_in_flight(self, *, older_than_s: float = 15.0) -> list[DeliveryResult]:
        """Deliver every pool's staking transactions left in flight (a crash between storing
        and broadcasting, or a broadcast not in a block yet) and sync the pools whose one
        confirmed; run by the periodic job ``pool.settle_staking``, so none waits for the next
        staking call. Rows younger than ``older_than_s`` are left to the call delivering them
        (delivering twice would be harmless: the same signed transaction, looked up first)."""
        cutoff = utcnow() - timedelta(seconds=older_than_s)
        async with self._sessions() as s:
            rows = (
                await s.execute(
                    select(ChainTransaction.id, ChainTransaction.pool_id)
                    .where(
                        ChainTransaction.purpose.in_(STAKING_PURPOSES),
                        ChainTransaction.status.in_(
                            (ChainTxStatus.SIGNED, ChainTxStatus.BROADCAST)
                        ),
                        ChainTransaction.created_at < cutoff,
                    )
                    .order_by(ChainTransaction.id)
                )
            ).all()
        results: list[DeliveryResult] = []
        for row_id, pool_id in rows:
            result = await self._deliver(row_id)
            if result.status is Delivery.CONFIRMED and pool_id is not None:
                await self._sync(pool_id)
            results.append(result)
        return results

    async def run_settled(
        self, ref: str, op: StakeOp, amount_sun: int | None, *, actor: Actor, reason: str
    ) -> StakeResult:
        """``run``, with a transaction the chain did not take (failed, expired) raised as
        ``StakingRefused`` (``STAKING_FAILED``); a confirmed or still pending one returned."""
        result = await self.run(ref, op, amount_sun, actor=actor, reason=reason)
        if result.status in ("failed", "expired"):
            raise StakingRefused(
                f"the chain did not take it: {result.error or result.status}",
                "STAKING_FAILED",
                details={"txid": result.txid},
            )
        return result

    async def _resume(self, ref: str) -> None:
        """Deliver the pool's staking transactions still in flight; ``StakingInFlight`` when
        one is still not settled (it may land in a later block)."""
        async with self._sessions() as s:
            pool = await pool_service.find(s, ref)
            rows = [r.id for r in await _in_flight(s, pool.id)]
        for row_id in rows:
            result = await self._deliver(row_id)
            if result.status is Delivery.PENDING:
                raise StakingInFlight(
                    "a staking transaction of this pool is still being delivered; try again "
                    "in a few seconds",
                    details={"chainTransactionId": row_id},
                )
            if result.status is Delivery.CONFIRMED:
                await self._sync(pool.id)

    async def _deliver(self, row_id: int) -> DeliveryResult:
        async with self._sessions() as s:
            row = await s.get(ChainTransaction, row_id)
            assert row is not None
        result = await deliver(self._chain, row, wait_s=self._wait_s, poll_s=self._poll_s)
        async with self._sessions() as s:
            await record_delivery(s, row_id, result)
            await s.commit()
        return result

    async def _sync(self, pool_id: uuid.UUID) -> StakeFigures | None:
        """Refresh the pool's capacity from the chain; the figures after."""
        async with self._sessions() as s:
            pool = await s.get(EnergyPool, pool_id)
            if pool is None:
                return None
            # the node read with no write lock held; a delegation confirmed meanwhile is not
            # overwritten (its figures are left to the next sync)
            await sync_one(s, self._chain, pool, box=self._box)
            await s.commit()
            address = pool.tron_address
        return await figures(self._chain, address)
