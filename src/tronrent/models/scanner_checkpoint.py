"""``scanner_checkpoints``: the durable cursor of a block scanner (and its leader lease)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, String, func
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base, UTCDateTime
from tronrent.kit.time import utcnow


class ScannerCheckpoint(Base):
    """``block_number``/``block_id``: the last block fully processed (its id detects forks).
    ``leader_id``/``lease_until``: optional lease so one scanner is active across processes
    (take it with ``UPDATE ... WHERE leader_id = :me OR lease_until < :now``)."""

    __tablename__ = "scanner_checkpoints"
    __table_args__ = (CheckConstraint("block_number >= 0", name="block_number"),)

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_id: Mapped[str | None] = mapped_column(String(64))
    leader_id: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()
    )
