"""Package orders paid in USDT: payment-to-delegation latency in blocks at 100 orders per block.

The real engine (scanner watching the devnet's USDT contract + in-process workers + tronpy
gateway) runs in this process on SQLite (default) or PostgreSQL (``--database-url``); the devnet
runs in its own process. For each block, ``--rate`` package orders (a 65k x 1 h package priced
in USDT, energy to the payer's own address) are created, their payers' USDT transfers of the
exact amount are pre-signed and broadcast in a burst right after a new block; the latency of an
order is (block of its DelegateResource) - (block of its USDT payment), both read from the
chain. Bar (issue 10): p50 = 1 block, p99 <= 2 blocks.

    .venv/bin/python bench/package_usdt_latency.py [--rate 100] [--blocks 10]
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
    head_block,
    load_average,
    parse_quietly,
    percentile,
    presign_usdt_transfers,
    wait_next_block,
)
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout

from trondevnet.config import USDT_MAINNET_ADDRESS
from tronproto.address import to_hex
from tronproto.keys import PrivateKey
from tronrent.demo.devnet import DevnetControl
from tronrent.models.common import Currency
from tronrent.models.energy_package import EnergyPackage
from tronrent.product.package import create_package_order

USDT = 1_000_000
PRICE_UNITS = 3 * USDT // 2


async def new_package(p: Platform) -> EnergyPackage:
    async with p.session_maker() as s:
        pkg = EnergyPackage(
            name="65k x 1 h (USDT)",
            energy_amount=65_000,
            duration_hours=1,
            base_price_units=PRICE_UNITS,
            currency=Currency.USDT,
            min_order_amount=1,
            max_order_amount=10,
        )
        s.add(pkg)
        await s.commit()
        return pkg


async def open_orders(p: Platform, pkg: EnergyPackage, keys: list[PrivateKey]) -> list[int]:
    """One transfer order per payer (energy to the payer); the amounts they must send."""
    amounts: list[int] = []
    async with p.session_maker() as s:
        for k in keys:
            order = await create_package_order(
                s,
                p.flash.rt,
                package_id=pkg.id,
                quantity=1,
                recipient_address=k.address_base58,
                currency=Currency.USDT,
                payment_method="transfer",
            )
            assert order.expected_amount_units is not None
            amounts.append(order.expected_amount_units)
        await s.commit()
    return amounts


async def run(
    p: Platform, port: int, rate: int, blocks: int, max_wait_s: float
) -> dict[str, object]:
    keys = customer_keys(rate * blocks)
    async with DevnetControl(p.devnet_url) as control:
        for i in range(0, len(keys), 5_000):
            await control.faucet_many(
                (k.address_base58, 100 * TRX, 10 * USDT) for k in keys[i : i + 5_000]
            )
    pkg = await new_package(p)
    conn = Conn("127.0.0.1", port)
    await conn.post("/devnet/stats", b'{"reset": true}')
    last = block_number(await head_block(conn))
    pay_txids: list[str] = []
    errors: Counter[str] = Counter()
    sql0 = p.statements.count
    cpu0 = time.process_time()
    for b in range(blocks):
        batch = keys[b * rate : (b + 1) * rate]
        amounts = await open_orders(p, pkg, batch)
        block = await wait_next_block(conn, last)
        last = block_number(block)
        signed = presign_usdt_transfers(
            [(k, to_hex(p.address), a) for k, a in zip(batch, amounts, strict=True)],
            to_hex(USDT_MAINNET_ADDRESS),
            str(block["blockID"]),
        )
        pay_txids += [t for t, _ in signed]
        _, errs = await broadcast_all(port, [body for _, body in signed], concurrency=8)
        errors.update(errs)
    recipients = {k.address_base58 for k in keys}
    deadline = time.monotonic() + max_wait_s
    delegations: dict[str, str] = {}
    while time.monotonic() < deadline:
        try:
            found = await delivered_delegations(p)
        except SQLAlchemyTimeout:
            continue
        delegations = {r: t for r, t in found.items() if r in recipients}
        if len(delegations) >= len(keys):
            break
        await asyncio.sleep(0.5)
    cpu_ms = round((time.process_time() - cpu0) * 1000 / len(keys), 1)
    sql = round((p.statements.count - sql0) / len(keys), 1)
    stats = await conn.post("/devnet/stats", b"{}")
    scanner = sum(
        int(n)
        for path, n in stats["requests"].items()
        if path in ("/wallet/getblockbylimitnext", "/wallet/gettransactioninfobyblocknum")
    )
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
        "scanner_node_requests": scanner,
        "engine_cpu_ms_per_order": cpu_ms,
        "sql_statements_per_order_incl_creation": sql,
    }


async def main() -> None:
    ap = bench_parser(__doc__, block_interval_ms=3000)
    ap.add_argument("--rate", type=int, default=100, help="USDT package orders per block")
    ap.add_argument("--blocks", type=int, default=10, help="blocks of payments")
    ap.add_argument("--max-wait", type=float, default=300.0)
    args = parse_quietly(ap)
    db_kind = "postgresql" if args.database_url else "sqlite"
    async with engine_on_devnet(args, usdt_contract=USDT_MAINNET_ADDRESS) as (p, port):
        r = await run(p, port, args.rate, args.blocks, args.max_wait)
    print(r, flush=True)
    print(
        f"RESULT package_usdt_latency [{db_kind}, {args.block_interval_ms} ms blocks] "
        f"{r['rate']} USDT package orders/block: blocks from payment to delegation p50 "
        f"{r['p50']} p99 {r['p99']} ({r['delivered']}/{r['orders']}); {load_average()}"
    )


if __name__ == "__main__":
    asyncio.run(main())
