from __future__ import annotations

from datetime import UTC, datetime

from tronrent.kit.time import from_ms, isoformat, now_ms, to_ms, utcnow


def test_utcnow_is_aware() -> None:
    assert utcnow().tzinfo is UTC


def test_ms_round_trip_exact() -> None:
    assert to_ms(from_ms(1_704_067_200_123)) == 1_704_067_200_123
    assert from_ms(1_704_067_200_000) == datetime(2024, 1, 1, tzinfo=UTC)
    assert abs(now_ms() - to_ms(utcnow())) < 5_000


def test_isoformat() -> None:
    assert (
        isoformat(datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)) == "2024-01-01T00:00:00.123Z"
    )
