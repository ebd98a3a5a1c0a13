"""Node requests per scanned block with 10, 1,000 and 10,000 open orders (bar: <= 2, flat).

The real engine runs (scanner + workers, no periodic jobs) against a devnet process. For each
size, that many open orders are put in the database, each with its own payment address (so the
scanner watches that many addresses: the worst case), then the chain runs for ``--blocks``
blocks carrying background traffic (TRX transfers between other accounts, a few to watched
addresses, which become payments). The devnet's per-path request counters give the scanner's
requests (`getblockbylimitnext`, `gettransactioninfobyblocknum`) per block produced.

``--usdt``: the scanner also watches the devnet's USDT contract, the open orders are USDT
package orders on the one payment address, and every block also carries a USDT transfer
between other accounts, every other block one to the payment address (a payment): the
transaction infos are read only for the blocks with a watched USDT call (bar: <= 2 per block).

    .venv/bin/python bench/scanner_requests.py [--sizes 10,1000,10000] [--blocks 40] [--usdt]
        [--block-interval-ms 500] [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import timedelta

from _common import (
    TRX,
    Conn,
    Platform,
    bench_parser,
    block_number,
    broadcast_all,
    customer_keys,
    engine_on_devnet,
    fund,
    head_block,
    load_average,
    parse_quietly,
    presign_transfers,
    presign_usdt_transfers,
    wait_next_block,
)
from sqlalchemy import insert, update

from trondevnet.config import USDT_MAINNET_ADDRESS
from tronproto.address import to_base58, to_hex
from tronproto.keys import PrivateKey
from tronrent.demo.devnet import DevnetControl
from tronrent.kit.time import utcnow
from tronrent.models.common import Currency
from tronrent.models.order import Order, OrderStatus, OrderType

SCANNER_PATHS = ("/wallet/getblockbylimitnext", "/wallet/gettransactioninfobyblocknum")


async def open_orders(p: Platform, n: int, tag: str, *, usdt: bool = False) -> list[str]:
    """``n`` pending orders, each on its own payment address (``usdt``: USDT package orders
    on the platform's payment address); returns the payment addresses."""
    now = utcnow()
    if usdt:
        addresses = [p.address] * n
    else:
        addresses = [to_base58(b"\x41" + random.randbytes(20)) for _ in range(n)]
    rows = [
        {
            "id": f"BENCH_{tag}_{i}",
            "order_number": f"BENCH_{tag}_{i}",
            "order_type": OrderType.ENERGY_RENTAL if usdt else OrderType.ENERGY_FLASH,
            "currency": Currency.USDT if usdt else Currency.TRX,
            "status": OrderStatus.PENDING,
            "target_address": to_base58(b"\x41" + random.randbytes(20)) if usdt else a,
            "payment_address": a,
            # unique per (address, currency): the tail, plus a step per 9,999 orders
            "expected_amount_units": 1_500_000 + (i // 9_999) * 10_000 + i % 9_999 + 1,
            "amount_tail_units": i % 9_999 + 1,
            "energy_amount": 66_300 if usdt else None,
            "energy_per_transaction": 66_300,
            "final_price_units": 1_500_000 if usdt else 0,
            "expires_at": now + timedelta(hours=2),
        }
        for i, a in enumerate(addresses)
    ]
    async with p.session_maker() as s:
        for i in range(0, n, 2_000):
            await s.execute(insert(Order), rows[i : i + 2_000])
        await s.commit()
    return addresses


async def close_orders(p: Platform, tag: str) -> None:
    async with p.session_maker() as s:
        await s.execute(
            update(Order)
            .where(Order.id.like(f"BENCH_{tag}_%"), Order.status == OrderStatus.PENDING)
            .values(status=OrderStatus.CANCELLED)
        )
        await s.commit()


async def run_size(
    p: Platform, port: int, n: int, blocks: int, per_block: int, usdt: bool
) -> dict[str, object]:
    watched = await open_orders(p, n, str(n), usdt=usdt)
    senders = customer_keys(per_block)
    await fund(p.devnet_url, senders, 1_000 * TRX)
    usdt_senders = customer_keys(2) if usdt else []
    async with DevnetControl(p.devnet_url) as control:
        await control.faucet_many((k.address_base58, 1_000 * TRX, 10**12) for k in usdt_senders)
    others = [PrivateKey.random().address_hex for _ in range(50)]
    conn = Conn("127.0.0.1", port)
    head = await wait_next_block(conn, block_number(await head_block(conn)))
    await asyncio.sleep(0.3)  # let the scanner catch up before counting
    await conn.post("/devnet/stats", b'{"reset": true}')
    stats0 = p.flash.scanner.stats
    req0, blocks0 = stats0.node_requests, stats0.blocks
    start = block_number(head)
    last = start
    t0 = time.monotonic()
    for b in range(blocks):
        targets = [others[(b + i) % len(others)] for i in range(per_block - 1)]
        targets.append(to_hex(watched[b % len(watched)]))  # one payment to a watched address
        signed = presign_transfers(
            [(k, t, 1 + b) for k, t in zip(senders, targets, strict=True)], str(head["blockID"])
        )
        if usdt:  # one USDT transfer between others; every other block one to us
            calls = [(usdt_senders[0], others[b % len(others)], 1_000_000 + b)]
            if b % 2 == 0:
                calls.append((usdt_senders[1], to_hex(p.address), 2_000_000 + b))
            signed += presign_usdt_transfers(
                calls, to_hex(USDT_MAINNET_ADDRESS), str(head["blockID"])
            )
        await broadcast_all(port, [body for _, body in signed], concurrency=4)
        head = await wait_next_block(conn, last)
        last = block_number(head)
    await asyncio.sleep(1.0)  # the scanner reads the last block
    stats = await conn.post("/devnet/stats", b"{}")
    scanned = p.flash.scanner.stats.blocks - blocks0
    produced = last - start
    node = sum(int(stats["requests"].get(path, 0)) for path in SCANNER_PATHS)
    await conn.close()
    await close_orders(p, str(n))
    return {
        "open_orders": n,
        "watched_addresses": len(set(watched) | {p.address}),
        "blocks_produced": produced,
        "blocks_scanned": scanned,
        "scanner_node_requests": node,
        "by_path": {path: int(stats["requests"].get(path, 0)) for path in SCANNER_PATHS},
        "per_block": round(node / max(1, scanned), 3),
        "scanner_own_count_per_block": round(
            (p.flash.scanner.stats.node_requests - req0) / max(1, scanned), 3
        ),
        "payments_seen": p.flash.scanner.stats.payments,
        "seconds": round(time.monotonic() - t0, 1),
    }


async def main() -> None:
    ap = bench_parser(__doc__, block_interval_ms=500)
    ap.add_argument("--sizes", default="10,1000,10000")
    ap.add_argument("--blocks", type=int, default=40)
    ap.add_argument("--txs-per-block", type=int, default=20)
    ap.add_argument("--usdt", action="store_true", help="watch USDT; USDT package orders")
    args = parse_quietly(ap)
    results = []
    usdt = USDT_MAINNET_ADDRESS if args.usdt else None
    async with engine_on_devnet(args, usdt_contract=usdt) as (p, port):
        for n in (int(x) for x in args.sizes.split(",")):
            r = await run_size(p, port, n, args.blocks, args.txs_per_block, args.usdt)
            print(r, flush=True)
            results.append(r)
    summary = ", ".join(f"{r['open_orders']:,} open orders: {r['per_block']}" for r in results)
    print(
        f"RESULT scanner_requests [{'postgresql' if args.database_url else 'sqlite'}, "
        f"{args.block_interval_ms} ms blocks, {args.txs_per_block} txs/block"
        f"{', USDT watched' if args.usdt else ''}] node requests "
        f"per scanned block: {summary}; {load_average()}"
    )


if __name__ == "__main__":
    asyncio.run(main())
