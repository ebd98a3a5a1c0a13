"""Orders paid from the balance per second, each delegated in the next block (PostgreSQL).

Creates (and drops) its own PostgreSQL database on the server of ``--database-url``, runs the
real engine (scanner + in-process workers + tronpy gateway) in this process and the devnet in
its own. Beforehand: ``--users`` users with a TRX balance (ledger top-ups) and one pending
package order per recipient (an activated account). Then the orders are paid from the balance
(``payment.balance_pay.pay_from_balance``, one transaction each, ``--concurrency`` at once) at
``--rate`` per second for ``--seconds``; each payment enqueues one delegation job. Figures:
payments committed per second; orders delivered (delegation confirmed on chain) per second;
and per order the latency in blocks from its payment to its delegation: the delegation's
block (read from the chain) minus the head block when the payment committed (the head is
polled every 50 ms, so a payment right at a block boundary may count one block more).

    .venv/bin/python bench/balance_orders.py \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        [--rate 200] [--seconds 60] [--block-interval-ms 3000]
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from _common import (
    PG_DEFAULT,
    TRX,
    Conn,
    bench_parser,
    block_number,
    customer_keys,
    engine_on_devnet,
    fund,
    head_block,
    load_average,
    parse_quietly,
    percentile,
    tx_blocks,
)
from sqlalchemy import func, select
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout

from package_orders import build_package_order, new_user
from tronrent.kit.db import transaction_scope
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.job_failure import JobFailure
from tronrent.payment.balance_pay import pay_from_balance
from tronrent.user.balance import balance as balance_service
from tronrent.worker import job_scope

PRICE_SUN = 3 * TRX
ENERGY = 66_300


async def main() -> None:
    ap = bench_parser(__doc__, block_interval_ms=3000, database_url=PG_DEFAULT)
    ap.add_argument("--rate", type=int, default=200, help="payments offered per second")
    ap.add_argument("--seconds", type=int, default=60, help="how long payments are offered")
    ap.add_argument("--users", type=int, default=200, help="users the orders belong to")
    ap.add_argument("--concurrency", type=int, default=16, help="payments in flight at once")
    ap.add_argument("--max-wait", type=float, default=180.0, help="wait for deliveries (s)")
    args = parse_quietly(ap)
    total = args.rate * args.seconds
    async with engine_on_devnet(args, stake_trx=200_000_000, pool_size=30) as (p, port):
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
        head = block_number(await head_block(conn))
        stop = asyncio.Event()

        async def follow_head() -> None:
            nonlocal head
            while not stop.is_set():
                head = block_number(await head_block(conn))
                await asyncio.sleep(0.05)

        paid_at_block: dict[str, int] = {}
        failed: Counter[str] = Counter()
        queue: asyncio.Queue[str] = asyncio.Queue()

        async def payer() -> None:
            while True:
                oid = await queue.get()
                try:
                    async with job_scope(), transaction_scope(p.session_maker) as s:
                        await pay_from_balance(s, oid, actor="bench")
                    paid_at_block[oid] = head
                except Exception as exc:  # counted and shown: the bench goes on
                    failed[type(exc).__name__] += 1
                finally:
                    queue.task_done()

        async def offer() -> None:
            step = max(1, args.rate // 10)  # a tenth of a second's worth at a time
            for i in range(0, total, step):
                await asyncio.sleep(max(0.0, t0 + i / args.rate - time.monotonic()))
                for oid in order_ids[i : i + step]:
                    queue.put_nowait(oid)

        async def delivered() -> int:
            try:
                async with p.session_maker() as s:
                    return int(
                        (
                            await s.execute(
                                select(func.count()).where(
                                    EnergyDelegation.status == DelegationStatus.SUCCESS
                                )
                            )
                        ).scalar_one()
                    )
            except SQLAlchemyTimeout:  # the engine's jobs hold every pooled connection
                return done

        follower = asyncio.create_task(follow_head())
        payers = [asyncio.create_task(payer()) for _ in range(args.concurrency)]
        t0 = time.monotonic()
        sender = asyncio.create_task(offer())
        done = 0
        samples: list[tuple[float, int, int]] = []  # (t, paid, delivered)
        deadline = t0 + args.seconds + args.max_wait
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            done = await delivered()
            samples.append((time.monotonic() - t0, len(paid_at_block), done))
            attempted = len(paid_at_block) + sum(failed.values())
            if attempted >= total and done >= len(paid_at_block):
                break
        await sender
        await queue.join()
        paid_s = next((t for t, n, _ in samples if n >= len(paid_at_block)), samples[-1][0])
        last_t = next((t for t, _, n in samples if n >= done), samples[-1][0])
        stop.set()
        await follower
        for task in payers:
            task.cancel()
        async with p.session_maker() as s:
            failures = int(
                (await s.execute(select(func.count()).select_from(JobFailure))).scalar_one()
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
        blocks = await tx_blocks(port, [t for t in delegations.values() if t])
        await conn.close()
    latencies = [
        float(blocks[delegations[oid]] - b)
        if oid in delegations and delegations[oid] in blocks
        else float("inf")
        for oid, b in paid_at_block.items()
    ]
    paid = len(paid_at_block)
    print(
        {
            "offered": total,
            "paid": paid,
            "payment_errors": dict(failed),
            "delivered": done,
            "job_failures": failures,
            "ledger_mismatches": len(mismatches),
            "timeline (s, paid, delivered)": [(round(t), n, d) for t, n, d in samples[::5]],
            "latency_blocks": dict(sorted(Counter(latencies).items())),
        }
    )
    print(
        f"RESULT balance_orders [postgresql, {args.block_interval_ms} ms blocks, offered "
        f"{args.rate}/s for {args.seconds} s] paid {paid}/{total} from the balance: "
        f"{paid / paid_s if paid_s else 0:.1f} payments/s; delivered {done}: "
        f"{done / last_t if last_t else 0:.1f} orders/s; payment -> delegation p50 "
        f"{percentile(latencies, 50)} p99 {percentile(latencies, 99)} blocks; {load_average()}"
    )


if __name__ == "__main__":
    asyncio.run(main())
