"""Admin routes over the catalogue (JWT): energy packages, price configs with their history,
price templates, the flash price config.

Reads need the operator or admin role, changes the admin role. Every change needs a
``reason`` (body field; ``?reason=`` on DELETE) and is recorded with who made it:
``catalog_changes`` for packages and templates, ``price_history`` for price configs and the
flash config.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StringConstraints, create_model
from pydantic.alias_generators import to_camel

from tronrent.api.deps import SessionDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.auth.dependencies import AdminDep, OperatorDep, actor_of
from tronrent.models.catalog_change import CatalogChange
from tronrent.models.common import Currency
from tronrent.models.energy_package import EnergyPackage
from tronrent.models.price_config import PriceConfig
from tronrent.models.price_history import PriceHistory
from tronrent.models.price_template import PriceTemplate
from tronrent.order.flash_admin import FlashSetting, flash_config_admin
from tronrent.pricing.audit import MAX_REASON
from tronrent.pricing.package import package_service, spec_of
from tronrent.pricing.quote import OrderPrice, quote_order
from tronrent.pricing.rules import price_config_service, rule_spec
from tronrent.pricing.schemas import (
    MAX_QUANTITY,
    PackageSpec,
    PriceConfigSpec,
    StrictModel,
    TemplateSpec,
)
from tronrent.pricing.template import template_service

_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    404: ERROR_RESPONSES[422] | {"description": "No such package, config or template"},
    409: ERROR_RESPONSES[422] | {"description": "PACKAGE_IN_USE, PRICE_TEMPLATE_NAME_TAKEN..."},
}
packages_router = APIRouter(
    prefix="/api/admin/energy-packages", tags=["admin-catalog"], responses=_RESPONSES
)
configs_router = APIRouter(
    prefix="/api/admin/price-configs", tags=["admin-catalog"], responses=_RESPONSES
)
templates_router = APIRouter(
    prefix="/api/admin/price-templates", tags=["admin-catalog"], responses=_RESPONSES
)
flash_router = APIRouter(
    prefix="/api/admin/flash-config", tags=["admin-catalog"], responses=_RESPONSES
)
ROUTERS = (packages_router, configs_router, templates_router, flash_router)

Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REASON)
]
ReasonQuery = Annotated[
    str, Query(min_length=1, max_length=MAX_REASON, description="why (recorded with who)")
]


class PatchBody(StrictModel):
    reason: Reason


def _patch_model(spec: type[StrictModel], name: str) -> type[PatchBody]:
    """Every field of ``spec`` optional (only the fields sent change; the result is validated
    whole), plus the required ``reason``; unknown fields refused."""
    fields: dict[str, Any] = {}
    for key, info in spec.model_fields.items():
        kind: Any = info.annotation
        if info.metadata:
            kind = Annotated[(kind, *info.metadata)]
        fields[key] = (kind | None, None)
    return create_model(name, __base__=PatchBody, **fields)


def _changes(body: BaseModel) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True, exclude={"reason"})


class PackageCreate(PackageSpec):
    reason: Reason


class PriceConfigCreate(PriceConfigSpec):
    reason: Reason


class TemplateCreate(TemplateSpec):
    reason: Reason


if TYPE_CHECKING:
    PackagePatch = PatchBody
    PriceConfigPatch = PatchBody
    TemplatePatch = PatchBody
else:
    PackagePatch = _patch_model(PackageSpec, "PackagePatch")
    PriceConfigPatch = _patch_model(PriceConfigSpec, "PriceConfigPatch")
    TemplatePatch = _patch_model(TemplateSpec, "TemplatePatch")


class ApplyRequest(StrictModel):
    reason: Reason
    bot_id: uuid.UUID | None = Field(None, description="apply every rule to this bot only")


class FlashConfigPut(StrictModel):
    config: dict[str, Any] = Field(
        description="the whole flash config JSON (seed 000 keys and policies); missing keys "
        "take their defaults"
    )
    reason: Reason


# --- output -----------------------------------------------------------------------------------


class PackageOut(ApiModel):
    package_id: str
    name: str
    description: str | None
    package_type: str
    energy_amount: int
    duration_hours: int
    transaction_count: int | None
    trx_price_sun: int | None
    usdt_price_units: int | None
    min_quantity: int
    max_quantity: int | None
    is_active: bool
    sort_order: int
    tags: list[str]
    created_at: datetime
    updated_at: datetime


def package_out(package: EnergyPackage) -> PackageOut:
    spec = spec_of(package)
    return PackageOut(
        package_id=str(package.id),
        created_at=package.created_at,
        updated_at=package.updated_at,
        **spec.model_dump(mode="json"),
    )


class ChangeOut(ApiModel):
    change_id: str
    action: str
    actor: str
    actor_id: str | None
    before: dict[str, Any]
    after: dict[str, Any]
    reason: str
    at: datetime


def change_out(c: CatalogChange) -> ChangeOut:
    return ChangeOut(
        change_id=str(c.id),
        action=c.action.value,
        actor=c.actor,
        actor_id=str(c.actor_id) if c.actor_id else None,
        before=c.before,
        after=c.after,
        reason=c.reason,
        at=c.created_at,
    )


class PriceConfigOut(ApiModel):
    config_id: str
    config_name: str
    currency: str
    bot_id: str | None
    package_id: str | None
    template_id: str | None
    base_price_units: int | None
    markup_bps: int
    markup_fixed_units: int
    min_price_units: int | None
    max_price_units: int | None
    priority: int
    is_active: bool
    conditions: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def config_out(c: PriceConfig) -> PriceConfigOut:
    return PriceConfigOut(
        config_id=str(c.id),
        template_id=str(c.template_id) if c.template_id else None,
        created_at=c.created_at,
        updated_at=c.updated_at,
        **rule_spec(c).model_dump(mode="json", exclude={"conditions"}),
        conditions=c.conditions,
    )


class HistoryOut(ApiModel):
    history_id: str
    config_id: str
    change_type: str
    old_value: dict[str, Any] | None
    new_value: dict[str, Any] | None
    changed_by: str | None
    change_reason: str | None
    at: datetime


def history_out(h: PriceHistory) -> HistoryOut:
    return HistoryOut(
        history_id=str(h.id),
        config_id=str(h.config_id),
        change_type=h.change_type.value,
        old_value=h.old_value,
        new_value=h.new_value,
        changed_by=str(h.changed_by) if h.changed_by else None,
        change_reason=h.change_reason,
        at=h.created_at,
    )


class TemplateOut(ApiModel):
    template_id: str
    name: str
    description: str | None
    template_type: str
    configs: list[dict[str, Any]]
    is_system: bool
    is_active: bool
    usage_count: int
    created_by: str | None
    created_at: datetime
    updated_at: datetime


def template_out(t: PriceTemplate) -> TemplateOut:
    return TemplateOut(
        template_id=str(t.id),
        name=t.name,
        description=t.description,
        template_type=t.template_type,
        configs=list((t.config_data or {}).get("configs", [])),
        is_system=t.is_system,
        is_active=t.is_active,
        usage_count=t.usage_count,
        created_by=str(t.created_by) if t.created_by else None,
        created_at=t.created_at,
        updated_at=t.updated_at,
    )


class AppliedOut(ApiModel):
    template: TemplateOut
    created: list[PriceConfigOut]
    updated: list[PriceConfigOut]
    unchanged: list[PriceConfigOut]


class QuoteOut(ApiModel):
    price_units: int
    original_price_units: int
    discount_units: int
    final_price_units: int
    currency: str
    rule_id: str | None
    breakdown: dict[str, Any]


def quote_out(q: OrderPrice) -> QuoteOut:
    return QuoteOut(
        price_units=q.price_units,
        original_price_units=q.original_price_units,
        discount_units=q.discount_units,
        final_price_units=q.final_price_units,
        currency=q.currency.value,
        rule_id=str(q.rule_id) if q.rule_id else None,
        breakdown=q.breakdown,
    )


class FlashConfigOut(ApiModel):
    config_id: str | None
    #: the stored JSON (null: no row, the defaults apply)
    config: dict[str, Any] | None
    is_active: bool
    single_price_sun: int
    max_transactions: int
    expiry_hours: int
    min_amount_sun: int
    dust_policy: str
    underpaid_policy: str
    excess_policy: str
    refund_fee_sun: int
    refund_address: str | None
    updated_at: datetime | None
    #: why the stored JSON cannot be used (the figures above are then the defaults)
    config_error: str | None = None


def flash_out(s: FlashSetting) -> FlashConfigOut:
    cfg, row = s.effective, s.row
    return FlashConfigOut(
        config_id=str(row.id) if row else None,
        config=row.config if row else None,
        is_active=bool(row and row.is_active),
        single_price_sun=cfg.price.single_price_sun,
        max_transactions=cfg.price.max_transactions,
        expiry_hours=cfg.price.expiry_hours,
        min_amount_sun=cfg.price.min_amount_sun,
        dust_policy=cfg.policies.dust.value,
        underpaid_policy=cfg.policies.underpaid.value,
        excess_policy=cfg.policies.excess.value,
        refund_fee_sun=cfg.policies.refund_fee_sun,
        refund_address=cfg.refund_address,
        updated_at=row.updated_at if row else None,
        config_error=s.error,
    )


# --- packages ---------------------------------------------------------------------------------


@packages_router.get("")
async def list_packages(
    session: SessionDep, _op: OperatorDep, active: bool | None = None
) -> Envelope[list[PackageOut]]:
    """Every package (or only active/inactive ones), by sort order."""
    return ok([package_out(p) for p in await package_service.list_packages(session, active=active)])


@packages_router.post("", status_code=201)
async def create_package(
    body: PackageCreate, session: SessionDep, admin: AdminDep
) -> Envelope[PackageOut]:
    """Create a package (prices per unit: `trxPriceSun` in sun, `usdtPriceUnits` in 10^-6
    USDT; null: not sold in that currency)."""
    spec = PackageSpec.model_validate(body.model_dump(exclude={"reason"}))
    package = await package_service.create(session, spec, actor=actor_of(admin), reason=body.reason)
    return ok(package_out(package))


@packages_router.get("/{package_id}")
async def get_package(
    package_id: uuid.UUID, session: SessionDep, _op: OperatorDep
) -> Envelope[PackageOut]:
    return ok(package_out(await package_service.get(session, package_id)))


@packages_router.patch("/{package_id}")
async def edit_package(
    package_id: uuid.UUID,
    body: PackagePatch,
    session: SessionDep,
    admin: AdminDep,
) -> Envelope[PackageOut]:
    """Change the fields sent (`reason` required); the whole result is validated (422).
    `isActive: false` takes the package off sale; orders made keep their price."""
    package = await package_service.edit(
        session, package_id, _changes(body), actor=actor_of(admin), reason=body.reason
    )
    return ok(package_out(package))


@packages_router.delete("/{package_id}")
async def delete_package(
    package_id: uuid.UUID, session: SessionDep, admin: AdminDep, reason: ReasonQuery
) -> Envelope[dict[str, Any]]:
    """Delete a package no order and no price config refers to (409 `PACKAGE_IN_USE`
    otherwise: deactivate it). Returns what it was."""
    spec = await package_service.delete(session, package_id, actor=actor_of(admin), reason=reason)
    return ok({"packageId": str(package_id), "deleted": True, **_camel(spec.stored())})


def _camel(data: dict[str, Any]) -> dict[str, Any]:
    return {to_camel(k): v for k, v in data.items()}


@packages_router.get("/{package_id}/changes")
async def package_changes(
    package_id: uuid.UUID, session: SessionDep, _op: OperatorDep
) -> Envelope[list[ChangeOut]]:
    """Who changed the package, how and why, newest first (a deleted package's too)."""
    return ok([change_out(c) for c in await package_service.changes(session, package_id)])


@packages_router.get("/{package_id}/quote")
async def quote_package(
    package_id: uuid.UUID,
    session: SessionDep,
    _op: OperatorDep,
    quantity: Annotated[int, Query(ge=1, le=MAX_QUANTITY)] = 1,
    currency: Currency = Currency.TRX,
    user_id: Annotated[uuid.UUID | None, Query(alias="userId")] = None,
    bot_id: Annotated[uuid.UUID | None, Query(alias="botId")] = None,
) -> Envelope[QuoteOut]:
    """What an order would cost now: the price rules applied as for a real order."""
    package = await package_service.get(session, package_id)
    quote = await quote_order(
        session,
        package=package,
        quantity=quantity,
        currency=currency,
        user_id=user_id,
        bot_id=bot_id,
    )
    return ok(quote_out(quote))


# --- price configs ----------------------------------------------------------------------------


@configs_router.get("")
async def list_price_configs(
    session: SessionDep,
    _op: OperatorDep,
    package_id: Annotated[uuid.UUID | None, Query(alias="packageId")] = None,
    bot_id: Annotated[uuid.UUID | None, Query(alias="botId")] = None,
    active: bool | None = None,
) -> Envelope[list[PriceConfigOut]]:
    """Package price rules (not deleted), highest priority first."""
    configs = await price_config_service.list_configs(
        session, package_id=package_id, bot_id=bot_id, active=active
    )
    return ok([config_out(c) for c in configs])


@configs_router.post("", status_code=201)
async def create_price_config(
    body: PriceConfigCreate, session: SessionDep, admin: AdminDep
) -> Envelope[PriceConfigOut]:
    """Create a price rule; `price_history` gets a `create` row."""
    spec = PriceConfigSpec.model_validate(body.model_dump(exclude={"reason"}))
    config = await price_config_service.create(
        session, spec, actor=actor_of(admin), reason=body.reason
    )
    return ok(config_out(config))


@configs_router.get("/{config_id}")
async def get_price_config(
    config_id: uuid.UUID, session: SessionDep, _op: OperatorDep
) -> Envelope[PriceConfigOut]:
    return ok(config_out(await price_config_service.get(session, config_id)))


@configs_router.patch("/{config_id}")
async def edit_price_config(
    config_id: uuid.UUID,
    body: PriceConfigPatch,
    session: SessionDep,
    admin: AdminDep,
) -> Envelope[PriceConfigOut]:
    """Change the fields sent (`reason` required): `price_history` gets the old and new
    values (`update`, or `activate`/`deactivate` when only `isActive` changed)."""
    config = await price_config_service.edit(
        session, config_id, _changes(body), actor=actor_of(admin), reason=body.reason
    )
    return ok(config_out(config))


@configs_router.delete("/{config_id}")
async def delete_price_config(
    config_id: uuid.UUID, session: SessionDep, admin: AdminDep, reason: ReasonQuery
) -> Envelope[PriceConfigOut]:
    """Deactivate and hide the rule (`delete` in its history, which stays readable)."""
    config = await price_config_service.delete(
        session, config_id, actor=actor_of(admin), reason=reason
    )
    return ok(config_out(config))


@configs_router.get("/{config_id}/history")
async def price_config_history(
    config_id: uuid.UUID, session: SessionDep, _op: OperatorDep
) -> Envelope[list[HistoryOut]]:
    """Every change of the rule, newest first: who, old, new, why."""
    return ok([history_out(h) for h in await price_config_service.history(session, config_id)])


# --- templates --------------------------------------------------------------------------------


@templates_router.get("")
async def list_templates(session: SessionDep, _op: OperatorDep) -> Envelope[list[TemplateOut]]:
    return ok([template_out(t) for t in await template_service.list_templates(session)])


@templates_router.post("", status_code=201)
async def create_template(
    body: TemplateCreate, session: SessionDep, admin: AdminDep
) -> Envelope[TemplateOut]:
    """Create a template: a name and its `configs` (price rules as for `POST
    /api/admin/price-configs`, without `reason`)."""
    spec = TemplateSpec.model_validate(body.model_dump(exclude={"reason"}))
    template = await template_service.create(
        session, spec, actor=actor_of(admin), reason=body.reason
    )
    return ok(template_out(template))


@templates_router.get("/{template_id}")
async def get_template(
    template_id: uuid.UUID, session: SessionDep, _op: OperatorDep
) -> Envelope[TemplateOut]:
    return ok(template_out(await template_service.get(session, template_id)))


@templates_router.patch("/{template_id}")
async def edit_template(
    template_id: uuid.UUID,
    body: TemplatePatch,
    session: SessionDep,
    admin: AdminDep,
) -> Envelope[TemplateOut]:
    template = await template_service.edit(
        session, template_id, _changes(body), actor=actor_of(admin), reason=body.reason
    )
    return ok(template_out(template))


@templates_router.delete("/{template_id}")
async def delete_template(
    template_id: uuid.UUID, session: SessionDep, admin: AdminDep, reason: ReasonQuery
) -> Envelope[dict[str, Any]]:
    """Delete the template; the rules it made stay."""
    await template_service.delete(session, template_id, actor=actor_of(admin), reason=reason)
    return ok({"templateId": str(template_id), "deleted": True})


@templates_router.post("/{template_id}/apply")
async def apply_template(
    template_id: uuid.UUID, body: ApplyRequest, session: SessionDep, admin: AdminDep
) -> Envelope[AppliedOut]:
    """Create (or update, when this template made them before) its rules, each change in
    `price_history`; `usageCount` + 1."""
    applied = await template_service.apply(
        session, template_id, actor=actor_of(admin), reason=body.reason, bot_id=body.bot_id
    )
    return ok(
        AppliedOut(
            template=template_out(applied.template),
            created=[config_out(c) for c in applied.created],
            updated=[config_out(c) for c in applied.updated],
            unchanged=[config_out(c) for c in applied.unchanged],
        )
    )


@templates_router.get("/{template_id}/changes")
async def template_changes(
    template_id: uuid.UUID, session: SessionDep, _op: OperatorDep
) -> Envelope[list[ChangeOut]]:
    return ok([change_out(c) for c in await template_service.changes(session, template_id)])


# --- flash config -----------------------------------------------------------------------------


@flash_router.get("")
async def get_flash_config(session: SessionDep, _op: OperatorDep) -> Envelope[FlashConfigOut]:
    """The flash price config: stored JSON and the values the flows use."""
    return ok(flash_out(await flash_config_admin.get(session)))


@flash_router.put("")
async def put_flash_config(
    body: FlashConfigPut, session: SessionDep, admin: AdminDep
) -> Envelope[FlashConfigOut]:
    """Replace the flash config (validated: 422 `INVALID_PRICE_CONFIG`); the next flash order
    and walk-in use it. `price_history` gets the old and new JSON."""
    setting = await flash_config_admin.put(
        session, body.config, actor=actor_of(admin), reason=body.reason
    )
    return ok(flash_out(setting))


@flash_router.get("/history")
async def flash_config_history(session: SessionDep, _op: OperatorDep) -> Envelope[list[HistoryOut]]:
    return ok([history_out(h) for h in await flash_config_admin.history(session)])
