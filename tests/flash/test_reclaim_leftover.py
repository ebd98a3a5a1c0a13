"""A delivered part of an order that gave up is reclaimed when due, its order left as it is.

An order split over pools P1, P2: P1's part delivered, P2's refused; the flow gives up, the
order fails with a full refund. P1's delegation is undelegated once its rental (and so its
chain lock) is over - by the sweeper, as for a finished rental - exactly once on chain, P1's
energy counted back, and the order stays failed (devnet, both databases)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from tronrent.delegation.flows import delegation
from tronrent.kit.time import utcnow
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.energy_pool import EnergyPool, PoolStatus
from tronrent.models.energy_transaction import EnergyTransaction, EnergyTransactionType
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.models.order import Order, OrderStatus
from tronrent.models.payment import Payment, PaymentStatus
from tronrent.pool.service import Actor
from tronrent.pool.service import pool as pool_service
from tronrent.worker import Retry, job_scope

from .conftest import Flash, FlashFactory, add_pool, resource_contracts_to, restart_engine
from .test_reclaim_batch import deps, order_ids, pay, wait_due, without_sweeper

#: a pool-side refusal as the node words it (delegation.rejection: another pool may succeed)
REFUSED = (
    "CONTRACT_VALIDATE_ERROR: Contract validate error : delegateBalance must be less than or "
    "equal to available FreezeEnergyV2 balance"
)

#: where a failed order's refund takes it (the reclaim leaves it there)
GAVE_UP = (OrderStatus.FAILED.value, OrderStatus.REFUNDING.value, OrderStatus.REFUNDED.value)


async def _made_step_two(f: Flash, oid: str) -> EnergyDelegation:
    """The active order as if at step 2 of a split: its energy doubled, a second pool whose
    delegation of the other half the chain refused, the order delegating; P1 (its delivered
    part's pool) in maintenance. Returns P1's delivered delegation."""
    _, p2 = await add_pool(f.session_maker, f.devnet, f.gateway, f.box)
    async with f.session_maker() as s, s.begin():
        order = await s.get(Order, oid)
        assert order is not None
        [part] = (
            (await s.execute(select(EnergyDelegation).where(EnergyDelegation.order_id == oid)))
            .scalars()
            .all()
        )
        assert part.status is DelegationStatus.SUCCESS
        order.energy_amount = (order.energy_amount or 0) * 2
        order.status = OrderStatus.DELEGATING
        refused = EnergyDelegation(
            order_id=oid,
            pool_account_id=p2.id,
            recipient_address=part.recipient_address,
            energy_amount=part.energy_amount,
            balance_sun=part.balance_sun,
            duration_hours=part.duration_hours,
            lock_period=part.lock_period,
            status=DelegationStatus.FAILED,
            error_message=f"pool_stake_insufficient: {REFUSED}",
        )
        s.add(refused)
        await s.flush()
        s.add(
            ChainTransaction(
                purpose=ChainTxPurpose.DELEGATE,
                txid="ab" * 32,
                owner_address=p2.tron_address,
                to_address=part.recipient_address,
                amount_sun=part.balance_sun,
                raw_data={},
                raw_data_hex="00",
                signatures=[],
                expiration_ms=0,
                status=ChainTxStatus.FAILED,
                last_error=REFUSED,
                order_id=oid,
                delegation_id=refused.id,
                pool_id=p2.id,
            )
        )
        await pool_service.edit(
            s,
            f.pool.id,
            {"status": PoolStatus.MAINTENANCE},
            actor=Actor("cli:test"),
            reason="maintenance",
        )
    return part


async def _delegation(f: Flash, id_: int) -> EnergyDelegation:
    async with f.session_maker() as s:
        x = await s.get(EnergyDelegation, id_)
        assert x is not None
        return x


async def _delegated_energy(f: Flash) -> int:
    async with f.session_maker() as s:
        pool = await s.get(EnergyPool, f.pool.id)
        assert pool is not None
        return pool.delegated_energy


async def test_a_failed_orders_delivered_part_is_reclaimed_once_when_due(
    flash: FlashFactory,
) -> None:
    f = await flash(rental_s=3.0)
    async with without_sweeper(f):
        [customer] = await pay(f, 1)
        [oid] = await order_ids(f)
        part = await _made_step_two(f, oid)
        before = await _delegated_energy(f)
        assert before >= part.energy_amount
        async with job_scope():
            states = await delegation.delegate_orders(deps(f), [oid])
        assert states[oid] == OrderStatus.FAILED.value
        async with f.session_maker() as s:
            order = await s.get(Order, oid)
            # failed, and already refunding if the refund job (the engine's queue) ran
            assert order is not None and order.status.value in GAVE_UP
            pay_row = (await s.execute(select(Payment).where(Payment.order_id == oid))).scalar_one()
            assert pay_row.status in (PaymentStatus.REFUNDING, PaymentStatus.REFUNDED)
            assert "full refund" in (pay_row.note or "")
        # given up before its rental is over: the chain's lock forbids undelegating it yet
        assert (await _delegation(f, part.id)).status is DelegationStatus.SUCCESS
        async with job_scope():
            early = await delegation.reclaim_orders(deps(f), [oid])
        assert early[oid] in GAVE_UP
        assert resource_contracts_to(f, customer) == ["DelegateResourceContract"]
    # the engine with its sweeper: it finds the due part although its order is not active
    await restart_engine(f, periodic_speedup=5.0)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while (x := await _delegation(f, part.id)).status is not DelegationStatus.EXPIRED:
        assert loop.time() < deadline, (x.status, x.error_message, await f.debug())
        await asyncio.sleep(0.1)
    assert x.expires_at is not None and x.expires_at <= utcnow()
    assert x.reclaimed_at is not None and x.undelegate_tx_hash
    # a few more sweeps and a reclaim asked again: nothing more is sent
    await asyncio.sleep(1.5)
    async with job_scope():
        again = await delegation.reclaim_orders(deps(f), [oid])
    assert again[oid] in GAVE_UP
    f.devnet.node.produce(3)
    assert resource_contracts_to(f, customer) == [
        "DelegateResourceContract",
        "UnDelegateResourceContract",
    ]
    assert await _delegated_energy(f) == before - part.energy_amount
    async with f.session_maker() as s:
        order = await s.get(Order, oid)
        assert order is not None and order.status.value in GAVE_UP  # its refund job's doing
        assert order.completed_at is None
        undelegations = (
            (
                await s.execute(
                    select(ChainTransaction).where(
                        ChainTransaction.delegation_id == part.id,
                        ChainTransaction.purpose == ChainTxPurpose.UNDELEGATE,
                    )
                )
            )
            .scalars()
            .all()
        )
        assert [(u.pool_id, u.status) for u in undelegations] == [
            (f.pool.id, ChainTxStatus.CONFIRMED)
        ]
        entries = (
            (
                await s.execute(
                    select(EnergyTransaction).where(
                        EnergyTransaction.order_id == oid,
                        EnergyTransaction.transaction_type == EnergyTransactionType.UNDELEGATE,
                    )
                )
            )
            .scalars()
            .all()
        )
        assert [e.tx_hash for e in entries] == [x.undelegate_tx_hash]
        # no customer notice for the reclaim: its order had failed (told then)
        events = (
            (
                await s.execute(
                    select(NotificationOutbox.event_type).where(NotificationOutbox.order_id == oid)
                )
            )
            .scalars()
            .all()
        )
        assert "rental_ended" not in events and "order_failed" in events, events


async def test_a_waiting_orders_delivered_part_is_reclaimed_when_due_order_left_paid(
    flash: FlashFactory,
) -> None:
    """The milder form: the rest of the order waits for capacity (paid) past its delivered
    part's rental: that part is undelegated when due, the order still paid (waiting)."""
    f = await flash(rental_s=2.0)
    async with without_sweeper(f):
        [customer] = await pay(f, 1)
        [oid] = await order_ids(f)
        async with f.session_maker() as s, s.begin():
            order = await s.get(Order, oid)
            assert order is not None
            [part] = (
                (await s.execute(select(EnergyDelegation).where(EnergyDelegation.order_id == oid)))
                .scalars()
                .all()
            )
            order.energy_amount = (order.energy_amount or 0) * 2
            order.status = OrderStatus.DELEGATING
            await pool_service.edit(
                s,
                f.pool.id,
                {"status": PoolStatus.MAINTENANCE},
                actor=Actor("cli:test"),
                reason="maintenance",
            )
        before = await _delegated_energy(f)
        with pytest.raises(Retry):  # no pool capacity: waits
            async with job_scope():
                await delegation.delegate_orders(deps(f), [oid])
        await wait_due(f)
        async with job_scope():
            states = await delegation.reclaim_orders(deps(f), [oid])
        assert states[oid] in ("broadcast", OrderStatus.PAID.value)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while (x := await _delegation(f, part.id)).status is not DelegationStatus.EXPIRED:
            assert loop.time() < deadline, (x.status, x.error_message)
            async with job_scope():  # as the scanner's job would, once it is in a block
                await delegation.reclaim_orders(deps(f), [oid])
            await asyncio.sleep(0.2)
        assert resource_contracts_to(f, customer) == [
            "DelegateResourceContract",
            "UnDelegateResourceContract",
        ]
        assert await _delegated_energy(f) == before - part.energy_amount
        async with f.session_maker() as s:
            order = await s.get(Order, oid)
            assert order is not None and order.status is OrderStatus.PAID
            assert "waiting" in (order.status_reason or "")
