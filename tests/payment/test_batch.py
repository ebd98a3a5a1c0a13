"""`PaymentService.process_many`: a batch of payments applied with a few statements, with the
outcome of processing them one after another in chain order (on SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState

from tronproto.address import to_base58
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.delegation.deps import install_flash_resources
from tronrent.kit.crypto import SecretBox, generate_key
from tronrent.kit.time import utcnow
from tronrent.models.common import Currency
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.models.order import Order, OrderPaymentStatus, OrderStatus
from tronrent.models.payment import MatchMethod, Payment, PaymentStatus
from tronrent.models.payment_monitoring_log import MonitoringStatus, PaymentMonitoringLog
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service
from tronrent.payment import repository as payment_repo
from tronrent.payment.service import PaymentOutcome
from tronrent.payment.service import payment as payment_service
from tronrent.worker import (
    PendingJob,
    Retry,
    WorkerContext,
    get_actor,
    job_scope,
    set_worker_context,
)

TRX = 1_000_000
PRICE = 1_500_000  # the default single price (1.5 TRX); min_amount 1 TRX, cap 10


def new_address() -> str:
    return to_base58(b"\x41" + os.urandom(20))


@dataclass
class World:
    """One flash address with its orders and recorded payments, by label."""

    rt: FlashRuntime
    orders: dict[str, Order] = field(default_factory=dict)
    recipients: dict[str, str] = field(default_factory=dict)
    payments: dict[str, int] = field(default_factory=dict)


class AddressBook(dict[str, str]):
    """A new address per name, the same one each time it is asked for (two worlds built from
    one book pay from the same wallets, so their outcomes compare as they are)."""

    def __missing__(self, name: str) -> str:
        self[name] = new_address()
        return self[name]


async def add_order(
    s: AsyncSession,
    w: World,
    label: str,
    recipient: str,
    *,
    tail: int,
    expired_ago_s: float | None = None,
) -> Order:
    order, _ = await order_service.create_order(s, w.rt, recipient_address=recipient, chat_id=7)
    order.amount_tail_units = tail  # fixed tails: the scenario must not depend on chance
    order.expected_amount_units = PRICE + tail
    if expired_ago_s is not None:
        order.status = OrderStatus.EXPIRED
        order.expires_at = utcnow() - timedelta(seconds=expired_ago_s)
    await s.flush()
    w.orders[label] = order
    w.recipients[label] = recipient
    return order


async def add_payments(
    s: AsyncSession, w: World, specs: list[tuple[str, str, int]], *, asset: Currency = Currency.TRX
) -> None:
    """Record ``(label, sender, amount)`` payments, one block each, in the order given."""
    base = 1_000 + len(w.payments)
    rows = [
        {
            "tx_hash": os.urandom(32).hex(),
            "asset": asset,
            "token_contract": None,
            "from_address": sender,
            "to_address": w.rt.payment_address,
            "amount_units": amount,
            "block_number": base + i,
            "block_id": os.urandom(32).hex(),
            "block_timestamp": utcnow(),
        }
        for i, (_, sender, amount) in enumerate(specs)
    ]
    ids = await payment_repo.insert_payments_if_new(s, rows)
    assert len(ids) == len(specs)
    for (label, _, _), pid in zip(specs, ids, strict=True):
        w.payments[label] = pid


async def build_scenario(
    session_maker: async_sessionmaker[AsyncSession], book: AddressBook | None = None
) -> World:
    """Every kind of payment on a flash address of its own, in chain order (the labels in the
    order of their blocks)."""
    a = book if book is not None else AddressBook()
    w = World(FlashRuntime(payment_address=new_address()))
    async with session_maker() as s:
        await add_order(s, w, "A", a["A"], tail=101)
        await add_order(s, w, "B", a["B"], tail=202)
        await add_order(s, w, "C", a["C"], tail=303, expired_ago_s=3_600)  # past the grace
        await add_order(s, w, "D", a["D"], tail=404, expired_ago_s=60)  # within the grace
        await add_payments(
            s,
            w,
            [
                ("tail_a", a["x1"], 2 * PRICE + 101),  # A by its tail
                ("tail_a_again", a["x2"], 3 * PRICE + 101),  # A is taken: a walk-in
                ("sender_b", a["B"], 2 * PRICE),  # B by its recipient
                ("dust", a["x3"], 500_000),
                ("underpaid", a["x4"], 1_200_000),  # a walk-in, underpaid
                ("excess", a["x5"], 20 * TRX),  # a walk-in, 10 sold, 5 TRX back
                ("late", a["x6"], PRICE + 303),  # C past the grace: refunded
                ("late_again", a["x7"], 2 * PRICE + 303),  # C stays expired: refunded
                ("grace_d", a["x8"], PRICE + 404),  # D within the grace: paid
                ("walk_in", a["x9"], 2 * TRX),
                ("orphan", a["x10"], 2 * TRX),
            ],
        )
        await add_payments(s, w, [("usdt", a["x11"], 5 * TRX)], asset=Currency.USDT)
        await s.execute(
            update(Payment)
            .where(Payment.id == w.payments["orphan"])
            .values(status=PaymentStatus.ORPHANED)
        )
        await s.commit()
    return w


async def run_batch(
    session_maker: async_sessionmaker[AsyncSession], rt: FlashRuntime, ids: list[int]
) -> tuple[list[PaymentOutcome], list[PendingJob]]:
    """``process_many`` in one transaction, as the job does; the jobs it enqueued."""
    sent: list[PendingJob] = []

    async def send(job: PendingJob) -> None:
        sent.append(job)

    async with job_scope(send), session_maker() as s:
        outcomes = await payment_service.process_many(s, rt, ids)
        await s.commit()
    return outcomes, sent


async def run_one_by_one(
    session_maker: async_sessionmaker[AsyncSession], rt: FlashRuntime, ids: list[int]
) -> list[PendingJob]:
    """``process`` per payment, each in its own transaction (the pre-batch behaviour)."""
    sent: list[PendingJob] = []

    async def send(job: PendingJob) -> None:
        sent.append(job)

    for pid in ids:
        async with job_scope(send), session_maker() as s:
            await payment_service.process(s, rt, pid)
            await s.commit()
    return sent


async def snapshot(session_maker: async_sessionmaker[AsyncSession], w: World) -> dict[str, Any]:
    """The state the batch leaves, with order ids replaced by labels (walk-ins: by the label
    of their payment), so two worlds can be compared."""
    async with session_maker() as s:
        payments = {
            p.id: p
            for p in (
                await s.execute(select(Payment).where(Payment.id.in_(w.payments.values())))
            ).scalars()
        }
        orders = {
            o.id: o
            for o in (
                await s.execute(select(Order).where(Order.payment_address == w.rt.payment_address))
            ).scalars()
        }
        outbox = (
            (
                await s.execute(
                    select(NotificationOutbox)
                    .where(NotificationOutbox.order_id.in_(orders))
                    .where(NotificationOutbox.event_type != "order_created")
                )
            )
            .scalars()
            .all()
        )
        watches = (
            (
                await s.execute(
                    select(PaymentMonitoringLog).where(PaymentMonitoringLog.order_id.in_(orders))
                )
            )
            .scalars()
            .all()
        )
    label = {o.id: name for name, o in w.orders.items()}
    tx_label = {payments[pid].tx_hash: name for name, pid in w.payments.items()}
    for name, pid in w.payments.items():
        oid = payments[pid].order_id
        if oid is not None and oid not in label:
            label[oid] = f"walk-in of {name}"

    def norm(value: Any) -> Any:
        if isinstance(value, str):
            for oid, name in label.items():
                value = value.replace(oid, name)
            return tx_label.get(value, value)
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [norm(v) for v in value]
        return value

    return {
        "payments": {
            name: (
                payments[pid].status,
                payments[pid].match_method,
                norm(payments[pid].order_id),
                norm(payments[pid].note),
                payments[pid].handled_at is not None,
            )
            for name, pid in w.payments.items()
        },
        "orders": {
            norm(oid): (
                o.status,
                o.payment_status,
                o.transaction_count,
                o.energy_amount,
                o.paid_amount_units,
                o.final_price_units,
                norm(o.tron_tx_hash),
                o.from_address,
                o.target_address,
                o.status_reason,
            )
            for oid, o in orders.items()
        },
        "outbox": sorted(
            (norm(n.dedupe_key), n.event_type, n.chat_id, repr(sorted(norm(n.payload).items())))
            for n in outbox
        ),
        "watches": sorted(
            (norm(m.order_id), m.status, norm(m.detected_tx_hash), m.detected_amount_units)
            for m in watches
        ),
        "labels": label,
    }


def norm_jobs(jobs: list[PendingJob], snap: dict[str, Any], w: World) -> list[tuple[Any, ...]]:
    """Job arguments as labels: payment ids by their label, order ids by their order's."""
    names: dict[object, str] = {pid: name for name, pid in w.payments.items()}
    names.update(snap["labels"])
    return [(j.name, *(names.get(a, a) for a in j.args)) for j in jobs]


class TestBatch:
    async def test_every_kind_in_one_batch(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        w = await build_scenario(session_maker)
        ids = list(w.payments.values())
        random.shuffle(ids)  # chain order comes from the blocks, not from the job's arguments
        ids.append(w.payments["walk_in"])  # a duplicate id is processed once
        outcomes, jobs = await run_batch(session_maker, w.rt, ids)
        snap = await snapshot(session_maker, w)
        pays, orders = snap["payments"], snap["orders"]

        # outcomes in chain order; the orphaned payment is left out (and left alone)
        handled = [n for n in w.payments if n != "orphan"]
        assert [o.payment_id for o in outcomes] == [w.payments[n] for n in handled]
        assert pays["orphan"] == (PaymentStatus.ORPHANED, None, None, None, False)

        assert pays["tail_a"][:3] == (PaymentStatus.MATCHED, MatchMethod.AMOUNT_TAIL, "A")
        assert pays["tail_a"][3] == "exact via tail"
        assert orders["A"][:3] == (OrderStatus.PAID, OrderPaymentStatus.PAID, 2)
        # the second payment with A's tail finds A taken, as it would one job later
        assert pays["tail_a_again"][:3] == (
            PaymentStatus.MATCHED,
            MatchMethod.WALK_IN,
            "walk-in of tail_a_again",
        )
        assert orders["walk-in of tail_a_again"][:3] == (
            OrderStatus.PAID,
            OrderPaymentStatus.PAID,
            3,
        )
        assert pays["sender_b"][:4] == (
            PaymentStatus.MATCHED,
            MatchMethod.SENDER,
            "B",
            "exact via sender",
        )
        assert orders["B"][0] is OrderStatus.PAID
        assert pays["dust"][0] is PaymentStatus.DUST and pays["dust"][4]
        assert pays["underpaid"][:3] == (
            PaymentStatus.REFUNDING,
            MatchMethod.WALK_IN,
            "walk-in of underpaid",
        )
        assert orders["walk-in of underpaid"][:3] == (
            OrderStatus.UNDERPAID,
            OrderPaymentStatus.UNDERPAID,
            0,
        )
        assert pays["excess"][0] is PaymentStatus.REFUNDING
        assert orders["walk-in of excess"][:3] == (
            OrderStatus.PAID,
            OrderPaymentStatus.OVERPAID,
            10,
        )
        for late in ("late", "late_again"):
            assert pays[late][:3] == (PaymentStatus.REFUNDING, MatchMethod.AMOUNT_TAIL, "C")
            assert pays[late][3].startswith("late payment for order C")
        assert orders["C"][0] is OrderStatus.EXPIRED  # not revived
        assert pays["grace_d"][:3] == (PaymentStatus.MATCHED, MatchMethod.AMOUNT_TAIL, "D")
        assert orders["D"][0] is OrderStatus.PAID
        assert orders["walk-in of walk_in"][:3] == (OrderStatus.PAID, OrderPaymentStatus.PAID, 1)
        assert pays["usdt"][0] is PaymentStatus.IGNORED

        # one delegation job for every order paid, in chain order; refunds one by one
        assert norm_jobs(jobs, snap, w) == [
            (
                "delegation.delegate_order",
                "A",
                "walk-in of tail_a_again",
                "B",
                "walk-in of excess",
                "D",
                "walk-in of walk_in",
            ),
            ("payment.refund_payment", "underpaid"),
            ("payment.refund_payment", "excess"),
            ("payment.refund_payment", "late"),
            ("payment.refund_payment", "late_again"),
        ]

        # the customers' events: one per order moved, with today's payloads
        outbox = {key: (name, chat) for key, name, chat, _ in snap["outbox"]}
        assert outbox == {
            "order:A:payment_received": ("payment_received", 7),
            "order:B:payment_received": ("payment_received", 7),
            "order:D:payment_received": ("payment_received", 7),
            "order:walk-in of tail_a_again:payment_received": ("payment_received", None),
            "order:walk-in of excess:payment_received": ("payment_received", None),
            "order:walk-in of walk_in:payment_received": ("payment_received", None),
            "order:walk-in of underpaid:payment_underpaid": ("payment_underpaid", None),
        }
        payload_a = next(p for key, _, _, p in snap["outbox"] if key == "order:A:payment_received")
        assert payload_a == repr(
            sorted(
                {
                    "order_id": "A",
                    "status": "paid",
                    "recipient_address": w.recipients["A"],
                    "order_type": "energy_flash",
                    "currency": "TRX",
                    "tx_hash": "tail_a",
                    "paid_sun": 2 * PRICE + 101,
                    "kind": "exact",
                    "refund_sun": 0,
                    "transaction_count": 2,
                    "energy": orders["A"][3],
                }.items()
            )
        )
        # the paid orders' watches are closed with the payment; the late order's stays open
        assert ("A", MonitoringStatus.COMPLETED, "tail_a", 2 * PRICE + 101) in snap["watches"]
        assert ("C", MonitoringStatus.MONITORING, None, None) in snap["watches"]

        # a second run (a redelivered job) changes nothing and enqueues nothing
        again, jobs = await run_batch(session_maker, w.rt, ids)
        assert again == [] and jobs == []
        assert await snapshot(session_maker, w) == snap

    async def test_same_outcome_as_one_by_one(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        """Two copies of the scenario (same wallets, flash addresses of their own): one batch
        leaves exactly what one job per payment leaves, with one delegation job for all."""
        book = AddressBook()
        batch = await build_scenario(session_maker, book)
        single = await build_scenario(session_maker, book)
        _, batch_jobs = await run_batch(session_maker, batch.rt, list(batch.payments.values()))
        single_jobs = await run_one_by_one(session_maker, single.rt, list(single.payments.values()))
        a, b = await snapshot(session_maker, batch), await snapshot(session_maker, single)
        assert {k: v for k, v in a.items() if k != "labels"} == {
            k: v for k, v in b.items() if k != "labels"
        }
        jobs_a, jobs_b = norm_jobs(batch_jobs, a, batch), norm_jobs(single_jobs, b, single)
        refunds = "payment.refund_payment"
        assert [j for j in jobs_a if j[0] == refunds] == [j for j in jobs_b if j[0] == refunds]
        delegated = [j[1] for j in jobs_b if j[0] != refunds]
        assert len(delegated) == 6
        assert [j for j in jobs_a if j[0] != refunds] == [("delegation.delegate_order", *delegated)]


async def mixed_batch(session_maker: async_sessionmaker[AsyncSession], n: int) -> World:
    """``n`` orders paid by their tail, ``n`` walk-ins (a tenth underpaid) and ``n // 10`` dust."""
    a = AddressBook()
    w = World(FlashRuntime(payment_address=new_address()))
    async with session_maker() as s:
        specs = []
        for i in range(n):
            await add_order(s, w, f"o{i}", a[f"r{i}"], tail=1 + i)
            specs.append((f"tail{i}", a[f"x{i}"], 2 * PRICE + 1 + i))
            specs.append((f"walk{i}", a[f"w{i}"], 1_200_000 if i % 10 == 0 else 3 * TRX))
        specs += [(f"dust{i}", a[f"d{i}"], 1_000) for i in range(n // 10)]
        await add_payments(s, w, specs)
        await s.commit()
    return w


class TestStatements:
    async def test_a_batch_costs_a_few_statements_whatever_its_size(
        self, engine: AsyncEngine, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        counted: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            counted.append(statement)  # an executemany is one call: counted once

        sizes: dict[int, int] = {}
        for n in (5, 50):  # 11 and 105 payments
            w = await mixed_batch(session_maker, n)
            counted.clear()
            event.listen(engine.sync_engine, "before_cursor_execute", count)
            try:
                outcomes, jobs = await run_batch(session_maker, w.rt, list(w.payments.values()))
            finally:
                event.remove(engine.sync_engine, "before_cursor_execute", count)
            assert len(outcomes) == len(w.payments)
            assert [j.name for j in jobs].count("delegation.delegate_order") == 1
            sizes[n] = len(counted)
        # begin, payments, config x2, candidates x2, orders locked, walk-ins inserted, order
        # and payment updates, watches, outbox, commit: the same for 11 payments and for 105
        assert sizes[50] == sizes[5], sizes
        assert sizes[50] <= 20, sizes

    async def test_100_walk_ins(
        self, engine: AsyncEngine, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        w = World(FlashRuntime(payment_address=new_address()))
        a = AddressBook()
        async with session_maker() as s:
            await add_payments(s, w, [(f"w{i}", a[f"w{i}"], 2 * TRX) for i in range(100)])
            await s.commit()
        counted: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            counted.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            outcomes, jobs = await run_batch(session_maker, w.rt, list(w.payments.values()))
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
        assert [o.status for o in outcomes] == [PaymentStatus.MATCHED] * 100
        assert [(j.name, len(j.args)) for j in jobs] == [("delegation.delegate_order", 100)]
        assert len(counted) <= 12, counted


class TestConcurrentChange:
    async def test_an_order_taken_meanwhile_defers_its_payment_alone(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        """Order A is cancelled between the candidates' read and the lock: its payment is left
        unhandled and enqueued again on its own; the rest of the batch goes through. Run
        again, it finds A gone and becomes a walk-in."""
        w = await build_scenario(session_maker)
        a_id = w.orders["A"].id
        changed: list[bool] = []

        def cancel_a_before_the_lock(state: ORMExecuteState) -> None:
            stmt = state.statement
            locking = getattr(stmt, "_for_update_arg", None) is not None
            if state.is_select and locking and not changed:
                entities = [d.get("entity") for d in stmt.column_descriptions]  # type: ignore[attr-defined]
                if Order in entities:
                    changed.append(True)
                    state.session.execute(
                        update(Order)
                        .where(Order.id == a_id)
                        .values(status=OrderStatus.CANCELLED)
                        .execution_options(synchronize_session=False)
                    )

        sent: list[PendingJob] = []

        async def send(job: PendingJob) -> None:
            sent.append(job)

        async with job_scope(send), session_maker() as s:
            event.listen(s.sync_session, "do_orm_execute", cancel_a_before_the_lock)
            outcomes = await payment_service.process_many(s, w.rt, list(w.payments.values()))
            await s.commit()
        assert changed
        pid = w.payments["tail_a"]
        assert pid not in [o.payment_id for o in outcomes]
        assert len(outcomes) == len(w.payments) - 2  # the orphan and the deferred one
        assert PendingJob("payment.process_payment", (pid,)) in sent
        snap = await snapshot(session_maker, w)
        assert snap["payments"]["tail_a"] == (PaymentStatus.RECEIVED, None, None, None, False)
        assert snap["orders"]["A"][0] is OrderStatus.CANCELLED
        # the second payment with A's tail was matched as if A were taken: a walk-in either way
        assert snap["payments"]["tail_a_again"][1] is MatchMethod.WALK_IN

        [again], jobs = await run_batch(session_maker, w.rt, [pid])
        assert again.status is PaymentStatus.MATCHED and again.order_id != a_id
        assert [j.name for j in jobs] == ["delegation.delegate_order"]

    async def test_process_of_one_raises_retry(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        """`process` (the confirm route) keeps its contract: the caller's transaction retries."""
        w = await build_scenario(session_maker)
        a_id = w.orders["A"].id

        def cancel_a(state: ORMExecuteState) -> None:
            if state.is_select and getattr(state.statement, "_for_update_arg", None) is not None:
                entities = [d.get("entity") for d in state.statement.column_descriptions]  # type: ignore[attr-defined]
                if Order in entities:
                    state.session.execute(
                        update(Order)
                        .where(Order.id == a_id, Order.status == OrderStatus.PENDING)
                        .values(status=OrderStatus.CANCELLED)
                        .execution_options(synchronize_session=False)
                    )

        sent: list[PendingJob] = []

        async def send(job: PendingJob) -> None:
            sent.append(job)

        async with job_scope(send), session_maker() as s:
            event.listen(s.sync_session, "do_orm_execute", cancel_a)
            with pytest.raises(Retry):
                await payment_service.process(s, w.rt, w.payments["tail_a"])
            await s.rollback()
        assert sent == []  # no job of its own: the caller retries
        async with job_scope(send), session_maker() as s:
            outcome = await payment_service.process(s, w.rt, w.payments["sender_b"])
            await s.commit()
        assert outcome is not None and outcome.order_id == w.orders["B"].id
        assert sent == [PendingJob("delegation.delegate_order", (w.orders["B"].id,))]


class TestJob:
    async def test_a_failing_batch_is_split_so_one_payment_holds_back_no_other(
        self, engine: AsyncEngine, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        """The database refuses one payment's row (an injected fault): the batch job enqueues
        each payment alone; the others then go through, the bad one fails on its own."""
        import tronrent.payment.tasks  # noqa: F401 - registers the actor

        w = World(FlashRuntime(payment_address=new_address()))
        a = AddressBook()
        async with session_maker() as s:
            await add_payments(s, w, [(f"w{i}", a[f"w{i}"], 2 * TRX) for i in range(3)])
            await s.commit()
        ids = list(w.payments.values())
        poison = ids[1]

        def refuse(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
            rows = params if isinstance(params, list) else [params]
            if statement.startswith("UPDATE payments") and any(
                poison in (r.values() if isinstance(r, dict) else r) for r in rows
            ):
                raise RuntimeError("row refused")

        ctx = WorkerContext(session_maker)
        async with TronGateway(["http://127.0.0.1:9/"]) as unused_chain:
            install_flash_resources(
                ctx, chain=unused_chain, box=SecretBox([generate_key()]), rt=w.rt
            )
            set_worker_context(ctx)
            event.listen(engine.sync_engine, "before_cursor_execute", refuse)
            try:
                job = get_actor("payment.process_payment").fn
                sent: list[PendingJob] = []

                async def send(j: PendingJob) -> None:
                    sent.append(j)

                async with job_scope(send):
                    await job(*ids)
                assert sent == [PendingJob("payment.process_payment", (pid,)) for pid in ids]
                for pid in ids:
                    async with job_scope(send):
                        if pid == poison:
                            with pytest.raises(Exception, match="row refused"):
                                await job(pid)
                        else:
                            await job(pid)
            finally:
                event.remove(engine.sync_engine, "before_cursor_execute", refuse)
                set_worker_context(None)
        async with session_maker() as s:
            status = dict(
                (
                    await s.execute(select(Payment.id, Payment.status).where(Payment.id.in_(ids)))
                ).all()
            )
        assert status == {
            ids[0]: PaymentStatus.MATCHED,
            poison: PaymentStatus.RECEIVED,
            ids[2]: PaymentStatus.MATCHED,
        }
