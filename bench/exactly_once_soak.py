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

Alongside, ``--balance-orders`` package orders (one receiver each, an activated account) are
paid from their customers' balances by this process (``payment.balance_pay``, as an API
worker pays them) at ``--balance-rate`` per second, while the workers are killed: the
scanner's leader picks them up (``delegation.pickup``) and delegates them. Each of their
receivers must hold exactly one delegation from the pool too, each order exactly one debit in
the ledger and no refund, and every balance must equal the sum of its ledger entries.

    .venv/bin/python bench/exactly_once_soak.py [--orders 1000] [--workers 2] [--rate 25]
        [--kill-every 15] [--fault-rate 0.10] [--block-interval-ms 500]
        [--balance-orders 1000] [--balance-rate 25]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres | sqlite]

The last two lines are the result: `exactly-once soak: ...` (the walk-in payments) and
`balance-paid: ... RESULT PASS|FAIL` (the verdict on both).
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
#: the balance-paid package orders: their price and energy, and how many customers hold them
BALANCE_PRICE_SUN = 3 * TRX
BALANCE_ENERGY = 66_300
BALANCE_CUSTOMERS = 50
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


async def balance_orders(db: Any, receivers: list[Any]) -> list[str]:
    """A pending package order per receiver, of ``BALANCE_CUSTOMERS`` customers whose TRX
    balances (ledger top-ups) cover their orders and one more; the order ids."""
    from package_orders import build_package_order, new_user
    from tronrent.kit.db import transaction_scope

    if not receivers:
        return []
    per_customer = -(-len(receivers) // BALANCE_CUSTOMERS)
    async with transaction_scope(db) as s:
        customers = [
            await new_user(s, trx_sun=(per_customer + 1) * BALANCE_PRICE_SUN)
            for _ in range(BALANCE_CUSTOMERS)
        ]
        orders = [
            build_package_order(
                customers[i % BALANCE_CUSTOMERS].id,
                price_units=BALANCE_PRICE_SUN,
                energy=BALANCE_ENERGY,
                target_address=key.address_base58,
            )
            for i, key in enumerate(receivers)
        ]
        s.add_all(orders)
    return [o.id for o in orders]


async def pay_from_balances(db: Any, order_ids: list[str], rate: float) -> Counter[str]:
    """Pay each order from its customer's balance at ``rate`` per second, each by two calls at
    once (a client retrying at once: the second must change nothing), a call that fails (SQLite
    busy) tried again; the failed calls by error."""
    from tronrent.kit.db import transaction_scope
    from tronrent.payment.balance_pay import pay_from_balance
    from tronrent.worker import job_scope

    errors: Counter[str] = Counter()
    start = time.monotonic()

    async def call(order_id: str) -> None:
        for _ in range(50):
            try:
                async with job_scope(), transaction_scope(db) as s:
                    await pay_from_balance(s, order_id, actor="soak")
                return
            except Exception as exc:  # counted and shown; tried again
                errors[type(exc).__name__] += 1
                await asyncio.sleep(0.2)

    tasks = []
    for i, order_id in enumerate(order_ids):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks += [asyncio.create_task(call(order_id)) for _ in range(2)]
    await asyncio.gather(*tasks)
    return errors


async def ledger_check(db: Any, order_ids: list[str]) -> dict[str, int]:
    """The balance-paid orders' ledger: orders with exactly one debit, debits beyond one,
    refunds, and (user, currency) balances that differ from the sum of their entries."""
    from tronrent.models.balance_ledger import BalanceLedgerEntry, LedgerCause
    from tronrent.user.balance import balance as balance_service

    async with db() as s:
        rows = (
            await s.execute(
                select(BalanceLedgerEntry.cause_type, BalanceLedgerEntry.cause_id).where(
                    BalanceLedgerEntry.cause_type.in_(
                        [LedgerCause.ORDER_PAYMENT, LedgerCause.ORDER_REFUND]
                    )
                )
            )
        ).all()
        mismatches = await balance_service.reconcile(s)
    debits = Counter(cause_id for cause, cause_id in rows if cause == LedgerCause.ORDER_PAYMENT)
    return {
        "debited_once": sum(1 for oid in order_ids if debits[oid] == 1),
        "extra_debits": sum(n - 1 for n in debits.values() if n > 1),
        "refunds": sum(1 for cause, _ in rows if cause == LedgerCause.ORDER_REFUND),
        "balance_mismatches": len(mismatches),
    }


def exactly_once(on_chain: Counter[str], receivers: set[str]) -> tuple[int, int, int]:
    """Of ``receivers``: those holding exactly one delegation, those holding none, and the
    delegations beyond one."""
    once = sum(1 for a in receivers if on_chain.get(a) == 1)
    missing = sum(1 for a in receivers if not on_chain.get(a))
    duplicates = sum(n - 1 for a, n in on_chain.items() if a in receivers and n > 1)
    return once, missing, duplicates


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
    ap.add_argument("--balance-orders", type=int, default=1000, help="paid from balances")
    ap.add_argument("--balance-rate", type=float, default=25.0, help="balance payments per s")
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
                pool = await ensure_demo_pool(db, SecretBox([secret]), gw, c, stake_trx=100_000_000)
            keys = customer_keys(args.orders)
            await fund(node_url, keys, 10 * TRX)
            receivers = customer_keys(args.balance_orders)
            await fund(node_url, receivers, TRX)  # activated: a delegation needs an account
            balance_ids = await balance_orders(db, receivers)
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
                sent, balance_errors = await asyncio.gather(
                    pay(http, signed, args.rate),
                    pay_from_balances(db, balance_ids, args.balance_rate),
                )
                total = args.orders + args.balance_orders
                active = await wait_active(db, total, args.timeout)
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
            ledger = await ledger_check(db, balance_ids)
            await engine.dispose()
    customers = {k.address_base58 for k in keys}
    balance_receivers = {k.address_base58 for k in receivers}
    once, missing, duplicates = exactly_once(on_chain, customers)
    b_once, b_missing, b_duplicates = exactly_once(on_chain, balance_receivers)
    strangers = sum(n for a, n in on_chain.items() if a not in customers | balance_receivers)
    ok = (
        once == args.orders
        and sent == args.orders
        and recorded == distinct == args.orders
        and strangers == 0
        and b_once == args.balance_orders
        and ledger["debited_once"] == args.balance_orders
        and ledger["extra_debits"] == ledger["refunds"] == ledger["balance_mismatches"] == 0
    )
    print(
        f"payments broadcast {sent}/{args.orders}, recorded {recorded} ({distinct} distinct), "
        f"orders active {active}/{total}, worker kills {workers.kills}, "
        f"{elapsed:.0f} s from first payment to last delegation, "
        f"total {time.monotonic() - t0:.0f} s"
    )
    print(load_average())
    print(
        f"exactly-once soak: {args.orders} paid orders, {args.workers} workers SIGKILLed "
        f"{workers.kills} times, node failing {args.fault_rate:.0%} of calls: delivered exactly "
        f"once {once}/{args.orders}, missing {missing}, duplicate delegations {duplicates}, "
        f"to strangers {strangers}, checked against {len(on_chain)} receivers on chain"
    )
    print(
        f"balance-paid: {args.balance_orders} package orders paid from balances (each by two "
        f"calls at once; calls retried: {dict(balance_errors)}): delegated exactly once "
        f"{b_once}/{args.balance_orders}, missing {b_missing}, duplicate delegations "
        f"{b_duplicates}; ledger: debited once {ledger['debited_once']}, extra debits "
        f"{ledger['extra_debits']}, refunds {ledger['refunds']}, balances not equal to their "
        f"ledger {ledger['balance_mismatches']} - RESULT {'PASS' if ok else 'FAIL'}"
    )
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
