"""Shared pieces of the flash benchmarks: a devnet process, a database, the real engine.

* :func:`devnet_process` starts ``python -m trondevnet`` in its own process (the node gets its
  own share of the CPU, as a real node would) and waits for it.
* :func:`database` yields a migrated database: a temporary SQLite file, or a new PostgreSQL
  database created on the server of ``--database-url`` and dropped afterwards.
* :func:`platform` runs the real flash machinery in this process - chain gateway (tronpy),
  block scanner, in-process job queue with the workers, periodic sweeper - with the devnet demo
  pool of the first-run bootstrap as pool and flash payment address.
* :func:`presign_transfers` builds and signs customers' TRX payments offline (tronproto), so a
  burst can be broadcast inside one block interval.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

# the helpers that run our commands in subprocesses, shared with the tests
sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))

from subprocesses import free_port, stop
from tronproto.keys import PrivateKey
from tronproto.tx import TYPE_URL_PREFIX, raw_data_to_bytes, txid_bytes
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation

TRX = 1_000_000
PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


class Conn:
    """A minimal keep-alive HTTP/1.1 JSON client (the bench must not be the bottleneck)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> Any:
        return (await self.request(path, body))[1]

    async def request(
        self, path: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> tuple[int, Any]:
        """``(status, JSON answer)`` of ``POST path`` with ``body`` and extra ``headers``."""
        try:
            return await self._post(path, body, headers)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.writer = None  # idle keep-alive connection closed by the server: reconnect
            return await self._post(path, body, headers)

    async def _post(
        self, path: str, body: bytes, extra: Mapping[str, str] | None
    ) -> tuple[int, Any]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        more = "".join(f"{k}: {v}\r\n" for k, v in (extra or {}).items())
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"{more}Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        headers = await self.reader.readuntil(b"\r\n\r\n")
        status = int(headers.split(b" ", 2)[1])
        length = 0
        for line in headers.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return status, json.loads(await self.reader.readexactly(length))

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def bench_parser(
    doc: str, *, block_interval_ms: int, database_url: str | None = None
) -> argparse.ArgumentParser:
    """The parser of a flash benchmark, with ``--block-interval-ms`` and ``--database-url``."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--block-interval-ms", type=int, default=block_interval_ms)
    db_help = (
        "PostgreSQL server ('' = SQLite)"
        if database_url
        else f"PostgreSQL server, e.g. {PG_DEFAULT}"
    )
    ap.add_argument("--database-url", default=database_url, help=db_help)
    return ap


def parse_quietly(ap: argparse.ArgumentParser) -> argparse.Namespace:
    """Parsed arguments; library logs silenced so the figures stand out."""
    args = ap.parse_args()
    quiet_logs()
    return args


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def quiet_logs() -> None:
    """Only critical records, except with ``BENCH_LOG=FILE``: this process's ``tronrent``
    records of INFO and up written to FILE (what the engine did, to explain a figure)."""
    import logging

    import structlog

    logging.basicConfig(level=logging.CRITICAL)
    log_file = os.environ.get("BENCH_LOG")
    # structlog's default logger prints to stdout whatever the stdlib levels say
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    for name in ("httpx", "taskiq", "tronrent", "sqlalchemy", "aiosqlite", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    if log_file:
        handler = logging.FileHandler(log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logging.getLogger("tronrent").addHandler(handler)
        logging.getLogger("tronrent").setLevel(logging.INFO)


@contextmanager
def devnet_process(block_interval_ms: int, *extra: str) -> Iterator[tuple[str, int]]:
    """``(url, pid)`` of a devnet in its own process; stopped on exit."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trondevnet",
            "--port",
            str(port),
            "--block-interval-ms",
            str(block_interval_ms),
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/devnet/info", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the devnet did not start") from None
                time.sleep(0.1)
        yield url, proc.pid
    finally:
        stop(proc, 10)


@asynccontextmanager
async def database(url: str | None) -> AsyncIterator[str]:
    """A migrated database URL: temporary SQLite (``url`` None) or a new PostgreSQL database."""
    from tronrent.kit.db import normalize_database_url
    from tronrent.storage.migrations import upgrade_async

    if url is None:
        with tempfile.TemporaryDirectory(prefix="tronrent-bench-") as tmp:
            db = f"sqlite+aiosqlite:///{tmp}/bench.db"
            await upgrade_async(db)
            yield db
        return
    import asyncpg

    base = make_url(normalize_database_url(url))
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = dict(
        host=base.host or "127.0.0.1",
        port=base.port or 5432,
        user=base.username or "postgres",
        password=base.password,
        database="postgres",
    )
    conn = await asyncpg.connect(**admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    db = base.set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade_async(db)
        yield db
    finally:
        conn = await asyncpg.connect(**admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@dataclass
class Platform:
    engine: AsyncEngine
    session_maker: async_sessionmaker[AsyncSession]
    gateway: Any  # TronGateway
    flash: Any  # FlashEngine
    address: str  # flash payment address = demo pool
    devnet_url: str
    statements: StatementCounter
    #: the devnet process (0: not known)
    devnet_pid: int = 0


class StatementCounter:
    """SQL statements sent to the database (``before_cursor_execute``); COMMITs not included."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *args: Any) -> None:
        self.count += 1


@asynccontextmanager
async def platform(
    db_url: str,
    devnet_url: str,
    *,
    block_interval_ms: int,
    rental_s: float = 3600.0,
    stake_trx: int = 50_000_000,
    pool_size: int = 20,
    run_engine: bool = True,
    usdt_contract: str | None = None,
    redis_url: str | None = None,
    secret_key: str | None = None,
) -> AsyncIterator[Platform]:
    from tronrent.adapters.tron.gateway import TronGateway
    from tronrent.demo.devnet import DevnetControl
    from tronrent.entrypoints.devnet_bootstrap import ensure_demo_pool
    from tronrent.flash.engine import FlashEngine
    from tronrent.kit.crypto import SecretBox, generate_key
    from tronrent.kit.db import create_engine, create_session_maker
    from tronrent.kit.heap import freeze_startup_heap
    from tronrent.order.runtime import FlashRuntime
    from tronrent.scanner.service import ScannerConfig

    engine = create_engine(db_url, pool_size=pool_size, max_overflow=pool_size)
    session_maker = create_session_maker(engine)
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    box = SecretBox([secret_key or generate_key()])
    async with TronGateway([devnet_url], timeout_s=10) as gateway:
        async with DevnetControl(devnet_url) as control:
            pool = await ensure_demo_pool(session_maker, box, gateway, control, stake_trx=stake_trx)
        rt = FlashRuntime(
            payment_address=pool.address,
            block_interval_ms=block_interval_ms,
            rental_duration_s=rental_s,
        )
        flash = FlashEngine(
            session_maker=session_maker,
            chain=gateway,
            box=box,
            rt=rt,
            scanner_config=ScannerConfig(
                block_interval_s=block_interval_ms / 1000,
                fixed_addresses=frozenset({pool.address}),
                usdt_contract=usdt_contract,
            ),
            run_scanner=run_engine,
            run_periodic_jobs=run_engine,
            redis_url=redis_url,
        )
        await flash.start()
        # as `tronrent serve` does once started (`entrypoints.api.lifespan_hooks`)
        freeze_startup_heap()
        try:
            yield Platform(engine, session_maker, gateway, flash, pool.address, devnet_url, counter)
        finally:
            await flash.stop()
            await engine.dispose()


@asynccontextmanager
async def engine_on_devnet(
    args: argparse.Namespace, **platform_kw: Any
) -> AsyncIterator[tuple[Platform, int]]:
    """``(platform, devnet port)``: the engine on a migrated database against a devnet process."""
    with devnet_process(args.block_interval_ms) as (url, pid):
        port = int(url.rsplit(":", 1)[1])
        async with (
            database(args.database_url or None) as db,
            platform(db, url, block_interval_ms=args.block_interval_ms, **platform_kw) as p,
        ):
            p.devnet_pid = pid
            yield p, port


def signed_headers(key_id: str, secret: str, path: str, body: bytes) -> dict[str, str]:
    """Headers of a merchant API ``POST path`` with ``body``, signed now with a fresh nonce."""
    import secrets

    from tronrent.merchant import signing

    ts, nonce = str(int(time.time())), secrets.token_hex(12)
    sig = signing.sign_request(
        secret, timestamp=ts, method="POST", path=path, nonce=nonce, body=body
    )
    return {
        "X-Api-Key": key_id,
        "X-Timestamp": ts,
        "X-Nonce": nonce,
        "X-Signature": sig,
        "Content-Type": "application/json",
    }


def customer_keys(n: int) -> list[PrivateKey]:
    return [PrivateKey.random() for _ in range(n)]


async def fund(devnet_url: str, keys: Sequence[PrivateKey], trx_sun: int) -> None:
    from tronrent.demo.devnet import DevnetControl

    async with DevnetControl(devnet_url) as control:
        for i in range(0, len(keys), 5_000):
            await control.faucet_many((k.address_base58, trx_sun, 0) for k in keys[i : i + 5_000])


async def head_block(conn: Conn) -> dict[str, Any]:
    data: dict[str, Any] = await conn.post("/wallet/getnowblock", b"{}")
    return data


def _presign(
    key: PrivateKey,
    contract_type: str,
    value: dict[str, Any],
    ref_block_id: str,
    expire_s: int,
    **raw_extra: Any,
) -> tuple[str, bytes]:
    now = int(time.time() * 1000)
    raw_json = {
        "contract": [
            {
                "parameter": {
                    "value": {"owner_address": key.address_hex, **value},
                    "type_url": TYPE_URL_PREFIX + contract_type,
                },
                "type": contract_type,
            }
        ],
        "ref_block_bytes": ref_block_id[12:16],
        "ref_block_hash": ref_block_id[16:32],
        "expiration": now + expire_s * 1000,
        "timestamp": now,
        **raw_extra,
    }
    txid = txid_bytes(raw_data_to_bytes(raw_json))
    body = {"txID": txid.hex(), "raw_data": raw_json, "signature": [key.sign_hash(txid).hex()]}
    return txid.hex(), json.dumps(body).encode()


def presign_transfers(
    payments: Sequence[tuple[PrivateKey, str, int]], ref_block_id: str, *, expire_s: int = 3600
) -> list[tuple[str, bytes]]:
    """``(txid, broadcast body)`` of TRX transfers ``(key, to_hex, amount_sun)``."""
    return [
        _presign(
            key,
            "TransferContract",
            {"to_address": to_hex, "amount": amount},
            ref_block_id,
            expire_s,
        )
        for key, to_hex, amount in payments
    ]


def presign_usdt_transfers(
    payments: Sequence[tuple[PrivateKey, str, int]],
    usdt_hex: str,
    ref_block_id: str,
    *,
    expire_s: int = 3600,
) -> list[tuple[str, bytes]]:
    """``(txid, broadcast body)`` of USDT ``transfer(to, units)`` calls ``(key, to_hex,
    units)`` on the contract ``usdt_hex``."""
    return [
        _presign(
            key,
            "TriggerSmartContract",
            {
                "contract_address": usdt_hex,
                "data": "a9059cbb" + to_hex[2:].rjust(64, "0") + f"{units:064x}",
            },
            ref_block_id,
            expire_s,
            fee_limit=100 * TRX,
        )
        for key, to_hex, units in payments
    ]


async def broadcast_all(
    port: int, bodies: Sequence[bytes], concurrency: int = 8
) -> tuple[int, dict[str, int]]:
    """Broadcast over ``concurrency`` keep-alive connections; (accepted, errors by code)."""
    accepted = 0
    errors: dict[str, int] = {}
    it = iter(bodies)

    async def worker() -> None:
        nonlocal accepted
        c = Conn("127.0.0.1", port)
        for body in it:
            out = await c.post("/wallet/broadcasttransaction", body)
            if out.get("result"):
                accepted += 1
            else:
                code = str(out.get("code", "?"))
                errors[code] = errors.get(code, 0) + 1
        await c.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return accepted, errors


async def wait_next_block(conn: Conn, after: int, poll_s: float = 0.05) -> dict[str, Any]:
    """The first head block above ``after``."""
    while True:
        block = await head_block(conn)
        if block_number(block) > after:
            return block
        await asyncio.sleep(poll_s)


def block_number(block: dict[str, Any]) -> int:
    return int(block["block_header"]["raw_data"].get("number", 0))


async def tx_blocks(port: int, txids: Sequence[str], concurrency: int = 8) -> dict[str, int]:
    """Block number of each included transaction (``gettransactioninfobyid``)."""
    out: dict[str, int] = {}
    it = iter(txids)

    async def worker() -> None:
        c = Conn("127.0.0.1", port)
        for txid in it:
            info = await c.post(
                "/wallet/gettransactioninfobyid", json.dumps({"value": txid}).encode()
            )
            if info.get("blockNumber") is not None:
                out[txid] = int(info["blockNumber"])
        await c.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(name: str) -> dict[int, float]:
    """pid -> CPU seconds so far of every process named ``name`` (e.g. ``postgres``: the
    server and its backends, whoever they serve)."""
    out: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if comm == name:
                out[int(entry.name)] = cpu_seconds(int(entry.name))
    return out


def cpu_spent(before: Mapping[int, float], after: Mapping[int, float]) -> float:
    """CPU seconds spent between two :func:`server_cpu_seconds` readings (a process started
    in between counts from zero; one that exited in between is missed)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


async def block_times(port: int, first: int) -> list[int]:
    """Timestamps (ms) of blocks ``first``.. up to the head (headers only), in order."""
    conn = Conn("127.0.0.1", port)
    try:
        last = block_number(await head_block(conn))
        out = []
        for n in range(first, last + 1):
            block = await conn.post(
                "/wallet/getblock", json.dumps({"id_or_num": str(n), "detail": False}).encode()
            )
            out.append(int(block["block_header"]["raw_data"]["timestamp"]))
        return out
    finally:
        await conn.close()


def head_at(first: int, stamps: Sequence[int], wall: float) -> int:
    """The head block at ``wall`` (epoch s): the last block stamped at or before it (the
    devnet stamps a block with the wall clock of the moment it makes it, on this machine)."""
    return first + max(0, bisect.bisect_right(stamps, int(wall * 1000)) - 1)


#: the pipeline's least latency at 200 orders/s (read, sign, store, broadcast; ms): an order
#: requested closer than this to the next block cannot be in it on any machine
REACHABLE_MS = 100


def reachable_share(
    first: int,
    stamps: Sequence[int],
    at: Mapping[str, float],
    blocks: Mapping[str, float],
    slack_ms: int = REACHABLE_MS,
) -> dict[str, Any]:
    """Of the orders requested (``at``: epoch s) at least ``slack_ms`` before the next block,
    how many were delegated in it (``blocks``: id -> blocks from the request's head to the
    delegation's block; a missing id counts as late); those nearer the block are counted
    apart (they are what no engine can deliver in time)."""
    far = [
        oid
        for oid, t in at.items()
        if (n := head_at(first, stamps, t) - first + 1) < len(stamps)
        and stamps[n] - t * 1000 >= slack_ms
    ]
    on_time = sum(1 for oid in far if blocks.get(oid, float("inf")) <= 1)
    return {
        f"requested_{slack_ms}ms_or_more_before_the_block": len(far),
        "of_them_in_the_next_block_pct": round(100 * on_time / max(1, len(far)), 2),
    }


def read_json(path: str) -> Any:
    """The JSON in ``path`` (None if there is no such file)."""
    file = Path(path)
    return json.loads(file.read_text()) if file.exists() else None


def write_json(path: str, value: Any) -> None:
    Path(path).write_text(json.dumps(value))


async def clear_streams(redis_url: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        keys = [k async for k in redis.scan_iter("tronrent:stream:*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


async def start_helpers(
    script: str, flag: str, specs: Sequence[Path]
) -> tuple[list[asyncio.subprocess.Process], float]:
    """``python SCRIPT FLAG SPEC`` per spec: a bench's helper processes (payers, a client),
    each printing ``ready`` once started, then reading the common start time (epoch s) from
    stdin (:func:`wait_for_start`); the processes and that time, sent once every one is ready
    (imports and connections take seconds on a busy machine)."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            script,
            flag,
            str(spec),
            cwd=Path(script).parent,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for spec in specs
    ]
    for proc in procs:
        assert proc.stdout is not None
        await proc.stdout.readline()  # "ready" (or EOF if it died)
    t0 = time.time() + 0.2
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(f"{t0}\n".encode())
        await proc.stdin.drain()
    return procs, t0


async def wait_for_start() -> float:
    """In a helper of :func:`start_helpers`: say ``ready``, then the start time it sends."""
    print("ready", flush=True)
    return float(await asyncio.to_thread(sys.stdin.readline))


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


async def delegation_latencies(
    port: int,
    keys: Sequence[PrivateKey],
    pay_txids: Sequence[str],
    delegations: Mapping[str, str],
) -> list[float]:
    """Per walk-in customer: blocks from its payment to its delegation (both read from the
    chain); ``inf`` when not delegated. ``delegations``: recipient address -> delegation txid."""
    pay_blocks = await tx_blocks(port, pay_txids)
    del_blocks = await tx_blocks(port, list(delegations.values()))
    out: list[float] = []
    for key, txid in zip(keys, pay_txids, strict=True):
        d = delegations.get(key.address_base58)
        if d is None or txid not in pay_blocks or d not in del_blocks:
            out.append(float("inf"))
        else:
            out.append(del_blocks[d] - pay_blocks[txid])
    return out


async def delivered_delegations(p: Platform) -> dict[str, str]:
    """Recipient address -> txid of every delegation confirmed on chain (status success)."""
    async with p.session_maker() as s:
        rows = await s.execute(
            select(EnergyDelegation.recipient_address, EnergyDelegation.tx_hash).where(
                EnergyDelegation.status == DelegationStatus.SUCCESS
            )
        )
        return {r: t for r, t in rows if t}
