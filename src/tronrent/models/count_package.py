"""``count_packages`` and ``count_package_uses``: transaction-count packages (笔数套餐).

A count package is the state of one ``transaction_package`` order beyond what ``orders`` holds:
how many transfers were bought and used, the energy one transfer gets, pause and idle
bookkeeping. Each USDT transfer the scanner sees from the package's address is one
``count_package_uses`` row, unique on its tx hash (a replayed block counts nothing twice),
with the energy the chain says it used and our top-up's transactions.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy import false as sql_false
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import (
    Base,
    CreatedAtMixin,
    StrEnumType,
    TimestampMixin,
    UTCDateTime,
    UUIDType,
    enum_check,
)


class CountPackage(TimestampMixin, Base):
    __tablename__ = "count_packages"
    __table_args__ = (
        CheckConstraint("total_counts > 0", name="total_counts"),
        CheckConstraint("used_counts >= 0 AND used_counts <= total_counts", name="used_counts"),
        CheckConstraint("energy_per_count > 0", name="energy_per_count"),
        CheckConstraint("new_holder_counts IN (1, 2)", name="new_holder_counts"),
        Index("idx_count_packages_address", "address"),
        Index("idx_count_packages_created_at", "created_at", "order_id"),  # console (0031)
    )

    order_id: Mapped[str] = mapped_column(String(100), ForeignKey("orders.id"), primary_key=True)
    #: the customer's address: its USDT transfers are the uses
    address: Mapped[str] = mapped_column(String(50))
    total_counts: Mapped[int] = mapped_column(Integer)
    used_counts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: the energy one transfer needs (resource-consumption config, e.g. 65,000): a use drawing
    #: more than this (a recipient with no USDT, ~130,285) counts ``new_holder_counts``
    energy_per_count: Mapped[int] = mapped_column(BigInteger)
    new_holder_counts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_false())
    last_use_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: idle bookkeeping in chain time (block numbers): idle since this block (the last use, the
    #: resume, or the first lifecycle run after delivery; NULL until then) and the idle
    #: periods charged since it (one fee per period, exactly once: the row is locked)
    idle_since_block: Mapped[int | None] = mapped_column(BigInteger)
    idle_charged: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: a pause or resume whose transactions are still to be stored / delivered ("pause" or
    #: "resume"), and their txids once stored (comma-separated, in delivery order)
    pending_action: Mapped[str | None] = mapped_column(String(10))
    pending_txids: Mapped[str | None] = mapped_column(String(700))
    #: why it ended early (``idle_fee``: the fees used the last counts; ``idle``: unused too
    #: long); NULL: used up or at its lifetime
    end_reason: Mapped[str | None] = mapped_column(String(20))
    #: the unused counts were dealt with (forfeited or refunded) after the order completed
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: what was refunded to the balance for the unused counts (the order's currency)
    refunded_units: Mapped[int | None] = mapped_column(BigInteger)

    @property
    def remaining(self) -> int:
        return self.total_counts - self.used_counts


class CountUseStatus(enum.StrEnum):
    SEEN = "seen"  # recorded by the scanner, not applied yet
    TOPPING_UP = "topping_up"  # counted; the undelegate + delegate pair is stored
    TOPPED_UP = "topped_up"  # the pair was accepted by the node (the scanner confirms it)
    LAST = "last"  # counted; the package is used up: reclaimed, no top-up
    NOT_COUNTED = "not_counted"  # drew no energy from the address (TRX burnt): no top-up
    COUNTED = "counted"  # counted; no top-up: the package was paused meanwhile


class CountUse(TimestampMixin, Base):
    __tablename__ = "count_package_uses"
    __table_args__ = (
        CheckConstraint("counts >= 0", name="counts"),
        CheckConstraint(enum_check("status", CountUseStatus), name="status"),
        Index("idx_count_package_uses_order_id", "order_id"),
        Index("idx_count_package_uses_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(String(100), ForeignKey("orders.id"))
    #: the customer's transfer: one use per transaction, ever
    tx_hash: Mapped[str] = mapped_column(String(100), unique=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    to_address: Mapped[str | None] = mapped_column(String(50))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    #: energy the transfer drew from the address's energy (staked or delegated), burnt-for
    #: energy and the whole, from the block's transaction infos
    energy_used: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    energy_total: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    energy_fee_sun: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    counts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[CountUseStatus] = mapped_column(
        StrEnumType(CountUseStatus),
        default=CountUseStatus.SEEN,
        server_default=CountUseStatus.SEEN.value,
    )
    undelegate_tx_hash: Mapped[str | None] = mapped_column(String(100))
    top_up_tx_hash: Mapped[str | None] = mapped_column(String(100))


class CountChangeKind(enum.StrEnum):
    ADJUST = "adjust"  # an operator added or removed counts (total_before -> total_after)
    IDLE_FEE = "idle_fee"  # an idle period used ``counts`` (actor "system")
    PAUSE = "pause"
    RESUME = "resume"
    ENDED = "ended"  # ended early (idle) or settled: ``counts`` unused, forfeited or refunded


class CountPackageChange(CreatedAtMixin, Base):
    """What changed a count package besides its uses: an operator's adjustment, an idle fee,
    a pause or resume, the settlement of unused counts - who, why, before and after
    (append-only). ``dedupe_key``: a system change happens once (e.g. one idle fee per
    package, idle start and period)."""

    __tablename__ = "count_package_changes"
    __table_args__ = (
        Index("idx_count_package_changes_order_id", "order_id", "created_at"),
        CheckConstraint(enum_check("kind", CountChangeKind), name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(String(100), ForeignKey("orders.id"))
    actor: Mapped[str] = mapped_column(String(100))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("admin_users.id", ondelete="SET NULL")
    )
    total_before: Mapped[int] = mapped_column(Integer)
    total_after: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    kind: Mapped[CountChangeKind] = mapped_column(
        StrEnumType(CountChangeKind),
        default=CountChangeKind.ADJUST,
        server_default=CountChangeKind.ADJUST.value,
    )
    #: counts an idle fee used, or the unused counts at the end
    counts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    dedupe_key: Mapped[str | None] = mapped_column(String(150), unique=True)
