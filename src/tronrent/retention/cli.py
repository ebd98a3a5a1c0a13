"""`tronrent retention run [--dry-run]` (registered as `app.add_typer(retention_app, ...)`)."""

from __future__ import annotations

from typing import Annotated

import typer

retention_app = typer.Typer(help="Data retention (docs/retention.md).", no_args_is_help=True)


@retention_app.command("run")
def run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="count what would go; change nothing")
    ] = False,
) -> None:
    """Apply the retention policy now (RETENTION_* settings): one line per table."""
    from tronrent.cli import load, run_async
    from tronrent.kit.db import create_engine, create_session_maker
    from tronrent.retention.policy import RetentionPolicy
    from tronrent.retention.service import RetentionReport, run_retention
    from tronrent.storage.migrations import ensure_migrated

    settings = load()

    async def apply() -> RetentionReport:
        engine = create_engine(settings.database_url)
        try:
            await ensure_migrated(engine)
            return await run_retention(
                create_session_maker(engine),
                RetentionPolicy.from_settings(settings),
                dry_run=dry_run,
            )
        finally:
            await engine.dispose()

    for line in run_async(apply).lines():
        typer.echo(line)
