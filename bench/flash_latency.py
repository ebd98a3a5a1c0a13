"""Payment-to-delegation latency in blocks at 1, 10 and 100 paid orders per block.

The real engine (block scanner + in-process workers + tronpy gateway) runs in this process on
SQLite (default) or PostgreSQL (``--database-url``); the devnet runs in its own process with
3 s blocks. For each rate, walk-in customers' payments (1.5 TRX = one USDT transfer of energy)
are pre-signed and broadcast in a burst right after each new block, so each burst lands in the
next block; the latency of an order is (block of its DelegateResource) - (block of its payment),
both read from the chain. Bar: p50 = 1 block, p99 <= 2 blocks at 100 per block.

    .venv/bin/python bench/flash_latency.py [--rates 1,10,100] [--blocks 10]
        [--block-interval-ms 3000] [--database-url postgresql+asyncpg://postgres@127.0.0.1/x]
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from _common import (
    TRX,
    Conn,
    Platform,
    bench_parser,
    block_number,
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
    wait_next_block,
)
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout

from tronproto.address import to_hex

PRICE_SUN = 1_500_000  # single_price: one USDT transfer


async def run_rate(
    p: Platform, port: int, rate: int, blocks: int, max_wait_s: float
) -> dict[str, object]:
    keys = customer_keys(rate * blocks)
    await fund(p.devnet_url, keys, 10 * TRX)
    conn = Conn("127.0.0.1", port)
    await conn.post("/devnet/stats", b'{"reset": true}')
    ref = await head_block(conn)
    signed = presign_transfers(
        [(k, to_hex(p.address), PRICE_SUN) for k in keys], str(ref["blockID"])
    )
    pay_txids = [t for t, _ in signed]
    cpu0 = time.process_time()
    sql0 = p.statements.count
    last = block_number(ref)
    errors: Counter[str] = Counter()
    for b in range(blocks):
        block = await wait_next_block(conn, last)
        last = block_number(block)
        burst = [body for _, body in signed[b * rate : (b + 1) * rate]]
        _, errs = await broadcast_all(port, burst, concurrency=min(8, rate))
        errors.update(errs)
    recipients = {k.address_base58 for k in keys}
    deadline = time.monotonic() + max_wait_s
    delegations: dict[str, str] = {}
    while time.monotonic() < deadline:
        try:
            found = await delivered_delegations(p)
        except SQLAlchemyTimeout:  # the engine's jobs hold every pooled connection
            continue
        delegations = {r: t for r, t in found.items() if r in recipients}
        if len(delegations) >= len(keys):
            break
        await asyncio.sleep(0.5)
    cpu_ms_per_order = round((time.process_time() - cpu0) * 1000 / len(keys), 1)
    sql_per_order = round((p.statements.count - sql0) / len(keys), 1)
    stats = await conn.post("/devnet/stats", b"{}")
    per_order = {
        path.removeprefix("/wallet/"): round(n / len(keys), 2)
        for path, n in sorted(stats["requests"].items(), key=lambda kv: -kv[1])
        if not path.startswith("/devnet/")
    }
    latencies = await delegation_latencies(port, keys, pay_txids, delegations)
    await conn.close()
    return {
        "rate": rate,
        "orders": len(keys),
        "delivered": sum(1 for x in latencies if x != float("inf")),
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "max": max(latencies, default=float("nan")),
        "histogram": dict(sorted(Counter(latencies).items())),
        "broadcast_errors": dict(errors),
        "node_requests_per_order": per_order,
        "engine_cpu_ms_per_order": cpu_ms_per_order,
        "sql_statements_per_order": sql_per_order,
    }


async def main() -> None:
    ap = bench_parser(__doc__, block_interval_ms=3000)
    ap.add_argument("--rates", default="1,10,100")
    ap.add_argument("--blocks", type=int, default=10, help="blocks of payments per rate")
    ap.add_argument(
        "--max-wait", type=float, default=300.0, help="s to wait for delegations (else inf)"
    )
    args = parse_quietly(ap)
    rates = [int(r) for r in args.rates.split(",")]
    db_kind = "postgresql" if args.database_url else "sqlite"
    results = []
    async with engine_on_devnet(args) as (p, port):
        for rate in rates:
            r = await run_rate(p, port, rate, args.blocks, args.max_wait)
            print(r, flush=True)
            results.append(r)
    summary = ", ".join(
        f"{r['rate']}/block: p50 {r['p50']} p99 {r['p99']} ({r['delivered']}/{r['orders']})"
        for r in results
    )
    print(
        f"RESULT flash_latency [{db_kind}, {args.block_interval_ms} ms blocks] blocks from "
        f"payment to delegation: {summary}; {load_average()}"
    )


if __name__ == "__main__":
    asyncio.run(main())
