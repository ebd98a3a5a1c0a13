"""Public catalogue: ``GET /api/energy-packages`` (no login; rate limited per client like every
route)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from tronrent.api.deps import SessionDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.kit.money import format_trx, format_usdt
from tronrent.models.common import Currency
from tronrent.pricing.package import package_service
from tronrent.pricing.quote import OrderPrice, catalogue_prices

router = APIRouter(
    prefix="/api/energy-packages", tags=["energy-packages"], responses=ERROR_RESPONSES
)


class PublicPackageOut(ApiModel):
    package_id: str
    name: str
    description: str | None
    package_type: str
    energy_amount: int
    duration_hours: int
    transaction_count: int | None
    #: price of one unit in sun / USDT base units (10^-6) with the price rules for everyone
    #: applied; null: not sold in that currency
    trx_price_sun: int | None
    usdt_price_units: int | None
    #: the same as decimal text ("2", "0.6")
    trx_price: str | None
    usdt_price: str | None
    min_quantity: int
    max_quantity: int | None
    sort_order: int
    tags: list[str]


def _unit(price: OrderPrice | None) -> int | None:
    return None if price is None else int(price.breakdown["unit_price"])


@router.get("")
async def list_energy_packages(
    session: SessionDep,
    bot_id: Annotated[
        uuid.UUID | None, Query(alias="botId", description="prices as this bot sells them")
    ] = None,
) -> Envelope[list[PublicPackageOut]]:
    """Packages on sale, by sort order, with their price per unit in TRX and in USDT."""
    packages = await package_service.list_packages(session, active=True)
    prices = await catalogue_prices(session, packages, bot_id=bot_id)
    out = []
    for p in packages:
        trx = _unit(prices[p.id][Currency.TRX])
        usdt = _unit(prices[p.id][Currency.USDT])
        out.append(
            PublicPackageOut(
                package_id=str(p.id),
                name=p.name,
                description=p.description,
                package_type=p.package_type.value,
                energy_amount=p.energy_amount,
                duration_hours=p.duration_hours,
                transaction_count=p.transaction_count,
                trx_price_sun=trx,
                usdt_price_units=usdt,
                trx_price=None if trx is None else format_trx(trx),
                usdt_price=None if usdt is None else format_usdt(usdt),
                min_quantity=p.min_order_amount or 1,
                max_quantity=p.max_order_amount,
                sort_order=p.sort_order,
                tags=[str(t) for t in p.tags or []],
            )
        )
    return ok(out)
