"""Count packages over time on the devnet (real engine, scanner, tronpy gateway; SQLite and
PostgreSQL): idle fees in chain time (block slots, the devnet's blocks produced on demand),
exactly once per period, the package ending when they use the last counts; pause (energy
reclaimed once, no idle fee) and resume (energy back, transfers followed again); the end of an
unused package with each policy for its unused counts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key
from tronrent.count import service as count_service
from tronrent.count.life import ENDED_EVENT, IDLE_FEE_EVENT, count_life
from tronrent.count.repository import scanned_block
from tronrent.delegation.flows import FlowDeps
from tronrent.kit.audit import Actor
from tronrent.kit.db import transaction_scope
from tronrent.kit.time import utcnow
from tronrent.models.balance_ledger import BalanceLedgerEntry, LedgerCause
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose
from tronrent.models.count_package import (
    CountChangeKind,
    CountPackage,
    CountPackageChange,
    CountUseStatus,
)
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.models.order import Order, OrderStatus
from tronrent.worker import job_scope

from .conftest import TRX, Flash
from .test_count_packages import (
    EXISTING,
    USDT,
    FlashFactory,
    available_energy,
    new_count_order,
    usdt_with_tronpy,
    uses_of,
    wait_until,
)

OPERATOR = Actor("cli:test")


async def package(f: Flash, order_id: str) -> CountPackage:
    async with f.session_maker() as s:
        pkg = await s.get(CountPackage, order_id)
        assert pkg is not None
        return pkg


async def scanned_to(f: Flash, block: int) -> bool:
    async with f.session_maker() as s:
        return (await scanned_block(s) or 0) >= block


async def events_of(f: Flash, order_id: str, event: str) -> list[NotificationOutbox]:
    async with f.session_maker() as s:
        return list(
            (
                await s.execute(
                    select(NotificationOutbox)
                    .where(
                        NotificationOutbox.order_id == order_id,
                        NotificationOutbox.event_type == event,
                    )
                    .order_by(NotificationOutbox.id)
                )
            ).scalars()
        )


async def txs_to(f: Flash, address: str, purpose: ChainTxPurpose) -> int:
    async with f.session_maker() as s:
        return int(
            (
                await s.execute(
                    select(func.count())
                    .select_from(ChainTransaction)
                    .where(
                        ChainTransaction.to_address == address,
                        ChainTransaction.purpose == purpose,
                        ChainTransaction.order_id.is_(None),
                    )
                )
            ).scalar_one()
        )


def deps(f: Flash) -> FlowDeps:
    return FlowDeps(f.session_maker, f.gateway, f.box, f.engine.rt)


async def started(f: Flash, order_id: str) -> CountPackage:
    """The package once the idle clock started (the life job saw it active)."""
    await wait_until(lambda: _clock_started(f, order_id))
    return await package(f, order_id)


async def _clock_started(f: Flash, order_id: str) -> bool:
    return (await package(f, order_id)).idle_since_block is not None


async def life_flash(
    flash: FlashFactory,
    devnet: DevnetServer,
    *,
    period: int,
    fee: int,
    max_idle: int,
    policy: str = "forfeit",
    **rt_kw: Any,
) -> Flash:
    """The engine following USDT transfers, with these idle settings (COUNT_*)."""
    return await flash(
        rental_s=3600.0,
        scanner_kw={"usdt_contract": devnet.config.usdt_address},
        count_idle_period_blocks=period,
        count_idle_fee_counts=fee,
        count_max_idle_days=max_idle,
        count_unused_policy=policy,
        **rt_kw,
    )


class TestIdleFee:
    async def test_one_fee_per_period_then_the_package_ends(
        self, flash: FlashFactory, devnet: DevnetServer
    ) -> None:
        period = 20
        f = await life_flash(flash, devnet, period=period, fee=1, max_idle=0)
        customer = funded_key(f.devnet.chain, 10 * TRX)
        order = await new_count_order(f, 3, customer.address_base58)
        f.devnet.node.paused = True  # chain time moves only when the test produces blocks
        try:
            since = (await started(f, order.id)).idle_since_block
            assert since is not None
            # two whole periods and a bit: two fees, not three
            target = since + 2 * period + period // 2
            f.devnet.produce(max(0, target - f.devnet.chain.head.number))
            await wait_until(lambda: scanned_to(f, target))

            async def two() -> bool:
                return (await package(f, order.id)).used_counts >= 2

            await wait_until(two)
            await count_life.run(deps(f))  # another round at the same chain time: no fee
            pkg = await package(f, order.id)
            assert (pkg.used_counts, pkg.idle_charged) == (2, 2)
            notices = await events_of(f, order.id, IDLE_FEE_EVENT)
            assert [n.payload["remaining"] for n in notices] == [2, 1]
            assert len({n.dedupe_key for n in notices}) == 2
            async with f.session_maker() as s:
                fees = (
                    await s.execute(
                        select(CountPackageChange).where(
                            CountPackageChange.order_id == order.id,
                            CountPackageChange.kind == CountChangeKind.IDLE_FEE,
                        )
                    )
                ).scalars()
                assert sorted(c.counts for c in fees) == [1, 1]
            # the third period uses the last count: the package ends, the energy is reclaimed
            f.devnet.produce(period)
        finally:
            f.devnet.node.paused = False
        done = await f.wait_order(
            lambda o: o.status is OrderStatus.COMPLETED, order_id=order.id, wait_s=30
        )
        assert done.status is OrderStatus.COMPLETED
        pkg = await package(f, order.id)
        assert (pkg.used_counts, pkg.end_reason) == (3, "idle_fee")
        assert len(await events_of(f, order.id, IDLE_FEE_EVENT)) == 3
        res = await f.gateway.get_account_resource(customer.address_base58)
        assert res.energy_limit == 0
        await wait_until(lambda: _settled(f, order.id))
        assert await events_of(f, order.id, ENDED_EVENT) == []  # nothing left unused


async def _settled(f: Flash, order_id: str) -> bool:
    return (await package(f, order_id)).settled_at is not None


class TestPauseResume:
    async def test_reclaimed_once_no_idle_fee_then_delegated_and_followed_again(
        self, flash: FlashFactory, devnet: DevnetServer
    ) -> None:
        period = 10
        # a 2 s payment window: the pause comes after it (the package's lifetime is its rental,
        # 1 h, not the window it was paid in - paused then, it ended at once, counts forfeited)
        f = await life_flash(flash, devnet, period=period, fee=1, max_idle=0, payment_timeout_s=2)
        customer = funded_key(f.devnet.chain, 50 * TRX, usdt_units=100 * USDT)
        holder = funded_key(f.devnet.chain, TRX, usdt_units=USDT).address_base58
        address = customer.address_base58
        # idle fees may fall before the pause (a period is 1 s of blocks): plenty of counts
        order = await new_count_order(f, 20, address)
        await started(f, order.id)
        await wait_until(lambda: _enough(f, address))
        async with f.session_maker() as s:
            active = await s.get(Order, order.id)
            assert active is not None and active.expires_at is not None
            assert active.expires_at > utcnow() + timedelta(minutes=50)  # the rental's end
        await asyncio.sleep(
            max(0.0, (order.created_at + timedelta(seconds=2.5) - utcnow()).total_seconds())
        )
        for _ in range(2):  # the second asks again: nothing more happens
            async with job_scope(), transaction_scope(f.session_maker) as s:
                pkg = await count_service.pause(s, order.id, actor=OPERATOR, reason="holiday")
                assert pkg.paused
                used_at_pause = pkg.used_counts

        async def reclaimed() -> bool:
            res = await f.gateway.get_account_resource(address)
            return res.energy_limit == 0 and (await package(f, order.id)).pending_action is None

        await wait_until(reclaimed)
        assert await txs_to(f, address, ChainTxPurpose.UNDELEGATE) == 1
        # paused over several idle periods: no fee
        async with f.session_maker() as s:
            since = await scanned_block(s) or 0
        fees_at_pause = len(await events_of(f, order.id, IDLE_FEE_EVENT))
        await wait_until(lambda: scanned_to(f, since + 3 * period))
        await count_life.run(deps(f))
        pkg = await package(f, order.id)
        assert (pkg.used_counts, pkg.paused, pkg.end_reason) == (used_at_pause, True, None)
        assert len(await events_of(f, order.id, IDLE_FEE_EVENT)) == fees_at_pause
        async with f.session_maker() as s:
            still = await s.get(Order, order.id)
            assert still is not None and still.status is OrderStatus.ACTIVE
        async with f.session_maker() as s:
            (x,) = (
                await s.execute(
                    select(EnergyDelegation).where(EnergyDelegation.order_id == order.id)
                )
            ).scalars()
            assert x.status is DelegationStatus.SUCCESS and x.expires_at is None  # not due

        async with job_scope(), transaction_scope(f.session_maker) as s:
            pkg = await count_service.resume(s, order.id, actor=OPERATOR, reason="back")
            assert not pkg.paused and pkg.pending_action == "resume"
        await wait_until(lambda: _enough(f, address))
        await wait_until(lambda: _no_pending(f, order.id))
        assert await txs_to(f, address, ChainTxPurpose.DELEGATE) == 1
        async with f.session_maker() as s:
            (x,) = (
                await s.execute(
                    select(EnergyDelegation).where(
                        EnergyDelegation.order_id == order.id,
                        EnergyDelegation.status == DelegationStatus.SUCCESS,
                    )
                )
            ).scalars()
            assert x.expires_at is not None and x.expires_at > utcnow() + timedelta(minutes=50)
        # followed again: a transfer counts and is topped up
        await usdt_with_tronpy(f, customer, holder, USDT)

        async def topped_up() -> bool:
            uses = await uses_of(f, order.id)
            return bool(uses) and uses[0].status is CountUseStatus.TOPPED_UP

        try:
            await wait_until(topped_up, wait_s=30)
        except AssertionError:
            uses = await uses_of(f, order.id)
            raise AssertionError(
                f"uses: {[(u.status, u.counts, u.energy_used) for u in uses]}\n{await f.debug()}"
            ) from None
        assert [u.counts for u in await uses_of(f, order.id)] == [1]
        async with f.session_maker() as s:
            kinds = (
                await s.execute(
                    select(CountPackageChange.kind, CountPackageChange.actor)
                    .where(
                        CountPackageChange.order_id == order.id,
                        CountPackageChange.kind != CountChangeKind.IDLE_FEE,
                    )
                    .order_by(CountPackageChange.id)
                )
            ).all()
        assert [tuple(k) for k in kinds] == [
            (CountChangeKind.PAUSE, "cli:test"),
            (CountChangeKind.RESUME, "cli:test"),
        ]


async def _enough(f: Flash, address: str) -> bool:
    return await available_energy(f, address) >= EXISTING


async def _no_pending(f: Flash, order_id: str) -> bool:
    return (await package(f, order_id)).pending_action is None


class TestUnusedPackageEnds:
    @pytest.mark.parametrize(
        ("policy", "paused"), [("refund", False), ("forfeit", True)], ids=["refund", "forfeit"]
    )
    async def test_after_max_idle_periods_with_the_policy(
        self, flash: FlashFactory, devnet: DevnetServer, policy: str, paused: bool
    ) -> None:
        f = await life_flash(
            flash, devnet, period=10, fee=0 if paused else 1, max_idle=2, policy=policy
        )
        customer = funded_key(f.devnet.chain, 10 * TRX).address_base58
        order = await new_count_order(f, 4, customer)  # 12 TRX from the balance
        assert order.final_price_units == 12 * TRX
        if paused:  # at once: the idle clock runs out in 2 s of blocks
            async with job_scope(), transaction_scope(f.session_maker) as s:
                await count_service.pause(s, order.id, actor=OPERATOR, reason="away")
        await started(f, order.id)
        done = await f.wait_order(
            lambda o: o.status is OrderStatus.COMPLETED, order_id=order.id, wait_s=30
        )
        assert done.status is OrderStatus.COMPLETED
        await wait_until(lambda: _settled(f, order.id))
        pkg = await package(f, order.id)
        assert pkg.end_reason == "idle"
        (ended,) = await events_of(f, order.id, ENDED_EVENT)
        async with f.session_maker() as s:
            refunds = list(
                (
                    await s.execute(
                        select(BalanceLedgerEntry).where(
                            BalanceLedgerEntry.cause_type == LedgerCause.ORDER_REFUND,
                            BalanceLedgerEntry.cause_id == f"{order.id}:unused",
                        )
                    )
                ).scalars()
            )
            delegations = list(
                (
                    await s.execute(
                        select(EnergyDelegation).where(EnergyDelegation.order_id == order.id)
                    )
                ).scalars()
            )
        assert [x.status for x in delegations] == [DelegationStatus.EXPIRED]
        res = await f.gateway.get_account_resource(customer)
        assert res.energy_limit == 0
        if policy == "refund":
            # two idle fees used 2 of 4: the other 2 refund half the price, exactly
            assert pkg.used_counts == 2
            assert [r.delta_units for r in refunds] == [6 * TRX] and pkg.refunded_units == 6 * TRX
            assert ended.payload["unused"] == 2 and ended.payload["refund"] == "6 TRX"
        else:
            # paused: no idle fee, no undelegation at the end (the pause reclaimed it)
            assert pkg.used_counts == 0 and refunds == [] and pkg.refunded_units is None
            assert ended.payload["unused"] == 4 and "refund" not in ended.payload
            assert await txs_to(f, customer, ChainTxPurpose.UNDELEGATE) == 1
