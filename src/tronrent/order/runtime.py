"""Per-process flash settings the flows need (built from `Settings` by the entrypoints)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tronrent.config import Settings
from tronrent.payment.matching import DEFAULT_TAIL_GRANULARITY_SUN


@dataclass(frozen=True, slots=True)
class FlashRuntime:
    payment_address: str
    payment_timeout_s: float = 1800.0
    block_interval_ms: int = 3000
    default_energy: int = 65_000
    margin_bp: int = 200
    tail_granularity_sun: int = DEFAULT_TAIL_GRANULARITY_SUN
    max_concurrent_monitoring: int = 100
    #: a payment matching an order that expired less than this ago is still honoured
    late_payment_grace_s: float = 600.0
    #: how long to wait for a delegation/refund to be included before looking again
    confirm_timeout_s: float = 60.0
    enabled: bool = True
    #: rental length override in seconds (tests, demos); None = the config's expiry_hours
    rental_duration_s: float | None = None
    #: delegation attempts over different pools before an order fails (and is refunded)
    max_pool_attempts: int = 4
    #: recipient with no account on chain: "activate" (a TRX transfer creates it, its fee is
    #: quoted at create-order) or "refund"
    recipient_activation: str = "activate"
    #: while disabled (``enabled`` false), payments with no order: "refund" or "keep"
    disabled_payments: str = "refund"
    #: a paid order neither delivered nor refunded this many blocks later alerts operators
    paid_order_alert_blocks: int = 20
    #: the customer is told this long before the rental ends (notification.reminders)
    rental_ending_notice_s: float = 600.0
    #: the USDT contract payments come in by (refunds in USDT go out through it); None: USDT
    #: refunds wait for an operator
    usdt_contract: str | None = None
    #: a count-package use drawing more than one transfer's energy counts this many (1 or 2)
    count_new_holder_counts: int = 1
    #: count packages: counts an idle period uses (0: none), its length in blocks, the idle
    #: periods after which an unused package ends (0: never), the unused counts then
    count_idle_fee_counts: int = 1
    count_idle_period_blocks: int = 28_800
    count_max_idle_days: int = 7
    count_unused_policy: str = "forfeit"
    #: blocks on top of a payment before it is acted on (``CONFIRMATIONS``; the scanner's
    #: too): a confirm-payment of a transaction less deep is refused until it is deep enough
    confirmations: int = 0

    @property
    def activates_recipients(self) -> bool:
        return self.recipient_activation == "activate"

    def rental_ms(self, duration_hours: int) -> int:
        if self.rental_duration_s is not None:
            return int(self.rental_duration_s * 1000)
        return duration_hours * 3_600_000

    @property
    def poll_s(self) -> float:
        """How often to look for a transaction in a block: a third of a block."""
        return max(0.02, self.block_interval_ms / 3000)

    @classmethod
    def from_settings(cls, settings: Settings, payment_address: str) -> FlashRuntime:
        return cls(
            payment_address=payment_address,
            payment_timeout_s=settings.payment_timeout_seconds,
            block_interval_ms=settings.block_interval_ms,
            default_energy=settings.default_energy_per_transaction,
            margin_bp=int(settings.energy_margin_percent * Decimal(100)),
            max_concurrent_monitoring=settings.max_concurrent_monitoring,
            enabled=settings.energy_flash_enabled,
            recipient_activation=settings.recipient_activation,
            disabled_payments=settings.energy_flash_disabled_payments,
            paid_order_alert_blocks=settings.paid_order_alert_blocks,
            rental_ending_notice_s=float(settings.rental_ending_notice_seconds),
            usdt_contract=settings.usdt_contract,
            count_new_holder_counts=settings.count_new_holder_counts,
            count_idle_fee_counts=settings.count_idle_fee_counts,
            count_idle_period_blocks=settings.count_idle_period_blocks,
            count_max_idle_days=settings.count_max_idle_days,
            count_unused_policy=settings.count_unused_policy,
            confirmations=settings.confirmations,
            rental_duration_s=(
                float(settings.energy_flash_rental_seconds)
                if settings.energy_flash_rental_seconds
                else None
            ),
        )
