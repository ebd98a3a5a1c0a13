"""The flash rental configuration as the flows use it, read from the database each time.

`price_configs` row `energy_flash` (seed 000 JSON: single_price, max_transactions, expiry_hours,
min_amount; ours: dust_policy, underpaid_policy, excess_policy, refund_fee, refund_address) and
`resource_consumption_configs` row `energy` (usdt_standard_energy, drift_margin_bps), with the
settings as defaults.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ScalarSelect, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.models.price_config import ENERGY_FLASH_MODE, PriceConfig
from tronrent.models.resource_consumption_config import (
    ENERGY_RESOURCE_TYPE,
    ResourceConsumptionConfig,
)
from tronrent.pool.energy import energy_per_transaction
from tronrent.pricing.calc import (
    FlashPolicies,
    FlashPrice,
    PaymentPolicy,
    PriceConfigError,
    config_int,
    config_trx_to_sun,
)

DEFAULT_FLASH_CONFIG: dict[str, Any] = {
    "single_price": "1.5",
    "max_transactions": 10,
    "expiry_hours": 1,
    "min_amount": "1.0",
}


@dataclass(frozen=True, slots=True)
class FlashConfig:
    price: FlashPrice
    policies: FlashPolicies
    base_energy: int  # energy of one USDT transfer (65,000)
    margin_bp: int  # drift margin (200 = 2 %)
    refund_address: str | None  # pool address refunds are sent from (None: the flash address)
    raw: dict[str, Any]  # the JSON snapshot stored on the order

    @property
    def energy_per_transaction(self) -> int:
        return energy_per_transaction(self.base_energy, self.margin_bp)

    def energy_for(self, count: int) -> int:
        return count * self.energy_per_transaction


def _policy(data: dict[str, Any], key: str, default: PaymentPolicy) -> PaymentPolicy:
    value = data.get(key)
    if value is None:
        return default
    try:
        return PaymentPolicy(str(value).lower())
    except ValueError:
        raise PriceConfigError(f"{key} must be 'refund' or 'keep', got {value!r}") from None


def parse_flash_config(
    price_json: dict[str, Any] | None,
    energy_json: dict[str, Any] | None,
    *,
    default_energy: int,
    default_margin_bp: int,
) -> FlashConfig:
    data = dict(DEFAULT_FLASH_CONFIG)
    data.update(price_json or {})
    defaults = FlashPolicies()
    policies = FlashPolicies(
        dust=_policy(data, "dust_policy", defaults.dust),
        underpaid=_policy(data, "underpaid_policy", defaults.underpaid),
        excess=_policy(data, "excess_policy", defaults.excess),
        refund_fee_sun=config_trx_to_sun(data.get("refund_fee", 0), "refund_fee"),
    )
    energy = dict(energy_json or {})
    base = config_int(
        energy.get("usdt_standard_energy", default_energy), "usdt_standard_energy", minimum=1
    )
    margin = config_int(
        energy.get("energy_margin_bps", energy.get("drift_margin_bps", default_margin_bp)),
        "energy_margin_bps",
    )
    refund_address = data.get("refund_address")
    return FlashConfig(
        price=FlashPrice.from_config(data),
        policies=policies,
        base_energy=base,
        margin_bp=margin,
        refund_address=str(refund_address) if refund_address else None,
        raw={k: (str(v) if not isinstance(v, int | str | bool) else v) for k, v in data.items()},
    )


@functools.cache  # a constant expression: built once
def flash_config_columns() -> tuple[ScalarSelect[Any], ScalarSelect[Any]]:
    """The two rows of the active flash config (each UNIQUE by its mode / resource type) as
    scalar subqueries: for `load_flash_config`, or a caller that reads another row anyway
    (one statement for both; `parse_flash_config` makes them a `FlashConfig`)."""
    price = (
        select(PriceConfig.config)
        .where(PriceConfig.mode_type == ENERGY_FLASH_MODE, PriceConfig.is_active.is_(True))
        .scalar_subquery()
    )
    energy = (
        select(ResourceConsumptionConfig.config)
        .where(
            ResourceConsumptionConfig.resource_type == ENERGY_RESOURCE_TYPE,
            ResourceConsumptionConfig.is_active.is_(True),
        )
        .scalar_subquery()
    )
    return price, energy


async def load_flash_config(
    session: AsyncSession, *, default_energy: int = 65_000, default_margin_bp: int = 200
) -> FlashConfig:
    """The active flash config (defaults where the tables have no row): both rows read in
    one statement."""
    row = (await session.execute(select(*flash_config_columns()))).one()
    return parse_flash_config(
        row[0], row[1], default_energy=default_energy, default_margin_bp=default_margin_bp
    )
