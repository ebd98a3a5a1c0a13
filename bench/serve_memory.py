"""Peak RSS of `tronrent serve` (with its in-process devnet) under a burst of orders (bar: <400 MB).

Starts `tronrent serve` as a subprocess on the embedded default (SQLite in a temp DATA_DIR, the
devnet in-process), then sends a burst: ``--orders`` walk-in payments pre-signed and broadcast
at once to the flash address, plus ``--api-orders`` `create-order` calls through the HTTP API.
The RSS of the serve process is sampled every 100 ms (psutil) until every paid order is active
(or the timeout); the figure is the peak.

    .venv/bin/python bench/serve_memory.py [--orders 1000] [--api-orders 500]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import psutil
from _common import (
    TRX,
    Conn,
    broadcast_all,
    customer_keys,
    free_port,
    fund,
    head_block,
    load_average,
    presign_transfers,
)

from subprocesses import COMMAND, clean_env, stop
from tronproto.address import to_hex
from tronrent.storage.migrations import upgrade_async

ADDRESS = re.compile(r"Flash payment address: (T\w{33})")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=1000, help="paid walk-in orders in the burst")
    ap.add_argument("--api-orders", type=int, default=500, help="create-order calls")
    ap.add_argument("--block-interval-ms", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tronrent-mem-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        await upgrade_async(f"sqlite+aiosqlite:///{data / 'tronrent.db'}")
        api_port, devnet_port = free_port(), free_port()
        env = clean_env(
            data,
            TRON_DEVNET_PORT=str(devnet_port),
            BLOCK_INTERVAL_MS=str(args.block_interval_ms),
            LOG_LEVEL="warning",
            RATE_LIMIT_PER_MINUTE="0",
        )
        out = (Path(tmp) / "serve.out").open("w+")
        proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before measuring
            [*COMMAND, "serve", "--port", str(api_port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        ps = psutil.Process(proc.pid)
        peak = 0
        samples: list[int] = []
        sampling_done = asyncio.Event()

        async def sample() -> None:
            nonlocal peak
            while not sampling_done.is_set():
                try:
                    rss = ps.memory_info().rss
                except psutil.Error:
                    return
                peak = max(peak, rss)
                samples.append(rss)
                await asyncio.sleep(0.1)

        sampler = asyncio.create_task(sample())
        try:
            deadline = time.monotonic() + 120
            text = ""
            while "Try it:" not in text:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"serve did not start:\n{text[-2000:]}")
                await asyncio.sleep(0.2)
                text = Path(out.name).read_text()  # noqa: ASYNC240
            match = ADDRESS.search(text)
            assert match
            address = match.group(1)
            rss_idle = ps.memory_info().rss
            devnet_url = f"http://127.0.0.1:{devnet_port}"
            api = f"http://127.0.0.1:{api_port}"
            keys = customer_keys(args.orders)
            await fund(devnet_url, keys, 10 * TRX)
            conn = Conn("127.0.0.1", devnet_port)
            ref = await head_block(conn)
            signed = presign_transfers(
                [(k, to_hex(address), 1_500_000) for k in keys], str(ref["blockID"])
            )
            t0 = time.monotonic()
            async with httpx.AsyncClient(timeout=60) as http:

                async def create(i: int) -> int:
                    r = await http.post(
                        f"{api}/api/energy-flash/create-order",
                        json={"recipientAddress": keys[i % len(keys)].address_base58, "chatId": 0},
                    )
                    return r.status_code

                sem = asyncio.Semaphore(16)

                async def limited(i: int) -> int:
                    async with sem:
                        return await create(i)

                statuses, _ = await asyncio.gather(
                    asyncio.gather(*(limited(i) for i in range(args.api_orders))),
                    broadcast_all(devnet_port, [b for _, b in signed], concurrency=8),
                )
                active = 0
                wait_until = time.monotonic() + args.timeout
                while time.monotonic() < wait_until:
                    active = 0
                    for k in keys[-20:]:
                        res = await conn.post(
                            "/wallet/getaccountresource",
                            f'{{"address": "{k.address_base58}", "visible": true}}'.encode(),
                        )
                        active += 1 if res.get("EnergyLimit") else 0
                    if active == 20:
                        break
                    await asyncio.sleep(1.0)
            elapsed = time.monotonic() - t0
            await conn.close()
        finally:
            sampling_done.set()
            await sampler
            stop(proc, 30)
            out.close()
    ok = sum(1 for s in statuses if s == 200)
    print(
        {
            "rss_idle_mb": round(rss_idle / 2**20, 1),
            "rss_peak_mb": round(peak / 2**20, 1),
            "paid_orders": args.orders,
            "api_orders_ok": f"{ok}/{args.api_orders}",
            "api_statuses": dict(Counter(statuses)),
            "last_20_paid_delivered": active == 20,
            "seconds": round(elapsed, 1),
        }
    )
    print(
        f"RESULT serve_memory peak RSS {peak / 2**20:.0f} MB (idle {rss_idle / 2**20:.0f} MB) "
        f"for `tronrent serve` + in-process devnet under {args.orders} paid orders and "
        f"{args.api_orders} create-order calls; {load_average()}"
    )


if __name__ == "__main__":
    asyncio.run(main())
