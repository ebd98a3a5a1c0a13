"""`tronrent pool add|list|sync` (register with `app.add_typer(pool_app, name="pool")`)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tronrent.config import Settings
from tronrent.kit.crypto import SecretBox
from tronrent.kit.money import format_trx

pool_app = typer.Typer(help="Energy pool accounts.", no_args_is_help=True)


def _ctx() -> tuple[Settings, SecretBox]:
    from tronrent.api.app import build_secret_box
    from tronrent.cli import load

    settings = load(with_secrets=True)
    return settings, build_secret_box(settings)


@pool_app.command("add")
def add(
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    priority: Annotated[int, typer.Option(min=1, help="higher is preferred")] = 1,
    key_stdin: Annotated[
        bool, typer.Option("--key-stdin", help="read the private key from stdin")
    ] = False,
) -> None:
    """Add a pool from its private key (prompted, or --key-stdin); stored encrypted."""
    from tronrent.cli import fail, run_async
    from tronrent.kit.db import create_engine, create_session_maker
    from tronrent.kit.errors import AppError
    from tronrent.pool.service import pool as pool_service

    settings, box = _ctx()
    key = (
        sys.stdin.readline().strip() if key_stdin else typer.prompt("private key", hide_input=True)
    )

    async def go() -> str:
        engine = create_engine(settings.database_url)
        try:
            async with create_session_maker(engine)() as s:
                pool = await pool_service.add(
                    s,
                    box,
                    private_key=key,
                    name=name,
                    priority=priority,
                )
                await s.commit()
                return pool.tron_address
        finally:
            await engine.dispose()

    try:
        address = run_async(go)
    except AppError as exc:
        fail(exc.message)
    typer.echo(f"pool added: {address}")


@pool_app.command("list")
def list_pools() -> None:
    """Pools with their energy figures (keys are never shown)."""
    from tronrent.cli import run_async
    from tronrent.kit.db import create_engine, create_session_maker
    from tronrent.pool.service import pool as pool_service

    settings, _ = _ctx()

    async def go() -> list[str]:
        engine = create_engine(settings.database_url)
        try:
            async with create_session_maker(engine)() as s:
                return [
                    f"{p.tron_address}  {p.name:<20} {p.status.value:<11} prio={p.priority} "
                    f"available={p.available_energy} reserved={p.reserved_energy} "
                    f"delegated={p.delegated_energy} balance={format_trx(p.trx_balance_sun)} TRX"
                    for p in await pool_service.list_pools(s)
                ]
        finally:
            await engine.dispose()

    for line in run_async(go) or ["(no pools)"]:
        typer.echo(line)


@pool_app.command("sync")
def sync() -> None:
    """Read every pool's energy figures from the chain (TRON_NODE_URLS)."""
    from tronrent.adapters.tron.gateway import TronGateway
    from tronrent.cli import fail, run_async
    from tronrent.kit.db import create_engine, create_session_maker
    from tronrent.pool.service import pool as pool_service
    from tronrent.pool.tasks import sync_pool

    settings, _ = _ctx()
    urls = list(settings.tron_node_urls)
    if not urls:
        fail("TRON_NODE_URLS is not set (the embedded devnet runs only inside `tronrent serve`)")

    async def go() -> int:
        engine = create_engine(settings.database_url)
        try:
            async with TronGateway(urls) as gw, create_session_maker(engine)() as s:
                pools = await pool_service.list_pools(s)
                for p in pools:
                    await sync_pool(gw, p)
                await s.commit()
                return len(pools)
        finally:
            await engine.dispose()

    typer.echo(f"synced {run_async(go)} pool(s)")
