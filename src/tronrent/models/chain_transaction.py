"""``chain_transactions``: signed transactions stored BEFORE broadcast (exactly-once)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import (
    Base,
    BigIntPK,
    PortableJSON,
    StrEnumType,
    TimestampMixin,
    UTCDateTime,
    UUIDType,
    enum_check,
)


class ChainTxPurpose(enum.StrEnum):
    DELEGATE = "delegate"
    UNDELEGATE = "undelegate"
    REFUND = "refund"
    #: the rest of a payment refunded after its order failed (the policy refund went first)
    REFUND_REST = "refund_rest"
    TRANSFER = "transfer"
    #: a TRX transfer creating the recipient's account before its delegation
    ACTIVATE = "activate"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    WITHDRAW = "withdraw"
    #: a TRX or USDT transfer paying an agent's withdrawal (agent_withdrawals)
    PAYOUT = "payout"
    CANCEL_UNFREEZE = "cancel_unfreeze"


#: an operator's staking transactions of a pool (at most one in flight per pool)
STAKING_PURPOSES = (
    ChainTxPurpose.FREEZE,
    ChainTxPurpose.UNFREEZE,
    ChainTxPurpose.WITHDRAW,
    ChainTxPurpose.CANCEL_UNFREEZE,
)


class ChainTxStatus(enum.StrEnum):
    SIGNED = "signed"  # stored, maybe broadcast (a crash may have hit in between)
    BROADCAST = "broadcast"  # the node accepted it
    CONFIRMED = "confirmed"  # in a block, succeeded
    FAILED = "failed"  # rejected or in a block with a failed result
    EXPIRED = "expired"  # past expiration and provably absent from the chain


#: statuses of a transaction that may still land on chain
LIVE_CHAIN_TX_STATUSES = (ChainTxStatus.SIGNED, ChainTxStatus.BROADCAST, ChainTxStatus.CONFIRMED)
_LIVE_SQL = "status IN ('signed', 'broadcast', 'confirmed')"
_REFUND_SQL = "purpose IN ('refund', 'refund_rest')"
_MONEY_OUT_SQL = "purpose IN ('refund', 'refund_rest', 'activate')"
_STAKING_SQL = (
    "purpose IN ('freeze', 'unfreeze', 'withdraw', 'cancel_unfreeze')"
    " AND status IN ('signed', 'broadcast')"
)


class ChainTransaction(TimestampMixin, Base):
    """A transaction we signed. Store it (txid recomputed from ``raw_data``) and commit, THEN
    broadcast; on restart, look up rows in ``signed``/``broadcast`` by txid and re-broadcast the
    same bytes, or mark them ``expired`` once ``expiration_ms`` has passed and the chain does not
    know them. ``txid`` is UNIQUE; partial unique indexes allow at most ONE live transaction per
    delegation and purpose, per refunded payment and refund purpose (``refund``, then
    ``refund_rest`` when a failed order owes the rest), per activated order and per paid agent
    withdrawal, so two workers can never both sign a delegation, a refund, an activation or a
    payout (a different txid) for the same thing."""

    __tablename__ = "chain_transactions"
    __table_args__ = (
        CheckConstraint(enum_check("purpose", ChainTxPurpose), name="purpose"),
        CheckConstraint(enum_check("status", ChainTxStatus), name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        CheckConstraint("amount_sun >= 0", name="amount"),
        Index("idx_chain_transactions_status", "status"),
        Index("idx_chain_transactions_order_id", "order_id"),
        Index("idx_chain_transactions_delegation_id", "delegation_id"),
        Index(
            "uq_chain_transactions_live_delegation",
            "delegation_id",
            "purpose",
            unique=True,
            postgresql_where=text(f"delegation_id IS NOT NULL AND {_LIVE_SQL}"),
            sqlite_where=text(f"delegation_id IS NOT NULL AND {_LIVE_SQL}"),
        ),
        Index(
            "uq_chain_transactions_live_refund",
            "payment_id",
            "purpose",
            unique=True,
            postgresql_where=text(f"payment_id IS NOT NULL AND {_REFUND_SQL} AND {_LIVE_SQL}"),
            sqlite_where=text(f"payment_id IS NOT NULL AND {_REFUND_SQL} AND {_LIVE_SQL}"),
        ),
        Index(
            "uq_chain_transactions_staking_in_flight",
            "pool_id",
            unique=True,
            postgresql_where=text(f"pool_id IS NOT NULL AND {_STAKING_SQL}"),
            sqlite_where=text(f"pool_id IS NOT NULL AND {_STAKING_SQL}"),
        ),
        Index(
            "uq_chain_transactions_live_activation",
            "order_id",
            unique=True,
            postgresql_where=text(f"purpose = 'activate' AND {_LIVE_SQL}"),
            sqlite_where=text(f"purpose = 'activate' AND {_LIVE_SQL}"),
        ),
        Index(
            "uq_chain_transactions_live_payout",
            "withdrawal_id",
            unique=True,
            postgresql_where=text(f"withdrawal_id IS NOT NULL AND {_LIVE_SQL}"),
            sqlite_where=text(f"withdrawal_id IS NOT NULL AND {_LIVE_SQL}"),
        ),
        # an order's story: the transactions of its payments (0029_console_cover)
        Index(
            "idx_chain_transactions_payment_id",
            "payment_id",
            postgresql_where=text("payment_id IS NOT NULL"),
            sqlite_where=text("payment_id IS NOT NULL"),
        ),
        # the overview's refunds and activations of the last days (0029_console_cover)
        Index(
            "idx_chain_transactions_money_out",
            "created_at",
            postgresql_where=text(_MONEY_OUT_SQL),
            sqlite_where=text(_MONEY_OUT_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    purpose: Mapped[ChainTxPurpose] = mapped_column(StrEnumType(ChainTxPurpose))
    txid: Mapped[str] = mapped_column(String(64), unique=True)
    owner_address: Mapped[str] = mapped_column(String(50))
    to_address: Mapped[str | None] = mapped_column(String(50))
    amount_sun: Mapped[int | None] = mapped_column(BigInteger)
    raw_data: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    raw_data_hex: Mapped[str] = mapped_column(Text)
    signatures: Mapped[list[str]] = mapped_column(PortableJSON)
    expiration_ms: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[ChainTxStatus] = mapped_column(
        StrEnumType(ChainTxStatus),
        default=ChainTxStatus.SIGNED,
        server_default=ChainTxStatus.SIGNED.value,
    )
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[str | None] = mapped_column(String(100), ForeignKey("orders.id"))
    delegation_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("energy_delegations.id"))
    payment_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("payments.id"))
    pool_id: Mapped[uuid.UUID | None] = mapped_column(UUIDType, ForeignKey("energy_pools.id"))
    #: the agent withdrawal a payout pays (at most one live payout per withdrawal)
    withdrawal_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("agent_withdrawals.id")
    )
    broadcast_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
