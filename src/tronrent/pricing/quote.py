"""The price of a package order (PLACEHOLDER: the `catalog` branch brings the real one).

`quote_order` prices ``quantity`` x ``package`` in ``currency``: here simply the package's base
price times the quantity, in the package's own currency (no price configs, no discounts). The
real module applies ``price_configs`` through pricing.calc and keeps this signature.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.errors import ValidationFailed
from tronrent.models.common import Currency
from tronrent.models.energy_package import EnergyPackage


class PriceUnavailable(ValidationFailed):
    default_code = "PRICE_UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class OrderPrice:
    """A frozen price in integer base units of ``currency``."""

    price_units: int
    original_price_units: int
    discount_units: int
    final_price_units: int
    currency: Currency
    rule_id: uuid.UUID | None
    breakdown: dict[str, Any] = field(default_factory=dict)


async def quote_order(
    session: AsyncSession,
    *,
    package: EnergyPackage,
    quantity: int,
    currency: Currency | str,
    user_id: uuid.UUID | None,
    bot_id: uuid.UUID | None,
) -> OrderPrice:
    """``quantity`` packages in ``currency`` (422 PRICE_UNAVAILABLE: no price in it)."""
    currency = Currency(currency)
    if currency is not package.currency:
        raise PriceUnavailable(f"package {package.name!r} has no price in {currency.value}")
    total = package.base_price_units * quantity
    return OrderPrice(
        price_units=total,
        original_price_units=total,
        discount_units=0,
        final_price_units=total,
        currency=currency,
        rule_id=None,
        breakdown={"unitPriceUnits": package.base_price_units, "quantity": quantity},
    )
