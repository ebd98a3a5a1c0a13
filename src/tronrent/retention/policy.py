"""What the retention job keeps: days per table (docs/retention.md has the reasons)."""

from __future__ import annotations

from dataclasses import dataclass

from tronrent.config import Settings


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Days each prunable table keeps its finished rows (0 = keep forever); rows are deleted
    ``batch_size`` at a time, each batch its own short transaction, at most
    ``max_batches`` batches per table and run (the next run goes on)."""

    payment_monitoring_days: int = 30
    notification_days: int = 90
    merchant_callback_days: int = 90
    job_failure_days: int = 90
    batch_size: int = 1000
    max_batches: int = 1000
    #: PostgreSQL: daily partitions of payment_monitoring_logs made this many days ahead
    partitions_ahead_days: int = 7

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(
            payment_monitoring_days=settings.retention_payment_monitoring_days,
            notification_days=settings.retention_notification_days,
            merchant_callback_days=settings.retention_merchant_callback_days,
            job_failure_days=settings.retention_job_failure_days,
            batch_size=settings.retention_batch_size,
            partitions_ahead_days=settings.retention_partitions_ahead_days,
        )
