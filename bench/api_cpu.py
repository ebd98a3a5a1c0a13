"""CPU per balance-paid order of the API routes (no chain, no engine: the request path only).

The API app (every router `tronrent serve` mounts, its middleware: request context and access
log, rate limits, body guard) runs in this process behind ``httpx.ASGITransport`` against a
PostgreSQL database of its own (``--database-url``; '' = a temporary SQLite file). Logging is
configured as `tronrent serve` does at INFO, written to /dev/null. Routes measured (``--routes``):

- ``pay``: ``POST /api/orders/{id}/payment {"method": "balance"}`` with the order's
  ``X-Order-Token`` (a pending package order inserted beforehand; what bench/balance_orders.py
  pays);
- ``create``: ``POST /api/orders`` with ``paymentMethod: balance`` and an operator's JWT (the
  order created and paid in one request);
- ``merchant``: ``POST /api/v1/orders`` signed with a merchant key (HMAC-SHA256, fresh nonce,
  nonces in the database), created and paid from the balance.

Per route: ``--warmup`` requests, then ``--orders`` requests, ``--concurrency`` in flight; the
figure is the CPU time of this process (``time.process_time``: the route, the client and the
database driver; the database server's CPU is not in it) per request answered 2xx, and the
SQL statements per request. ``--profile PREFIX`` writes a cProfile per route
(``PREFIX.<route>.prof``; ``python -m pstats``).

    nice -n 19 .venv/bin/python bench/api_cpu.py \\
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres] \\
        [--orders 300] [--routes pay,create,merchant] [--profile /tmp/api]
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
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from _common import (
    PG_DEFAULT,
    StatementCounter,
    customer_keys,
    database,
    load_average,
    signed_headers,
)
from pydantic import SecretStr
from sqlalchemy import event, select

from package_orders import build_package_order, new_user
from tronrent.api.app import create_app
from tronrent.api.state import AppState
from tronrent.auth.service import admin as admin_service
from tronrent.config import Settings
from tronrent.flash.api_deps import RUNTIME_COMPONENT
from tronrent.flash.routers import FLASH_ROUTERS
from tronrent.kit.crypto import SecretBox, generate_key
from tronrent.kit.db import create_engine, create_session_maker, transaction_scope
from tronrent.kit.logging import configure_logging
from tronrent.merchant.keys import merchant_keys
from tronrent.models.energy_package import EnergyPackage, PackageType
from tronrent.order.access import hash_order_token, new_order_token
from tronrent.order.runtime import FlashRuntime

TRX = 1_000_000
ROUTES = ("pay", "create", "merchant")

Call = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


def _callgrind(*commands: str) -> int:
    """Run ``callgrind_control`` commands on this process (under valgrind's callgrind tool);
    after a ``--dump``: the instructions counted since the last ``--zero``."""
    pid = str(os.getpid())
    out_dir = Path(os.environ.get("API_CPU_CALLGRIND_DIR", "."))
    before = set(out_dir.glob(f"callgrind.out.{pid}*"))
    for command in commands:
        subprocess.run(["callgrind_control", command, pid], check=True, capture_output=True)
    if "--dump" not in commands:
        return 0
    for _ in range(100):  # the dump is written by valgrind, asynchronously
        new = set(out_dir.glob(f"callgrind.out.{pid}*")) - before
        for path in new:
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("totals:"):
                    return int(line.split()[1])
        time.sleep(0.2)
    raise RuntimeError("no callgrind dump")


async def measure(
    http: httpx.AsyncClient,
    call: Call,
    *,
    warmup: int,
    orders: int,
    concurrency: int,
    statements: StatementCounter,
    profile: str,
    callgrind: bool = False,
) -> dict[str, Any]:
    """Run ``warmup`` then ``orders`` calls (``call(http, i)``); the figures of the latter."""
    errors: dict[str, int] = {}
    ok = 0

    async def run(start: int, n: int) -> None:
        nonlocal ok
        it = iter(range(start, start + n))

        async def worker() -> None:
            nonlocal ok
            for i in it:
                r = await call(http, i)
                if r.status_code < 300:
                    ok += 1
                else:
                    key = f"{r.status_code} {r.text[:120]}"
                    errors[key] = errors.get(key, 0) + 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    await run(0, warmup)
    ok = 0
    errors.clear()
    profiler = cProfile.Profile(time.process_time) if profile else None
    sql0 = statements.count
    cpu0, wall0 = time.process_time(), time.monotonic()
    if profiler is not None:
        profiler.enable()
    if callgrind:
        _callgrind("--zero", "--instr=on")
    await run(warmup, orders)
    instructions = _callgrind("--instr=off", "--dump") if callgrind else 0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    return {
        "ok": ok,
        "errors": errors,
        "cpu_ms_per_order": round(1000 * cpu / max(1, ok), 2),
        **({"instructions_per_order": round(instructions / max(1, ok))} if callgrind else {}),
        "sql_per_order": round((statements.count - sql0) / max(1, ok), 2),
        "wall_s": round(wall, 2),
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--database-url", default=PG_DEFAULT, help="PostgreSQL server ('' = SQLite)")
    ap.add_argument("--orders", type=int, default=300, help="measured requests per route")
    ap.add_argument("--warmup", type=int, default=50, help="requests per route not measured")
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    ap.add_argument("--users", type=int, default=20, help="customers the orders belong to")
    ap.add_argument(
        "--routes", default=",".join(ROUTES), help="comma-separated: " + ",".join(ROUTES)
    )
    ap.add_argument("--profile", default="", help="cProfile each route to PREFIX.<route>.prof")
    ap.add_argument("--show-sql", action="store_true", help="print one more request's SQL")
    ap.add_argument(
        "--callgrind",
        action="store_true",
        help="count instructions per order: run under `valgrind --tool=callgrind "
        "--instr-atstart=no --callgrind-out-file=DIR/callgrind.out.%%p` (DIR: "
        "$API_CPU_CALLGRIND_DIR, default .)",
    )
    args = ap.parse_args()
    routes = [r for r in args.routes.split(",") if r]
    unknown = set(routes) - set(ROUTES)
    if unknown:
        ap.error(f"unknown routes {sorted(unknown)}")
    devnull = open(os.devnull, "w")  # noqa: SIM115, ASYNC230 - closed at the end
    configure_logging("info", stream=devnull)  # as `tronrent serve`, lines thrown away
    per_route = args.warmup + args.orders
    async with database(args.database_url or None) as db_url:
        engine = create_engine(db_url, pool_size=args.concurrency + 2, max_overflow=4)
        statements = StatementCounter()
        event.listen(engine.sync_engine, "before_cursor_execute", statements)
        session_maker = create_session_maker(engine)
        box = SecretBox([generate_key()])
        receivers = [k.address_base58 for k in customer_keys(per_route + 1)]
        rt = FlashRuntime(payment_address=receivers[0])
        async with transaction_scope(session_maker) as s:
            users = [
                await new_user(s, trx_sun=3 * per_route * 100 * TRX) for _ in range(args.users)
            ]
            admin = await admin_service.create(
                s, username="bench_op", password=secrets.token_hex(16), role="operator"
            )
            package = (
                await s.scalars(
                    select(EnergyPackage)
                    .where(
                        EnergyPackage.is_active.is_(True),
                        EnergyPackage.package_type == PackageType.ENERGY,
                        EnergyPackage.duration_hours == 1,
                    )
                    .order_by(EnergyPackage.energy_amount)
                )
            ).first()
            assert package is not None, "no seeded 1 h energy package"
            tokens = [new_order_token() for _ in range(per_route + 1)]
            pay_orders = [
                build_package_order(users[i % len(users)].id, target_address=receivers[i])
                for i in range(per_route + 1)
            ]
            for order, token in zip(pay_orders, tokens, strict=True):
                order.access_token_hash = hash_order_token(token)
                order.payment_method = "balance"
            s.add_all(pay_orders)
            merchants = []
            for user in users:
                made = await merchant_keys.create(
                    s, box, user_id=user.id, name="bench", actor="bench"
                )
                merchants.append((made.key.key_id, made.secret.reveal()))
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            secret_keys=[SecretStr(generate_key())],
            jwt_secret=SecretStr("x" * 40),
            # the limits are counted (their CPU is in the figure), never reached
            rate_limit_per_minute=10**9,
            rate_limit_per_account_per_minute=10**9,
            merchant_rate_limit_per_minute=10**9,
        )

        @contextlib.asynccontextmanager
        async def wire(state: AppState) -> AsyncIterator[None]:
            state.secret_box = box
            state.components[RUNTIME_COMPONENT] = rt
            yield

        app = create_app(settings, engine=engine, routers=FLASH_ROUTERS, lifespan_hooks=[wire])
        operator_auth = ""

        async def pay(http: httpx.AsyncClient, i: int) -> httpx.Response:
            return await http.post(
                f"/api/orders/{pay_orders[i].id}/payment",
                json={"method": "balance"},
                headers={"X-Order-Token": tokens[i]},
            )

        async def create(http: httpx.AsyncClient, i: int) -> httpx.Response:
            return await http.post(
                "/api/orders",
                json={
                    "userId": str(users[i % len(users)].id),
                    "packageId": str(package.id),
                    "quantity": 1,
                    "recipientAddress": receivers[i],
                    "currency": "TRX",
                    "paymentMethod": "balance",
                },
                headers={"Authorization": operator_auth},
            )

        async def merchant(http: httpx.AsyncClient, i: int) -> httpx.Response:
            key_id, secret = merchants[i % len(merchants)]
            body = json.dumps(
                {
                    "clientOrderId": f"bench-{i}",
                    "receiver": receivers[i],
                    "energy": package.energy_amount,
                    "durationHours": 1,
                }
            ).encode()
            headers = signed_headers(key_id, secret, "/api/v1/orders", body)
            return await http.post("/api/v1/orders", content=body, headers=headers)

        calls: dict[str, Call] = {"pay": pay, "create": create, "merchant": merchant}
        results: dict[str, Any] = {}
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://bench") as http,
        ):
            state: AppState = app.state.tronrent
            operator_auth = f"Bearer {state.tokens.issue(admin.id, 'operator').token}"
            for route in routes:
                results[route] = await measure(
                    http,
                    calls[route],
                    warmup=args.warmup,
                    orders=args.orders,
                    concurrency=args.concurrency,
                    statements=statements,
                    profile=f"{args.profile}.{route}.prof" if args.profile else "",
                    callgrind=args.callgrind,
                )
                if args.show_sql:
                    seen: list[str] = []

                    def show(*a: Any) -> None:
                        seen.append(" ".join(str(a[2]).split())[:300])

                    event.listen(engine.sync_engine, "before_cursor_execute", show)
                    await calls[route](http, args.warmup + args.orders)
                    event.remove(engine.sync_engine, "before_cursor_execute", show)
                    results[route]["sql"] = seen
        await engine.dispose()
    devnull.close()
    dialect = "postgresql" if args.database_url else "sqlite"
    print(json.dumps({"routes": results, "load": load_average()}, indent=1))
    for route, r in results.items():
        print(
            f"RESULT api_cpu {route} [{dialect}, {args.orders} requests, {args.concurrency} in "
            f"flight] {r['cpu_ms_per_order']} ms CPU and {r['sql_per_order']} SQL statements "
            f"per order ({r['ok']} ok, {sum(r['errors'].values())} errors)"
            + (
                f"; {r['instructions_per_order'] / 1e6:.2f} M instructions per order"
                if args.callgrind
                else ""
            )
        )


if __name__ == "__main__":
    asyncio.run(main())
