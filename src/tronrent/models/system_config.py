"""``system_configs``: typed key/value settings editable at run time (seed 001)."""

from __future__ import annotations

import enum
import uuid

from sqlalchemy import Boolean, CheckConstraint, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base, StrEnumType, TimestampMixin, UUIDType, enum_check


class ConfigType(enum.StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    JSON = "json"


class SystemConfig(TimestampMixin, Base):
    """``config_value`` is text; with ``is_encrypted`` it is ciphertext from
    ``tronrent.kit.crypto`` and must never be returned unless decrypted for an admin."""

    __tablename__ = "system_configs"
    __table_args__ = (
        CheckConstraint(enum_check("config_type", ConfigType), name="config_type"),
        Index("idx_system_configs_category", "category"),
        Index("idx_system_configs_config_type", "config_type"),
        Index("idx_system_configs_is_public", "is_public"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    config_key: Mapped[str] = mapped_column(String(100), unique=True)
    config_value: Mapped[str | None] = mapped_column(Text)
    config_type: Mapped[ConfigType] = mapped_column(
        StrEnumType(ConfigType), default=ConfigType.STRING, server_default=ConfigType.STRING.value
    )
    category: Mapped[str] = mapped_column(String(50), default="general", server_default="general")
    description: Mapped[str | None] = mapped_column(Text)
    is_encrypted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    validation_rule: Mapped[str | None] = mapped_column(Text)
    default_value: Mapped[str | None] = mapped_column(Text)
