"""`tronrent pool add|list|sync|edit|disable|enable|maintenance|remove` (register with
`app.add_typer(pool_app, name="pool")`)."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tronrent.config import Settings
from tronrent.kit.crypto import SecretBox
from tronrent.kit.money import format_trx

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from tronrent.models.energy_pool import EnergyPool
    from tronrent.pool.service import Actor

pool_app = typer.Typer(help="Energy pool accounts.", no_args_is_help=True)

PoolRef = Annotated[str, typer.Argument(help="the pool's id or TRON address")]
ReasonOpt = Annotated[
    str, typer.Option("--reason", help="why (required; recorded with who, see the changes)")
]


def _ctx() -> tuple[Settings, SecretBox]:
    from tronrent.api.app import build_secret_box
    from tronrent.cli import load

    settings = load(with_secrets=True)
    return settings, build_secret_box(settings)


def _node_urls(settings: Settings) -> list[str]:
    """TRON_NODE_URLS, else the devnet `tronrent serve` runs in-process (when it is running)."""
    return settings.node_urls or [f"http://127.0.0.1:{settings.tron_devnet_port}"]


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


def _change(
    ref: str, action: Callable[[AsyncSession, EnergyPool, Actor], Awaitable[EnergyPool]]
) -> EnergyPool:
    """Run one recorded change on the pool ``ref`` (id or address), as ``cli:<os user>``, and
    commit. Bad input: one line, exit 2; unknown pool or pool in use: one line, exit 1."""
    from tronrent.cli import fail, run_async
    from tronrent.kit.db import create_engine, create_session_maker
    from tronrent.kit.errors import ValidationFailed
    from tronrent.pool.service import Actor
    from tronrent.pool.service import pool as pool_service

    settings, _ = _ctx()
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container): still a traceable actor
        user = "unknown"
    actor = Actor(f"cli:{user}")

    async def go() -> EnergyPool | ValidationFailed:
        engine = create_engine(settings.database_url)
        try:
            async with create_session_maker(engine)() as s:
                pool = await action(s, await pool_service.find(s, ref), actor)
                await s.commit()
                return pool
        except ValidationFailed as exc:  # bad input: exit 2 (other errors: exit 1)
            return exc
        finally:
            await engine.dispose()

    result = run_async(go)
    if isinstance(result, ValidationFailed):
        fail(result.message, code=2)
    return result


def _status_command(status: str, done: str) -> Callable[[str, str], None]:
    def command(pool: PoolRef, reason: ReasonOpt) -> None:
        from tronrent.models.energy_pool import PoolStatus
        from tronrent.pool.service import pool as pool_service

        changed = _change(
            pool,
            lambda s, p, actor: pool_service.edit(
                s, p.id, {"status": PoolStatus(status)}, actor=actor, reason=reason
            ),
        )
        typer.echo(f"pool {done}: {changed.tron_address} ({changed.name}), status {status}")

    return command


pool_app.command(
    "disable",
    help="Take a pool out of service (status inactive): no new delegations; its current "
    "delegations are still reclaimed when they end. Recorded with --reason.",
)(_status_command("inactive", "disabled"))
pool_app.command(
    "enable",
    help="Put a pool back in service (status active; clears a system flag). Recorded with "
    "--reason.",
)(_status_command("active", "enabled"))
pool_app.command(
    "maintenance",
    help="Put a pool in maintenance (no new delegations; reclaims go on; the sync never "
    "reactivates it). Recorded with --reason.",
)(_status_command("maintenance", "in maintenance"))


@pool_app.command("edit")
def edit(
    pool: PoolRef,
    reason: ReasonOpt,
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    priority: Annotated[int | None, typer.Option(help="higher is preferred (>= 1)")] = None,
    cost: Annotated[
        int | None, typer.Option("--cost", help="cost of one energy unit, in sun (>= 0)")
    ] = None,
    min_delegation: Annotated[
        int | None, typer.Option("--min", help="smallest delegation, energy (0: none)")
    ] = None,
    max_delegation: Annotated[
        int | None, typer.Option("--max", help="largest delegation, energy (0: none)")
    ] = None,
    daily_limit: Annotated[
        int | None, typer.Option("--daily-limit", help="energy per UTC day (0: no limit)")
    ] = None,
) -> None:
    """Change a pool's settings; only the options given change (0 clears a limit)."""
    from tronrent.cli import fail
    from tronrent.pool.service import pool as pool_service

    changes: dict[str, Any] = {}
    for key, value in (
        ("name", name),
        ("priority", priority),
        ("cost_per_energy_sun", cost),
    ):
        if value is not None:
            changes[key] = value
    for key, limit in (
        ("min_delegation_amount", min_delegation),
        ("max_delegation_amount", max_delegation),
        ("daily_limit", daily_limit),
    ):
        if limit is not None:
            changes[key] = None if limit == 0 else limit
    if not changes:
        fail(
            "nothing to change: give at least one of --name --priority --cost --min --max "
            "--daily-limit",
            code=2,
        )
    changed = _change(
        pool,
        lambda s, p, actor: pool_service.edit(s, p.id, changes, actor=actor, reason=reason),
    )
    typer.echo(
        f"pool edited: {changed.tron_address} ({changed.name}) prio={changed.priority} "
        f"cost={changed.cost_per_energy_sun} min={changed.min_delegation_amount} "
        f"max={changed.max_delegation_amount} daily_limit={changed.daily_limit}"
    )


@pool_app.command("remove")
def remove(pool: PoolRef, reason: ReasonOpt) -> None:
    """Remove a pool with nothing delegated, reserved or in flight (exit 1 otherwise: disable
    it and let its delegations be reclaimed first). Its key is erased; the history stays."""
    from tronrent.pool.service import pool as pool_service

    changed = _change(
        pool,
        lambda s, p, actor: pool_service.remove(s, p.id, actor=actor, reason=reason),
    )
    typer.echo(f"pool removed: {changed.tron_address} ({changed.name})")
