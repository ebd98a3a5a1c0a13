"""PLACEHOLDER (branch h/bot): the ``catalog`` helper's ``quote_order`` replaces this file at
merge. It prices a package at ``base_price_units`` x quantity, no rules, no discount; the USDT
price of a TRX package is a fixed placeholder rate."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.models import EnergyPackage
from tronrent.models.common import Currency

#: placeholder only: USDT micro-units per sun of a TRX price (0.25 USDT per TRX)
PLACEHOLDER_USDT_PER_TRX_BP = 2_500


@dataclass(frozen=True)
class OrderPrice:
    price_units: int
    original_price_units: int
    discount_units: int
    final_price_units: int
    currency: Currency
    rule_id: uuid.UUID | None = None
    breakdown: dict[str, Any] = field(default_factory=dict)


async def quote_order(
    session: AsyncSession,
    *,
    package: EnergyPackage,
    quantity: int,
    currency: Currency | str,
    user_id: uuid.UUID | None = None,
    bot_id: uuid.UUID | None = None,
) -> OrderPrice:
    currency = Currency(currency)
    unit = package.base_price_units
    if currency != package.currency:
        unit = unit * PLACEHOLDER_USDT_PER_TRX_BP // 10_000
    total = unit * quantity
    return OrderPrice(total, total, 0, total, currency, None, {"unit_price_units": unit})
