"""Who changed the catalogue and why: the actor, the required reason, and the change records
(``catalog_changes`` for packages and templates, ``price_history`` for price configs).

Written in the same transaction as the change itself, by the service that makes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.audit import MAX_REASON, Actor
from tronrent.kit.audit import require_reason as _require_reason
from tronrent.models.catalog_change import CatalogAction, CatalogChange, CatalogEntity
from tronrent.models.price_history import PriceChangeType, PriceHistory

__all__ = ["MAX_REASON", "Actor", "require_reason"]


def require_reason(reason: str) -> str:
    """The reason of a price change (see kit.audit.require_reason)."""
    return _require_reason(reason, "price change")


def diff(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields whose value differs, as (old, new) dicts."""
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def record_catalog_change(
    session: AsyncSession,
    *,
    entity: CatalogEntity,
    entity_id: uuid.UUID,
    action: CatalogAction,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    actor: Actor,
    reason: str,
) -> CatalogChange:
    change = CatalogChange(
        entity_type=entity,
        entity_id=entity_id,
        actor=actor.name[:100],
        actor_id=actor.admin_id,
        action=action,
        before=dict(before),
        after=dict(after),
        reason=reason,
    )
    session.add(change)
    return change


def record_price_change(
    session: AsyncSession,
    *,
    config_id: uuid.UUID,
    change_type: PriceChangeType,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    actor: Actor,
    reason: str,
) -> PriceHistory:
    """A ``price_history`` row; ``change_reason`` carries the actor's name when no admin
    account made the change (the command line)."""
    entry = PriceHistory(
        config_id=config_id,
        change_type=change_type,
        old_value=None if old is None else dict(old),
        new_value=None if new is None else dict(new),
        changed_by=actor.admin_id,
        change_reason=reason if actor.admin_id else f"[{actor.name}] {reason}",
    )
    session.add(entry)
    return entry


async def catalog_changes(
    session: AsyncSession, entity: CatalogEntity, entity_id: uuid.UUID, *, limit: int = 100
) -> Sequence[CatalogChange]:
    """The changes of one package or template, newest first."""
    stmt = (
        select(CatalogChange)
        .where(CatalogChange.entity_type == entity, CatalogChange.entity_id == entity_id)
        .order_by(CatalogChange.created_at.desc(), CatalogChange.id)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


async def price_history(
    session: AsyncSession, config_id: uuid.UUID, *, limit: int = 100
) -> Sequence[PriceHistory]:
    """The history of one price config, newest first."""
    stmt = (
        select(PriceHistory)
        .where(PriceHistory.config_id == config_id)
        .order_by(PriceHistory.created_at.desc(), PriceHistory.id)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()
