"""`tronrent balances check` (register with `app.add_typer(balances_app, name="balances")`)."""

from __future__ import annotations

from typing import Any

import typer

balances_app = typer.Typer(help="Customer balances and the balance ledger.", no_args_is_help=True)


@balances_app.command("check")
def check() -> None:
    """Every balance against the sum of its ledger entries: one line per mismatch, exit 1 if any."""
    from tronrent.cli import _in_transaction, load, run_async
    from tronrent.user.balance import Mismatch
    from tronrent.user.balance import balance as balance_service

    settings = load()

    async def run() -> list[Mismatch]:
        async def action(session: Any) -> list[Mismatch]:
            return await balance_service.reconcile(session)

        return await _in_transaction(settings, action)

    mismatches = run_async(run)
    for m in mismatches:
        typer.echo(
            f"{m.user_id}\t{m.currency.value}\tbalance {m.balance_units}\t"
            f"ledger {m.ledger_sum_units}"
        )
    if mismatches:
        typer.echo(f"error: {len(mismatches)} balance(s) differ from the ledger", err=True)
        raise typer.Exit(1)
    typer.echo("ok: every balance equals the sum of its ledger entries")
