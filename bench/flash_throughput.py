"""Sustained paid orders per second end to end, on PostgreSQL (bar: 200/s on 2 cores).

Creates (and drops) its own PostgreSQL database on the server of ``--database-url``, runs the
real engine (scanner + in-process workers + tronpy gateway) in this process and the devnet in
its own. Walk-in customers' payments (1.5 TRX each) are pre-signed, then broadcast at
``--rate`` per second for ``--seconds``; an order counts when its delegation is confirmed on
chain (status success). The figures: delivered orders / (last delivery - first payment), the
best 10 s window, and - whether the engine keeps up with the offered rate - the latency of every
order in blocks from its payment to its delegation, both read from the chain (flat and small for
the whole run if it keeps up; growing with the run if a backlog builds).

    .venv/bin/python bench/flash_throughput.py \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        [--rate 200] [--seconds 20] [--block-interval-ms 3000]
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
    broadcast_all,
    customer_keys,
    delegation_latencies,
    delivered_delegations,
    engine_on_devnet,
    fund,
    head_block,
    load_average,
    parse_quietly,
    percentile,
    presign_transfers,
)
from sqlalchemy import func, select
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout

from tronproto.address import to_hex
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.job_failure import JobFailure

PRICE_SUN = 1_500_000


async def main() -> None:
    ap = bench_parser(__doc__, block_interval_ms=3000, database_url=PG_DEFAULT)
    ap.add_argument("--rate", type=int, default=200, help="payments offered per second")
    ap.add_argument("--seconds", type=int, default=20, help="how long payments are offered")
    ap.add_argument("--max-wait", type=float, default=180.0, help="wait for deliveries (s)")
    args = parse_quietly(ap)
    total = args.rate * args.seconds
    async with engine_on_devnet(args, stake_trx=200_000_000) as (p, port):
        keys = customer_keys(total)
        await fund(p.devnet_url, keys, 10 * TRX)
        conn = Conn("127.0.0.1", port)
        ref = await head_block(conn)
        signed = presign_transfers(
            [(k, to_hex(p.address), PRICE_SUN) for k in keys], str(ref["blockID"])
        )
        bodies = [b for _, b in signed]
        done = 0
        t0 = time.monotonic()
        samples: list[tuple[float, int]] = []

        async def delivered() -> int:
            try:
                return await count_delivered()
            except SQLAlchemyTimeout:  # the engine's jobs hold every pooled connection
                return done

        async def count_delivered() -> int:
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

        async def offer() -> None:
            step = max(1, args.rate // 10)  # a tenth of a second's worth at a time
            for i in range(0, total, step):
                due = t0 + i / args.rate
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                await broadcast_all(port, bodies[i : i + step], concurrency=4)

        sender = asyncio.create_task(offer())
        deadline = t0 + args.seconds + args.max_wait
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            done = await delivered()
            samples.append((time.monotonic() - t0, done))
            if done >= total:
                break
        await sender
        async with p.session_maker() as s:
            failures = int(
                (await s.execute(select(func.count()).select_from(JobFailure))).scalar_one()
            )
        offered_s = args.seconds
        last_t = next((t for t, n in samples if n >= done), samples[-1][0])
        overall = done / last_t if last_t else 0.0
        window = 0.0
        for i, (t, n) in enumerate(samples):
            for t2, n2 in samples[i:]:
                if t2 - t >= 10:
                    window = max(window, (n2 - n) / (t2 - t))
                    break
        latencies = await delegation_latencies(
            port, keys, [t for t, _ in signed], await delivered_delegations(p)
        )
        await conn.close()
    # the first and the last tenth of the orders by offer time: a growing backlog shows here
    tenth = max(1, len(latencies) // 10)
    first, last = latencies[:tenth], latencies[-tenth:]
    db_kind = "postgresql" if args.database_url else "sqlite"
    timeline = [(round(t), n) for t, n in samples[::5]]
    print(
        {
            "offered": total,
            "delivered": done,
            "job_failures": failures,
            "timeline": timeline,
            "latency_blocks": dict(sorted(Counter(latencies).items())),
        }
    )
    print(
        f"RESULT flash_throughput [{db_kind}, {args.block_interval_ms} ms blocks, offered "
        f"{args.rate}/s for {offered_s} s] delivered {done}/{total} orders: {overall:.1f} "
        f"orders/s overall, best 10 s window {window:.1f} orders/s; payment -> delegation "
        f"p50 {percentile(latencies, 50)} p99 {percentile(latencies, 99)} blocks (first tenth "
        f"of the orders p99 {percentile(first, 99)}, last tenth p99 {percentile(last, 99)}); "
        f"{load_average()}"
    )


if __name__ == "__main__":
    asyncio.run(main())
