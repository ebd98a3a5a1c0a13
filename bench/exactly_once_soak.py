"""Exactly once under crashes and node faults, checked against the chain (PRODUCT.md bar:
"1,000 paid orders with the workers killed at random and the node failing 10 % of calls:
every payment delivered exactly once, checked against the chain").

The devnet runs in its own process; `--workers` worker processes (bench/_soak_worker.py: the
whole flash engine - leader-leased scanner, in-process job queue, sweeper) share one database
(PostgreSQL by default, `--database-url sqlite` for a temporary SQLite file). The node fails
10 % of all calls (errors 500, 429 with Retry-After, timeouts; `--fault-rate`). Walk-in
customers pay 1.5 TRX each (one transaction of energy) at `--rate` payments per second, while
a random worker is killed with SIGKILL every `--kill-every` seconds on average and restarted at
once. When every order is active (or `--timeout` passes), faults are cleared, the workers are
stopped and the chain is read block by block (getblockbylimitnext): each paid customer must
have exactly one DelegateResourceContract from the pool, every payment on chain must be
recorded once in `payments`, and no one else may have received a delegation.

    .venv/bin/python bench/exactly_once_soak.py [--orders 1000] [--workers 2] [--rate 25]
        [--kill-every 15] [--fault-rate 0.10] [--block-interval-ms 500]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres | sqlite]

The last line is the result: `exactly-once soak: ... RESULT PASS|FAIL`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from _common import (
    PG_DEFAULT,
    TRX,
    block_number,
    customer_keys,
    database,
    devnet_process,
    fund,
    load_average,
    presign_transfers,
    quiet_logs,
)
from sqlalchemy import func, select

from tronproto.address import to_base58, to_hex

PRICE_SUN = 1_500_000  # one transaction of energy
WORKER = Path(__file__).with_name("_soak_worker.py")


class Workers:
    """Worker processes, killed with SIGKILL at random and restarted."""

    def __init__(self, n: int, env: dict[str, str]) -> None:
        self.n = n
        self.env = {**os.environ, **env}
        self.procs: list[asyncio.subprocess.Process] = []
        self.kills = 0

    async def spawn(self) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(WORKER),
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if line.strip() != b"ready":
            raise RuntimeError("a worker did not start")
        return proc

    async def start(self) -> None:
        self.procs = [await self.spawn() for _ in range(self.n)]

    async def chaos(self, stop: asyncio.Event, every_s: float) -> None:
        rng = random.Random()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), rng.uniform(0.25, 1.75) * every_s)
                return
            except TimeoutError:
                pass
            i = rng.randrange(len(self.procs))
            self.procs[i].send_signal(signal.SIGKILL)
            await self.procs[i].wait()
            self.kills += 1
            self.procs[i] = await self.spawn()

    async def stop(self) -> None:
        for p in self.procs:
            if p.returncode is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                await asyncio.wait_for(p.wait(), 15)
            except TimeoutError:
                p.kill()
                await p.wait()


async def pay(http: httpx.AsyncClient, bodies: list[tuple[str, bytes]], rate: float) -> int:
    """Broadcast the signed payments at `rate`/s, retrying through the injected faults."""
    sent = 0
    start = time.monotonic()

    async def one(body: bytes) -> None:
        nonlocal sent
        for _ in range(50):
            try:
                r = await http.post("/wallet/broadcasttransaction", content=body)
                out: dict[str, Any] = r.json() if r.status_code == 200 else {}
            except (httpx.HTTPError, ValueError):
                out = {}
            if out.get("result") or out.get("code") == "DUP_TRANSACTION_ERROR":
                sent += 1
                return
            await asyncio.sleep(0.2)

    tasks = []
    for i, (_, body) in enumerate(bodies):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(body)))
    await asyncio.gather(*tasks)
    return sent


async def wait_active(db: Any, n: int, timeout_s: float) -> int:
    from tronrent.models.order import Order, OrderStatus

    deadline = time.monotonic() + timeout_s
    while True:
        async with db() as s:
            active = int(
                await s.scalar(
                    select(func.count())
                    .select_from(Order)
                    .where(Order.status == OrderStatus.ACTIVE)
                )
                or 0
            )
        if active >= n or time.monotonic() > deadline:
            return active
        await asyncio.sleep(1.0)


async def chain_delegations(http: httpx.AsyncClient, pool_hex: str, first: int) -> Counter[str]:
    """receiver (base58) -> DelegateResourceContract txs from the pool, read block by block."""
    head = (await http.post("/wallet/getnowblock", json={})).json()
    last = block_number(head)
    out: Counter[str] = Counter()
    for start in range(first, last + 1, 100):
        r = await http.post(
            "/wallet/getblockbylimitnext", json={"startNum": start, "endNum": start + 100}
        )
        for block in r.json().get("block", []):
            for tx in block.get("transactions", []):
                if tx.get("ret", [{}])[0].get("contractRet", "SUCCESS") != "SUCCESS":
                    continue
                contract = tx["raw_data"]["contract"][0]
                value = contract["parameter"]["value"]
                if (
                    contract["type"] == "DelegateResourceContract"
                    and value.get("owner_address") == pool_hex
                ):
                    out[to_base58(value["receiver_address"])] += 1
    return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rate", type=float, default=25.0, help="payments per second")
    ap.add_argument("--kill-every", type=float, default=15.0, help="mean seconds between kills")
    ap.add_argument("--fault-rate", type=float, default=0.10)
    ap.add_argument("--block-interval-ms", type=int, default=500)
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--database-url", default=PG_DEFAULT, help="or 'sqlite'")
    args = ap.parse_args()
    quiet_logs()
    from tronrent.adapters.tron.gateway import TronGateway
    from tronrent.demo.devnet import DevnetControl
    from tronrent.entrypoints.devnet_bootstrap import ensure_demo_pool
    from tronrent.kit.crypto import SecretBox, generate_key
    from tronrent.kit.db import create_engine, create_session_maker
    from tronrent.models.payment import Payment

    db_url = None if args.database_url == "sqlite" else args.database_url
    t0 = time.monotonic()
    with devnet_process(args.block_interval_ms) as (node_url, _pid):
        async with database(db_url) as url:
            engine = create_engine(url)
            db = create_session_maker(engine)
            secret = generate_key()
            async with TronGateway([node_url], timeout_s=10) as gw, DevnetControl(node_url) as c:
                pool = await ensure_demo_pool(db, SecretBox([secret]), gw, c, stake_trx=50_000_000)
            keys = customer_keys(args.orders)
            await fund(node_url, keys, 10 * TRX)
            async with httpx.AsyncClient(base_url=node_url, timeout=30) as http:
                head = (await http.post("/wallet/getnowblock", json={})).json()
                first_block = block_number(head)
                signed = presign_transfers(
                    [(k, to_hex(pool.address), PRICE_SUN) for k in keys], str(head["blockID"])
                )
                workers = Workers(
                    args.workers,
                    {
                        "SOAK_DB_URL": url,
                        "SOAK_NODE_URL": node_url,
                        "SOAK_SECRET_KEY": secret,
                        "SOAK_ADDRESS": pool.address,
                        "SOAK_BLOCK_MS": str(args.block_interval_ms),
                        "SOAK_RENTAL_S": "86400",
                        "SOAK_PERIODIC_SPEEDUP": "2",
                    },
                )
                await workers.start()
                third = args.fault_rate / 3
                await http.post(
                    "/devnet/faults",
                    json={
                        "error_rate": third,
                        "rate_limit_rate": third,
                        "timeout_rate": third,
                        "retry_after": 0,
                        "timeout_seconds": 1.0,
                    },
                )
                stop = asyncio.Event()
                chaos = asyncio.create_task(workers.chaos(stop, args.kill_every))
                t_pay = time.monotonic()
                sent = await pay(http, signed, args.rate)
                active = await wait_active(db, args.orders, args.timeout)
                elapsed = time.monotonic() - t_pay
                stop.set()
                await chaos
                await http.delete("/devnet/faults")
                await workers.stop()
                on_chain = await chain_delegations(http, to_hex(pool.address), first_block)
            async with db() as s:
                recorded = int(await s.scalar(select(func.count()).select_from(Payment)) or 0)
                distinct = int(
                    await s.scalar(select(func.count(func.distinct(Payment.tx_hash)))) or 0
                )
            await engine.dispose()
    customers = {k.address_base58 for k in keys}
    once = sum(1 for a in customers if on_chain.get(a) == 1)
    missing = sum(1 for a in customers if not on_chain.get(a))
    duplicates = sum(n - 1 for a, n in on_chain.items() if a in customers and n > 1)
    strangers = sum(n for a, n in on_chain.items() if a not in customers)
    ok = (
        once == args.orders
        and sent == args.orders
        and recorded == distinct == args.orders
        and strangers == 0
    )
    print(
        f"payments broadcast {sent}/{args.orders}, recorded {recorded} ({distinct} distinct), "
        f"orders active {active}, worker kills {workers.kills}, "
        f"{elapsed:.0f} s from first payment to last delegation, "
        f"total {time.monotonic() - t0:.0f} s"
    )
    print(load_average())
    print(
        f"exactly-once soak: {args.orders} paid orders, {args.workers} workers SIGKILLed "
        f"{workers.kills} times, node failing {args.fault_rate:.0%} of calls: delivered exactly "
        f"once {once}/{args.orders}, missing {missing}, duplicate delegations {duplicates}, "
        f"to strangers {strangers}, checked against {len(on_chain)} receivers on chain - "
        f"RESULT {'PASS' if ok else 'FAIL'}"
    )
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
