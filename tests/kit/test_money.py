from __future__ import annotations

from decimal import Decimal

import pytest

from tronrent.kit.money import (
    SUN_PER_TRX,
    AmountError,
    format_trx,
    format_usdt,
    parse_trx,
    parse_units,
    parse_usdt,
    sun_to_trx,
    trx_to_sun,
)


@pytest.mark.parametrize(
    ("text", "sun"),
    [
        ("1.5", 1_500_000),
        ("0.000001", 1),
        ("10", 10 * SUN_PER_TRX),
        (" 2.100000 ", 2_100_000),
        ("0", 0),
        ("99999999999.999999", 99_999_999_999_999_999),
    ],
)
def test_parse_trx(text: str, sun: int) -> None:
    assert parse_trx(text) == sun


@pytest.mark.parametrize(
    "bad", ["1.0000001", "abc", "", "1e3", "NaN", "Infinity", "-1", "1_000", "1 000"]
)
def test_parse_trx_rejects(bad: str) -> None:
    with pytest.raises(AmountError):
        parse_trx(bad)


def test_floats_rejected() -> None:
    with pytest.raises(AmountError, match="float"):
        parse_trx(1.5)  # type: ignore[arg-type]
    with pytest.raises(AmountError):
        parse_trx(True)  # type: ignore[arg-type]


def test_negative_allowed_on_request() -> None:
    assert parse_units("-1.5", 6, allow_negative=True) == -1_500_000


@pytest.mark.parametrize(
    ("sun", "text"),
    [(1_500_000, "1.5"), (1, "0.000001"), (0, "0"), (10_000_000, "10"), (-2_500_000, "-2.5")],
)
def test_format_trx(sun: int, text: str) -> None:
    assert format_trx(sun) == text
    assert parse_units(text, 6, allow_negative=True) == sun


def test_format_min_decimals() -> None:
    assert format_trx(1_500_000, min_decimals=2) == "1.50"
    assert format_usdt(10_000_000, min_decimals=2) == "10.00"


def test_decimal_helpers_exact() -> None:
    assert sun_to_trx(1_500_001) == Decimal("1.500001")
    assert trx_to_sun(Decimal("1.500001")) == 1_500_001
    assert parse_usdt("12.345678") == 12_345_678
    with pytest.raises(TypeError):
        format_trx(1.0)  # type: ignore[arg-type]
