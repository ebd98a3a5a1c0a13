"""``catalog_changes``: every operator change of an energy package or a price template, with
who and why (price configs have ``price_history``, pools ``pool_changes``)."""

from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base, CreatedAtMixin, PortableJSON, StrEnumType, UUIDType, enum_check


class CatalogEntity(enum.StrEnum):
    PACKAGE = "package"
    TEMPLATE = "template"


class CatalogAction(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    APPLY = "apply"  # a template applied (its price configs in price_history)


class CatalogChange(CreatedAtMixin, Base):
    """``before``/``after`` hold the fields that changed (all of them on create and delete).
    ``entity_id`` has no foreign key: the record outlives a deleted package or template."""

    __tablename__ = "catalog_changes"
    __table_args__ = (
        CheckConstraint(enum_check("entity_type", CatalogEntity), name="entity_type"),
        CheckConstraint(enum_check("action", CatalogAction), name="action"),
        Index("idx_catalog_changes_entity", "entity_type", "entity_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    entity_type: Mapped[CatalogEntity] = mapped_column(StrEnumType(CatalogEntity, 20))
    entity_id: Mapped[uuid.UUID] = mapped_column(UUIDType)
    actor: Mapped[str] = mapped_column(String(100))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("admin_users.id", ondelete="SET NULL")
    )
    action: Mapped[CatalogAction] = mapped_column(StrEnumType(CatalogAction, 20))
    before: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    after: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    reason: Mapped[str] = mapped_column(Text)
