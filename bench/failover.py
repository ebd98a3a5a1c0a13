"""Failover: payments arriving while `tronrent serve` is killed with SIGKILL and restarted (bar:
every payment delivered exactly once, within 2 blocks of the restarted process being ready).

The devnet runs in its own process; `tronrent serve` runs as a subprocess against it
(`TRON_NODE_URLS`) on a migrated database (a temporary SQLite file, or a new PostgreSQL
database with `--database-url`), the devnet demo pool as pool and flash address. Each of
`--rounds` rounds: one customer pays and `serve` is killed -9 as soon as the payment is
recorded (its handling is cut anywhere), `--per-round` customers pay while nothing runs, then
`serve` is started again. Figures per round: seconds from the restart to ready (`serve`
answering HTTP: every lifespan hook, the flash engine included, has started) and, per payment
of the round, the block of its delegation minus the head block when `serve` became ready
(<= 0: delivered before the HTTP side was up). At the end the chain is read block by block
(getblockbylimitnext): each customer must have exactly one DelegateResourceContract from the
pool and `payments` must hold each payment once.

    .venv/bin/python bench/failover.py [--rounds 3] [--per-round 5] [--block-interval-ms 3000]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

The last line is the result: `failover: ... RESULT PASS|FAIL`.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from _common import (
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

from subprocesses import clean_env, free_port, kill9, start_serve, stop, wait_ready
from tronproto.address import to_base58, to_hex

PRICE_SUN = 1_500_000  # one transaction of energy
BAR_BLOCKS = 2


async def head(http: httpx.AsyncClient) -> int:
    return block_number((await http.post("/wallet/getnowblock", json={})).json())


async def delegation_blocks(
    http: httpx.AsyncClient, pool_hex: str, first: int
) -> dict[str, list[int]]:
    """receiver (base58) -> blocks of the pool's successful DelegateResourceContract txs."""
    last = await head(http)
    out: dict[str, list[int]] = defaultdict(list)
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
                    out[to_base58(value["receiver_address"])].append(block_number(block))
    return out


async def broadcast(http: httpx.AsyncClient, body: bytes) -> None:
    r = await http.post("/wallet/broadcasttransaction", content=body)
    if not r.json().get("result"):
        raise RuntimeError(f"payment refused: {r.text}")


async def wait_until(cond: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await cond():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--per-round", type=int, default=5, help="payments while serve is dead")
    ap.add_argument("--block-interval-ms", type=int, default=3000)
    ap.add_argument("--database-url", default=None, help="PostgreSQL server ('' = SQLite)")
    ap.add_argument("--timeout", type=float, default=120.0, help="per wait")
    args = ap.parse_args()
    quiet_logs()
    from tronrent.adapters.tron.gateway import TronGateway
    from tronrent.demo.devnet import DevnetControl
    from tronrent.entrypoints.devnet_bootstrap import ensure_demo_pool
    from tronrent.kit.crypto import SecretBox, generate_key
    from tronrent.kit.db import create_engine, create_session_maker
    from tronrent.models.payment import Payment

    t0 = time.monotonic()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    rounds: list[tuple[float, list[int]]] = []
    with (
        devnet_process(args.block_interval_ms) as (node_url, _pid),
        tempfile.TemporaryDirectory(prefix="tronrent-failover-") as tmp,
    ):
        async with database(args.database_url or None) as url:
            engine = create_engine(url)
            db = create_session_maker(engine)
            secret = generate_key()
            async with TronGateway([node_url], timeout_s=10) as gw, DevnetControl(node_url) as c:
                pool = await ensure_demo_pool(db, SecretBox([secret]), gw, c, stake_trx=1_000_000)
            n_keys = args.rounds * (args.per_round + 1)
            keys = customer_keys(n_keys)
            await fund(node_url, keys, 10 * TRX)
            port = free_port()
            env = clean_env(
                Path(tmp),
                DATABASE_URL=url,
                TRON_NODE_URLS=node_url,
                SECRET_KEYS=secret,
                JWT_SECRET=secrets.token_urlsafe(48),
                BLOCK_INTERVAL_MS=str(args.block_interval_ms),
                LOG_LEVEL="warning",
                RATE_LIMIT_PER_MINUTE="0",
            )
            log = Path(tmp) / "serve.log"

            async def recorded() -> int:
                async with db() as s:
                    return int(await s.scalar(select(func.count()).select_from(Payment)) or 0)

            async with httpx.AsyncClient(base_url=node_url, timeout=30) as http:
                first = await head(http)
                ref = (await http.post("/wallet/getnowblock", json={})).json()["blockID"]
                signed = presign_transfers(
                    [(k, to_hex(pool.address), PRICE_SUN) for k in keys], str(ref)
                )
                pool_hex = to_hex(pool.address)
                proc = start_serve(port, env, log)
                try:
                    await wait_ready(port, proc, args.timeout)
                    it = iter(zip(keys, signed, strict=True))
                    for _ in range(args.rounds):
                        before_key, (_, body) = next(it)
                        seen = await recorded()
                        await broadcast(http, body)
                        await wait_until(
                            lambda seen=seen: _more(recorded, seen),
                            args.timeout,
                            "the payment recorded",
                        )
                        kill9(proc)
                        round_keys = [before_key]
                        for _ in range(args.per_round):
                            key, (_, body) = next(it)
                            await broadcast(http, body)
                            round_keys.append(key)
                        restarted = time.monotonic()
                        proc = start_serve(port, env, log)
                        await wait_ready(port, proc, args.timeout)
                        ready_s = time.monotonic() - restarted
                        ready_block = await head(http)

                        async def all_delegated(ks: list[Any] = round_keys) -> bool:
                            got = await delegation_blocks(http, pool_hex, first)
                            return all(got.get(k.address_base58) for k in ks)

                        await wait_until(all_delegated, args.timeout, "the round's delegations")
                        got = await delegation_blocks(http, pool_hex, first)
                        lags = [min(got[k.address_base58]) - ready_block for k in round_keys]
                        rounds.append((ready_s, lags))
                        print(
                            f"round {len(rounds)}: restart to ready {ready_s:.1f} s, blocks "
                            f"from ready to delivery {lags}",
                            flush=True,
                        )
                    await asyncio.sleep(3 * args.block_interval_ms / 1000)  # duplicates?
                finally:
                    stop(proc, 30)
                on_chain = await delegation_blocks(http, pool_hex, first)
            async with db() as s:
                n_payments = int(await s.scalar(select(func.count()).select_from(Payment)) or 0)
                distinct = int(
                    await s.scalar(select(func.count(func.distinct(Payment.tx_hash)))) or 0
                )
            await engine.dispose()
    customers = {k.address_base58 for k in keys}
    once = sum(1 for a in customers if len(on_chain.get(a, [])) == 1)
    duplicates = sum(len(b) - 1 for a, b in on_chain.items() if a in customers and len(b) > 1)
    strangers = sum(len(b) for a, b in on_chain.items() if a not in customers)
    lags = [lag for _, ls in rounds for lag in ls]
    worst = max(lags) if lags else float("inf")
    ready = [r for r, _ in rounds]
    ok = (
        once == n_keys
        and duplicates == strangers == 0
        and n_payments == distinct == n_keys
        and worst <= BAR_BLOCKS
    )
    print(load_average())
    print(
        f"failover ({backend}, {args.block_interval_ms} ms blocks): {args.rounds} kill -9 + "
        f"restart of serve, {n_keys} payments ({args.per_round} per round while dead, 1 cut "
        f"mid-handling): delivered exactly once {once}/{n_keys}, duplicates {duplicates}, "
        f"payments recorded {n_payments} ({distinct} distinct); blocks from restart-ready to "
        f"delivery max {worst} (median {statistics.median(lags) if lags else 'n/a'}); restart "
        f"to ready median {statistics.median(ready) if ready else float('nan'):.1f} s; total "
        f"{time.monotonic() - t0:.0f} s - RESULT {'PASS' if ok else 'FAIL'}"
    )
    if not ok:
        sys.exit(1)


async def _more(count: Any, than: int) -> bool:
    return bool(await count() > than)


if __name__ == "__main__":
    asyncio.run(main())
