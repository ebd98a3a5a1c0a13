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


def _node_urls(settings: Settings) -> list[str]:
    """TRON_NODE_URLS, else the devnet `tronrent serve` runs in-process (when it is running)."""
    return list(settings.tron_node_urls) or [f"http://127.0.0.1:{settings.tron_devnet_port}"]


@pool_app.command("add")
def add(
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    priority: Annotated[int, typer.Option(min=1, help="higher is preferred")] = 1,
    key_stdin: Annotated[
        bool, typer.Option("--key-stdin", help="read the private key from stdin")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="store an account that is missing, has no energy stake, does not match the key "
            "or cannot be checked now, disabled with the reason (the sync enables it once usable)",
        ),
    ] = False,
) -> None:
    """Add a pool from its private key (prompted, or --key-stdin); stored encrypted.

    The account is checked on chain (TRON_NODE_URLS, else the devnet of a running `serve`): it
    must exist, have TRX staked for energy and be owned by the key.
    """
    from tronrent.adapters.tron.gateway import TronGateway
    from tronrent.cli import fail, run_async
    from tronrent.kit.db import create_engine, create_session_maker
    from tronrent.pool.service import InvalidPrivateKey, parse_private_key
    from tronrent.pool.service import pool as pool_service

    key = (
        sys.stdin.readline().strip() if key_stdin else typer.prompt("private key", hide_input=True)
    )
    try:  # before anything else runs or logs: a bad key is one line
        parse_private_key(key)
    except InvalidPrivateKey as exc:
        fail(exc.message, code=2)
    settings, box = _ctx()

    async def go() -> tuple[str, str | None]:
        engine = create_engine(settings.database_url)
        try:
            async with (
                TronGateway(_node_urls(settings), timeout_s=10) as gw,
                create_session_maker(engine)() as s,
            ):
                pool = await pool_service.add(
                    s,
                    box,
                    chain=gw,
                    force=force,
                    private_key=key,
                    name=name,
                    priority=priority,
                )
                await s.commit()
                return pool.tron_address, pool.flag_reason
        finally:
            await engine.dispose()

    address, flagged = run_async(go)
    if flagged:
        typer.echo(f"pool added DISABLED (maintenance): {address}: {flagged}")
    else:
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
                    + (f"  flagged: {p.flag_reason}" if p.flag else "")
                    for p in await pool_service.list_pools(s)
                ]
        finally:
            await engine.dispose()

    for line in run_async(go) or ["(no pools)"]:
        typer.echo(line)


@pool_app.command("sync")
def sync() -> None:
    """Read every pool's energy figures from the chain, one line per pool (an unusable pool is
    flagged and skipped, never stops the others); exits 0 once every pool was tried, 1 when
    no node answered for any pool."""
    from tronrent.adapters.tron.gateway import TronGateway
    from tronrent.cli import fail, run_async
    from tronrent.kit.db import create_engine, create_session_maker
    from tronrent.pool.tasks import SyncState, sync_all

    settings, box = _ctx()

    async def go() -> tuple[list[str], bool]:
        engine = create_engine(settings.database_url)
        try:
            async with (
                TronGateway(_node_urls(settings), timeout_s=10) as gw,
                create_session_maker(engine)() as s,
            ):
                results = await sync_all(s, gw, box=box)
                await s.commit()
        finally:
            await engine.dispose()
        lines = []
        for p, outcome in results:
            line = f"{p.tron_address}  {p.name:<20} {outcome.state.value:<7}"
            if outcome.state is SyncState.OK:
                line += f" available={p.available_energy}"
                if outcome.cleared:
                    line += " (flag cleared, active again)"
            else:
                line += f" {outcome.detail}"
            lines.append(line)
        lines.append(
            f"synced {sum(o.state is SyncState.OK for _, o in results)} of {len(results)} pool(s)"
        )
        return lines, bool(results) and all(o.state is SyncState.ERROR for _, o in results)

    lines, unread = run_async(go)
    for line in lines:
        typer.echo(line)
    if unread:
        fail(
            f"no pool could be read: is a TRON node answering at {', '.join(_node_urls(settings))}?"
        )
