"""Staking a pool (Stake 2.0) on the devnet with real tronpy, both databases: stake, unstake,
withdraw and cancel with the chain's figures; every transaction stored before broadcast and
delivered exactly once (at most one in flight per pool, resumed after a crash); refused with a
clear error before anything is signed when the chain's figures do not allow it; recorded with
who and why; the pool's capacity synced after."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key, submit
from tronproto.keys import PrivateKey
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.kit.audit import Actor
from tronrent.kit.crypto import SecretBox, generate_key
from tronrent.kit.errors import ValidationFailed
from tronrent.models import ChainTransaction, EnergyPool, PoolChange
from tronrent.models.chain_transaction import ChainTxPurpose, ChainTxStatus
from tronrent.pool.service import pool as pool_service
from tronrent.pool.staking import (
    OwnerKeyOffline,
    StakeOp,
    Staking,
    StakingInFlight,
    StakingRefused,
    check_request,
    figures,
)
from tronrent.pool.tasks import sync_pool

TRX = 1_000_000
BLOCK_MS = 100
ACTOR = Actor("cli:tester")


@pytest.fixture
async def devnet() -> AsyncIterator[DevnetServer]:
    async with DevnetServer(port=0, block_interval_ms=BLOCK_MS) as server:
        yield server


@pytest.fixture
async def gateway(devnet: DevnetServer) -> AsyncIterator[TronGateway]:
    async with TronGateway([devnet.url], timeout_s=5, backoff_base_s=0.02) as gw:
        yield gw


@pytest.fixture
def box() -> SecretBox:
    return SecretBox([generate_key()])


async def add_pool(
    session_maker: async_sessionmaker[AsyncSession],
    devnet: DevnetServer,
    gateway: TronGateway,
    box: SecretBox,
    *,
    stake_trx: int = 1_000,
    balance_trx: int = 500,
) -> tuple[PrivateKey, EnergyPool]:
    key = funded_key(devnet.chain, (stake_trx + balance_trx) * TRX)
    submit(
        devnet.chain,
        key,
        "FreezeBalanceV2Contract",
        {"frozen_balance": stake_trx * TRX, "resource": "ENERGY"},
    )
    devnet.node.produce()
    async with session_maker() as s:
        pool = await pool_service.add(s, box, chain=gateway, private_key=key.hex())
        await sync_pool(gateway, pool)
        await s.commit()
    return key, pool


def staking(
    session_maker: async_sessionmaker[AsyncSession],
    gateway: TronGateway,
    box: SecretBox,
    wait_s: float = 5.0,
) -> Staking:
    return Staking(session_maker, gateway, box, wait_s=wait_s, poll_s=0.05)


async def rows(
    session_maker: async_sessionmaker[AsyncSession], pool: EnergyPool
) -> list[ChainTransaction]:
    async with session_maker() as s:
        return list(
            (
                await s.execute(
                    select(ChainTransaction)
                    .where(ChainTransaction.pool_id == pool.id)
                    .order_by(ChainTransaction.id)
                )
            )
            .scalars()
            .all()
        )


async def pool_changes(
    session_maker: async_sessionmaker[AsyncSession], pool: EnergyPool
) -> list[PoolChange]:
    async with session_maker() as s:
        return list(await pool_service.changes(s, pool.id))


class TestStakeAndUnstake:
    async def test_stake_unstake_cancel_with_the_chain_figures(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        devnet: DevnetServer,
        gateway: TronGateway,
        box: SecretBox,
    ) -> None:
        _, pool = await add_pool(session_maker, devnet, gateway, box)
        st = staking(session_maker, gateway, box)
        energy_before = pool.available_energy

        staked = await st.run(
            pool.tron_address, StakeOp.STAKE, 200 * TRX, actor=ACTOR, reason="grow"
        )
        assert staked.status == "confirmed" and staked.after is not None
        assert staked.after.staked_energy_sun == 1_200 * TRX
        assert staked.after.balance_sun == 300 * TRX  # 500 - 200; bandwidth was free
        async with session_maker() as s:
            synced = await s.get(EnergyPool, pool.id)
            assert synced is not None and synced.available_energy > energy_before

        out = await st.run(str(pool.id), StakeOp.UNSTAKE, 50 * TRX, actor=ACTOR, reason="less")
        assert out.status == "confirmed" and out.after is not None
        [pending] = out.after.unstaking
        delay = devnet.chain.config.unfreeze_delay_ms
        assert pending.amount_sun == 50 * TRX and not pending.withdrawable
        assert pending.expire_time_ms > out.after.chain_time_ms
        assert pending.expire_time_ms <= out.after.chain_time_ms + delay
        assert out.after.staked_energy_sun == 1_150 * TRX
        assert out.after.withdrawable_sun == 0 and out.after.unstakes_left == 31

        with pytest.raises(StakingRefused, match="nothing to withdraw"):
            await st.run(pool.tron_address, StakeOp.WITHDRAW, None, actor=ACTOR, reason="x")

        cancelled = await st.run(
            pool.tron_address, StakeOp.CANCEL_UNSTAKE, None, actor=ACTOR, reason="changed mind"
        )
        assert cancelled.status == "confirmed" and cancelled.after is not None
        assert cancelled.after.staked_energy_sun == 1_200 * TRX
        assert cancelled.after.unstaking == ()

        stored = await rows(session_maker, pool)
        assert [(r.purpose, r.status) for r in stored] == [
            (ChainTxPurpose.FREEZE, ChainTxStatus.CONFIRMED),
            (ChainTxPurpose.UNFREEZE, ChainTxStatus.CONFIRMED),
            (ChainTxPurpose.CANCEL_UNFREEZE, ChainTxStatus.CONFIRMED),
        ]
        # each once on chain
        for r in stored:
            assert bytes.fromhex(r.txid) in devnet.chain.txs
        history = await pool_changes(session_maker, pool)
        assert [(c.action.value, c.reason, c.actor) for c in reversed(history)] == [
            ("stake", "grow", "cli:tester"),
            ("unstake", "less", "cli:tester"),
            ("cancel_unstake", "changed mind", "cli:tester"),
        ]
        assert history[-1].after == {"amountSun": 200 * TRX, "txid": stored[0].txid}
        assert history[-1].before["stakedEnergySun"] == 1_000 * TRX

    async def test_withdraw_once_the_wait_has_passed(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        gateway: TronGateway,
        devnet: DevnetServer,
        box: SecretBox,
    ) -> None:
        devnet.chain.config.unfreeze_delay_days = 0  # withdrawable at once
        _, pool = await add_pool(session_maker, devnet, gateway, box)
        st = staking(session_maker, gateway, box)
        await st.run(pool.tron_address, StakeOp.UNSTAKE, 10 * TRX, actor=ACTOR, reason="out")
        devnet.node.produce()
        figs = await figures(gateway, pool.tron_address)
        assert figs.withdrawable_sun == 10 * TRX
        done = await st.run(pool.tron_address, StakeOp.WITHDRAW, None, actor=ACTOR, reason="cash")
        assert done.status == "confirmed" and done.after is not None
        fee = devnet.chain.txs[bytes.fromhex(done.txid or "")].fee  # bandwidth burnt, if any
        assert done.after.balance_sun == figs.balance_sun + 10 * TRX - fee
        assert done.after.unstaking == () and done.after.withdrawable_sun == 0


class TestRefusedBeforeSigning:
    async def test_clear_errors_and_nothing_signed(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        devnet: DevnetServer,
        gateway: TronGateway,
        box: SecretBox,
    ) -> None:
        _, pool = await add_pool(session_maker, devnet, gateway, box)
        st = staking(session_maker, gateway, box)
        cases: list[tuple[StakeOp, int | None, str, str]] = [
            (StakeOp.STAKE, 501 * TRX, "reason", "less than"),
            (StakeOp.STAKE, TRX - 1, "reason", "at least 1 TRX"),
            (StakeOp.UNSTAKE, 1_001 * TRX, "reason", "delegated TRX cannot be unstaked"),
            (StakeOp.UNSTAKE, 0, "reason", "positive"),
            (StakeOp.CANCEL_UNSTAKE, None, "reason", "nothing to cancel"),
            (StakeOp.WITHDRAW, 5, "reason", "takes no amount"),
            (StakeOp.STAKE, 5 * TRX, "  ", "reason is required"),
        ]
        for op, amount, reason, message in cases:
            with pytest.raises(ValidationFailed, match=message):
                await st.run(pool.tron_address, op, amount, actor=ACTOR, reason=reason)
        assert await rows(session_maker, pool) == []
        assert await pool_changes(session_maker, pool) == []

    def test_unstake_limit_is_32_pending(self) -> None:
        from tronrent.pool.staking import PendingUnstake, StakeFigures

        figs = StakeFigures(
            "T",
            0,
            100 * TRX,
            0,
            tuple(PendingUnstake(1, 10**15, False) for _ in range(32)),
            0,
            0,
            0,
            0,
            0,
        )
        with pytest.raises(StakingRefused, match="32 unstakes are pending"):
            check_request(StakeOp.UNSTAKE, TRX, figs)


class TestExactlyOnce:
    async def test_in_flight_is_resumed_never_doubled(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        devnet: DevnetServer,
        gateway: TronGateway,
        box: SecretBox,
    ) -> None:
        _, pool = await add_pool(session_maker, devnet, gateway, box)
        devnet.node.paused = True  # no blocks: the broadcast stays out of any block
        st = staking(session_maker, gateway, box, wait_s=0.3)
        first = await st.run(pool.tron_address, StakeOp.STAKE, 7 * TRX, actor=ACTOR, reason="a")
        assert first.status == "pending"
        # a retry (or another operator) while it is unsettled: delivered again, not doubled
        with pytest.raises(StakingInFlight):
            await st.run(pool.tron_address, StakeOp.STAKE, 7 * TRX, actor=ACTOR, reason="a")
        devnet.node.paused = False
        second = await st.run(pool.tron_address, StakeOp.STAKE, 3 * TRX, actor=ACTOR, reason="b")
        assert second.status == "confirmed" and second.after is not None
        assert second.after.staked_energy_sun == 1_010 * TRX  # 7 once, then 3
        stored = await rows(session_maker, pool)
        assert [r.status for r in stored] == [ChainTxStatus.CONFIRMED] * 2
        assert [r.amount_sun for r in stored] == [7 * TRX, 3 * TRX]

    async def test_two_operators_at_once_one_is_told_in_flight(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        devnet: DevnetServer,
        gateway: TronGateway,
        box: SecretBox,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The second operator's call looked for a transaction in flight before the first
        stored its own: the database's unique index refuses the second at the flush that
        stores it - a 409 ``STAKING_IN_FLIGHT``, not a database error (500)."""
        _, pool = await add_pool(session_maker, devnet, gateway, box)
        devnet.node.paused = True
        first = staking(session_maker, gateway, box, wait_s=0.3)
        done = await first.run(pool.tron_address, StakeOp.STAKE, 7 * TRX, actor=ACTOR, reason="a")
        assert done.status == "pending"
        second = staking(session_maker, gateway, box, wait_s=0.3)

        async def looked_before(ref: str) -> None:  # its look came before the first stored
            return None

        monkeypatch.setattr(second, "_resume", looked_before)
        with pytest.raises(StakingInFlight):
            await second.run(pool.tron_address, StakeOp.STAKE, 5 * TRX, actor=ACTOR, reason="b")
        assert [r.amount_sun for r in await rows(session_maker, pool)] == [7 * TRX]
        devnet.node.paused = False

    async def test_left_in_flight_is_settled_by_the_periodic_job(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        devnet: DevnetServer,
        gateway: TronGateway,
        box: SecretBox,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A crash after the commit, before the broadcast (SIGNED), and a broadcast that
        missed its block (BROADCAST): the next settle delivers both, once, with no operator
        call, and syncs the pools."""
        _, crashed = await add_pool(session_maker, devnet, gateway, box)
        _, unseen = await add_pool(session_maker, devnet, gateway, box)

        async def crash(row_id: int) -> None:
            raise RuntimeError("killed between storing and broadcasting")

        st = staking(session_maker, gateway, box, wait_s=0.3)
        monkeypatch.setattr(st, "_deliver", crash)
        with pytest.raises(RuntimeError):
            await st.run(crashed.tron_address, StakeOp.STAKE, 5 * TRX, actor=ACTOR, reason="a")
        devnet.node.paused = True
        later = staking(session_maker, gateway, box, wait_s=0.3)
        pending = await later.run(
            unseen.tron_address, StakeOp.STAKE, 9 * TRX, actor=ACTOR, reason="b"
        )
        assert pending.status == "pending"
        assert [r.status for r in await rows(session_maker, crashed)] == [ChainTxStatus.SIGNED]
        assert [r.status for r in await rows(session_maker, unseen)] == [ChainTxStatus.BROADCAST]
        # young rows are left to the call delivering them
        assert await later.settle_in_flight(older_than_s=60) == []
        devnet.node.paused = False
        settled = await staking(session_maker, gateway, box).settle_in_flight(older_than_s=0)
        assert [r.status.value for r in settled] == ["confirmed", "confirmed"]
        assert await staking(session_maker, gateway, box).settle_in_flight(older_than_s=0) == []
        for pool, amount in ((crashed, 5), (unseen, 9)):
            (row,) = await rows(session_maker, pool)
            assert row.status is ChainTxStatus.CONFIRMED and row.amount_sun == amount * TRX
            staked = await figures(gateway, pool.tron_address)
            assert staked.staked_energy_sun == (1_000 + amount) * TRX
            async with session_maker() as s:
                synced = await s.get(EnergyPool, pool.id)
                assert synced is not None and synced.last_synced_at is not None

    async def test_one_staking_transaction_in_flight_per_pool(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        box = SecretBox([generate_key()])
        async with session_maker() as s:
            pool = await pool_service.add(
                s, box, chain=None, check=False, private_key=PrivateKey.random().hex()
            )
            await s.commit()
            base = {
                "owner_address": pool.tron_address,
                "raw_data": {},
                "raw_data_hex": "",
                "signatures": [],
                "expiration_ms": 1,
                "status": ChainTxStatus.SIGNED,
                "pool_id": pool.id,
            }
            await s.execute(
                insert(ChainTransaction),
                [{**base, "purpose": ChainTxPurpose.FREEZE, "txid": "a" * 64}],
            )
            await s.commit()
            with pytest.raises(IntegrityError):
                await s.execute(
                    insert(ChainTransaction),
                    [{**base, "purpose": ChainTxPurpose.UNFREEZE, "txid": "b" * 64}],
                )
            await s.rollback()
            # a settled one does not count
            await s.execute(
                insert(ChainTransaction),
                [
                    {
                        **base,
                        "purpose": ChainTxPurpose.WITHDRAW,
                        "txid": "c" * 64,
                        "status": ChainTxStatus.CONFIRMED,
                    }
                ],
            )
            await s.commit()
            count = await s.scalar(select(func.count()).select_from(ChainTransaction))
            assert count == 2


class TestDelegateOnlyPoolCannotStake:
    async def test_owner_key_offline(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        box: SecretBox,
        gateway: TronGateway,
    ) -> None:
        async with session_maker() as s:
            pool = await pool_service.add(
                s,
                box,
                chain=None,
                check=False,
                private_key=PrivateKey.random().hex(),
                owner_address=PrivateKey.random().address_base58,
                permission_id=3,
            )
            await s.commit()
        with pytest.raises(OwnerKeyOffline):
            await staking(session_maker, gateway, box).run(
                str(pool.id), StakeOp.STAKE, TRX, actor=ACTOR, reason="r"
            )
