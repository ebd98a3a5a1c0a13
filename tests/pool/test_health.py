"""One bad pool never stops the others (devnet, both databases): the sync flags a pool whose
account is missing, unstaked or not owned by its key, alerts once, goes on with the others and
clears its own flag when the account becomes usable; adding such a pool is refused (or, with
force, stored disabled)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flash.conftest import TRX, FlashFactory, active, add_pool, send_trx, stake
from subprocesses import free_port
from trondevnet.server import DevnetServer
from trondevnet.state import Permission
from trondevnet.testing import funded_key, new_key
from tronproto.keys import SECP256K1_ORDER, PrivateKey
from tronrent.adapters.tron.errors import ChainUnavailable
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.kit.crypto import SecretBox, generate_key
from tronrent.models.energy_delegation import EnergyDelegation
from tronrent.models.energy_pool import EnergyPool, PoolFlag, PoolStatus
from tronrent.models.job_failure import JobFailure
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.notification.events import NotificationEvent
from tronrent.notification.messages import render
from tronrent.pool.service import InvalidPrivateKey, PoolUnusable
from tronrent.pool.service import pool as pool_service
from tronrent.pool.tasks import SyncState, sync_all, sync_pools

Maker = async_sessionmaker[AsyncSession]


async def force_add(
    maker: Maker, gateway: TronGateway, box: SecretBox, key: PrivateKey
) -> EnergyPool:
    async with maker() as s:
        pool = await pool_service.add(
            s, box, chain=gateway, force=True, private_key=key.hex(), name="bad"
        )
        await s.commit()
    return pool


async def reload(maker: Maker, pool_id: uuid.UUID) -> EnergyPool:
    async with maker() as s:
        pool = await s.get(EnergyPool, pool_id)
        assert pool is not None
        return pool


async def unusable_alerts(maker: Maker, address: str) -> list[NotificationOutbox]:
    async with maker() as s:
        rows = (
            await s.execute(
                select(NotificationOutbox).where(
                    NotificationOutbox.event_type == NotificationEvent.POOL_UNUSABLE.value
                )
            )
        ).scalars()
        return [r for r in rows if r.payload.get("pool_address") == address]


async def sync(maker: Maker, gateway: TronGateway) -> dict[str, SyncState]:
    async with maker() as s:
        results = await sync_all(s, gateway)
        await s.commit()
    return {p.tron_address: o.state for p, o in results}


def fund_and_stake(devnet: DevnetServer, key: PrivateKey, trx: int = 100_000) -> None:
    devnet.chain.faucet(key.address, trx_sun=(trx + 100) * TRX)
    stake(devnet, key, trx)
    devnet.node.produce()


class TestSyncPools:
    async def test_a_missing_account_is_flagged_and_the_healthy_pool_still_delivers(
        self, flash: FlashFactory
    ) -> None:
        f = await flash()
        bad_key = new_key()
        bad = await force_add(f.session_maker, f.gateway, f.box, bad_key)
        assert bad.status is PoolStatus.MAINTENANCE and bad.flag is PoolFlag.ACCOUNT_MISSING

        await sync_pools()  # the job itself: finishes although one pool is unusable
        await sync_pools()

        bad = await reload(f.session_maker, bad.id)
        good = await reload(f.session_maker, f.pool.id)
        assert bad.status is PoolStatus.MAINTENANCE and bad.flag is PoolFlag.ACCOUNT_MISSING
        assert "does not exist on chain" in (bad.flag_reason or "")
        assert good.status is PoolStatus.ACTIVE and good.flag is None
        assert good.last_sync_error is None and good.available_energy > 0
        [alert] = await unusable_alerts(f.session_maker, bad.tron_address)
        assert alert.chat_id is None and alert.payload["reason"] == "account_missing"
        text = render(alert.event_type, alert.payload, "en")
        assert "does not exist on chain" in text and bad.tron_address in text
        assert "不存在" in render(alert.event_type, alert.payload, "zh")

        customer = funded_key(f.devnet.chain, 100 * TRX)
        send_trx(f.devnet, customer, f.address, 3 * TRX)
        order = await f.wait_order(active, sender=customer.address_base58)
        async with f.session_maker() as s:
            [delegation] = (
                await s.execute(
                    select(EnergyDelegation).where(EnergyDelegation.order_id == order.id)
                )
            ).scalars()
            failures = (
                await s.execute(select(JobFailure).where(JobFailure.job_name == "pool.sync_pools"))
            ).all()
        assert delegation.pool_account_id == f.pool.id
        assert failures == []

        fund_and_stake(f.devnet, bad_key)
        await sync_pools()
        healed = await reload(f.session_maker, bad.id)
        assert healed.status is PoolStatus.ACTIVE
        assert (healed.flag, healed.flag_reason, healed.flagged_at) == (None, None, None)
        assert healed.available_energy > 0
        assert len(await unusable_alerts(f.session_maker, bad.tron_address)) == 1

    async def test_no_stake_flagged_then_cleared(
        self, session_maker: Maker, devnet: DevnetServer, gateway: TronGateway, box: SecretBox
    ) -> None:
        _, good = await add_pool(session_maker, devnet, gateway, box)
        key = funded_key(devnet.chain, 1_000 * TRX)
        async with session_maker() as s:
            pool = await pool_service.add(s, box, chain=None, check=False, private_key=key.hex())
            await s.commit()
        assert await sync(session_maker, gateway) == {
            good.tron_address: SyncState.OK,
            pool.tron_address: SyncState.FLAGGED,
        }
        flagged = await reload(session_maker, pool.id)
        assert flagged.flag is PoolFlag.NO_STAKE and flagged.status is PoolStatus.MAINTENANCE
        assert flagged.trx_balance_sun == 1_000 * TRX
        assert len(await unusable_alerts(session_maker, pool.tron_address)) == 1
        async with session_maker() as s:
            assert [p.tron_address for p in await pool_service.list_pools(s, active_only=True)] == [
                good.tron_address
            ]
            assert [c.pool_id for c in await pool_service.candidates(s)] == [str(good.id)]
            assert not await pool_service.reserve(s, pool.id, 1)

        stake(devnet, key, 500)
        devnet.node.produce()
        assert (await sync(session_maker, gateway))[pool.tron_address] is SyncState.OK
        healed = await reload(session_maker, pool.id)
        assert healed.status is PoolStatus.ACTIVE and healed.flag is None

    async def test_key_no_longer_owning_the_account_is_flagged(
        self, session_maker: Maker, devnet: DevnetServer, gateway: TronGateway, box: SecretBox
    ) -> None:
        key, pool = await add_pool(session_maker, devnet, gateway, box)
        other = new_key()
        devnet.chain.set_permission(key.address, Permission(1, [(other.address, 1)]), None)
        assert await sync(session_maker, gateway) == {pool.tron_address: SyncState.FLAGGED}
        flagged = await reload(session_maker, pool.id)
        assert flagged.flag is PoolFlag.KEY_MISMATCH
        assert "owner permission" in (flagged.flag_reason or "")

    async def test_a_stored_key_that_is_not_the_pools_is_flagged(
        self, session_maker: Maker, devnet: DevnetServer, gateway: TronGateway, box: SecretBox
    ) -> None:
        _, undecryptable = await add_pool(session_maker, devnet, gateway, box, name="a")
        _, swapped = await add_pool(session_maker, devnet, gateway, box, name="b")
        await add_pool(session_maker, devnet, gateway, box, name="c")
        async with session_maker() as s:
            row = await s.get(EnergyPool, undecryptable.id)
            assert row is not None
            row.private_key_encrypted = SecretBox([generate_key()]).encrypt(new_key().hex())
            row = await s.get(EnergyPool, swapped.id)
            assert row is not None
            row.private_key_encrypted = box.encrypt(new_key().hex())
            await s.commit()
        async with session_maker() as s:
            results = {p.name: o for p, o in await sync_all(s, gateway, box=box)}
            await s.commit()
        assert results["c"].state is SyncState.OK
        assert results["a"].state is SyncState.FLAGGED and "SECRET_KEYS" in results["a"].detail
        assert "another address" in results["b"].detail
        for pool_id in (undecryptable.id, swapped.id):
            assert (await reload(session_maker, pool_id)).flag is PoolFlag.KEY_MISMATCH

    async def test_an_operator_disabled_pool_is_never_reactivated(
        self, session_maker: Maker, devnet: DevnetServer, gateway: TronGateway, box: SecretBox
    ) -> None:
        _, healthy = await add_pool(session_maker, devnet, gateway, box, name="off")
        async with session_maker() as s:
            missing = await pool_service.add(
                s, box, chain=None, check=False, private_key=new_key().hex(), name="off-missing"
            )
            for p in (await s.execute(select(EnergyPool))).scalars():
                p.status = PoolStatus.INACTIVE
            await s.commit()
        assert await sync(session_maker, gateway) == {
            healthy.tron_address: SyncState.OK,
            missing.tron_address: SyncState.FLAGGED,
        }
        for pool_id in (healthy.id, missing.id):
            pool = await reload(session_maker, pool_id)
            assert pool.status is PoolStatus.INACTIVE and pool.flag is None
        assert "does not exist" in ((await reload(session_maker, missing.id)).last_sync_error or "")
        assert await unusable_alerts(session_maker, missing.tron_address) == []

    async def test_no_node_answering_is_recorded_on_each_pool(
        self, session_maker: Maker, devnet: DevnetServer, gateway: TronGateway, box: SecretBox
    ) -> None:
        _, pool = await add_pool(session_maker, devnet, gateway, box)
        async with TronGateway(
            [f"http://127.0.0.1:{free_port()}"], timeout_s=1, backoff_base_s=0.01
        ) as dead:
            assert await sync(session_maker, dead) == {pool.tron_address: SyncState.ERROR}
        kept = await reload(session_maker, pool.id)
        assert kept.status is PoolStatus.ACTIVE and kept.available_energy == pool.available_energy
        assert kept.last_sync_error


class TestAdd:
    async def add(
        self, maker: Maker, box: SecretBox, chain: TronGateway, key: str, **kw: Any
    ) -> EnergyPool:
        async with maker() as s:
            pool = await pool_service.add(s, box, chain=chain, private_key=key, **kw)
            await s.commit()
        return pool

    async def test_refused_with_the_reason(
        self, session_maker: Maker, devnet: DevnetServer, gateway: TronGateway, box: SecretBox
    ) -> None:
        missing = new_key()
        unstaked = funded_key(devnet.chain, 10 * TRX)
        foreign = funded_key(devnet.chain, 200_000 * TRX)
        fund_and_stake(devnet, foreign)
        devnet.chain.set_permission(foreign.address, Permission(1, [(missing.address, 1)]), None)
        for key, code, text in [
            (missing, "POOL_ACCOUNT_MISSING", "does not exist on chain"),
            (unstaked, "POOL_NO_STAKE", "no TRX staked for energy"),
            (foreign, "POOL_KEY_MISMATCH", "owner permission requires other keys"),
        ]:
            with pytest.raises(PoolUnusable) as info:
                await self.add(session_maker, box, gateway, key.hex())
            assert info.value.code == code and text in info.value.message
            assert "force" in info.value.message and key.hex() not in info.value.message
        async with session_maker() as s:
            assert await pool_service.list_pools(s) == []

    async def test_force_stores_it_disabled(
        self, session_maker: Maker, gateway: TronGateway, box: SecretBox
    ) -> None:
        pool = await self.add(session_maker, box, gateway, new_key().hex(), force=True)
        assert pool.status is PoolStatus.MAINTENANCE and pool.flag is PoolFlag.ACCOUNT_MISSING

    async def test_chain_unreachable(self, session_maker: Maker, box: SecretBox) -> None:
        async with TronGateway(
            [f"http://127.0.0.1:{free_port()}"], timeout_s=1, backoff_base_s=0.01
        ) as dead:
            with pytest.raises(ChainUnavailable, match="cannot check pool account"):
                await self.add(session_maker, box, dead, new_key().hex())
            pool = await self.add(session_maker, box, dead, new_key().hex(), force=True)
        assert pool.status is PoolStatus.MAINTENANCE and pool.flag is PoolFlag.UNCHECKED

    @pytest.mark.parametrize(
        "key,why",
        [
            ("00" * 32, "curve order"),
            (f"{SECP256K1_ORDER:064x}", "curve order"),
            ("ff" * 32, "curve order"),
            ("zz" * 32, "hexadecimal"),
            ("ab" * 31, "64 hex characters"),
        ],
    )
    async def test_bad_key(
        self, session_maker: Maker, gateway: TronGateway, box: SecretBox, key: str, why: str
    ) -> None:
        with pytest.raises(InvalidPrivateKey, match=why) as info:
            await self.add(session_maker, box, gateway, key, force=True)
        assert info.value.code == "INVALID_PRIVATE_KEY" and key not in info.value.message
