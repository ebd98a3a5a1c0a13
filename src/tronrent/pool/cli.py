"""`tronrent pool add|list|sync|edit|disable|enable|maintenance|remove|staking|stake|unstake|
withdraw|cancel-unstake|permission-update` (register with `app.add_typer(pool_app,
name="pool")`)."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from tronrent.config import Settings
from tronrent.kit.crypto import SecretBox
from tronrent.kit.money import format_trx

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from tronrent.models.energy_pool import EnergyPool
    from tronrent.pool.service import Actor
    from tronrent.pool.staking import StakeFigures, StakeResult, Staking

T = TypeVar("T")

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
    owner: Annotated[
        str | None,
        typer.Option(
            "--owner",
            help="delegate-only pool: the account's address; the key is then the hot key of "
            "its active permission --permission-id (see `pool permission-update`)",
        ),
    ] = None,
    permission_id: Annotated[
        int | None,
        typer.Option("--permission-id", help="delegate-only pool: the active permission id (2+)"),
    ] = None,
) -> None:
    """Add a pool from its private key (prompted, or --key-stdin); stored encrypted.

    The account is checked on chain (TRON_NODE_URLS, else the devnet of a running `serve`): it
    must exist, have TRX staked for energy and be owned by the key - or, with --owner and
    --permission-id, the key must hold that active permission, which may allow
    DelegateResource and UnDelegateResource only (the owner key stays offline).
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
                    owner_address=owner,
                    permission_id=permission_id,
                )
                await s.commit()
                return pool.tron_address, pool.flag_reason
        finally:
            await engine.dispose()

    address, flagged = run_async(go)
    kind = " (delegate-only)" if owner else ""
    if flagged:
        typer.echo(f"pool added DISABLED (maintenance){kind}: {address}: {flagged}")
    else:
        typer.echo(f"pool added{kind}: {address}")


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
    from tronrent.pool.service import pool as pool_service

    settings, _ = _ctx()
    actor = _actor()

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


def _actor() -> Actor:
    from tronrent.pool.service import Actor

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container): still a traceable actor
        user = "unknown"
    return Actor(f"cli:{user}")


def _staking_lines(figs: StakeFigures, in_flight: list[str]) -> list[str]:
    lines = [
        f"account {figs.address}",
        f"  balance              {format_trx(figs.balance_sun)} TRX",
        f"  staked for energy    {format_trx(figs.staked_energy_sun)} TRX (not delegated)",
        f"  delegated            {format_trx(figs.delegated_energy_sun)} TRX",
        f"  withdrawable         {format_trx(figs.withdrawable_sun)} TRX",
        f"  energy               {figs.energy_used} used of {figs.energy_limit}; can delegate "
        f"{format_trx(figs.can_delegate_sun)} TRX of stake",
        f"  unstakes left        {figs.unstakes_left} of 32",
    ]
    for u in figs.unstaking:
        when = "withdrawable" if u.withdrawable else f"withdrawable from {_iso(u.expire_time_ms)}"
        lines.append(f"  unstaking            {format_trx(u.amount_sun)} TRX, {when}")
    lines += [f"  in flight            {txid}" for txid in in_flight]
    return lines


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _with_staking(work: Callable[[Staking], Awaitable[T]]) -> T:
    """Run ``work`` with a ``Staking`` on the configured node and database (errors: one line,
    exit 2 for bad input, else 1)."""
    from tronrent.adapters.tron.gateway import TronGateway
    from tronrent.cli import fail, run_async
    from tronrent.kit.db import create_engine, create_session_maker
    from tronrent.kit.errors import ValidationFailed
    from tronrent.pool.staking import Staking

    settings, box = _ctx()

    async def go() -> T | ValidationFailed:
        engine = create_engine(settings.database_url)
        try:
            async with TronGateway(_node_urls(settings), timeout_s=10) as gw:
                return await work(Staking(create_session_maker(engine), gw, box))
        except ValidationFailed as exc:
            return exc
        finally:
            await engine.dispose()

    result = run_async(go)
    if isinstance(result, ValidationFailed):
        fail(result.message, code=2)
    return result


@pool_app.command("staking")
def staking(pool: PoolRef) -> None:
    """The pool account's staking figures from the chain: staked, delegated, unstakes pending
    with when they can be withdrawn, withdrawable, energy."""

    async def work(st: Staking) -> list[str]:
        _, figs, rows = await st.show(pool)
        return _staking_lines(figs, [r.txid for r in rows])

    for line in _with_staking(work):
        typer.echo(line)


def _run_op(pool: str, op: str, amount: str | None, reason: str) -> None:
    from tronrent.cli import fail
    from tronrent.kit.money import parse_trx
    from tronrent.pool.staking import StakeOp

    sun: int | None = None
    if amount is not None:
        try:
            sun = parse_trx(amount)
        except ValueError as exc:
            fail(f"amount: {exc}", code=2)
    actor = _actor()

    async def work(st: Staking) -> StakeResult:
        return await st.run(pool, StakeOp(op), sun, actor=actor, reason=reason)

    result = _with_staking(work)
    typer.echo(f"{op} {result.status}: txid {result.txid}")
    if result.after is not None:
        for line in _staking_lines(result.after, []):
            typer.echo(line)
    if result.status in ("failed", "expired"):
        fail(f"the chain did not take it: {result.error or result.status}")
    if result.status == "pending":
        typer.echo("not in a block yet: the next staking command for this pool delivers it")


AmountArg = Annotated[str, typer.Argument(help="TRX (up to 6 decimals), e.g. 1000 or 12.5")]


@pool_app.command("stake")
def stake(pool: PoolRef, amount: AmountArg, reason: ReasonOpt) -> None:
    """Stake TRX of the pool for energy (FreezeBalanceV2), signed with its key, stored before
    broadcast, recorded with --reason; the pool is synced once it is in a block."""
    _run_op(pool, "stake", amount, reason)


@pool_app.command("unstake")
def unstake(pool: PoolRef, amount: AmountArg, reason: ReasonOpt) -> None:
    """Start unstaking TRX staked for energy (UnfreezeBalanceV2): withdrawable after the
    chain's wait (14 days on mainnet), at most 32 pending; delegated TRX cannot be unstaked."""
    _run_op(pool, "unstake", amount, reason)


@pool_app.command("withdraw")
def withdraw(pool: PoolRef, reason: ReasonOpt) -> None:
    """Withdraw every unstake whose wait has passed (WithdrawExpireUnfreeze)."""
    _run_op(pool, "withdraw", None, reason)


@pool_app.command("cancel-unstake")
def cancel_unstake(pool: PoolRef, reason: ReasonOpt) -> None:
    """Cancel every pending unstake (CancelAllUnfreezeV2): staked again (finished ones are
    withdrawn instead)."""
    _run_op(pool, "cancel_unstake", None, reason)


@pool_app.command("permission-update")
def permission_update(
    owner: Annotated[str, typer.Argument(help="the pool account's address")],
    signer: Annotated[str, typer.Option("--signer", help="the hot key's address")],
    name: Annotated[str, typer.Option(help="the new permission's name")] = "delegate",
    sign: Annotated[
        bool,
        typer.Option(
            "--sign",
            help="sign with the owner key (prompted, or --key-stdin) and broadcast; without it "
            "the unsigned transaction is printed as JSON for an offline wallet",
        ),
    ] = False,
    key_stdin: Annotated[
        bool, typer.Option("--key-stdin", help="read the owner key from stdin (with --sign)")
    ] = False,
) -> None:
    """Make the AccountPermissionUpdate that gives OWNER an active permission for --signer's
    key alone, allowing DelegateResource and UnDelegateResource only (current permissions
    kept; costs the chain's getUpdateAccountPermissionFee, 100 TRX on mainnet). Then add the
    pool with `pool add --owner OWNER --permission-id ID` and the hot key."""
    import asyncio
    import json

    from tronrent.adapters.tron.gateway import TronGateway
    from tronrent.adapters.tron.port import TxState
    from tronrent.cli import fail, run_async
    from tronrent.pool.service import InvalidPrivateKey, parse_private_key

    key = None
    if sign:
        key = (
            sys.stdin.readline().strip()
            if key_stdin
            else typer.prompt("owner private key", hide_input=True)
        )
        try:
            parse_private_key(key)
        except InvalidPrivateKey as exc:
            fail(exc.message, code=2)
    settings, _ = _ctx()

    async def go() -> list[str]:
        async with TronGateway(_node_urls(settings), timeout_s=10) as gw:
            tx = await gw.build_delegate_only_permission(owner, signer, name=name)
            new_id = 1 + len(tx.raw_data["contract"][0]["parameter"]["value"]["actives"])
            if key is None:
                body = {"txID": tx.txid, "raw_data": dict(tx.raw_data)}
                return [json.dumps(body, indent=2), f"permission id once applied: {new_id}"]
            signed = gw.sign(tx, key)
            await gw.broadcast(signed)
            for _ in range(40):  # about 20 s: a few blocks
                found = await gw.find_transaction(signed.txid)
                if found.state is TxState.FAILED:
                    fail(f"permission update {signed.txid} failed: {found.message}")
                if found.state is TxState.CONFIRMED:
                    return [
                        f"permission update confirmed: {signed.txid}",
                        f"add the pool: tronrent pool add --owner {owner} --permission-id "
                        f"{new_id} (then enter the hot key)",
                    ]
                await asyncio.sleep(0.5)
            fail(f"permission update {signed.txid} broadcast but not in a block yet: look it up")

    for line in run_async(go):
        typer.echo(line)
