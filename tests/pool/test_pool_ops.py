"""Pool operations on both databases: edits and status changes recorded with who and why,
removal only when nothing is delegated, reserved or in flight, the daily limit enforced in the
reserving UPDATE (also under concurrency), maintenance/disabled pools skipped by allocation
while their delegations are still reclaimed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trondevnet.testing import new_key
from tronrent.kit.crypto import SecretBox, generate_key
from tronrent.kit.errors import ValidationFailed
from tronrent.kit.time import utcnow
from tronrent.models import (
    ChainTransaction,
    DelegationStatus,
    EnergyDelegation,
    EnergyPool,
    Order,
    OrderType,
    PoolChange,
    PoolStatus,
)
from tronrent.models.chain_transaction import ChainTxPurpose, ChainTxStatus
from tronrent.models.energy_pool import PoolFlag
from tronrent.pool.service import Actor, PoolInUse, PoolNotFound
from tronrent.pool.service import pool as pool_service

BOX = SecretBox([generate_key()])
ACTOR = Actor("cli:tester")


async def new_pool(session: AsyncSession, available: int = 1_000_000, **kw: Any) -> EnergyPool:
    pool = await pool_service.add(
        session, BOX, chain=None, check=False, private_key=new_key().hex(), **kw
    )
    pool.available_energy = pool.total_energy = available
    await session.flush()
    return pool


async def changes(session: AsyncSession, pool: EnergyPool) -> list[PoolChange]:
    return list(await pool_service.changes(session, pool.id))


def order() -> Order:
    order_id = f"FLASH_1704067200000_{uuid.uuid4().hex[:9]}"
    return Order(id=order_id, order_number=order_id, order_type=OrderType.ENERGY_FLASH)


class TestEdit:
    async def test_recorded_with_actor_and_reason(self, session: AsyncSession) -> None:
        pool = await new_pool(session, name="a", priority=2)
        await pool_service.edit(
            session,
            pool.id,
            {"priority": 5, "daily_limit": 100_000, "name": "a"},
            actor=Actor("admin:ops", None),
            reason="  more traffic  ",
        )
        assert (pool.priority, pool.daily_limit) == (5, 100_000)
        [change] = await changes(session, pool)
        assert change.actor == "admin:ops" and change.reason == "more traffic"
        assert change.action.value == "edit"
        # only what changed (name was sent unchanged)
        assert change.before == {"priority": 2, "daily_limit": None}
        assert change.after == {"priority": 5, "daily_limit": 100_000}

    async def test_nothing_different_writes_no_row(self, session: AsyncSession) -> None:
        pool = await new_pool(session, priority=3)
        await pool_service.edit(session, pool.id, {"priority": 3}, actor=ACTOR, reason="x")
        assert await changes(session, pool) == []

    @pytest.mark.parametrize(
        "values,why",
        [
            ({"priority": 0}, "priority"),
            ({"cost_per_energy_sun": -1}, "costPerEnergySun"),
            ({"daily_limit": -5}, "dailyLimit"),
            ({"min_delegation_amount": 0}, "minDelegationAmount"),
            ({"min_delegation_amount": 10, "max_delegation_amount": 9}, "must not exceed"),
            ({"name": ""}, "name"),
            ({"name": "a\x00b"}, "name"),
            ({"tron_address": "T"}, "not editable"),
            ({"private_key_encrypted": "x"}, "not editable"),
        ],
    )
    async def test_bad_values_refused(
        self, session: AsyncSession, values: dict[str, Any], why: str
    ) -> None:
        pool = await new_pool(session)
        with pytest.raises(ValidationFailed) as info:
            await pool_service.edit(session, pool.id, values, actor=ACTOR, reason="r")
        assert why in info.value.message
        assert await changes(session, pool) == []

    async def test_min_above_existing_max_refused(self, session: AsyncSession) -> None:
        pool = await new_pool(session, max_delegation_amount=50_000)
        with pytest.raises(ValidationFailed, match="must not exceed"):
            await pool_service.edit(
                session, pool.id, {"min_delegation_amount": 60_000}, actor=ACTOR, reason="r"
            )

    @pytest.mark.parametrize("reason", ["", "   ", "x" * 501, "a\x00"])
    async def test_reason_required(self, session: AsyncSession, reason: str) -> None:
        pool = await new_pool(session)
        with pytest.raises(ValidationFailed):
            await pool_service.edit(session, pool.id, {"priority": 9}, actor=ACTOR, reason=reason)
        assert pool.priority == 1

    async def test_unknown_pool(self, session: AsyncSession) -> None:
        with pytest.raises(PoolNotFound):
            await pool_service.edit(session, uuid.uuid4(), {"priority": 2}, actor=ACTOR, reason="r")

    async def test_status_by_operator_clears_a_system_flag(self, session: AsyncSession) -> None:
        pool = await new_pool(session)
        pool.status, pool.flag, pool.flag_reason = PoolStatus.MAINTENANCE, PoolFlag.NO_STAKE, "x"
        await session.flush()
        await pool_service.edit(
            session, pool.id, {"status": PoolStatus.ACTIVE}, actor=ACTOR, reason="restaked"
        )
        assert pool.status is PoolStatus.ACTIVE and pool.flag is None and pool.flag_reason is None
        [change] = await changes(session, pool)
        assert change.before == {"status": "maintenance", "flag": "no_stake"}
        assert change.after == {"status": "active", "flag": None}


class TestOutOfService:
    @pytest.mark.parametrize("status", [PoolStatus.MAINTENANCE, PoolStatus.INACTIVE])
    async def test_no_new_delegations_but_reclaims_go_on(
        self, session: AsyncSession, status: PoolStatus
    ) -> None:
        pool = await new_pool(session)
        assert await pool_service.reserve(session, pool.id, 65_000)
        await pool_service.confirm(session, pool.id, 65_000)
        await pool_service.edit(session, pool.id, {"status": status}, actor=ACTOR, reason="r")
        assert str(pool.id) not in {c.pool_id for c in await pool_service.candidates(session)}
        active = await pool_service.list_pools(session, active_only=True)
        assert pool.id not in {p.id for p in active}
        assert not await pool_service.reserve(session, pool.id, 1)
        # the reclaim bookkeeping does not look at the status
        await pool_service.reclaimed(session, pool.id, 65_000)
        await session.refresh(pool)
        assert (pool.delegated_energy, pool.available_energy) == (0, 1_000_000)
        assert pool.reserved_energy == 0


class TestRemove:
    async def test_idle_pool_removed_hidden_key_erased_history_kept(
        self, session: AsyncSession
    ) -> None:
        key = new_key()
        pool = await pool_service.add(session, BOX, chain=None, check=False, private_key=key.hex())
        o = order()
        session.add(o)
        await session.flush()
        # history only: an expired and a failed delegation, a confirmed transaction
        session.add_all(
            [
                EnergyDelegation(
                    order_id=o.id,
                    pool_account_id=pool.id,
                    recipient_address="TRecipient",
                    energy_amount=1,
                    status=status,
                )
                for status in (DelegationStatus.EXPIRED, DelegationStatus.FAILED)
            ]
        )
        session.add(tx(pool, ChainTxStatus.CONFIRMED))
        await session.flush()
        await pool_service.remove(session, pool.id, actor=ACTOR, reason="decommissioned")
        assert pool.removed_at is not None and pool.private_key_encrypted == ""
        assert pool.status is PoolStatus.INACTIVE
        assert pool.id not in {p.id for p in await pool_service.list_pools(session)}
        assert await pool_service.get_by_address(session, pool.tron_address) is None
        with pytest.raises(PoolNotFound):
            await pool_service.get(session, pool.id)
        with pytest.raises(PoolNotFound):
            await pool_service.remove(session, pool.id, actor=ACTOR, reason="again")
        [change] = await changes(session, pool)
        assert change.action.value == "remove" and change.reason == "decommissioned"
        assert change.actor == "cli:tester" and change.after == {"status": "removed"}
        # the same key added again: the same row back, its history kept
        again = await pool_service.add(
            session, BOX, chain=None, check=False, private_key=key.hex(), name="back"
        )
        assert again.id == pool.id and again.removed_at is None
        assert again.status is PoolStatus.ACTIVE and BOX.decrypt(again.private_key_encrypted)
        assert len(await changes(session, again)) == 1

    @pytest.mark.parametrize(
        "holding",
        [
            "reserved",
            "delegated",
            DelegationStatus.PENDING,
            DelegationStatus.BROADCAST,
            DelegationStatus.SUCCESS,
            DelegationStatus.RECLAIMING,
            ChainTxStatus.SIGNED,
            ChainTxStatus.BROADCAST,
        ],
    )
    async def test_in_use_refused(self, session: AsyncSession, holding: object) -> None:
        pool = await new_pool(session)
        if holding == "reserved":
            assert await pool_service.reserve(session, pool.id, 10)
        elif holding == "delegated":
            await session.execute(
                update(EnergyPool).where(EnergyPool.id == pool.id).values(delegated_energy=5)
            )
        elif isinstance(holding, DelegationStatus):
            o = order()
            session.add(o)
            await session.flush()
            session.add(
                EnergyDelegation(
                    order_id=o.id,
                    pool_account_id=pool.id,
                    recipient_address="TRecipient",
                    energy_amount=1,
                    status=holding,
                )
            )
        else:
            assert isinstance(holding, ChainTxStatus)
            session.add(tx(pool, holding))
        await session.flush()
        with pytest.raises(PoolInUse) as info:
            await pool_service.remove(session, pool.id, actor=ACTOR, reason="r")
        assert info.value.code == "POOL_IN_USE"
        assert info.value.details is not None and any(info.value.details.values())
        assert await changes(session, pool) == []
        assert (await pool_service.get(session, pool.id)).removed_at is None


def tx(pool: EnergyPool, status: ChainTxStatus) -> ChainTransaction:
    return ChainTransaction(
        purpose=ChainTxPurpose.ACTIVATE,
        txid=uuid.uuid4().hex * 2,
        owner_address=pool.tron_address,
        raw_data={},
        raw_data_hex="",
        signatures=[],
        expiration_ms=0,
        status=status,
        pool_id=pool.id,
    )


class TestDailyLimit:
    async def test_reserve_stops_at_the_limit_and_a_new_day_resets(
        self, session: AsyncSession
    ) -> None:
        pool = await new_pool(session, daily_limit=100)
        assert await pool_service.reserve(session, pool.id, 60)
        assert not await pool_service.reserve(session, pool.id, 41)
        assert await pool_service.reserve(session, pool.id, 40)
        assert not await pool_service.reserve(session, pool.id, 1)
        yesterday = utcnow().date() - timedelta(days=1)
        await session.execute(
            update(EnergyPool).where(EnergyPool.id == pool.id).values(used_today_date=yesterday)
        )
        assert not await pool_service.reserve(session, pool.id, 101)  # alone above the limit
        assert await pool_service.reserve(session, pool.id, 100)
        used = (
            await session.execute(select(EnergyPool.used_today).where(EnergyPool.id == pool.id))
        ).scalar_one()
        assert used == 100

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        limit=st.one_of(st.none(), st.integers(1, 500)),
        amounts=st.lists(st.integers(1, 200), max_size=8),
    )
    async def test_matches_a_running_total(
        self, session: AsyncSession, limit: int | None, amounts: list[int]
    ) -> None:
        pool = await new_pool(session, daily_limit=limit, available=10_000)
        total = 0
        for x in amounts:
            fits = limit is None or total + x <= limit
            assert await pool_service.reserve(session, pool.id, x) is fits
            total += x if fits else 0

    async def test_concurrent_reservations_exactly_n_fit(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        """24 sessions race to reserve 10k each; the limit fits 7 (capacity fits all)."""
        async with session_maker() as s:
            pool = await new_pool(s, daily_limit=75_000)
            await s.commit()

        async def reserve() -> bool:
            async with session_maker() as s:
                ok = await pool_service.reserve(s, pool.id, 10_000)
                await s.commit()
                return ok

        wins = await asyncio.gather(*(reserve() for _ in range(24)))
        assert sum(wins) == 7
        async with session_maker() as s:
            row = await s.get(EnergyPool, pool.id)
            assert row is not None
            assert (row.reserved_energy, row.used_today) == (70_000, 70_000)
