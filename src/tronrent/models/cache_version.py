"""``cache_versions``: a token per data set that processes cache, replaced at every change."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from tronrent.kit.db import Base


class CacheVersion(Base):
    """One row per cached data set (``name``); ``token`` is replaced by a random one, by
    triggers on the data set's tables, in every transaction that changes them (0036): a process
    that holds a copy read with token T may use it as long as the row still says T. Random,
    not a counter: two databases (or one restored from a backup) never give different data the
    same token."""

    __tablename__ = "cache_versions"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    token: Mapped[str] = mapped_column(String(64))
