"""Signed merchant orders per second (POST /api/v1/orders, paid from the balance), each
delegated in the block after its request, and their callbacks to a receiver failing 10 %.

Runs the real engine (scanner + workers + tronpy gateway) and the API app (ASGI, in this
process, through httpx) on a PostgreSQL database of its own against a devnet process. Each
request is signed (HMAC-SHA256, fresh nonce); ``--merchants`` customers with a key each and a
TRX balance; one receiver (an activated account) per order. The callback sender delivers to a
local HTTP receiver that answers 500 to every 10th request (retries after ``--retry-s``
instead of the 15 s..30 min production schedule, so the run ends).

Figures:
- ``accepted_per_s``: orders answered 201 per second of offering (first request to last answer);
- ``blocks_p50`` / ``blocks_p99`` / ``in_next_block_pct``: per order, the delegation's block
  minus the head block when its request was sent (1 = the block after the request), read
  from the chain; an order never delegated counts as infinite;
- ``callbacks_delivered_pct``: callbacks delivered / queued, and duplicates the receiver saw;
- where the time goes: CPU seconds per order of this process (API + engine + client) and of
  the devnet, SQL statements per order, request latency p50/p99; ``--profile FILE`` writes a
  cProfile of the offering phase (``python -m pstats FILE``).

    .venv/bin/python bench/merchant_orders.py \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        [--rate 200] [--seconds 60] [--block-interval-ms 3000] [--profile /tmp/m.prof]
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import json
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator

import httpx
from _common import (
    PG_DEFAULT,
    TRX,
    Conn,
    bench_parser,
    block_number,
    cpu_seconds,
    customer_keys,
    engine_on_devnet,
    fund,
    head_block,
    load_average,
    parse_quietly,
    percentile,
    tx_blocks,
)
from pydantic import SecretStr
from sqlalchemy import func, select

from package_orders import new_user
from tronrent.api.app import create_app
from tronrent.api.state import AppState
from tronrent.config import Settings
from tronrent.flash.api_deps import CHAIN_COMPONENT, RUNTIME_COMPONENT
from tronrent.kit.crypto import generate_key
from tronrent.kit.db import transaction_scope
from tronrent.merchant import endpoints as merchant_endpoints
from tronrent.merchant import signing
from tronrent.merchant.callbacks import CallbackSender
from tronrent.merchant.keys import merchant_keys
from tronrent.models.merchant import CallbackStatus, MerchantCallback
from tronrent.models.order import Order


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


async def main() -> None:
    ap = bench_parser(__doc__, block_interval_ms=3000, database_url=PG_DEFAULT)
    ap.add_argument("--rate", type=int, default=200, help="orders offered per second")
    ap.add_argument("--seconds", type=int, default=60, help="how long orders are offered")
    ap.add_argument("--merchants", type=int, default=20, help="customers with a key each")
    ap.add_argument("--concurrency", type=int, default=64, help="requests in flight")
    ap.add_argument("--retry-s", type=float, default=0.5, help="callback retry delay")
    ap.add_argument("--max-wait", type=float, default=120.0, help="wait for deliveries (s)")
    ap.add_argument("--profile", default="", help="cProfile the offering phase to this file")
    args = parse_quietly(ap)
    total = args.rate * args.seconds
    async with engine_on_devnet(args, stake_trx=200_000_000, pool_size=30) as (p, port):
        keys = customer_keys(total)
        await fund(p.devnet_url, keys, TRX)
        receiver = Receiver()
        async with receiving(receiver) as url:
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
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None,
                secret_keys=[SecretStr(generate_key())],
                jwt_secret=SecretStr("x" * 40),
                rate_limit_per_minute=0,
                merchant_rate_limit_per_minute=0,
                block_interval_ms=args.block_interval_ms,
            )

            @contextlib.asynccontextmanager
            async def wire(state: AppState) -> AsyncIterator[None]:
                state.secret_box = p.flash.box
                state.components[RUNTIME_COMPONENT] = p.flash.rt
                state.components[CHAIN_COMPONENT] = p.gateway
                yield

            app = create_app(
                settings,
                engine=p.engine,
                routers=[merchant_endpoints.router],
                lifespan_hooks=[wire],
            )
            sender = CallbackSender(
                p.session_maker,
                p.flash.box,
                allow_private=True,
                schedule=(args.retry_s,) * 7,
                batch_size=500,
            )
            stop = asyncio.Event()
            sending = asyncio.create_task(sender.run(stop))
            conn = Conn("127.0.0.1", port)
            head = block_number(await head_block(conn))

            async def follow() -> None:
                nonlocal head
                while True:
                    with contextlib.suppress(Exception):
                        head = block_number(await head_block(conn))
                    await asyncio.sleep(0.05)

            following = asyncio.create_task(follow())
            #: order id -> head block when its request was sent
            requested: dict[str, int] = {}
            took: list[float] = []
            errors: Counter[str] = Counter()
            transport = httpx.ASGITransport(app=app)
            profiler = cProfile.Profile() if args.profile else None
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(transport=transport, base_url="http://bench") as http,
            ):
                gate = asyncio.Semaphore(args.concurrency)
                cpu0, devnet0 = time.process_time(), cpu_seconds(p.devnet_pid)
                sql0 = p.statements.count
                if profiler is not None:
                    profiler.enable()
                t0 = time.monotonic()
                last_answer = t0

                async def order(i: int) -> None:
                    nonlocal last_answer
                    key_id, secret = clients[i % len(clients)]
                    body = json.dumps(
                        {
                            "clientOrderId": f"bench-{i}",
                            "receiver": keys[i].address_base58,
                            "energy": 65_000,
                            "durationHours": 1,
                        }
                    ).encode()
                    async with gate:
                        ts, nonce = str(int(time.time())), secrets.token_hex(12)
                        sig = signing.sign_request(
                            secret,
                            timestamp=ts,
                            method="POST",
                            path="/api/v1/orders",
                            nonce=nonce,
                            body=body,
                        )
                        headers = {
                            "X-Api-Key": key_id,
                            "X-Timestamp": ts,
                            "X-Nonce": nonce,
                            "X-Signature": sig,
                            "Content-Type": "application/json",
                        }
                        sent_head, sent = head, time.monotonic()
                        r = await http.post("/api/v1/orders", content=body, headers=headers)
                        last_answer = time.monotonic()
                        took.append(last_answer - sent)
                    if r.status_code == 201:
                        requested[r.json()["data"]["orderId"]] = sent_head
                    else:
                        errors[f"{r.status_code} {r.json()['error']['code']}"] += 1

                tasks = []
                for i in range(total):
                    due = t0 + i / args.rate
                    delay = due - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(order(i)))
                await asyncio.gather(*tasks)
                offered_s = max(last_answer - t0, 1e-9)
                if profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(args.profile)
                cpu_s = time.process_time() - cpu0
                devnet_cpu_s = cpu_seconds(p.devnet_pid) - devnet0
                statements = p.statements.count - sql0
            deadline = time.monotonic() + args.max_wait
            delivered: dict[str, str] = {}
            while time.monotonic() < deadline:
                async with p.session_maker() as s:
                    rows = await s.execute(
                        select(Order.id, Order.delegate_tx_hash).where(
                            Order.id.in_(list(requested)), Order.delegate_tx_hash.is_not(None)
                        )
                    )
                    delivered = {o: t for o, t in rows}
                    pending = await s.scalar(
                        select(func.count())
                        .select_from(MerchantCallback)
                        .where(MerchantCallback.status == CallbackStatus.PENDING)
                    )
                if len(delivered) >= len(requested) and not pending:
                    break
                await asyncio.sleep(1.0)
            stop.set()
            await sending
            following.cancel()
            blocks = await tx_blocks(port, list(delivered.values()))
            lat = [
                blocks[t] - requested[o] if t in blocks else float("inf")
                for o, t in delivered.items()
            ] + [float("inf")] * (len(requested) - len(delivered))
            async with p.session_maker() as s:
                by_status = dict(
                    (
                        await s.execute(
                            select(MerchantCallback.status, func.count()).group_by(
                                MerchantCallback.status
                            )
                        )
                    ).all()
                )
        created = len(requested)
        queued = sum(by_status.values())
        delivered_cb = by_status.get(CallbackStatus.DELIVERED, 0)
        print(
            json.dumps(
                {
                    "offered": total,
                    "offered_per_s": args.rate,
                    "created": created,
                    "errors": dict(errors),
                    "accepted_per_s": round(created / offered_s, 1),
                    "request_ms_p50": round(1000 * percentile(took, 50)),
                    "request_ms_p99": round(1000 * percentile(took, 99)),
                    "delegated": len(delivered),
                    "blocks_p50": percentile(lat, 50),
                    "blocks_p99": percentile(lat, 99),
                    "in_next_block_pct": round(100 * sum(x <= 1 for x in lat) / max(1, created), 1),
                    "callbacks_queued": queued,
                    "callbacks_delivered": delivered_cb,
                    "callbacks_delivered_pct": round(100 * delivered_cb / max(1, queued), 3),
                    "callback_requests": receiver.requests,
                    "callback_duplicates": sum(n - 1 for n in receiver.events.values() if n > 1),
                    "cpu_ms_per_order": round(1000 * cpu_s / max(1, created), 1),
                    "devnet_cpu_ms_per_order": round(1000 * devnet_cpu_s / max(1, created), 1),
                    "sql_per_order": round(statements / max(1, created), 1),
                    "block_interval_ms": args.block_interval_ms,
                    "load": load_average(),
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    asyncio.run(main())
