"""Time helpers: always timezone-aware UTC."""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def utcnow() -> datetime:
    """Current time as an aware UTC datetime."""
    return datetime.now(UTC)


def now_ms() -> int:
    """Current Unix time in integer milliseconds (TRON timestamps, ``FLASH_<ms>_...`` order ids)."""
    return _time.time_ns() // 1_000_000


def from_ms(ms: int) -> datetime:
    """Aware UTC datetime from Unix milliseconds."""
    return _EPOCH + ms * _MS


def to_ms(moment: datetime) -> int:
    """Unix milliseconds of an aware datetime (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MS


def isoformat(moment: datetime) -> str:
    """ISO 8601 with millisecond precision and a ``Z`` suffix, as in the seed's JSON payloads."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
