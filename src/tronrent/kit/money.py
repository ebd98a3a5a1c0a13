"""Money in integer base units: TRX in sun, USDT (TRC20) in 6-decimal base units. Never floats.

``Decimal`` appears only at the edges: parsing what a human typed and formatting for display.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Final

SUN_PER_TRX: Final = 1_000_000
TRX_DECIMALS: Final = 6
USDT_DECIMALS: Final = 6
USDT_UNITS_PER_USDT: Final = 10**USDT_DECIMALS


class AmountError(ValueError):
    """A textual amount that is not an exact, well-formed decimal of the allowed precision."""


def parse_units(value: str | Decimal | int, decimals: int, *, allow_negative: bool = False) -> int:
    """Exact decimal amount -> integer base units (``"1.5"``, 6 -> ``1_500_000``).

    Rejects floats (inexact), non-numbers, NaN/Infinity, exponents that hide precision loss and
    more fractional digits than ``decimals``.
    """
    if isinstance(value, bool | float):
        raise AmountError("amount must be given as a string or Decimal, not a float")
    if isinstance(value, int):
        dec = Decimal(value)
    elif isinstance(value, Decimal):
        dec = value
    elif isinstance(value, str):
        text = value.strip()
        if not text or any(ch in text for ch in "eE_ "):
            raise AmountError(f"not a decimal amount: {value!r}")
        try:
            dec = Decimal(text)
        except InvalidOperation:
            raise AmountError(f"not a decimal amount: {value!r}") from None
    else:
        raise AmountError(f"unsupported amount type: {type(value).__name__}")
    if not dec.is_finite():
        raise AmountError(f"not a finite amount: {value!r}")
    if dec < 0 and not allow_negative:
        raise AmountError(f"amount must not be negative: {value!r}")
    scaled = dec.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise AmountError(f"amount has more than {decimals} decimal places: {value!r}")
    return int(scaled)


def format_units(units: int, decimals: int, *, min_decimals: int = 0) -> str:
    """Base units -> decimal text without trailing zeros (``1_500_000`` -> ``"1.5"``)."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise TypeError("units must be an int")
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**decimals)
    frac_text = f"{frac:0{decimals}d}".rstrip("0") if decimals else ""
    if len(frac_text) < min_decimals:
        frac_text = frac_text.ljust(min_decimals, "0")
    return f"{sign}{whole}.{frac_text}" if frac_text else f"{sign}{whole}"


def parse_trx(value: str | Decimal | int) -> int:
    """TRX amount text -> sun (``"1.5"`` -> ``1_500_000``); exact or :class:`AmountError`."""
    return parse_units(value, TRX_DECIMALS)


def format_trx(sun: int, *, min_decimals: int = 0) -> str:
    """Sun -> TRX text (``1_500_000`` -> ``"1.5"``)."""
    return format_units(sun, TRX_DECIMALS, min_decimals=min_decimals)


def trx_to_sun(trx: Decimal | int) -> int:
    """Exact TRX Decimal -> sun."""
    return parse_units(trx, TRX_DECIMALS)


def sun_to_trx(sun: int) -> Decimal:
    """Sun -> exact TRX Decimal (for display and JSON numbers)."""
    return Decimal(sun).scaleb(-TRX_DECIMALS)


def parse_usdt(value: str | Decimal | int) -> int:
    """USDT amount text -> base units (6 decimals)."""
    return parse_units(value, USDT_DECIMALS)


def format_usdt(units: int, *, min_decimals: int = 0) -> str:
    """USDT base units -> text."""
    return format_units(units, USDT_DECIMALS, min_decimals=min_decimals)
