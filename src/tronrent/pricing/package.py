"""Energy packages an operator sells: create, list, read, edit, delete - every change recorded
in ``catalog_changes`` with who and why. Never commits.

Prices are columns of the package (``base_price_units`` in TRX, ``usdt_price_units``), so their
changes are recorded here; price rules over packages are ``price_configs`` (`tronrent.pricing.
rules`, ``price_history``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.models.catalog_change import CatalogAction, CatalogChange, CatalogEntity
from tronrent.models.common import Currency
from tronrent.models.energy_package import EnergyPackage
from tronrent.models.order import Order
from tronrent.models.price_config import PriceConfig
from tronrent.pricing.audit import (
    Actor,
    catalog_changes,
    diff,
    record_catalog_change,
    require_reason,
)
from tronrent.pricing.errors import InvalidPriceConfig, PackageInUse, PackageNotFound
from tronrent.pricing.quote import PackagePrices
from tronrent.pricing.schemas import PackageSpec, first_error


def spec_of(package: EnergyPackage) -> PackageSpec:
    """The package as the API describes it (prices per currency, quantity bounds)."""
    prices = PackagePrices.of(package)
    return PackageSpec.model_construct(
        name=package.name,
        description=package.description,
        package_type=package.package_type,
        energy_amount=package.energy_amount,
        duration_hours=package.duration_hours,
        transaction_count=package.transaction_count,
        trx_price_sun=prices.list_price(Currency.TRX),
        usdt_price_units=prices.list_price(Currency.USDT),
        min_quantity=prices.min_quantity,
        max_quantity=prices.max_quantity,
        is_active=package.is_active,
        sort_order=package.sort_order,
        tags=[str(t) for t in package.tags or []],
    )


def _apply(package: EnergyPackage, spec: PackageSpec) -> None:
    package.name = spec.name
    package.description = spec.description
    package.package_type = spec.package_type
    package.energy_amount = spec.energy_amount
    package.duration_hours = spec.duration_hours
    package.transaction_count = spec.transaction_count
    if spec.trx_price_sun is None:  # sold for USDT only: the list price is in USDT
        package.currency = Currency.USDT
        package.base_price_units = spec.usdt_price_units or 0
        package.usdt_price_units = None
    else:
        package.currency = Currency.TRX
        package.base_price_units = spec.trx_price_sun
        package.usdt_price_units = spec.usdt_price_units
    package.min_order_amount = spec.min_quantity
    package.max_order_amount = spec.max_quantity
    package.is_active = spec.is_active
    package.sort_order = spec.sort_order
    package.tags = list(spec.tags)


def merged_spec(current: PackageSpec, changes: dict[str, Any]) -> PackageSpec:
    """``current`` with ``changes`` (snake_case fields), validated as a whole (422 otherwise)."""
    try:
        return PackageSpec.model_validate({**current.model_dump(), **changes})
    except ValidationError as exc:
        raise InvalidPriceConfig(first_error(exc)) from None


class PackageService:
    async def list_packages(
        self, session: AsyncSession, *, active: bool | None = None
    ) -> Sequence[EnergyPackage]:
        """Packages by ``sort_order`` (then name); ``active`` filters on ``is_active``."""
        stmt = select(EnergyPackage).order_by(
            EnergyPackage.sort_order, EnergyPackage.name, EnergyPackage.id
        )
        if active is not None:
            stmt = stmt.where(EnergyPackage.is_active.is_(active))
        return (await session.execute(stmt)).scalars().all()

    async def get(
        self, session: AsyncSession, package_id: uuid.UUID, *, lock: bool = False
    ) -> EnergyPackage:
        stmt = select(EnergyPackage).where(EnergyPackage.id == package_id)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        package = (await session.execute(stmt)).scalar_one_or_none()
        if package is None:
            raise PackageNotFound(f"energy package {package_id} not found")
        return package

    async def create(
        self, session: AsyncSession, spec: PackageSpec, *, actor: Actor, reason: str
    ) -> EnergyPackage:
        why = require_reason(reason)
        package = EnergyPackage(id=uuid.uuid4())
        _apply(package, spec)
        session.add(package)
        record_catalog_change(
            session,
            entity=CatalogEntity.PACKAGE,
            entity_id=package.id,
            action=CatalogAction.CREATE,
            before={},
            after=spec.stored(),
            actor=actor,
            reason=why,
        )
        await session.flush()
        return package

    async def edit(
        self,
        session: AsyncSession,
        package_id: uuid.UUID,
        changes: dict[str, Any],
        *,
        actor: Actor,
        reason: str,
    ) -> EnergyPackage:
        """Change the fields in ``changes``; nothing that differs: no change row."""
        why = require_reason(reason)
        package = await self.get(session, package_id, lock=True)
        current = spec_of(package)
        spec = merged_spec(current, changes)
        before, after = diff(current.stored(), spec.stored())
        if not after:
            return package
        _apply(package, spec)
        record_catalog_change(
            session,
            entity=CatalogEntity.PACKAGE,
            entity_id=package.id,
            action=CatalogAction.UPDATE,
            before=before,
            after=after,
            actor=actor,
            reason=why,
        )
        await session.flush()
        return package

    async def delete(
        self, session: AsyncSession, package_id: uuid.UUID, *, actor: Actor, reason: str
    ) -> PackageSpec:
        """Delete a package no order and no price rule refers to (`PackageInUse`, 409,
        otherwise: deactivate it instead). The change record keeps what it was."""
        why = require_reason(reason)
        package = await self.get(session, package_id, lock=True)
        for table, what in ((Order, "orders"), (PriceConfig, "price configs")):
            if await session.scalar(select(exists().where(table.package_id == package_id))):
                raise PackageInUse(
                    f"{what} refer to this package: deactivate it (isActive false) instead"
                )
        spec = spec_of(package)
        await session.delete(package)
        record_catalog_change(
            session,
            entity=CatalogEntity.PACKAGE,
            entity_id=package_id,
            action=CatalogAction.DELETE,
            before=spec.stored(),
            after={},
            actor=actor,
            reason=why,
        )
        await session.flush()
        return spec

    async def changes(
        self, session: AsyncSession, package_id: uuid.UUID
    ) -> Sequence[CatalogChange]:
        """The package's changes, newest first (a deleted package's too)."""
        found = await catalog_changes(session, CatalogEntity.PACKAGE, package_id)
        if not found:
            await self.get(session, package_id)
        return found


package_service = PackageService()
