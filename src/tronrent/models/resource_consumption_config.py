"""``resource_consumption_configs``: energy per operation type (seed 000)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Integer, String, true
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base, PortableJSON, TimestampMixin

#: ``resource_type`` of the energy consumption config
ENERGY_RESOURCE_TYPE = "energy"


class ResourceConsumptionConfig(TimestampMixin, Base):
    """``config`` of the ``energy`` row: ``usdt_standard_energy`` (65,000 - PRODUCT.md),
    ``trx_transfer_energy``, ``trc20_transfer_energy``, ``contract_call_energy``,
    ``drift_margin_bps``."""

    __tablename__ = "resource_consumption_configs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(50), unique=True)
    config: Mapped[dict[str, Any]] = mapped_column(
        PortableJSON, default=dict, server_default=sql_text("'{}'")
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
