"""``price_configs``: price rules (seed 001) and per-mode configs such as ``energy_flash``
(seed 000, ``mode_type`` + ``config``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    true,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import (
    Base,
    PortableJSON,
    StrEnumType,
    TimestampMixin,
    UTCDateTime,
    UUIDType,
    enum_check,
)
from tronrent.models.common import Currency

#: ``mode_type`` of the flash rental config (seed 000)
ENERGY_FLASH_MODE = "energy_flash"


class PriceConfig(TimestampMixin, Base):
    """A price rule. Rows with a ``mode_type`` are the one global config of that mode (UNIQUE,
    as seed 000's ``ON CONFLICT (mode_type)`` requires); bot/package price rules leave it NULL.

    Money is integer base units of ``currency``; markup percentage in basis points
    (1 bp = 0.01 %). ``config`` keeps the seed's JSON (e.g. ``single_price: 1.5`` in TRX):
    read JSON numbers with ``Decimal(str(value))`` before converting to sun.
    """

    __tablename__ = "price_configs"
    __table_args__ = (
        CheckConstraint("base_price_units >= 0", name="base_price"),
        CheckConstraint("markup_fixed_units >= 0", name="markup_fixed"),
        CheckConstraint("min_price_units >= 0", name="min_price"),
        CheckConstraint("max_price_units >= 0", name="max_price"),
        CheckConstraint(
            "min_price_units IS NULL OR max_price_units IS NULL"
            " OR min_price_units <= max_price_units",
            name="price_bounds",
        ),
        CheckConstraint(enum_check("currency", Currency), name="currency"),
        Index("idx_price_configs_bot_id", "bot_id"),
        Index("idx_price_configs_package_id", "package_id"),
        Index("idx_price_configs_active_priority", "is_active", "priority"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    mode_type: Mapped[str | None] = mapped_column(String(50), unique=True)
    config: Mapped[dict[str, Any]] = mapped_column(
        PortableJSON, default=dict, server_default=sql_text("'{}'")
    )
    bot_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("bots.id", ondelete="CASCADE")
    )
    package_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("energy_packages.id", ondelete="CASCADE")
    )
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("price_templates.id", ondelete="SET NULL")
    )
    config_name: Mapped[str] = mapped_column(String(100))
    base_price_units: Mapped[int | None] = mapped_column(BigInteger)
    markup_bps: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    markup_fixed_units: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    min_price_units: Mapped[int | None] = mapped_column(BigInteger)
    max_price_units: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[Currency] = mapped_column(
        StrEnumType(Currency, 10), default=Currency.TRX, server_default=Currency.TRX.value
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    conditions: Mapped[dict[str, Any]] = mapped_column(
        PortableJSON, default=dict, server_default=sql_text("'{}'")
    )
    #: set when an operator deleted the rule: it stays (its ``price_history`` refers to it),
    #: inactive and hidden from listings
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
