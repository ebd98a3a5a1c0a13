"""``energy_packages``: fixed products the bot sells (seed 001), incl. transaction-count packs."""

from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Index, Integer, String, Text, true
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base, PortableJSON, StrEnumType, TimestampMixin, UUIDType, enum_check
from tronrent.models.common import Currency


class PackageType(enum.StrEnum):
    ENERGY = "energy"  # energy_amount for duration_hours
    TRANSACTION_COUNT = "transaction_count"  # 笔数套餐: transaction_count transfers, topped up


class EnergyPackage(TimestampMixin, Base):
    __tablename__ = "energy_packages"
    __table_args__ = (
        CheckConstraint("energy_amount > 0", name="energy_amount"),
        CheckConstraint("duration_hours > 0", name="duration_hours"),
        CheckConstraint("base_price_units >= 0", name="base_price_units"),
        CheckConstraint("usdt_price_units IS NULL OR usdt_price_units >= 0", name="usdt_price"),
        CheckConstraint(
            "min_order_amount IS NULL OR min_order_amount >= 1", name="min_order_amount"
        ),
        CheckConstraint(
            "max_order_amount IS NULL OR min_order_amount IS NULL"
            " OR max_order_amount >= min_order_amount",
            name="order_amount_bounds",
        ),
        CheckConstraint("transaction_count IS NULL OR transaction_count > 0", name="tx_count"),
        CheckConstraint(enum_check("currency", Currency), name="currency"),
        CheckConstraint(enum_check("package_type", PackageType), name="package_type"),
        Index("idx_energy_packages_active_sort", "is_active", "sort_order"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    package_type: Mapped[PackageType] = mapped_column(
        StrEnumType(PackageType),
        default=PackageType.ENERGY,
        server_default=PackageType.ENERGY.value,
    )
    energy_amount: Mapped[int] = mapped_column(BigInteger)
    duration_hours: Mapped[int] = mapped_column(Integer)
    transaction_count: Mapped[int | None] = mapped_column(Integer)
    #: the price of one unit in ``currency`` (TRX for every package the admin API creates)
    base_price_units: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[Currency] = mapped_column(
        StrEnumType(Currency, 10), default=Currency.TRX, server_default=Currency.TRX.value
    )
    #: the price of one unit in USDT when ``currency`` is TRX; NULL: not sold for USDT
    #: (docs/pricing.md: per-package USDT prices, no exchange rate)
    usdt_price_units: Mapped[int | None] = mapped_column(BigInteger)
    #: min/max quantity of one order (units of the package); NULL: 1 / no maximum
    min_order_amount: Mapped[int | None] = mapped_column(BigInteger)
    max_order_amount: Mapped[int | None] = mapped_column(BigInteger)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    sort_order: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tags: Mapped[list[Any]] = mapped_column(
        PortableJSON, default=list, server_default=sql_text("'[]'")
    )
