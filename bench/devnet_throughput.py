"""Devnet throughput: signed transfers/s accepted and packed, blocks/s, memory with 100k accounts.

Starts `python -m trondevnet` as its own process (so client and node each get a core),
creates the accounts through the batch faucet, pre-signs transfers with tronproto, then
broadcasts them over keep-alive HTTP/1.1 connections and waits until all are in blocks.

    .venv/bin/python bench/devnet_throughput.py [--accounts 100000] [--txs 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

import psutil
from _common import TRX, Conn, broadcast_all, devnet_process, presign_transfers

from tronproto.keys import PrivateKey


def engine_tx_per_s(n: int = 5_000) -> int:
    """Signed transfers/s through the chain engine alone (validation + execution, no HTTP)."""
    from trondevnet.chain import Chain
    from trondevnet.config import DevnetConfig
    from trondevnet.testing import build_raw, sign_raw

    chain = Chain(DevnetConfig(block_interval_ms=1000))
    keys = [PrivateKey.random() for _ in range(100)]
    for k in keys:
        chain.faucet(k.address, 1_000 * TRX)
    signed = []
    for i in range(n):
        k = keys[i % len(keys)]
        value = {
            "owner_address": k.address_hex,
            "to_address": keys[i % 7].address_hex,
            "amount": i + 1,
        }
        if keys[i % 7] is k:
            value["to_address"] = keys[(i + 1) % len(keys)].address_hex
        raw = build_raw(chain, "TransferContract", value)
        signed.append((raw, sign_raw(raw, k)))
    t0 = time.process_time()
    for raw, sigs in signed:
        chain.broadcast(raw, sigs)
    chain.produce_block()
    return round(n / (time.process_time() - t0))


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--senders", type=int, default=2_000)
    ap.add_argument("--txs", type=int, default=20_000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--block-interval-ms", type=int, default=1000)
    args = ap.parse_args()

    with devnet_process(args.block_interval_ms) as (url, pid):
        port = int(url.rsplit(":", 1)[1])
        node_ps = psutil.Process(pid)
        conn = Conn("127.0.0.1", port)
        rss_start = node_ps.memory_info().rss
        # accounts
        t0 = time.perf_counter()
        senders = [PrivateKey.random() for _ in range(args.senders)]
        others = [b"\x41" + os.urandom(20) for _ in range(args.accounts - args.senders)]
        items = [{"address": k.address_hex, "trx_sun": 1_000 * TRX} for k in senders]
        items += [{"address": a.hex(), "trx_sun": 1 * TRX} for a in others]
        for i in range(0, len(items), 10_000):
            chunk = {"accounts": items[i : i + 10_000]}
            await conn.post("/devnet/faucet", json.dumps(chunk).encode())
        t_accounts = time.perf_counter() - t0
        rss_accounts = node_ps.memory_info().rss
        # pre-sign transfers to existing accounts
        head = await conn.post("/wallet/getnowblock", b"{}")
        t0 = time.perf_counter()
        signed = presign_transfers(
            [
                (
                    senders[i % len(senders)],
                    others[i % len(others)].hex(),
                    1 + i // len(senders),
                )
                for i in range(args.txs)
            ],
            str(head["blockID"]),
        )
        bodies = [b for _, b in signed]
        t_sign = time.perf_counter() - t0
        print(f"accounts {t_accounts:.1f}s, signing {t_sign:.1f}s", file=sys.stderr)
        # broadcast
        cpu0 = node_ps.cpu_times()
        t0 = time.perf_counter()
        accepted, errors = await broadcast_all(port, bodies, args.concurrency)
        t_broadcast = time.perf_counter() - t0
        while (await conn.post("/devnet/stats", b"{}"))["pending"] > 0:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        t_packed = time.perf_counter() - t0
        cpu1 = node_ps.cpu_times()
        rss_txs = node_ps.memory_info().rss
        # raw block production speed (empty blocks)
        await conn.post("/devnet/pause", b"{}")
        t0 = time.perf_counter()
        await conn.post("/devnet/produce", b'{"blocks": 2000}')
        t_blocks = time.perf_counter() - t0
        stats = await conn.post("/devnet/stats", b"{}")
        await conn.close()
        node_cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        engine = engine_tx_per_s()
        print(
            json.dumps(
                {
                    "engine_only_tx_per_s_one_core": engine,
                    "accounts": stats["accounts"],
                    "faucet_accounts_per_s": round(args.accounts / t_accounts),
                    "client_sign_per_s": round(args.txs / t_sign),
                    "transfers": args.txs,
                    "accepted": accepted,
                    "errors": errors,
                    "accepted_tx_per_s": round(accepted / t_broadcast),
                    "accepted_and_packed_tx_per_s": round(accepted / t_packed),
                    "node_cpu_seconds_per_1000_tx": round(node_cpu / max(1, accepted) * 1000, 3),
                    "empty_blocks_per_s": round(2000 / t_blocks),
                    "rss_mb_start": round(rss_start / 2**20, 1),
                    "rss_mb_with_accounts": round(rss_accounts / 2**20, 1),
                    "rss_mb_after_txs": round(rss_txs / 2**20, 1),
                    "cpus": os.cpu_count(),
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    asyncio.run(main())
