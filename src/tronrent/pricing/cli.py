"""`tronrent packages list` (register with `app.add_typer(packages_app, name="packages")`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

packages_app = typer.Typer(help="Energy packages and their prices.", no_args_is_help=True)


@packages_app.command("list")
def list_packages(
    all_: Annotated[bool, typer.Option("--all", help="inactive packages too")] = False,
) -> None:
    """Packages by sort order: id, energy x hours, price per unit (rules for everyone applied)
    in TRX and USDT, quantity range, status."""
    from tronrent.cli import _in_transaction, load, run_async
    from tronrent.kit.money import format_trx, format_usdt
    from tronrent.models.common import Currency
    from tronrent.pricing.package import package_service
    from tronrent.pricing.quote import catalogue_prices

    settings = load()

    async def run() -> list[str]:
        async def action(session: Any) -> list[str]:
            packages = await package_service.list_packages(session, active=None if all_ else True)
            prices = await catalogue_prices(session, packages)
            lines = []
            for p in packages:
                trx, usdt = prices[p.id][Currency.TRX], prices[p.id][Currency.USDT]
                trx_text = "-" if trx is None else format_trx(trx.breakdown["unit_price"])
                usdt_text = "-" if usdt is None else format_usdt(usdt.breakdown["unit_price"])
                high = p.max_order_amount or "∞"
                lines.append(
                    f"{p.id}  {p.name:<22} {p.energy_amount:>9} x {p.duration_hours:>3} h  "
                    f"{trx_text:>8} TRX  {usdt_text:>8} USDT  qty {p.min_order_amount or 1}-{high}"
                    f"  {'active' if p.is_active else 'inactive'}"
                )
            return lines

        return await _in_transaction(settings, action)

    for line in run_async(run) or ["(no packages)"]:
        typer.echo(line)
