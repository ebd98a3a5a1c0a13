"""Orders paid from the balance per second, each delegated in the next block (PostgreSQL).

Creates (and drops) its own PostgreSQL database on the server of ``--database-url``, runs the
real engine (scanner + workers + tronpy gateway) in this process and the devnet in its own.
Beforehand: ``--users`` users with a TRX balance (ledger top-ups) and one pending package order
per recipient (an activated account). Then the orders are paid from the balance
(``payment.balance_pay.pay_from_balance``, one transaction each, ``--concurrency`` at once per
payer) at ``--rate`` per second for ``--seconds``; a payment sends no job: the engine's pickup
(``delegation.pickup``), woken by the payment's commit (PostgreSQL NOTIFY), delegates the paid
orders in batches.

The payments run in this process (``--payer-processes 0``: one event loop for the API work and
the engine), or in N processes of their own, like API workers beside a worker process; the
engine's job queue is then Redis (``--redis-url``, a database of its own: its
``tronrent:stream:*`` keys are deleted first), as in a deployment with several processes.

Figures: payments committed per second; orders delivered (delegation confirmed on chain) per
second; per order the latency in blocks from its payment to its delegation: the delegation's
block (read from the chain) minus the head block when the payment committed. The payers only
note the wall time of each commit (no chain polling of their own: that would be measurement
overhead in the API workers' CPU); afterwards the main process reads the timestamp of every
block of the run (the devnet stamps a block with the wall clock of the moment it makes it, on
this machine) and the head at a commit is the last block stamped at or before it. For the
orders that missed the next block: how long before it they were paid (a payment in the last
moments of a slot cannot make it). CPU per order: payer processes, engine process, devnet, and
this machine's PostgreSQL (all its processes).

    .venv/bin/python bench/balance_orders.py \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        [--rate 200] [--seconds 60] [--block-interval-ms 3000] [--payer-processes 2]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import (
    PG_DEFAULT,
    TRX,
    Conn,
    bench_parser,
    block_number,
    block_times,
    clear_streams,
    cpu_seconds,
    cpu_spent,
    customer_keys,
    engine_on_devnet,
    fund,
    head_at,
    head_block,
    load_average,
    parse_quietly,
    percentile,
    quiet_logs,
    reachable_share,
    read_json,
    server_cpu_seconds,
    start_helpers,
    tx_blocks,
    wait_for_start,
    write_json,
)
from sqlalchemy import func, select
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from package_orders import build_package_order, new_user
from tronrent.kit.db import create_engine, create_session_maker, transaction_scope
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.job_failure import JobFailure
from tronrent.models.order import Order
from tronrent.payment.balance_pay import BALANCE, pay_from_balance
from tronrent.user.balance import balance as balance_service
from tronrent.worker import JobQueue, job_scope, set_job_queue

PRICE_SUN = 3 * TRX
ENERGY = 66_300


async def pay_orders(
    session_maker: async_sessionmaker[AsyncSession],
    order_ids: Sequence[str],
    *,
    rate: float,
    start_wall: float,
    concurrency: int,
) -> tuple[dict[str, float], Counter[str]]:
    """Pay ``order_ids`` from the balance at ``rate`` per second from ``start_wall`` (epoch s);
    order id -> wall time (epoch s) when its payment committed, and the errors by type."""
    paid_at: dict[str, float] = {}
    failed: Counter[str] = Counter()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    async def payer() -> None:
        while (oid := await queue.get()) is not None:
            try:
                async with job_scope(), transaction_scope(session_maker) as s:
                    await pay_from_balance(s, oid, actor="bench")
                paid_at[oid] = time.time()
            except Exception as exc:  # counted and shown: the bench goes on
                failed[type(exc).__name__] += 1

    payers = [asyncio.create_task(payer()) for _ in range(concurrency)]
    step = max(1, round(rate / 10))  # a tenth of a second's worth at a time
    for i in range(0, len(order_ids), step):
        await asyncio.sleep(max(0.0, start_wall + i / rate - time.time()))
        for oid in order_ids[i : i + step]:
            queue.put_nowait(oid)
    for _ in payers:
        queue.put_nowait(None)
    await asyncio.gather(*payers)
    return paid_at, failed


async def payer_process(spec_path: str) -> None:
    """A payer of its own (``--payer-of``): pays its share, writes the results next to it."""
    import tronrent.tasks  # noqa: F401 - the actors the jobs are sent to

    quiet_logs()
    spec: dict[str, Any] = read_json(spec_path)
    queue = JobQueue.redis(spec["redis_url"])
    await queue.startup()
    set_job_queue(queue)
    engine = create_engine(spec["database_url"], pool_size=spec["concurrency"])
    try:
        start_wall = await wait_for_start()
        cpu0 = time.process_time()
        paid, failed = await pay_orders(
            create_session_maker(engine),
            spec["order_ids"],
            rate=spec["rate"],
            start_wall=start_wall,
            concurrency=spec["concurrency"],
        )
    finally:
        await engine.dispose()
        await queue.shutdown()
    cpu_s = time.process_time() - cpu0
    write_json(spec_path + ".out", {"paid": paid, "failed": failed, "cpu_s": cpu_s})


async def pay_in_processes(
    args: argparse.Namespace,
    database_url: str,
    order_ids: list[str],
    started: asyncio.Future[float],
    payer_cpu: list[float],
) -> tuple[dict[str, float], Counter[str]]:
    """Pay in ``--payer-processes`` processes; ``started`` gets the common start time once
    every payer is ready (imports and connections take seconds on a busy machine);
    ``payer_cpu`` gets the CPU seconds each payer spent paying."""
    n = args.payer_processes
    with tempfile.TemporaryDirectory(prefix="tronrent-bench-payers-") as tmp:
        specs = []
        for i in range(n):
            path = Path(tmp) / f"payer{i}.json"
            spec = {
                "database_url": database_url,
                "redis_url": args.redis_url,
                "order_ids": order_ids[i::n],
                "rate": args.rate / n,
                "concurrency": args.concurrency,
            }
            write_json(str(path), spec)
            specs.append(path)
        procs, t0 = await start_helpers(__file__, "--payer-of", specs)
        started.set_result(t0)
        codes = [await proc.wait() for proc in procs]
        paid: dict[str, float] = {}
        failed: Counter[str] = Counter()
        for path, code in zip(specs, codes, strict=True):
            result = read_json(f"{path}.out") if code == 0 else None
            if result is None:
                failed[f"payer process exit {code}"] += 1
                continue
            paid.update(result["paid"])
            failed.update(result["failed"])
            payer_cpu.append(result["cpu_s"])
    return paid, failed


async def count(session_maker: async_sessionmaker[AsyncSession], *where: Any) -> int | None:
    try:
        async with session_maker() as s:
            return int((await s.execute(select(func.count()).where(*where))).scalar_one())
    except SQLAlchemyTimeout:  # the engine's jobs hold every pooled connection
        return None


async def main() -> None:
    ap = bench_parser(__doc__, block_interval_ms=3000, database_url=PG_DEFAULT)
    ap.add_argument("--rate", type=int, default=200, help="payments offered per second")
    ap.add_argument("--seconds", type=int, default=60, help="how long payments are offered")
    ap.add_argument("--users", type=int, default=200, help="users the orders belong to")
    ap.add_argument("--concurrency", type=int, default=16, help="payments in flight per payer")
    ap.add_argument("--payer-processes", type=int, default=0, help="0: pay in this process")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/7", help="with payers")
    ap.add_argument("--max-wait", type=float, default=180.0, help="wait for deliveries (s)")
    args = parse_quietly(ap)
    total = args.rate * args.seconds
    redis_url = args.redis_url if args.payer_processes else None
    if redis_url:
        await clear_streams(redis_url)
    platform_kw = {"stake_trx": 200_000_000, "pool_size": 30, "redis_url": redis_url}
    async with engine_on_devnet(args, **platform_kw) as (p, port):
        keys = customer_keys(total)
        await fund(p.devnet_url, keys, TRX)  # recipients with an account on chain
        per_user = -(-total // args.users)
        order_ids: list[str] = []
        async with transaction_scope(p.session_maker) as s:
            users = [await new_user(s, trx_sun=per_user * PRICE_SUN) for _ in range(args.users)]
        for start in range(0, total, 2_000):
            async with transaction_scope(p.session_maker) as s:
                batch = [
                    build_package_order(
                        users[i % args.users].id,
                        price_units=PRICE_SUN,
                        energy=ENERGY,
                        target_address=keys[i].address_base58,
                    )
                    for i in range(start, min(total, start + 2_000))
                ]
                s.add_all(batch)
                order_ids += [o.id for o in batch]
        conn = Conn("127.0.0.1", port)
        first_block = block_number(await head_block(conn))  # the head before any payment
        await conn.close()
        started: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        payer_cpu: list[float] = []
        if args.payer_processes:
            db_url = p.engine.url.render_as_string(hide_password=False)
            paying = asyncio.create_task(
                pay_in_processes(args, db_url, order_ids, started, payer_cpu)
            )
        else:
            started.set_result(time.time())
            paying = asyncio.create_task(
                pay_orders(
                    p.session_maker,
                    order_ids,
                    rate=args.rate,
                    start_wall=started.result(),
                    concurrency=args.concurrency,
                )
            )
        t0 = await started
        cpu0 = time.process_time()  # this process: the engine (and the payments in-process)
        devnet_cpu0 = cpu_seconds(p.devnet_pid)
        pg_cpu0 = server_cpu_seconds("postgres")
        samples: list[tuple[float, int, int]] = []  # (t, paid, delivered)
        paid_now = done = 0
        while time.time() < t0 + args.seconds + args.max_wait:
            await asyncio.sleep(1.0)
            paid_now = await count(p.session_maker, Order.payment_method == BALANCE) or paid_now
            done = (
                await count(p.session_maker, EnergyDelegation.status == DelegationStatus.SUCCESS)
                or done
            )
            samples.append((time.time() - t0, paid_now, done))
            if paying.done() and done >= paid_now:
                break
        main_cpu = time.process_time() - cpu0
        devnet_cpu = cpu_seconds(p.devnet_pid) - devnet_cpu0
        pg_cpu = cpu_spent(pg_cpu0, server_cpu_seconds("postgres"))
        paid_at, failed = await paying
        paid_s = next((t for t, n, _ in samples if n >= len(paid_at)), samples[-1][0])
        last_t = next((t for t, _, n in samples if n >= done), samples[-1][0])
        async with p.session_maker() as s:
            failures = Counter(
                f"{name}: {error[:120]}"
                for name, error in (
                    await s.execute(select(JobFailure.job_name, JobFailure.error))
                ).all()
            )
            delegations = dict(
                (
                    await s.execute(
                        select(EnergyDelegation.order_id, EnergyDelegation.tx_hash).where(
                            EnergyDelegation.status == DelegationStatus.SUCCESS
                        )
                    )
                ).all()
            )
            mismatches = await balance_service.reconcile(s)
            # seconds from the payment's commit to its delegation being signed and stored
            stored_s = [
                (created - paid_at).total_seconds()
                for created, paid_at in (
                    await s.execute(
                        select(EnergyDelegation.created_at, Order.paid_at).join(
                            Order, Order.id == EnergyDelegation.order_id
                        )
                    )
                ).all()
            ]
        blocks = await tx_blocks(port, [t for t in delegations.values() if t])
        stamps = await block_times(port, first_block)
    paid_at_block = {oid: head_at(first_block, stamps, t) for oid, t in paid_at.items()}
    latencies = [
        float(blocks[delegations[oid]] - b)
        if oid in delegations and delegations[oid] in blocks
        else float("inf")
        for oid, b in paid_at_block.items()
    ]
    # how close to the next block the orders that missed it were paid (ms before its stamp)
    missed_slack = sorted(
        stamps[b - first_block + 1] - paid_at[oid] * 1000
        for (oid, b), late in zip(paid_at_block.items(), latencies, strict=True)
        if late > 1 and b - first_block + 1 < len(stamps)
    )
    paid = len(paid_at_block)
    where = f"{args.payer_processes} payer processes" if args.payer_processes else "in-process"
    print(
        {
            "offered": total,
            "paid": paid,
            "payment_errors": dict(failed),
            "delivered": done,
            "job_failures": dict(failures),
            "ledger_mismatches": len(mismatches),
            "timeline (s, paid, delivered)": [(round(t), n, d) for t, n, d in samples[::5]],
            "latency_blocks": dict(sorted(Counter(latencies).items())),
            **reachable_share(
                first_block, stamps, paid_at, dict(zip(paid_at_block, latencies, strict=True))
            ),
            "CPU ms per payment (payer processes)": (
                round(1000 * sum(payer_cpu) / paid, 2) if payer_cpu and paid else None
            ),
            "CPU ms per delivered order (engine process"
            + (")" if args.payer_processes else " + payments)"): (
                round(1000 * main_cpu / done, 2) if done else None
            ),
            "CPU ms per delivered order (devnet)": round(1000 * devnet_cpu / done, 2)
            if done
            else None,
            "missed the next block: paid ms before it p50/p99/max": (
                (
                    round(percentile(missed_slack, 50)),
                    round(percentile(missed_slack, 99)),
                    round(missed_slack[-1]),
                )
                if missed_slack
                else None
            ),
            "CPU ms per delivered order (PostgreSQL, this machine's)": round(
                1000 * pg_cpu / done, 2
            )
            if done
            else None,
            "paid -> delegation stored (s) p50/p99": (
                round(percentile(stored_s, 50), 3),
                round(percentile(stored_s, 99), 3),
            ),
        }
    )
    print(
        f"RESULT balance_orders [postgresql, {args.block_interval_ms} ms blocks, offered "
        f"{args.rate}/s for {args.seconds} s, payments {where}] paid {paid}/{total} from the "
        f"balance: {paid / paid_s if paid_s else 0:.1f} payments/s; delivered {done}: "
        f"{done / last_t if last_t else 0:.1f} orders/s; payment -> delegation p50 "
        f"{percentile(latencies, 50)} p99 {percentile(latencies, 99)} blocks; {load_average()}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--payer-of":
        asyncio.run(payer_process(sys.argv[2]))
    else:
        asyncio.run(main())
