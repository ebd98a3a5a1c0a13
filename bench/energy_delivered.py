"""Delivered energy as a share of energy sold, read from the chain (bar: 100-102 %).

Walk-in customers buy 1 to 10 transactions (1.5 TRX each) from the real engine (SQLite by
default, ``--database-url`` for PostgreSQL) against a devnet process. Once every order is
active, each recipient's energy is read from the chain - ``getaccountresource`` EnergyLimit
(its only energy is the rental) and ``getdelegatedresourcev2`` from the pool - and compared
with what was sold: transactions x the energy of one USDT transfer (65,000, the resource
config) and the order's own energy figure (which adds the drift margin, 2 %).

    .venv/bin/python bench/energy_delivered.py [--orders 100] [--block-interval-ms 1000]
"""

from __future__ import annotations

import asyncio
import json
import time

from _common import (
    TRX,
    Conn,
    bench_parser,
    broadcast_all,
    customer_keys,
    engine_on_devnet,
    fund,
    head_block,
    load_average,
    parse_quietly,
    presign_transfers,
)
from sqlalchemy import select

from tronproto.address import to_hex
from tronrent.models.order import Order, OrderStatus

PRICE_SUN = 1_500_000
BASE_ENERGY = 65_000  # energy of one USDT transfer sold (resource config `energy`)


async def main() -> None:
    ap = bench_parser(__doc__, block_interval_ms=1000)
    ap.add_argument("--orders", type=int, default=100)
    args = parse_quietly(ap)
    async with engine_on_devnet(args) as (p, port):
        keys = customer_keys(args.orders)
        counts = {k.address_base58: 1 + i % 10 for i, k in enumerate(keys)}
        await fund(p.devnet_url, keys, 20 * TRX)
        conn = Conn("127.0.0.1", port)
        ref = await head_block(conn)
        signed = presign_transfers(
            [(k, to_hex(p.address), counts[k.address_base58] * PRICE_SUN) for k in keys],
            str(ref["blockID"]),
        )
        await broadcast_all(port, [b for _, b in signed], concurrency=4)
        deadline = time.monotonic() + 300
        orders: list[Order] = []
        while time.monotonic() < deadline:
            async with p.session_maker() as s:
                orders = list(
                    (
                        await s.execute(
                            select(Order).where(
                                Order.status == OrderStatus.ACTIVE,
                                Order.target_address.in_(list(counts)),
                            )
                        )
                    ).scalars()
                )
            if len(orders) >= len(keys):
                break
            await asyncio.sleep(1.0)
        sold = ordered = delivered = delegated_sun = 0
        shares: list[float] = []
        for o in orders:
            address = o.target_address or ""
            res = await conn.post(
                "/wallet/getaccountresource",
                json.dumps({"address": address, "visible": True}).encode(),
            )
            dele = await conn.post(
                "/wallet/getdelegatedresourcev2",
                json.dumps(
                    {"fromAddress": p.address, "toAddress": address, "visible": True}
                ).encode(),
            )
            limit = int(res.get("EnergyLimit", 0))
            n = o.transaction_count or 0
            assert n == counts[address], (n, counts[address])
            sold += n * BASE_ENERGY
            ordered += o.energy_amount or 0
            delivered += limit
            delegated_sun += sum(
                int(d.get("frozen_balance_for_energy", 0))
                for d in dele.get("delegatedResource", [])
            )
            shares.append(limit / (n * BASE_ENERGY))
        await conn.close()
    db_kind = "postgresql" if args.database_url else "sqlite"
    print(
        {
            "orders": len(keys),
            "active": len(orders),
            "transactions_sold": sum(o.transaction_count or 0 for o in orders),
            "energy_sold": sold,
            "energy_ordered_with_margin": ordered,
            "energy_delivered": delivered,
            "delegated_trx": delegated_sun / TRX,
            "per_order_share_min_pct": round(min(shares, default=0) * 100, 3),
            "per_order_share_max_pct": round(max(shares, default=0) * 100, 3),
        }
    )
    print(
        f"RESULT energy_delivered [{db_kind}] {len(orders)}/{len(keys)} orders: delivered "
        f"{delivered / max(1, sold) * 100:.3f} % of the energy sold (65,000 per transaction), "
        f"{delivered / max(1, ordered) * 100:.3f} % of the orders' energy incl. the 2 % drift "
        f"margin; per order {min(shares, default=0) * 100:.3f}-{max(shares, default=0) * 100:.3f}"
        f" %; {load_average()}"
    )


if __name__ == "__main__":
    asyncio.run(main())
