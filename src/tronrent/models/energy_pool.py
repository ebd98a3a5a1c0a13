"""``energy_pools``: pool accounts that stake TRX for energy and delegate it (seed 001)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base, StrEnumType, TimestampMixin, UTCDateTime, UUIDType, enum_check


class PoolStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    MAINTENANCE = "maintenance"


class PoolFlag(enum.StrEnum):
    """Why the system (not an operator) took a pool out of service; see ``EnergyPool.flag``.

    ``account_missing``: no account on chain; ``no_stake``: no TRX staked for energy
    (``frozenV2`` ENERGY is 0); ``key_mismatch``: the stored key cannot sign for the account
    alone (its owner permission names other keys); ``unchecked``: added with ``force`` while
    the chain could not be reached.
    """

    ACCOUNT_MISSING = "account_missing"
    NO_STAKE = "no_stake"
    KEY_MISMATCH = "key_mismatch"
    UNCHECKED = "unchecked"


class EnergyPool(TimestampMixin, Base):
    """A pool account. Energy figures are energy units, money is sun.

    Reservation without over-allocation: allocate with ONE conditional statement ::

        UPDATE energy_pools SET reserved_energy = reserved_energy + :x
         WHERE id = :id AND status = 'active'
           AND available_energy - reserved_energy >= :x
           AND <the daily limit holds: used today (UTC) + :x <= daily_limit>
        -- rowcount 1: reserved; 0: not enough, try the next pool

    which is atomic on both databases (row lock on PostgreSQL, single writer on SQLite). When the
    delegation is confirmed, release the reservation and move the energy in one statement
    (``reserved -= x, available -= x, delegated += x``); when it fails, only ``reserved -= x``.
    The chain sync overwrites ``available_energy`` with what the chain can still delegate; while a
    broadcast delegation is unconfirmed it is counted twice (conservative, never over-allocates),
    which is why there is no ``reserved <= available`` CHECK: the sync must be able to lower
    ``available_energy`` below in-flight reservations.
    """

    __tablename__ = "energy_pools"
    __table_args__ = (
        CheckConstraint("total_energy >= 0", name="total_energy"),
        CheckConstraint("available_energy >= 0", name="available_energy"),
        CheckConstraint("delegated_energy >= 0", name="delegated_energy"),
        CheckConstraint("reserved_energy >= 0", name="reserved_energy"),
        CheckConstraint("priority > 0", name="priority"),
        CheckConstraint("trx_balance_sun >= 0", name="trx_balance_sun"),
        CheckConstraint("cost_per_energy_sun >= 0", name="cost_per_energy_sun"),
        CheckConstraint("used_today >= 0", name="used_today"),
        CheckConstraint("recent_failures >= 0", name="recent_failures"),
        CheckConstraint(
            "min_delegation_amount IS NULL OR max_delegation_amount IS NULL"
            " OR min_delegation_amount <= max_delegation_amount",
            name="delegation_bounds",
        ),
        CheckConstraint(enum_check("status", PoolStatus), name="status"),
        CheckConstraint(enum_check("flag", PoolFlag), name="flag"),
        CheckConstraint(
            "(permission_id IS NULL AND signer_address IS NULL)"
            " OR (permission_id >= 2 AND signer_address IS NOT NULL)",
            name="delegate_only",
        ),
        CheckConstraint("flag IS NULL OR status = 'maintenance'", name="flag_status"),
        Index("idx_energy_pools_status", "status"),
        Index("idx_energy_pools_priority", "priority"),
        Index("idx_energy_pools_available_energy", "available_energy"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    tron_address: Mapped[str] = mapped_column(String(50), unique=True)
    #: the key that signs delegations, encrypted: the owner's, or - for a delegate-only pool
    #: (``permission_id`` set) - the hot key of ``signer_address``
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    #: delegate-only pools: the hot key's address and the id (2+) of the account's active
    #: permission that lets it sign DelegateResource/UnDelegateResource only (owner key offline)
    signer_address: Mapped[str | None] = mapped_column(String(50))
    permission_id: Mapped[int | None] = mapped_column(Integer)
    # allocation bookkeeping (energy units)
    total_energy: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    available_energy: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    delegated_energy: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    reserved_energy: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    trx_balance_sun: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    status: Mapped[PoolStatus] = mapped_column(
        StrEnumType(PoolStatus), default=PoolStatus.ACTIVE, server_default=PoolStatus.ACTIVE.value
    )
    priority: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: the operator's cost of one energy unit, in sun (an input of the allocation score)
    cost_per_energy_sun: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    max_delegation_amount: Mapped[int | None] = mapped_column(BigInteger)
    min_delegation_amount: Mapped[int | None] = mapped_column(BigInteger)
    daily_limit: Mapped[int | None] = mapped_column(BigInteger)
    used_today: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: the UTC day ``used_today`` counts; a new day resets it
    used_today_date: Mapped[date | None] = mapped_column(Date)
    recent_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # last figures read from the chain
    chain_energy_limit: Mapped[int | None] = mapped_column(BigInteger)
    chain_energy_used: Mapped[int | None] = mapped_column(BigInteger)
    chain_delegated_energy_sun: Mapped[int | None] = mapped_column(BigInteger)
    can_delegate_max_sun: Mapped[int | None] = mapped_column(BigInteger)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_sync_error: Mapped[str | None] = mapped_column(Text)
    # Set by the sync (or by an add with force) when the pool is unusable: the status is then
    # ``maintenance``, and the sync puts it back to ``active`` once the account is usable. A
    # pool an operator set to ``inactive`` / ``maintenance`` has no flag and is never reactivated.
    flag: Mapped[PoolFlag | None] = mapped_column(StrEnumType(PoolFlag, 32))
    flag_reason: Mapped[str | None] = mapped_column(String(300))
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: set when an operator removed the pool (``status`` inactive, key erased); such a row stays
    #: for the history that references it and is hidden from every listing
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def delegate_only(self) -> bool:
        """Signs with a hot key that may only delegate and undelegate (the owner key is
        offline): no staking, refunds or activations from it."""
        return self.permission_id is not None
