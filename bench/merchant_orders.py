"""Signed merchant orders per second (POST /api/v1/orders, paid from the balance), each
delegated in the block after its request, and their callbacks to a receiver failing 10 %.

Runs the real engine (scanner + workers + tronpy gateway) on a PostgreSQL database of its own
against a devnet process, and the API one of two ways:

- ``--api-processes 0`` (the default): the API app in this process, through httpx's ASGI
  transport, beside the engine and the client (one event loop for everything);
- ``--api-processes N``: N real ``tronrent serve --role api`` processes (uvicorn on
  127.0.0.1, the production app and middleware, ``LOG_LEVEL`` info to a file) on the same
  database, the job queue in Redis (``--redis-url``, a database of its own: its
  ``tronrent:stream:*`` keys are deleted first); the engine and the callback sender stay in
  this process, like a ``--role engine`` process; the signed-request client runs in a process
  of its own (``--client main``: in this one), keep-alive connections spread over the API
  processes. ``--api-nice N``: the API processes run N nicer than the engine (on one machine
  short of CPU, the deliveries of paid orders go first and new requests wait: docs/operations.md).

Each request is signed (HMAC-SHA256, fresh nonce); ``--merchants`` customers with a key each
and a TRX balance; one receiver (an activated account) per order. The callback sender delivers
to a local HTTP receiver (a process of its own) that answers 500 to every 10th request
(retries after ``--retry-s`` instead of the 15 s..30 min production schedule, so the run
ends).

Figures:
- ``accepted_per_s``: orders answered 201 per second of offering (start to last answer);
- ``blocks_p50`` / ``blocks_p99`` / ``in_next_block_pct``: per order, the delegation's block
  (read from the chain) minus the head block when its request was sent (1 = the block after
  the request; the head at a wall time is the last block the devnet stamped at or before it);
  an order never delegated counts as infinite;
- ``callbacks_delivered_pct``: callbacks delivered / queued, and duplicates the receiver saw;
- where the CPU goes, in ms per order created: the API processes, this process (the engine,
  the callback sender; with ``--api-processes 0`` also the API and the client), the client
  process, the callback receiver's process (the merchants' servers: not ours), the devnet,
  and the PostgreSQL and Redis servers (every process of theirs on the machine, whoever it
  serves), from the start of the offering until every order
  is delegated and every callback settled; SQL statements per order of this process; request
  latency p50/p99; ``--profile FILE`` writes a cProfile of this process's offering phase.

    .venv/bin/python bench/merchant_orders.py \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        [--rate 200] [--seconds 60] [--block-interval-ms 3000] [--api-processes 2] \\
        [--api-nice 10] [--profile /tmp/m.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import uvloop
from _common import (
    PG_DEFAULT,
    TRX,
    Conn,
    bench_parser,
    block_number,
    block_times,
    clear_streams,
    cpu_seconds,
    cpu_spent,
    customer_keys,
    engine_on_devnet,
    fund,
    head_at,
    head_block,
    load_average,
    parse_quietly,
    percentile,
    quiet_logs,
    reachable_share,
    read_json,
    server_cpu_seconds,
    signed_headers,
    start_helpers,
    tx_blocks,
    wait_for_start,
    write_json,
)
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from package_orders import new_user
from subprocesses import clean_env, free_port, start_serve, stop, wait_ready
from tronrent.api.app import create_app
from tronrent.api.state import AppState
from tronrent.config import Settings
from tronrent.flash.api_deps import CHAIN_COMPONENT, RUNTIME_COMPONENT
from tronrent.kit.crypto import generate_key
from tronrent.kit.db import transaction_scope
from tronrent.merchant import endpoints as merchant_endpoints
from tronrent.merchant.callbacks import CallbackSender
from tronrent.merchant.keys import merchant_keys
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose
from tronrent.models.merchant import CallbackStatus, MerchantCallback
from tronrent.models.order import Order

ORDERS = "/api/v1/orders"
#: sends one signed request on connection slot ``slot``: (status, JSON answer)
Send = Callable[[int, bytes, dict[str, str]], Awaitable[tuple[int, Any]]]


class Receiver:
    def __init__(self) -> None:
        self.requests = 0
        self.events: Counter[str] = Counter()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                event_id = ""
                for line in head.decode().split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                    elif name.lower() == "x-event-id":
                        event_id = value.strip()
                await reader.readexactly(length)
                self.requests += 1
                fail = self.requests % 10 == 0
                if not fail:
                    self.events[event_id] += 1
                status = "500 Internal Server Error" if fail else "200 OK"
                writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[str]:
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/cb"
    finally:
        server.close()


async def receiver_process(out_path: str) -> None:
    """The callback receiver of its own (``--receiver-of``; the merchant's server, not ours):
    prints its URL, serves until a line comes on stdin, writes what it saw to ``out_path``."""
    receiver = Receiver()
    async with receiving(receiver) as url:
        print(url, flush=True)
        cpu0 = time.process_time()
        await asyncio.to_thread(sys.stdin.readline)
        seen = {
            "requests": receiver.requests,
            "duplicates": sum(n - 1 for n in receiver.events.values() if n > 1),
            "cpu_s": time.process_time() - cpu0,
        }
    write_json(out_path, seen)


@contextlib.asynccontextmanager
async def receiver_elsewhere(tmp: Path) -> AsyncIterator[tuple[str, Callable[[], Awaitable[Any]]]]:
    """`receiver_process` started: its URL, and a call that stops it and returns what it saw
    (requests, duplicate event ids, its CPU seconds)."""
    out = tmp / "receiver.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--receiver-of",
        str(out),
        cwd=Path(__file__).parent,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    async def stop() -> Any:
        stdin.write(b"stop\n")
        await stdin.drain()
        await proc.wait()
        return read_json(str(out))

    try:
        yield (await proc.stdout.readline()).decode().strip(), stop
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def offer(
    send: Send,
    clients: Sequence[Sequence[str]],
    receivers: Sequence[str],
    *,
    rate: float,
    start_wall: float,
    concurrency: int,
) -> dict[str, Any]:
    """Offer one order per receiver at ``rate`` per second from ``start_wall`` (epoch s),
    ``concurrency`` requests in flight: the created orders (order id -> wall time its request
    was sent), request seconds, errors by status and code, the wall time of the last answer."""
    requested: dict[str, float] = {}
    took: list[float] = []
    errors: Counter[str] = Counter()
    last_answer = start_wall
    queue: asyncio.Queue[int | None] = asyncio.Queue()

    async def worker(slot: int) -> None:
        nonlocal last_answer
        while (i := await queue.get()) is not None:
            key_id, secret = clients[i % len(clients)]
            body = json.dumps(
                {
                    "clientOrderId": f"bench-{i}",
                    "receiver": receivers[i],
                    "energy": 65_000,
                    "durationHours": 1,
                }
            ).encode()
            headers = signed_headers(key_id, secret, ORDERS, body)
            sent = time.time()
            try:
                status, answer = await send(slot, body, headers)
            except Exception as exc:  # counted and shown: the bench goes on
                errors[type(exc).__name__] += 1
                continue
            last_answer = time.time()
            took.append(last_answer - sent)
            if status == 201:
                requested[answer["data"]["orderId"]] = sent
            else:
                errors[f"{status} {answer['error']['code']}"] += 1

    workers = [asyncio.create_task(worker(slot)) for slot in range(concurrency)]
    step = max(1, round(rate / 50))  # a 50th of a second's worth at a time
    for i in range(0, len(receivers), step):
        await asyncio.sleep(max(0.0, start_wall + i / rate - time.time()))
        for j in range(i, min(len(receivers), i + step)):
            queue.put_nowait(j)
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return {"requested": requested, "took": took, "errors": errors, "last_answer": last_answer}


def conn_sender(ports: Sequence[int], concurrency: int) -> tuple[Send, list[Conn]]:
    """A :data:`Send` over ``concurrency`` keep-alive connections, spread over ``ports``."""
    conns = [Conn("127.0.0.1", ports[slot % len(ports)]) for slot in range(concurrency)]

    async def send(slot: int, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        return await conns[slot].request(ORDERS, body, headers)

    return send, conns


async def client_process(spec_path: str) -> None:
    """The client of its own (``--client-of``): offers its orders, writes the results beside."""
    quiet_logs()
    spec: dict[str, Any] = read_json(spec_path)
    send, conns = conn_sender(spec["ports"], spec["concurrency"])
    start_wall = await wait_for_start()
    cpu0 = time.process_time()
    try:
        result = await offer(
            send,
            spec["clients"],
            spec["receivers"],
            rate=spec["rate"],
            start_wall=start_wall,
            concurrency=spec["concurrency"],
        )
    finally:
        for conn in conns:
            await conn.close()
    write_json(spec_path + ".out", result | {"cpu_s": time.process_time() - cpu0})


async def offer_from_process(
    spec: dict[str, Any], tmp: Path, started: asyncio.Future[float]
) -> dict[str, Any]:
    """:func:`offer` in a client process of its own; ``started`` gets the start time once
    the client is ready."""
    path = tmp / "client.json"
    write_json(str(path), spec)
    (proc,), t0 = await start_helpers(__file__, "--client-of", [path])
    started.set_result(t0)
    code = await proc.wait()
    result = read_json(f"{path}.out") if code == 0 else None
    if result is None:
        return {
            "requested": {},
            "took": [],
            "errors": {f"client process exit {code}": 1},
            "last_answer": t0,
            "cpu_s": 0.0,
        }
    return dict(result)


@contextlib.contextmanager
def api_processes(
    n: int, tmp: Path, nice: int = 0, **settings: str
) -> Iterator[tuple[list[int], list[subprocess.Popen[bytes]]]]:
    """``(ports, processes)`` of ``n`` ``tronrent serve --role api`` processes with
    ``settings`` (environment variables), ``nice`` added to their niceness; stopped on exit."""
    # this checkout's code, whatever the venv's ``tronrent`` points at
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = clean_env(tmp / "data", **settings)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    ports = [free_port() for _ in range(n)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            procs.append(start_serve(port, env, tmp / "serve.log", "--role", "api"))
            if nice:
                os.setpriority(os.PRIO_PROCESS, procs[-1].pid, nice)
        yield ports, procs
    finally:
        for proc in procs:
            stop(proc, 10)


@contextlib.asynccontextmanager
async def in_process_api(p: Any, block_interval_ms: int) -> AsyncIterator[Send]:
    """The API app in this process (the merchant routes), through httpx's ASGI transport."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        secret_keys=[SecretStr(generate_key())],
        jwt_secret=SecretStr("x" * 40),
        rate_limit_per_minute=0,
        merchant_rate_limit_per_minute=0,
        block_interval_ms=block_interval_ms,
    )

    @contextlib.asynccontextmanager
    async def wire(state: AppState) -> AsyncIterator[None]:
        state.secret_box = p.flash.box
        state.components[RUNTIME_COMPONENT] = p.flash.rt
        state.components[CHAIN_COMPONENT] = p.gateway
        yield

    app = create_app(
        settings, engine=p.engine, routers=[merchant_endpoints.router], lifespan_hooks=[wire]
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as http,
    ):

        async def send(slot: int, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
            r = await http.post(ORDERS, content=body, headers=headers)
            return r.status_code, r.json()

        yield send


async def offer_orders(
    args: argparse.Namespace,
    p: Any,
    api_ports: list[int],
    api_pids: list[int],
    tmp: Path,
    clients: list[tuple[str, str]],
    receivers: list[str],
) -> dict[str, Any]:
    """The offering: :func:`offer`'s results, its length (s), the CPU readings at its start,
    the client process's CPU seconds (None: no such process) and this process's statements."""
    loop = asyncio.get_running_loop()
    started: asyncio.Future[float] = loop.create_future()
    client_cpu_s: float | None = None
    async with contextlib.AsyncExitStack() as stack:
        if not args.api_processes or args.client == "main":
            if args.api_processes:
                send, conns = conn_sender(api_ports, args.concurrency)
                for conn in conns:
                    stack.push_async_callback(conn.close)
            else:
                send = await stack.enter_async_context(in_process_api(p, args.block_interval_ms))
            started.set_result(time.time())
            offering = asyncio.create_task(
                offer(
                    send,
                    clients,
                    receivers,
                    rate=args.rate,
                    start_wall=started.result(),
                    concurrency=args.concurrency,
                )
            )
        else:
            spec = {
                "ports": api_ports,
                "clients": clients,
                "receivers": receivers,
                "rate": args.rate,
                "concurrency": args.concurrency,
            }
            offering = asyncio.create_task(offer_from_process(spec, tmp, started))
        t0 = await started
        cpu0 = {
            "main": time.process_time(),
            "devnet": cpu_seconds(p.devnet_pid),
            "postgres": server_cpu_seconds("postgres"),
            "redis": server_cpu_seconds("redis-server"),
        }
        api_cpu0 = sum(cpu_seconds(pid) for pid in api_pids)
        sql0 = p.statements.count
        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            profiler.enable()
        result = await offering
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        client_cpu_s = result.pop("cpu_s", None)
    return result | {
        "offered_s": max(result["last_answer"] - t0, 1e-9),
        "cpu0": cpu0,
        "api_cpu0": api_cpu0,
        "client_cpu_s": client_cpu_s,
        "statements": p.statements.count - sql0,
    }


async def main() -> None:
    ap = bench_parser(__doc__, block_interval_ms=3000, database_url=PG_DEFAULT)
    ap.add_argument("--rate", type=int, default=200, help="orders offered per second")
    ap.add_argument("--seconds", type=int, default=60, help="how long orders are offered")
    ap.add_argument("--merchants", type=int, default=20, help="customers with a key each")
    ap.add_argument("--concurrency", type=int, default=64, help="requests in flight")
    ap.add_argument("--api-processes", type=int, default=0, help="0: the API in this process")
    ap.add_argument(
        "--client",
        choices=("process", "main"),
        default="process",
        help="with --api-processes: the client in a process of its own or in this one",
    )
    ap.add_argument(
        "--api-nice",
        type=int,
        default=0,
        help="with --api-processes: niceness added to them (the engine first when CPU is short)",
    )
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/7", help="with API processes")
    ap.add_argument("--retry-s", type=float, default=0.5, help="callback retry delay")
    ap.add_argument("--max-wait", type=float, default=120.0, help="wait for deliveries (s)")
    ap.add_argument("--profile", default="", help="cProfile the offering phase to this file")
    args = parse_quietly(ap)
    total = args.rate * args.seconds
    redis_url = args.redis_url if args.api_processes else None
    if redis_url:
        await clear_streams(redis_url)
    secret_key = generate_key()
    platform_kw: dict[str, Any] = {
        "stake_trx": 200_000_000,
        "pool_size": 30,
        "redis_url": redis_url,
        "secret_key": secret_key,
    }
    with tempfile.TemporaryDirectory(prefix="tronrent-bench-merchant-") as tmp_dir:
        tmp = Path(tmp_dir)
        (tmp / "data").mkdir()
        async with engine_on_devnet(args, **platform_kw) as (p, port):
            print(json.dumps(await run(args, p, port, tmp, secret_key, total), indent=1))


async def delivery_stages(s: AsyncSession) -> dict[str, tuple[float, float, float]]:
    """Order id -> when it was paid, its delegation signed and stored, and broadcast (the
    batch's results recorded: an upper bound), in epoch seconds."""
    rows = await s.execute(
        select(Order.id, Order.paid_at, ChainTransaction.created_at, ChainTransaction.broadcast_at)
        .join(ChainTransaction, ChainTransaction.order_id == Order.id)
        .where(ChainTransaction.purpose == ChainTxPurpose.DELEGATE)
    )
    return {
        o: (paid.timestamp(), stored.timestamp(), (sent or stored).timestamp())
        for o, paid, stored, sent in rows
        if paid is not None
    }


def stage_figures(
    first_block: int,
    stamps: Sequence[int],
    requested: dict[str, float],
    lat_by_order: dict[str, float],
    stages: dict[str, tuple[float, float, float]],
) -> dict[str, Any]:
    """Where an order's time goes: the request's commit -> its delegation stored -> broadcast
    (ms, p50/p99 over every order), and for those that missed the next block how long before
    that block each step came (ms, p50/max: negative = after it)."""
    steps = {"paid_to_stored": [], "stored_to_broadcast": []}  # type: dict[str, list[float]]
    before: dict[str, list[float]] = {"requested": [], "paid": [], "stored": [], "broadcast": []}
    for o, (paid, stored, sent) in stages.items():
        steps["paid_to_stored"].append(1000 * (stored - paid))
        steps["stored_to_broadcast"].append(1000 * (sent - stored))
        b = head_at(first_block, stamps, requested[o]) - first_block + 1
        if lat_by_order.get(o, float("inf")) <= 1 or b >= len(stamps):
            continue
        for name, t in zip(before, (requested[o], paid, stored, sent), strict=True):
            before[name].append(stamps[b] - 1000 * t)
    return {
        "stage_ms_p50_p99": {
            k: (round(percentile(v, 50)), round(percentile(v, 99))) for k, v in steps.items() if v
        },
        "missed_ms_before_block_p50_max": {
            k: (round(percentile(v, 50)), round(max(v))) for k, v in before.items() if v
        },
    }


async def run(
    args: argparse.Namespace, p: Any, port: int, tmp: Path, secret_key: str, total: int
) -> dict[str, Any]:
    keys = customer_keys(total)
    await fund(p.devnet_url, keys, TRX)
    receivers = [k.address_base58 for k in keys]
    async with receiver_elsewhere(tmp) as (url, stop_receiver):
        clients = []
        async with transaction_scope(p.session_maker) as s:
            for _ in range(args.merchants):
                user = await new_user(s, trx_sun=(total // args.merchants + 1) * 2 * TRX)
                made = await merchant_keys.create(
                    s,
                    p.flash.box,
                    user_id=user.id,
                    name="bench",
                    actor="bench",
                    callback_url=url,
                )
                clients.append((made.key.key_id, made.secret.reveal()))
        sender = CallbackSender(
            p.session_maker,
            p.flash.box,
            allow_private=True,
            schedule=(args.retry_s,) * 7,
            batch_size=500,
        )
        stop_sending = asyncio.Event()
        sending = asyncio.create_task(sender.run(stop_sending))
        conn = Conn("127.0.0.1", port)
        first_block = block_number(await head_block(conn))  # the head before any request
        await conn.close()
        with contextlib.ExitStack() as stack:
            api_ports: list[int] = []
            api_pids: list[int] = []
            if args.api_processes:
                api_ports, procs = stack.enter_context(
                    api_processes(
                        args.api_processes,
                        tmp,
                        args.api_nice,
                        DATABASE_URL=p.engine.url.render_as_string(hide_password=False),
                        REDIS_URL=args.redis_url,
                        TRON_NODE_URLS=p.devnet_url,
                        TRON_PAYMENT_ADDRESS=p.address,
                        SECRET_KEYS=secret_key,
                        JWT_SECRET=secrets.token_urlsafe(48),
                        BLOCK_INTERVAL_MS=str(args.block_interval_ms),
                        RATE_LIMIT_PER_MINUTE="0",
                        MERCHANT_RATE_LIMIT_PER_MINUTE="0",
                    )
                )
                for api_port, proc in zip(api_ports, procs, strict=True):
                    await wait_ready(api_port, proc)
                api_pids = [proc.pid for proc in procs]
            offered = await offer_orders(args, p, api_ports, api_pids, tmp, clients, receivers)
            deadline = time.monotonic() + args.max_wait
            delivered: dict[str, str] = {}
            requested: dict[str, float] = offered["requested"]
            while time.monotonic() < deadline:
                async with p.session_maker() as s:
                    # only the orders not seen delegated yet: the bench's own polling is in
                    # the CPU figures (this process's and PostgreSQL's), keep it small
                    waiting = [o for o in requested if o not in delivered]
                    for i in range(0, len(waiting), 1000):
                        rows = await s.execute(
                            select(Order.id, Order.delegate_tx_hash).where(
                                Order.id.in_(waiting[i : i + 1000]),
                                Order.delegate_tx_hash.is_not(None),
                            )
                        )
                        delivered.update((o, t) for o, t in rows)
                    pending = await s.scalar(
                        select(func.count())
                        .select_from(MerchantCallback)
                        .where(MerchantCallback.status == CallbackStatus.PENDING)
                    )
                if len(delivered) >= len(requested) and not pending:
                    break
                await asyncio.sleep(1.0)
            cpu = offered["cpu0"]
            main_cpu_s = time.process_time() - cpu["main"]
            devnet_cpu_s = cpu_seconds(p.devnet_pid) - cpu["devnet"]
            pg_cpu_s = cpu_spent(cpu["postgres"], server_cpu_seconds("postgres"))
            redis_cpu_s = cpu_spent(cpu["redis"], server_cpu_seconds("redis-server"))
            api_cpu_s = sum(cpu_seconds(pid) for pid in api_pids) - offered["api_cpu0"]
        stop_sending.set()
        await sending
        received = await stop_receiver()
    blocks = await tx_blocks(port, list(delivered.values()))
    stamps = await block_times(port, first_block)
    lat_by_order = {
        o: blocks[t] - head_at(first_block, stamps, requested[o]) if t in blocks else float("inf")
        for o, t in delivered.items()
    }
    lat = [*lat_by_order.values()] + [float("inf")] * (len(requested) - len(delivered))
    async with p.session_maker() as s:
        stages = await delivery_stages(s)
        by_status = dict(
            (
                await s.execute(
                    select(MerchantCallback.status, func.count()).group_by(MerchantCallback.status)
                )
            ).all()
        )
    created = len(requested)
    queued = sum(by_status.values())
    delivered_cb = by_status.get(CallbackStatus.DELIVERED, 0)
    took = offered["took"]

    def per_order(cpu_s: float) -> float:
        return round(1000 * cpu_s / max(1, created), 2)

    api = f"{args.api_processes} API processes" if args.api_processes else "API in-process"
    if args.api_processes and args.api_nice:
        api += f" (nice +{args.api_nice})"
    client = (
        "client in-process"
        if not args.api_processes or args.client == "main"
        else ("client process")
    )
    return {
        "setup": f"{api}, {client}",
        "offered": total,
        "offered_per_s": args.rate,
        "created": created,
        "errors": dict(offered["errors"]),
        "accepted_per_s": round(created / offered["offered_s"], 1),
        "request_ms_p50": round(1000 * percentile(took, 50)),
        "request_ms_p99": round(1000 * percentile(took, 99)),
        "delegated": len(delivered),
        "blocks_p50": percentile(lat, 50),
        "blocks_p99": percentile(lat, 99),
        "in_next_block_pct": round(100 * sum(x <= 1 for x in lat) / max(1, created), 1),
        "callbacks_queued": queued,
        "callbacks_delivered": delivered_cb,
        "callbacks_delivered_pct": round(100 * delivered_cb / max(1, queued), 3),
        "callback_requests": received["requests"],
        "callback_duplicates": received["duplicates"],
        "cpu_ms_per_order": {
            "api_processes": per_order(api_cpu_s) if args.api_processes else None,
            "main (engine" + (")" if args.api_processes else " + API + client)"): per_order(
                main_cpu_s
            ),
            "client_process": per_order(offered["client_cpu_s"])
            if offered["client_cpu_s"] is not None
            else None,
            "callback_receiver_process": per_order(received["cpu_s"]),
            "devnet": per_order(devnet_cpu_s),
            "postgres": per_order(pg_cpu_s),
            "redis": per_order(redis_cpu_s),
        },
        "sql_per_order_main": round(offered["statements"] / max(1, created), 1),
        **stage_figures(first_block, stamps, requested, lat_by_order, stages),
        **reachable_share(first_block, stamps, requested, lat_by_order),
        "block_interval_ms": args.block_interval_ms,
        "load": load_average(),
    }


if __name__ == "__main__":
    # uvloop, as in `tronrent serve` (uvicorn picks it when installed): the engine runs there
    if len(sys.argv) == 3 and sys.argv[1] == "--client-of":
        uvloop.run(client_process(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "--receiver-of":
        uvloop.run(receiver_process(sys.argv[2]))
    else:
        uvloop.run(main())
