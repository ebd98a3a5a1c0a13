"""The ``tronrent`` command.

Every command validates the settings first: a bad value prints one line
(``configuration error: VAR: must be ..., got ...``) and exits with status 2. Expected failures
(unmigrated database, duplicate admin, ...) print ``error: <message>`` and exit with status 1.
Logs are JSON lines on stderr; command output goes to stdout.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import SecretStr, ValidationError

from tronrent.config import (
    Settings,
    ensure_local_secrets,
    format_validation_error,
    load_settings,
    parse_roles,
)
from tronrent.kit.errors import AppError
from tronrent.kit.logging import configure_logging

T = TypeVar("T")
_URL_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")

app = typer.Typer(
    name="tronrent",
    help="TRON energy rental platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
admin_app = typer.Typer(help="Admin accounts of the HTTP API.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def load(*, with_secrets: bool = False, service: bool = False) -> Settings:
    """Validated settings with logging configured; exit 2 with one line on a bad value.

    A one-shot command (``service=False``) logs errors only, so its own output is all an
    operator sees (no migration or secrets info lines first); ``serve`` and ``devnet`` log at
    ``LOG_LEVEL``."""
    try:
        settings = load_settings()
    except ValidationError as exc:
        typer.echo(f"configuration error: {format_validation_error(exc)}", err=True)
        raise typer.Exit(2) from None
    level = settings.log_level if service else "error"
    configure_logging(level, stream=sys.stderr, quiet=settings.quiet_loggers)
    if with_secrets:
        settings = ensure_local_secrets(settings)
    return settings


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine; an :class:`AppError` becomes ``error: <message>`` and exit 1."""
    try:
        return asyncio.run(factory())
    except AppError as exc:
        fail(exc.message)


async def _check_migrated(settings: Settings) -> None:
    from tronrent.kit.db import create_engine
    from tronrent.storage.migrations import ensure_migrated

    engine = create_engine(settings.database_url)
    try:
        await ensure_migrated(engine)
    finally:
        await engine.dispose()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default API_HOST)")] = None,
    port: Annotated[
        int | None, typer.Option(help="port (default API_PORT)", min=1, max=65535)
    ] = None,
    role: Annotated[
        list[str] | None,
        typer.Option(
            help="what this process runs: api, engine, bots or all (repeat the option or "
            "separate with commas; default SERVE_ROLES, which defaults to all)"
        ),
    ] = None,
) -> None:
    """Run the HTTP API and the components of its roles (default: all) until interrupted."""
    settings = load(with_secrets=True, service=True)
    if role:
        try:
            settings = settings.model_copy(update={"serve_roles": parse_roles(role)})
        except ValueError as exc:
            typer.echo(f"configuration error: --role: {exc}", err=True)
            raise typer.Exit(2) from None
    problem = settings.roles_problem()
    if problem:
        typer.echo(f"configuration error: {problem}", err=True)
        raise typer.Exit(2)
    run_async(lambda: _check_migrated(settings))
    from tronrent.entrypoints.api import run

    run(settings, host=host, port=port)


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="target revision")] = "head",
    down: Annotated[
        bool, typer.Option("--downgrade", help="downgrade to REVISION ('base' drops all)")
    ] = False,
) -> None:
    """Upgrade (or --downgrade) the database schema (DATABASE_URL) to REVISION."""
    settings = load()
    from alembic.util import CommandError

    from tronrent.storage.migrations import downgrade, upgrade

    try:
        (downgrade if down else upgrade)(settings.database_url, revision)
    except (AppError, CommandError) as exc:
        fail(str(exc))
    typer.echo(f"database {'downgraded' if down else 'migrated'} to {revision}")


@admin_app.command("create")
def admin_create(
    username: Annotated[str, typer.Option(help="login name")],
    role: Annotated[str, typer.Option(help="admin or operator")] = "admin",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from stdin")
    ] = False,
) -> None:
    """Create an admin account (the password is prompted for, or read from stdin)."""
    settings = load()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def create() -> tuple[str, str]:
        from tronrent.auth.service import admin as admin_service

        async def action(session: Any) -> tuple[str, str]:
            user = await admin_service.create(
                session, username=username, password=password, role=role
            )
            return str(user.id), user.role.value

        return await _in_transaction(settings, action)

    admin_id, admin_role = run_async(create)
    typer.echo(f"created {admin_role} {username!r} (id {admin_id})")


@admin_app.command("list")
def admin_list() -> None:
    """List admin accounts."""
    settings = load()

    async def fetch() -> list[tuple[str, str, bool]]:
        from sqlalchemy import select

        from tronrent.models.admin_user import AdminUser

        async def action(session: Any) -> list[tuple[str, str, bool]]:
            rows = await session.execute(select(AdminUser).order_by(AdminUser.username))
            return [(u.username, u.role.value, u.is_active) for u in rows.scalars()]

        return await _in_transaction(settings, action)

    for name, role, active in run_async(fetch):
        typer.echo(f"{name}\t{role}\t{'active' if active else 'disabled'}")


async def _in_transaction(settings: Settings, action: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``action(session)`` in one committed transaction on a migrated database."""
    from tronrent.kit.db import create_engine, create_session_maker
    from tronrent.storage.migrations import ensure_migrated

    engine = create_engine(settings.database_url)
    try:
        await ensure_migrated(engine)
        async with create_session_maker(engine)() as session, session.begin():
            return await action(session)
    finally:
        await engine.dispose()


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def devnet(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="port (default TRON_DEVNET_PORT)")] = None,
    block_interval_ms: Annotated[
        int | None, typer.Option(help="block interval (default BLOCK_INTERVAL_MS)")
    ] = None,
) -> None:
    """Run the local TRON devnet (java-tron HTTP API); extra options go to the devnet."""
    settings = load(service=True)
    try:
        from trondevnet.cli import main as devnet_main
    except ImportError:
        fail("the TRON devnet (trondevnet) is not available in this installation")
    argv = [
        "--host",
        host,
        "--port",
        str(port or settings.tron_devnet_port),
        "--block-interval-ms",
        str(block_interval_ms or settings.block_interval_ms),
        *ctx.args,
    ]
    result = devnet_main(argv)
    raise typer.Exit(int(result or 0))


@app.command("tgemulator")
def tgemulator_command(
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port", min=1, max=65535)] = 8081,
    token: Annotated[
        str | None, typer.Option(help="bot token to register (default: a new one)")
    ] = None,
    username: Annotated[str, typer.Option(help="the bot's username")] = "tronrent_local_bot",
) -> None:
    """Run the local Bot API emulator and chat with the bot in this terminal (no Telegram)."""
    load(service=True)
    try:
        from tgemulator.cli import main as emulator_main
    except ImportError:
        fail("the Bot API emulator (tgemulator) is not available in this installation")
    raise typer.Exit(emulator_main(host, port, token, username))


@app.command("demo")
def demo_command(
    api: Annotated[str, typer.Option(help="URL of a running `tronrent serve`")] = (
        "http://127.0.0.1:8000"
    ),
    devnet_url: Annotated[str, typer.Option("--devnet", help="URL of its devnet")] = (
        "http://127.0.0.1:8090"
    ),
    transactions: Annotated[
        int, typer.Option(help="USDT transfers to rent energy for", min=1, max=10)
    ] = 1,
    wait_reclaim: Annotated[
        bool, typer.Option(help="wait for the rental to end and the energy to be reclaimed")
    ] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait for each step", min=1)] = 120,
    as_json: Annotated[
        bool, typer.Option("--json", help="also print the figures as one JSON line at the end")
    ] = False,
) -> None:
    """Play a customer against a running `tronrent serve` on the devnet (readable timeline)."""
    import json
    import logging
    from dataclasses import asdict

    load()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from tronrent.demo.customer import DemoError, run_demo

    try:
        result = asyncio.run(
            run_demo(
                api,
                devnet_url,
                transactions=transactions,
                wait_reclaim=wait_reclaim,
                timeout_s=timeout,
            )
        )
    except DemoError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps({k: v for k, v in asdict(result).items() if k != "lines"}))


@app.command()
def keygen() -> None:
    """Print a new key for SECRET_KEYS (put it first to rotate; keep old keys after it)."""
    from tronrent.kit.crypto import generate_key

    typer.echo(generate_key())


@app.command("config")
def show_config(
    table: Annotated[
        bool, typer.Option("--table", help="print every variable as a Markdown table")
    ] = False,
) -> None:
    """Validate the configuration and print it (secrets masked), or document it (--table)."""
    if table:
        typer.echo("| Variable | Default | Description |\n|---|---|---|")
        for name, field in Settings.model_fields.items():
            default = field.default
            text = ",".join(map(str, default)) if isinstance(default, list) else default
            shown = f"`{text}`" if text not in (None, "") else "(empty)"
            typer.echo(f"| `{name.upper()}` | {shown} | {field.description or ''} |")
        return
    settings = load()
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr) or (
            isinstance(value, list) and value and isinstance(value[0], SecretStr)
        ):
            shown = "(set, hidden)"
        elif isinstance(value, list):
            shown = ",".join(str(v) for v in value)
        else:
            shown = "" if value is None else _URL_PASSWORD.sub(r"\1***@", str(value))
        typer.echo(f"{name.upper()}={shown}")


def _register_subcommands() -> None:
    from tronrent.pool.cli import pool_app
    from tronrent.pricing.cli import packages_app
    from tronrent.retention.cli import retention_app
    from tronrent.user.cli import balances_app

    app.add_typer(pool_app, name="pool")
    app.add_typer(packages_app, name="packages")
    app.add_typer(balances_app, name="balances")
    app.add_typer(retention_app, name="retention")


_register_subcommands()


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``[project.scripts] tronrent``)."""
    app(args=argv, prog_name="tronrent")
