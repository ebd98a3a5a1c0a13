"""A delegate-only pool on the devnet, both databases: the account gives a hot key an active
permission for DelegateResource/UnDelegateResource only (the owner key goes offline); the engine
then delegates and reclaims with ``Permission_id`` of that permission, signed by the hot key; the
hot key cannot move the pool's TRX."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from trondevnet.errors import TxError
from trondevnet.testing import build_raw, sign_raw
from tronproto.keys import PrivateKey, recover_address
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.adapters.tron.port import TxState
from tronrent.delegation.flows import delegation
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.energy_pool import EnergyPool

from .conftest import TRX, Flash, FlashFactory
from .test_reclaim_batch import deps, order_ids, pay, wait_due, without_sweeper


async def confirm(gw: TronGateway, txid: str) -> None:
    for _ in range(100):
        if (await gw.find_transaction(txid)).state is TxState.CONFIRMED:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{txid} not confirmed")


async def make_delegate_only(f: Flash) -> PrivateKey:
    """The platform's helper builds the permission update; the owner key signs it once."""
    hot = PrivateKey.random()
    tx = await f.gateway.build_delegate_only_permission(f.address, hot.address_base58)
    signed = f.gateway.sign(tx, f.pool_key.hex())
    await f.gateway.broadcast(signed)
    await confirm(f.gateway, signed.txid)
    async with f.session_maker() as s:
        pool = await s.get(EnergyPool, f.pool.id)
        assert pool is not None
        pool.signer_address = hot.address_base58
        pool.permission_id = 3  # the default active permission is 2
        pool.private_key_encrypted = f.box.encrypt(hot.hex())
        await s.commit()
    return hot


async def test_engine_delegates_and_reclaims_with_the_hot_key(flash: FlashFactory) -> None:
    f = await flash(rental_s=1.0)
    hot = await make_delegate_only(f)
    async with without_sweeper(f):
        await pay(f, 1)
        [order] = await order_ids(f)
        await wait_due(f)
        assert await delegation.reclaim_orders(deps(f), [order]) == {order: "broadcast"}
        async with f.session_maker() as s:
            txs = (
                (
                    await s.execute(
                        select(ChainTransaction).where(ChainTransaction.order_id == order)
                    )
                )
                .scalars()
                .all()
            )
        kinds = {t.purpose: t for t in txs}
        for purpose in (ChainTxPurpose.DELEGATE, ChainTxPurpose.UNDELEGATE):
            row = kinds[purpose]
            assert row.raw_data["contract"][0]["Permission_id"] == 3
            signer = recover_address(bytes.fromhex(row.signatures[0]), bytes.fromhex(row.txid))
            assert signer == hot.address
        await confirm(f.gateway, kinds[ChainTxPurpose.UNDELEGATE].txid)
        assert kinds[ChainTxPurpose.DELEGATE].status is ChainTxStatus.CONFIRMED


async def test_a_leaked_hot_key_cannot_move_trx(flash: FlashFactory) -> None:
    f = await flash()
    hot = await make_delegate_only(f)
    chain = f.devnet.chain
    thief = PrivateKey.random()
    transfer = {"owner_address": f.pool_key.address_hex, "to_address": thief.address_hex}
    transfer["amount"] = 10 * TRX  # type: ignore[assignment]
    # through the delegate-only permission: its operations do not include TransferContract
    raw = build_raw(chain, "TransferContract", transfer, permission_id=3)
    with pytest.raises(TxError, match="Permission denied"):
        chain.broadcast(raw, sign_raw(raw, hot))
    # as the owner: the hot key is not in the owner permission
    raw = build_raw(chain, "TransferContract", transfer)
    with pytest.raises(TxError, match="is not contained of permission"):
        chain.broadcast(raw, sign_raw(raw, hot))
    # nor may it stake or unstake
    unfreeze = {"owner_address": f.pool_key.address_hex, "unfreeze_balance": TRX}
    raw = build_raw(chain, "UnfreezeBalanceV2Contract", unfreeze, permission_id=3)
    with pytest.raises(TxError, match="Permission denied"):
        chain.broadcast(raw, sign_raw(raw, hot))
