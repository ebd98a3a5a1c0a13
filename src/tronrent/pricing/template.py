"""Price templates: named sets of price rules, applied together. Create, list, read, edit,
delete (``catalog_changes``), and apply: every rule of the template is created, or updated when
the template made it before (same name and bot), with a ``price_history`` row each; the
template's ``usage_count`` goes up by one. Never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.models.catalog_change import CatalogAction, CatalogChange, CatalogEntity
from tronrent.models.price_config import PriceConfig
from tronrent.models.price_template import PriceTemplate
from tronrent.pricing.audit import (
    Actor,
    catalog_changes,
    diff,
    record_catalog_change,
    require_reason,
)
from tronrent.pricing.errors import (
    InvalidPriceConfig,
    TemplateInactive,
    TemplateNameTaken,
    TemplateNotFound,
)
from tronrent.pricing.rules import price_config_service
from tronrent.pricing.schemas import PriceConfigSpec, TemplateSpec, first_error


def template_spec(template: PriceTemplate) -> TemplateSpec:
    """The stored template as a spec; `InvalidPriceConfig` when its ``config_data`` is not a
    valid set of rules (written outside the API)."""
    data = template.config_data or {}
    try:
        return TemplateSpec.model_validate(
            {
                "name": template.name,
                "description": template.description,
                "template_type": template.template_type,
                "configs": data.get("configs", []),
                "is_active": template.is_active,
            }
        )
    except ValidationError as exc:
        raise InvalidPriceConfig(f"template {template.name!r}: {first_error(exc)}") from None


def _apply(template: PriceTemplate, spec: TemplateSpec) -> None:
    template.name = spec.name
    template.description = spec.description
    template.template_type = spec.template_type
    template.config_data = {"configs": [c.stored() for c in spec.configs]}
    template.is_active = spec.is_active


@dataclass(frozen=True, slots=True)
class Applied:
    template: PriceTemplate
    created: list[PriceConfig]
    updated: list[PriceConfig]
    unchanged: list[PriceConfig]


class TemplateService:
    async def list_templates(self, session: AsyncSession) -> Sequence[PriceTemplate]:
        stmt = select(PriceTemplate).order_by(PriceTemplate.name, PriceTemplate.id)
        return (await session.execute(stmt)).scalars().all()

    async def get(
        self, session: AsyncSession, template_id: uuid.UUID, *, lock: bool = False
    ) -> PriceTemplate:
        stmt = select(PriceTemplate).where(PriceTemplate.id == template_id)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        template = (await session.execute(stmt)).scalar_one_or_none()
        if template is None:
            raise TemplateNotFound(f"price template {template_id} not found")
        return template

    async def _name_free(
        self, session: AsyncSession, name: str, template_id: uuid.UUID | None
    ) -> None:
        other = await session.scalar(select(PriceTemplate.id).where(PriceTemplate.name == name))
        if other is not None and other != template_id:
            raise TemplateNameTaken(f"a price template named {name!r} exists")

    async def _flush_name(self, session: AsyncSession, name: str) -> None:
        """Flush; the UNIQUE name taken by a concurrent request -> `TemplateNameTaken` (409)."""
        try:
            await session.flush()
        except IntegrityError:
            raise TemplateNameTaken(f"a price template named {name!r} exists") from None

    async def create(
        self, session: AsyncSession, spec: TemplateSpec, *, actor: Actor, reason: str
    ) -> PriceTemplate:
        why = require_reason(reason)
        await self._name_free(session, spec.name, None)
        template = PriceTemplate(id=uuid.uuid4(), created_by=actor.admin_id, usage_count=0)
        _apply(template, spec)
        session.add(template)
        await self._flush_name(session, spec.name)
        record_catalog_change(
            session,
            entity=CatalogEntity.TEMPLATE,
            entity_id=template.id,
            action=CatalogAction.CREATE,
            before={},
            after=spec.stored(),
            actor=actor,
            reason=why,
        )
        await session.flush()
        return template

    async def edit(
        self,
        session: AsyncSession,
        template_id: uuid.UUID,
        changes: dict[str, Any],
        *,
        actor: Actor,
        reason: str,
    ) -> PriceTemplate:
        why = require_reason(reason)
        template = await self.get(session, template_id, lock=True)
        current = template_spec(template).stored()
        try:
            spec = TemplateSpec.model_validate({**current, **changes})
        except ValidationError as exc:
            raise InvalidPriceConfig(first_error(exc)) from None
        await self._name_free(session, spec.name, template.id)
        before, after = diff(current, spec.stored())
        if not after:
            return template
        _apply(template, spec)
        await self._flush_name(session, spec.name)
        record_catalog_change(
            session,
            entity=CatalogEntity.TEMPLATE,
            entity_id=template.id,
            action=CatalogAction.UPDATE,
            before=before,
            after=after,
            actor=actor,
            reason=why,
        )
        await session.flush()
        return template

    async def delete(
        self, session: AsyncSession, template_id: uuid.UUID, *, actor: Actor, reason: str
    ) -> None:
        """Delete the template; the rules it made stay (their ``template_id`` is cleared)."""
        why = require_reason(reason)
        template = await self.get(session, template_id, lock=True)
        before = {
            "name": template.name,
            "config_data": template.config_data,
            "usage_count": template.usage_count,
        }
        await session.delete(template)
        record_catalog_change(
            session,
            entity=CatalogEntity.TEMPLATE,
            entity_id=template_id,
            action=CatalogAction.DELETE,
            before=before,
            after={},
            actor=actor,
            reason=why,
        )
        await session.flush()

    async def apply(
        self,
        session: AsyncSession,
        template_id: uuid.UUID,
        *,
        actor: Actor,
        reason: str,
        bot_id: uuid.UUID | None = None,
    ) -> Applied:
        """Apply the template's rules (to ``bot_id`` when given: every rule scoped to that
        bot). A rule the template made before with the same name and bot is updated, others
        are created; each change writes ``price_history`` with the template named in the
        reason."""
        why = require_reason(reason)
        template = await self.get(session, template_id, lock=True)
        if not template.is_active:
            raise TemplateInactive(f"price template {template.name!r} is inactive")
        spec = template_spec(template)
        history_reason = f"template {template.name!r}: {why}"
        created: list[PriceConfig] = []
        updated: list[PriceConfig] = []
        unchanged: list[PriceConfig] = []
        for item in spec.configs:
            rule = item if bot_id is None else item.model_copy(update={"bot_id": bot_id})
            existing = await self._made_before(session, template.id, rule)
            if existing is None:
                created.append(
                    await price_config_service.create(
                        session, rule, actor=actor, reason=history_reason, template_id=template.id
                    )
                )
                continue
            entry = await price_config_service.update(
                session, existing, rule, actor=actor, reason=history_reason
            )
            (unchanged if entry is None else updated).append(existing)
        template.usage_count += 1
        record_catalog_change(
            session,
            entity=CatalogEntity.TEMPLATE,
            entity_id=template.id,
            action=CatalogAction.APPLY,
            before={},
            after={
                "bot_id": None if bot_id is None else str(bot_id),
                "created": [str(c.id) for c in created],
                "updated": [str(c.id) for c in updated],
                "unchanged": [str(c.id) for c in unchanged],
            },
            actor=actor,
            reason=why,
        )
        await session.flush()
        return Applied(template, created, updated, unchanged)

    async def _made_before(
        self, session: AsyncSession, template_id: uuid.UUID, rule: PriceConfigSpec
    ) -> PriceConfig | None:
        bot = (
            PriceConfig.bot_id.is_(None)
            if rule.bot_id is None
            else (PriceConfig.bot_id == rule.bot_id)
        )
        stmt = (
            select(PriceConfig)
            .where(
                PriceConfig.template_id == template_id,
                PriceConfig.config_name == rule.config_name,
                PriceConfig.deleted_at.is_(None),
                PriceConfig.mode_type.is_(None),
                bot,
            )
            .with_for_update()
            .limit(1)
        )
        return (await session.execute(stmt)).scalars().first()

    async def changes(
        self, session: AsyncSession, template_id: uuid.UUID
    ) -> Sequence[CatalogChange]:
        found = await catalog_changes(session, CatalogEntity.TEMPLATE, template_id)
        if not found:
            await self.get(session, template_id)
        return found


template_service = TemplateService()
