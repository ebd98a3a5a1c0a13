"""Delegate-only pools: tronpy's permission calls against the devnet, registering such a pool
(checked on chain, key encrypted), the sync's check of the permission, refusals (both
databases)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tronpy import AsyncTron
from tronpy.keys import PrivateKey as TronpyKey
from tronpy.providers.async_http import AsyncHTTPProvider

from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key, submit
from tronproto.keys import PrivateKey
from tronproto.permission import operations_hex
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.adapters.tron.port import TxState
from tronrent.kit.crypto import SecretBox, generate_key
from tronrent.kit.errors import ValidationFailed
from tronrent.models.energy_pool import PoolFlag
from tronrent.pool.service import PoolUnusable
from tronrent.pool.service import pool as pool_service
from tronrent.pool.tasks import SyncState, sync_pool

TRX = 1_000_000


@pytest.fixture
async def devnet() -> AsyncIterator[DevnetServer]:
    async with DevnetServer(port=0, block_interval_ms=100) as server:
        yield server


@pytest.fixture
async def gateway(devnet: DevnetServer) -> AsyncIterator[TronGateway]:
    async with TronGateway([devnet.url], timeout_s=5, backoff_base_s=0.02) as gw:
        yield gw


@pytest.fixture
async def tron(devnet: DevnetServer) -> AsyncIterator[AsyncTron]:
    async with AsyncTron(AsyncHTTPProvider(devnet.url + "/")) as client:
        yield client


def staked_owner(devnet: DevnetServer) -> PrivateKey:
    owner = funded_key(devnet.chain, 1_500 * TRX)
    submit(
        devnet.chain,
        owner,
        "FreezeBalanceV2Contract",
        {"frozen_balance": 1_000 * TRX, "resource": "ENERGY"},
    )
    devnet.node.produce()
    return owner


async def give_permission(
    tron: AsyncTron, owner: PrivateKey, hot: PrivateKey, ops: tuple[int, ...] = (57, 58)
) -> None:
    """tronpy's own permission update, signed by the owner key."""
    perm = await tron.get_account_permission(owner.address_base58)
    perm["actives"].append(
        {
            "type": "Active",
            "permission_name": "delegate",
            "threshold": 1,
            "operations": operations_hex(ops),
            "keys": [{"address": hot.address_base58, "weight": 1}],
        }
    )
    txn = await tron.trx.account_permission_update(owner.address_base58, perm).build()
    result = await txn.sign(TronpyKey(owner.secret)).broadcast()
    await result.wait(timeout=10, interval=0.05)


class TestTronpyAgainstTheDevnet:
    async def test_permission_update_then_delegate_with_permission_id(
        self, devnet: DevnetServer, tron: AsyncTron
    ) -> None:
        owner, hot = staked_owner(devnet), PrivateKey.random()
        receiver = funded_key(devnet.chain, TRX)
        balance = devnet.chain.accounts[owner.address].balance
        await give_permission(tron, owner, hot)
        fee = devnet.chain.config.update_account_permission_fee
        assert devnet.chain.accounts[owner.address].balance <= balance - fee
        perm = await tron.get_account_permission(owner.address_base58)
        assert [a["id"] for a in perm["actives"]] == [2, 3]
        assert perm["actives"][1]["operations"] == operations_hex((57, 58))
        txn = (
            await tron.trx.delegate_resource(
                owner.address_base58, receiver.address_base58, 10 * TRX, "ENERGY"
            )
            .permission_id(3)
            .build()
        )
        info = await (await txn.sign(TronpyKey(hot.secret)).broadcast()).wait(
            timeout=10, interval=0.05
        )
        assert info.get("result") != "FAILED"
        assert devnet.chain.accounts[receiver.address].acquired_energy == 10 * TRX

    async def test_java_tron_rules_of_the_update(
        self, devnet: DevnetServer, tron: AsyncTron
    ) -> None:
        owner, hot = staked_owner(devnet), PrivateKey.random()
        perm = await tron.get_account_permission(owner.address_base58)
        perm["actives"] = []
        txn = await tron.trx.account_permission_update(owner.address_base58, perm).build()
        with pytest.raises(Exception, match="active permission is missed"):
            await txn.sign(TronpyKey(owner.secret)).broadcast()
        with pytest.raises(Exception, match="isn't a validate ContractType"):
            await give_permission(tron, owner, hot, ops=(57, 58, 200))


class TestRegister:
    async def test_add_checked_on_chain_and_synced(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        devnet: DevnetServer,
        gateway: TronGateway,
        tron: AsyncTron,
    ) -> None:
        box = SecretBox([generate_key()])
        owner, hot = staked_owner(devnet), PrivateKey.random()
        # the platform's helper builds the update; the owner key signs it (offline wallet)
        tx = await gateway.build_delegate_only_permission(owner.address_base58, hot.address_base58)
        signed = gateway.sign(tx, owner.hex())
        await gateway.broadcast(signed)
        for _ in range(100):
            if (await gateway.find_transaction(signed.txid)).state is TxState.CONFIRMED:
                break
            await asyncio.sleep(0.05)
        async with session_maker() as s:
            pool = await pool_service.add(
                s,
                box,
                chain=gateway,
                private_key=hot.hex(),
                owner_address=owner.address_base58,
                permission_id=3,
            )
            await s.commit()
            assert pool.tron_address == owner.address_base58
            assert pool.signer_address == hot.address_base58 and pool.delegate_only
            assert hot.hex() not in pool.private_key_encrypted
            assert box.decrypt(pool.private_key_encrypted).reveal() == hot.hex()
            assert (await sync_pool(gateway, pool, box=box)).state is SyncState.OK
            assert pool.available_energy > 0
            # the owner takes the permission away: the sync flags the pool
            devnet.chain.set_permission(
                owner.address,
                None,
                [devnet.chain.active_permission(devnet.chain.accounts[owner.address])],
            )
            outcome = await sync_pool(gateway, pool, box=box)
            assert outcome.state is SyncState.FLAGGED and pool.flag is PoolFlag.KEY_MISMATCH
            assert "no active permission with id 3" in (pool.flag_reason or "")

    async def test_refused(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        devnet: DevnetServer,
        gateway: TronGateway,
        tron: AsyncTron,
    ) -> None:
        box = SecretBox([generate_key()])
        owner, hot, other = staked_owner(devnet), PrivateKey.random(), PrivateKey.random()
        await give_permission(tron, owner, hot, ops=(1, 57, 58))  # TransferContract too
        async with session_maker() as s:

            async def add(key: PrivateKey, pid: int, *, force: bool = False) -> object:
                return await pool_service.add(
                    s,
                    box,
                    chain=gateway,
                    private_key=key.hex(),
                    owner_address=owner.address_base58,
                    permission_id=pid,
                    force=force,
                )

            for force in (False, True):
                with pytest.raises(PoolUnusable) as exc:
                    await add(hot, 3, force=force)
                assert exc.value.code == "POOL_PERMISSION_TOO_WIDE"
            with pytest.raises(PoolUnusable) as exc:
                await add(other, 2)  # the default active permission is the owner's key
            assert exc.value.code == "POOL_KEY_MISMATCH"
            with pytest.raises(PoolUnusable) as exc:
                await add(hot, 5)
            assert "no active permission with id 5" in exc.value.message
            with pytest.raises(ValidationFailed, match="2 to 9"):
                await add(hot, 1)
            with pytest.raises(ValidationFailed, match="owner's key"):
                await add(owner, 3)
            with pytest.raises(ValidationFailed, match="not a TRON address"):
                await pool_service.add(
                    s,
                    box,
                    chain=None,
                    check=False,
                    private_key=hot.hex(),
                    owner_address="Tnope",
                    permission_id=3,
                )
