"""Package price rules (``price_configs`` rows without a ``mode_type``): create, list, read,
edit, delete; every change a ``price_history`` row (who, old, new, why, change type).
Never commits.

A deleted rule stays, inactive, with ``deleted_at`` set (its history refers to it) and is
hidden from listings and from pricing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.time import utcnow
from tronrent.models.bot import Bot
from tronrent.models.energy_package import EnergyPackage
from tronrent.models.price_config import PriceConfig
from tronrent.models.price_history import PriceChangeType, PriceHistory
from tronrent.pricing.audit import Actor, diff, price_history, record_price_change, require_reason
from tronrent.pricing.errors import InvalidPriceConfig, PriceConfigNotFound, ReferenceNotFound
from tronrent.pricing.schemas import ConditionsSpec, PriceConfigSpec, first_error


def rule_spec(config: PriceConfig) -> PriceConfigSpec:
    """The stored rule as a spec (conditions re-read; unreadable ones shown as stored)."""
    try:
        conditions = ConditionsSpec.model_validate(config.conditions or {})
    except ValidationError:
        conditions = ConditionsSpec.model_construct(**(config.conditions or {}))
    return PriceConfigSpec.model_construct(
        config_name=config.config_name,
        currency=config.currency,
        bot_id=config.bot_id,
        package_id=config.package_id,
        base_price_units=config.base_price_units,
        markup_bps=config.markup_bps,
        markup_fixed_units=config.markup_fixed_units,
        min_price_units=config.min_price_units,
        max_price_units=config.max_price_units,
        priority=config.priority,
        is_active=config.is_active,
        conditions=conditions,
    )


def _apply(config: PriceConfig, spec: PriceConfigSpec) -> None:
    config.config_name = spec.config_name
    config.currency = spec.currency
    config.bot_id = spec.bot_id
    config.package_id = spec.package_id
    config.base_price_units = spec.base_price_units
    config.markup_bps = spec.markup_bps
    config.markup_fixed_units = spec.markup_fixed_units
    config.min_price_units = spec.min_price_units
    config.max_price_units = spec.max_price_units
    config.priority = spec.priority
    config.is_active = spec.is_active
    config.conditions = spec.conditions.stored()


def _change_type(before: dict[str, Any], after: dict[str, Any]) -> PriceChangeType:
    """``activate``/``deactivate`` when only ``is_active`` changed, else ``update``."""
    if set(after) == {"is_active"}:
        return PriceChangeType.ACTIVATE if after["is_active"] else PriceChangeType.DEACTIVATE
    return PriceChangeType.UPDATE


class PriceConfigService:
    async def _check_references(self, session: AsyncSession, spec: PriceConfigSpec) -> None:
        for model, value, what in (
            (Bot, spec.bot_id, "botId"),
            (EnergyPackage, spec.package_id, "packageId"),
        ):
            if value is not None and not await session.scalar(
                select(exists().where(model.id == value))
            ):
                raise ReferenceNotFound(f"{what} {value} does not exist")

    async def list_configs(
        self,
        session: AsyncSession,
        *,
        package_id: uuid.UUID | None = None,
        bot_id: uuid.UUID | None = None,
        active: bool | None = None,
    ) -> Sequence[PriceConfig]:
        """Undeleted rules, highest priority first."""
        stmt = select(PriceConfig).where(
            PriceConfig.mode_type.is_(None), PriceConfig.deleted_at.is_(None)
        )
        if package_id is not None:
            stmt = stmt.where(PriceConfig.package_id == package_id)
        if bot_id is not None:
            stmt = stmt.where(PriceConfig.bot_id == bot_id)
        if active is not None:
            stmt = stmt.where(PriceConfig.is_active.is_(active))
        stmt = stmt.order_by(PriceConfig.priority.desc(), PriceConfig.config_name, PriceConfig.id)
        return (await session.execute(stmt)).scalars().all()

    async def get(
        self, session: AsyncSession, config_id: uuid.UUID, *, lock: bool = False
    ) -> PriceConfig:
        """An undeleted package rule (`PriceConfigNotFound` for per-mode configs too: the flash
        config has its own route)."""
        stmt = select(PriceConfig).where(
            PriceConfig.id == config_id,
            PriceConfig.mode_type.is_(None),
            PriceConfig.deleted_at.is_(None),
        )
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        config = (await session.execute(stmt)).scalar_one_or_none()
        if config is None:
            raise PriceConfigNotFound(f"price config {config_id} not found")
        return config

    async def create(
        self,
        session: AsyncSession,
        spec: PriceConfigSpec,
        *,
        actor: Actor,
        reason: str,
        template_id: uuid.UUID | None = None,
    ) -> PriceConfig:
        why = require_reason(reason)
        await self._check_references(session, spec)
        config = PriceConfig(id=uuid.uuid4(), template_id=template_id)
        _apply(config, spec)
        session.add(config)
        await session.flush()
        record_price_change(
            session,
            config_id=config.id,
            change_type=PriceChangeType.CREATE,
            old=None,
            new=spec.stored(),
            actor=actor,
            reason=why,
        )
        await session.flush()
        return config

    async def update(
        self,
        session: AsyncSession,
        config: PriceConfig,
        spec: PriceConfigSpec,
        *,
        actor: Actor,
        reason: str,
    ) -> PriceHistory | None:
        """Set ``config`` to ``spec``: the history row with the fields that differ (nothing
        differs: no row, None)."""
        why = require_reason(reason)
        await self._check_references(session, spec)
        before, after = diff(rule_spec(config).stored(), spec.stored())
        if not after:
            return None
        _apply(config, spec)
        entry = record_price_change(
            session,
            config_id=config.id,
            change_type=_change_type(before, after),
            old=before,
            new=after,
            actor=actor,
            reason=why,
        )
        await session.flush()
        return entry

    async def edit(
        self,
        session: AsyncSession,
        config_id: uuid.UUID,
        changes: dict[str, Any],
        *,
        actor: Actor,
        reason: str,
    ) -> PriceConfig:
        """Change the fields in ``changes`` (snake_case), validated merged with the rest."""
        config = await self.get(session, config_id, lock=True)
        try:
            spec = PriceConfigSpec.model_validate({**rule_spec(config).model_dump(), **changes})
        except ValidationError as exc:
            raise InvalidPriceConfig(first_error(exc)) from None
        await self.update(session, config, spec, actor=actor, reason=reason)
        return config

    async def delete(
        self, session: AsyncSession, config_id: uuid.UUID, *, actor: Actor, reason: str
    ) -> PriceConfig:
        """Deactivate and hide the rule; its history stays readable."""
        why = require_reason(reason)
        config = await self.get(session, config_id, lock=True)
        _soft_delete(session, config, actor=actor, reason=why)
        await session.flush()
        return config

    async def detach_bot(
        self, session: AsyncSession, bot: Bot, *, actor: Actor, reason: str
    ) -> list[PriceConfig]:
        """Before ``bot`` is removed: its live rules are deleted like ``delete`` does (``delete``
        in their history, the old value naming the bot), and every rule of it - deleted ones
        too - lets go of the bot (``bot_id`` NULL), so the bot's row can go while the rules
        and their history stay readable. The rules deleted now, for the caller."""
        why = require_reason(reason)
        rows = await session.execute(
            select(PriceConfig)
            .where(PriceConfig.bot_id == bot.id)
            .order_by(PriceConfig.created_at, PriceConfig.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        deleted: list[PriceConfig] = []
        for config in rows.scalars():
            if config.deleted_at is None:
                _soft_delete(
                    session, config, actor=actor, reason=f"bot @{bot.username} removed: {why}"
                )
                deleted.append(config)
            config.bot_id = None
        await session.flush()
        return deleted

    async def history(self, session: AsyncSession, config_id: uuid.UUID) -> Sequence[PriceHistory]:
        """The rule's history, newest first (a deleted rule's too)."""
        found = await price_history(session, config_id)
        if not found:
            await self.get(session, config_id)
        return found


def _soft_delete(session: AsyncSession, config: PriceConfig, *, actor: Actor, reason: str) -> None:
    """Deactivate and hide ``config`` (locked by the caller), with its ``delete`` history row."""
    old = rule_spec(config).stored()
    config.is_active = False
    config.deleted_at = utcnow()
    record_price_change(
        session,
        config_id=config.id,
        change_type=PriceChangeType.DELETE,
        old=old,
        new=None,
        actor=actor,
        reason=reason,
    )


price_config_service = PriceConfigService()
