"""Shapes of what operators write into the catalogue: packages, price rules (with their
``conditions``), templates. camelCase on the wire, snake_case in Python and in stored JSON;
unknown fields are refused (a typo must not be silently ignored).

The services validate stored and merged values with these models too (a template's
``config_data``, a patch merged into a rule), so the API and the services share one rule set.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from tronrent.models.common import Currency
from tronrent.models.energy_package import PackageType
from tronrent.pricing.calc import PriceConditions, PriceConfigError

#: 10^15 base units = 10^9 TRX/USDT: far above any price, far below BIGINT
MAX_UNITS: Final = 10**15
MAX_QUANTITY: Final = 10**6
MAX_ENERGY: Final = 10**10

Text100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
Units = Annotated[StrictInt, Field(ge=0, le=MAX_UNITS)]
Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)]


def first_error(exc: ValidationError) -> str:
    """The first validation error as one line: ``field.path: message``."""
    err = exc.errors(include_url=False)[0]
    where = ".".join(to_camel(str(p)) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])


class StrictModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    def stored(self) -> dict[str, Any]:
        """Stored JSON (snake_case, UUIDs and decimals as text)."""
        return self.model_dump(mode="json")


class QuantityTierSpec(StrictModel):
    min_quantity: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)]
    discount_percentage: Percent


class ConditionsSpec(StrictModel):
    """``conditions`` of a price rule: when it applies (quantity range, agents only, agent
    levels, buyers referred by given agents) and the discounts it gives (quantity tiers: the
    largest reached; agents; buyers referred by an agent)."""

    min_quantity: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)] = 1
    max_quantity: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)] | None = None
    agent_only: StrictBool = False
    agent_levels: Annotated[
        list[Annotated[StrictInt, Field(ge=1, le=100)]], Field(max_length=20)
    ] = []
    quantity_tiers: Annotated[list[QuantityTierSpec], Field(max_length=20)] = []
    agent_discount_percentage: Percent = Decimal(0)
    #: only buyers referred by one of these agents (empty: anyone)
    referrer_agent_ids: Annotated[list[uuid.UUID], Field(max_length=100)] = []
    #: off for a buyer referred by an active agent
    referral_discount_percentage: Percent = Decimal(0)

    @model_validator(mode="after")
    def _consistent(self) -> ConditionsSpec:
        if self.max_quantity is not None and self.max_quantity < self.min_quantity:
            raise ValueError("maxQuantity must not be below minQuantity")
        starts = [t.min_quantity for t in self.quantity_tiers]
        if len(set(starts)) != len(starts):
            raise ValueError("quantityTiers must not repeat a minQuantity")
        try:
            PriceConditions.from_json(self.stored())
        except PriceConfigError as exc:
            raise ValueError(str(exc)) from None
        return self


class PriceConfigSpec(StrictModel):
    """A package price rule. ``base_price_units`` null: the package's list price in
    ``currency``; markup in basis points (100 = 1 %, may be negative: a discount)."""

    config_name: Text100
    currency: Currency = Currency.TRX
    bot_id: uuid.UUID | None = None
    package_id: uuid.UUID | None = None
    base_price_units: Units | None = None
    markup_bps: Annotated[StrictInt, Field(ge=-9_999, le=1_000_000)] = 0
    markup_fixed_units: Units = 0
    min_price_units: Units | None = None
    max_price_units: Units | None = None
    priority: Annotated[StrictInt, Field(ge=-1_000, le=1_000)] = 0
    is_active: StrictBool = True
    conditions: ConditionsSpec = ConditionsSpec()

    @model_validator(mode="after")
    def _bounds(self) -> PriceConfigSpec:
        if (
            self.min_price_units is not None
            and self.max_price_units is not None
            and self.min_price_units > self.max_price_units
        ):
            raise ValueError("minPriceUnits must not exceed maxPriceUnits")
        return self


class PackageSpec(StrictModel):
    """An energy package: ``energy_amount`` for ``duration_hours`` per unit, its price per unit
    in TRX (sun) and/or USDT (units); null price: not sold in that currency."""

    name: Text100
    description: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None
    ) = None
    package_type: PackageType = PackageType.ENERGY
    energy_amount: Annotated[StrictInt, Field(ge=1, le=MAX_ENERGY)]
    duration_hours: Annotated[StrictInt, Field(ge=1, le=24 * 366)]
    transaction_count: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)] | None = None
    trx_price_sun: Units | None = None
    usdt_price_units: Units | None = None
    min_quantity: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)] = 1
    max_quantity: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)] | None = None
    is_active: StrictBool = True
    sort_order: Annotated[StrictInt, Field(ge=-(10**6), le=10**6)] = 0
    tags: Annotated[list[Tag], Field(max_length=20)] = []

    @model_validator(mode="after")
    def _consistent(self) -> PackageSpec:
        if self.trx_price_sun is None and self.usdt_price_units is None:
            raise ValueError("a package needs a trxPriceSun, a usdtPriceUnits or both")
        if self.max_quantity is not None and self.max_quantity < self.min_quantity:
            raise ValueError("maxQuantity must not be below minQuantity")
        counted = self.package_type is PackageType.TRANSACTION_COUNT
        if counted != (self.transaction_count is not None):
            raise ValueError("transactionCount is required for, and only for, transaction_count")
        return self


class TemplateSpec(StrictModel):
    """A named set of price rules, applied together (``POST .../{id}/apply``)."""

    name: Text100
    description: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None
    ) = None
    template_type: Literal["package", "bot", "agent", "promotion"] = "package"
    configs: Annotated[list[PriceConfigSpec], Field(min_length=1, max_length=50)]
    is_active: StrictBool = True

    @model_validator(mode="after")
    def _unique_names(self) -> TemplateSpec:
        names = [(c.config_name, c.bot_id) for c in self.configs]
        if len(set(names)) != len(names):
            raise ValueError("configs must not repeat a configName (per botId)")
        return self
