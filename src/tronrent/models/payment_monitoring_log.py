"""``payment_monitoring_logs``: one row per watch of an order's payment (seed 000)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base, StrEnumType, TimestampMixin, UTCDateTime, enum_check
from tronrent.kit.time import utcnow


class MonitoringStatus(enum.StrEnum):
    MONITORING = "monitoring"
    COMPLETED = "completed"
    TIMEOUT = "timeout"
    ERROR = "error"


class PaymentMonitoringLog(TimestampMixin, Base):
    __tablename__ = "payment_monitoring_logs"
    __table_args__ = (
        CheckConstraint(enum_check("status", MonitoringStatus), name="status"),
        CheckConstraint("detected_amount_units >= 0", name="detected_amount"),
        CheckConstraint("expected_amount_units > 0", name="expected_amount"),
        Index("idx_payment_monitoring_order_id", "order_id"),
        Index("idx_payment_monitoring_address", "payment_address"),
        Index("idx_payment_monitoring_status", "status"),
        Index("idx_payment_monitoring_started_at", "monitoring_started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(String(100), ForeignKey("orders.id"))
    payment_address: Mapped[str] = mapped_column(String(100))
    monitoring_started_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )
    monitoring_stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    timeout_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[MonitoringStatus] = mapped_column(
        StrEnumType(MonitoringStatus, 50),
        default=MonitoringStatus.MONITORING,
        server_default=MonitoringStatus.MONITORING.value,
    )
    expected_amount_units: Mapped[int | None] = mapped_column(BigInteger)
    detected_tx_hash: Mapped[str | None] = mapped_column(String(100))
    detected_amount_units: Mapped[int | None] = mapped_column(BigInteger)
    detected_from_address: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(Text)
