"""Catalogue and prices: energy and count packages, price rules, templates, the flash config.

The same use cases as ``/api/admin/energy-packages``, ``/price-configs``, ``/price-templates``
and ``/flash-config``: every change needs the admin role and a reason, recorded with who made
it (``catalog_changes`` for packages and templates, ``price_history`` for price rules), and the
page shows that history. The catalogue is small (tens of rows): its tables are whole, in the
services' order; each history shows its newest 100 changes.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response
from pydantic import ValidationError

from tronrent.api.deps import SessionDep
from tronrent.auth.dependencies import actor_of
from tronrent.console import changes
from tronrent.console import session as console_session
from tronrent.console.forms import Field, Reason, amount, flag, integer, uuid_of
from tronrent.console.session import ConsoleAdmin, ConsoleUser
from tronrent.console.web import choice, nav, page_router, redirect, render
from tronrent.models.common import Currency
from tronrent.models.energy_package import PackageType
from tronrent.order.flash_admin import flash_config_admin
from tronrent.pricing.errors import InvalidPriceConfig
from tronrent.pricing.package import package_service, spec_of
from tronrent.pricing.rules import price_config_service, rule_spec
from tronrent.pricing.schemas import PackageSpec, PriceConfigSpec, first_error
from tronrent.pricing.template import template_service

router = page_router(prefix="/admin/catalogue", dependencies=[console_session.CSRF])
nav("catalogue", "Catalogue & prices", "/admin/catalogue")

Id = Annotated[uuid.UUID, Path()]
Done = Annotated[str | None, Query(max_length=20)]


class PackageForm:
    """A package form as PackageSpec fields (snake_case): prices typed in TRX / USDT."""

    def __init__(
        self,
        name: Field,
        energy_amount: Field,
        duration_hours: Field,
        package_type: Field = "",
        transaction_count: Field = "",
        trx_price: Field = "",
        usdt_price: Field = "",
        min_quantity: Field = "",
        max_quantity: Field = "",
        sort_order: Field = "",
        description: Field = "",
    ) -> None:
        kind = choice(PackageType, package_type, "package type") or PackageType.ENERGY
        self.fields: dict[str, Any] = {
            "name": name.strip(),
            "description": description.strip() or None,
            "package_type": kind,
            "energy_amount": integer(energy_amount, "energy", 1),
            "duration_hours": integer(duration_hours, "duration (hours)", 1),
            "transaction_count": integer(transaction_count, "transfers", 1),
            "trx_price_sun": amount(trx_price, "TRX price"),
            "usdt_price_units": amount(usdt_price, "USDT price"),
            "min_quantity": integer(min_quantity, "min quantity", 1) or 1,
            "max_quantity": integer(max_quantity, "max quantity", 1),
            "sort_order": integer(sort_order, "sort order") or 0,
        }


class PriceForm:
    """The price fields of a rule form (amounts typed in the rule's currency)."""

    def __init__(
        self,
        base_price: Field = "",
        markup_bps: Field = "",
        markup_fixed: Field = "",
        min_price: Field = "",
        max_price: Field = "",
        priority: Field = "",
    ) -> None:
        self.fields: dict[str, Any] = {
            "base_price_units": amount(base_price, "base price"),
            "markup_bps": integer(markup_bps, "markup (bps)") or 0,
            "markup_fixed_units": amount(markup_fixed, "fixed markup") or 0,
            "min_price_units": amount(min_price, "min price"),
            "max_price_units": amount(max_price, "max price"),
            "priority": integer(priority, "priority") or 0,
        }


Package = Annotated[PackageForm, Depends()]
Price = Annotated[PriceForm, Depends()]


@router.get("")
async def catalogue(
    request: Request, session: SessionDep, _user: ConsoleUser, done: Done = None
) -> Response:
    packages = await package_service.list_packages(session)
    return render(
        request,
        "catalogue.html",
        energy=[p for p in packages if p.package_type is PackageType.ENERGY],
        counted=[p for p in packages if p.package_type is PackageType.TRANSACTION_COUNT],
        packages=packages,
        configs=await price_config_service.list_configs(session),
        templates=await template_service.list_templates(session),
        flash=await flash_config_admin.get(session),
        names={p.id: p.name for p in packages},
        types=list(PackageType),
        currencies=list(Currency),
        done=done,
    )


@router.post("/packages")
async def create_package(
    session: SessionDep, admin: ConsoleAdmin, reason: Reason, form: Package, inactive: Field = ""
) -> Response:
    """A new package (``POST /api/admin/energy-packages``): ``catalog_changes`` gets a
    ``create`` row with who and why."""
    try:
        spec = PackageSpec.model_validate({**form.fields, "is_active": not flag(inactive)})
    except ValidationError as exc:
        raise InvalidPriceConfig(first_error(exc)) from None
    package = await package_service.create(session, spec, actor=actor_of(admin), reason=reason)
    return redirect(f"/admin/catalogue/packages/{package.id}?done=created")


@router.get("/packages/{package_id}")
async def package_detail(
    request: Request, package_id: Id, session: SessionDep, _user: ConsoleUser, done: Done = None
) -> Response:
    package = await package_service.get(session, package_id)
    return render(
        request,
        "package.html",
        p=package,
        spec=spec_of(package),
        changes=changes.of_catalog(await package_service.changes(session, package_id)),
        configs=await price_config_service.list_configs(session, package_id=package_id),
        types=list(PackageType),
        done=done,
    )


@router.post("/packages/{package_id}")
async def edit_package(
    package_id: Id, session: SessionDep, admin: ConsoleAdmin, reason: Reason, form: Package
) -> Response:
    """Change the package (``PATCH /api/admin/energy-packages/{id}``): the fields that differ
    go to ``catalog_changes`` (old and new) with who and why; orders made keep their price."""
    before = spec_of(await package_service.get(session, package_id)).stored()
    package = await package_service.edit(
        session, package_id, form.fields, actor=actor_of(admin), reason=reason
    )
    done = "same" if spec_of(package).stored() == before else "saved"
    return redirect(f"/admin/catalogue/packages/{package_id}?done={done}")


@router.post("/packages/{package_id}/sale")
async def package_sale(
    package_id: Id,
    session: SessionDep,
    admin: ConsoleAdmin,
    reason: Reason,
    active: Field = "",
) -> Response:
    """Put the package on sale or take it off (``isActive``), with who and why."""
    await package_service.edit(
        session, package_id, {"is_active": flag(active)}, actor=actor_of(admin), reason=reason
    )
    done = "enabled" if flag(active) else "disabled"
    return redirect(f"/admin/catalogue/packages/{package_id}?done={done}")


@router.post("/packages/{package_id}/delete")
async def delete_package(
    package_id: Id, session: SessionDep, admin: ConsoleAdmin, reason: Reason
) -> Response:
    """Delete a package nothing refers to (409 page otherwise: disable it instead)."""
    await package_service.delete(session, package_id, actor=actor_of(admin), reason=reason)
    return redirect("/admin/catalogue?done=deleted")


@router.post("/prices")
async def create_rule(
    session: SessionDep,
    admin: ConsoleAdmin,
    reason: Reason,
    config_name: Field,
    form: Price,
    currency: Field = "",
    package_id: Field = "",
    inactive: Field = "",
) -> Response:
    """A new price rule (``POST /api/admin/price-configs``): ``price_history`` gets a
    ``create`` row with who and why."""
    try:
        spec = PriceConfigSpec.model_validate(
            {
                **form.fields,
                "currency": choice(Currency, currency, "currency") or Currency.TRX,
                "config_name": config_name.strip(),
                "package_id": uuid_of(package_id, "package"),
                "is_active": not flag(inactive),
            }
        )
    except ValidationError as exc:
        raise InvalidPriceConfig(first_error(exc)) from None
    config = await price_config_service.create(session, spec, actor=actor_of(admin), reason=reason)
    return redirect(f"/admin/catalogue/prices/{config.id}?done=created")


@router.get("/prices/{config_id}")
async def rule_detail(
    request: Request, config_id: Id, session: SessionDep, _user: ConsoleUser, done: Done = None
) -> Response:
    config = await price_config_service.get(session, config_id)
    package = await package_service.get(session, config.package_id) if config.package_id else None
    return render(
        request,
        "price.html",
        c=config,
        spec=rule_spec(config),
        package=package,
        history=await changes.of_prices(
            session, await price_config_service.history(session, config_id)
        ),
        done=done,
    )


@router.post("/prices/{config_id}")
async def edit_rule(
    config_id: Id, session: SessionDep, admin: ConsoleAdmin, reason: Reason, form: Price
) -> Response:
    """Change the rule's price (``PATCH /api/admin/price-configs/{id}``): ``price_history``
    gets the old and new values with who and why; the next quote uses it."""
    config = await price_config_service.get(session, config_id)
    before = rule_spec(config).stored()
    await price_config_service.edit(
        session, config_id, form.fields, actor=actor_of(admin), reason=reason
    )
    done = "same" if rule_spec(config).stored() == before else "saved"
    return redirect(f"/admin/catalogue/prices/{config_id}?done={done}")


@router.post("/prices/{config_id}/sale")
async def rule_sale(
    config_id: Id,
    session: SessionDep,
    admin: ConsoleAdmin,
    reason: Reason,
    active: Field = "",
) -> Response:
    """Activate or deactivate the rule (``activate``/``deactivate`` in its history)."""
    await price_config_service.edit(
        session, config_id, {"is_active": flag(active)}, actor=actor_of(admin), reason=reason
    )
    done = "enabled" if flag(active) else "disabled"
    return redirect(f"/admin/catalogue/prices/{config_id}?done={done}")


@router.post("/prices/{config_id}/delete")
async def delete_rule(
    config_id: Id, session: SessionDep, admin: ConsoleAdmin, reason: Reason
) -> Response:
    """Deactivate and hide the rule (``delete`` in its history, which stays)."""
    await price_config_service.delete(session, config_id, actor=actor_of(admin), reason=reason)
    return redirect("/admin/catalogue?done=rule_deleted")


@router.post("/templates/{template_id}/apply")
async def apply_template(
    template_id: Id, session: SessionDep, admin: ConsoleAdmin, reason: Reason
) -> Response:
    """Apply a template (``POST /api/admin/price-templates/{id}/apply``): its rules are
    created or updated, each change in ``price_history``."""
    await template_service.apply(session, template_id, actor=actor_of(admin), reason=reason)
    return redirect("/admin/catalogue?done=applied")


@router.get("/flash")
async def flash_history(request: Request, session: SessionDep, _user: ConsoleUser) -> Response:
    """The flash price config and who changed it (the JSON is edited through the API)."""
    return render(
        request,
        "flash_config.html",
        flash=await flash_config_admin.get(session),
        history=await changes.of_prices(session, await flash_config_admin.history(session)),
    )
