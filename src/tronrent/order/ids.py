"""Order ids: ``<PREFIX><13-digit ms timestamp>_<9 lowercase base36 chars>``.

``FLASH_`` for flash orders (seed 000), ``ORD_`` for package orders, ``TOPUP_`` for balance
top-ups.
"""

from __future__ import annotations

import random
import re
import secrets
from typing import Final

FLASH_PREFIX: Final = "FLASH_"
PACKAGE_PREFIX: Final = "ORD_"
TOP_UP_PREFIX: Final = "TOPUP_"
PREFIXES: Final = (FLASH_PREFIX, PACKAGE_PREFIX, TOP_UP_PREFIX)
SUFFIX_LENGTH: Final = 9
BASE36_ALPHABET: Final = "0123456789abcdefghijklmnopqrstuvwxyz"
# 13 digits: 2001-09-09 .. 2286-11-20 in ms; ASCII only (``\d`` would accept other digits).
_FLASH_ID = re.compile(r"FLASH_[1-9][0-9]{12}_[0-9a-z]{9}")
MAX_FLASH_ORDER_ID_LENGTH: Final = len("FLASH_") + 13 + 1 + SUFFIX_LENGTH
_ORDER_ID = re.compile(r"(FLASH|ORD|TOPUP)_[1-9][0-9]{12}_[0-9a-z]{9}")


_SUFFIXES: Final = len(BASE36_ALPHABET) ** SUFFIX_LENGTH


def base36_suffix(n: int) -> str:
    """``n`` (0 <= n < 36**9) as the 9 base36 digits of an id's suffix, zero-padded."""
    if not 0 <= n < _SUFFIXES:
        raise ValueError("suffix number out of range")
    digits = []
    for _ in range(SUFFIX_LENGTH):
        n, d = divmod(n, 36)
        digits.append(BASE36_ALPHABET[d])
    return "".join(reversed(digits))


def new_order_id(prefix: str, now_ms: int, rng: random.Random | None = None) -> str:
    """A new id such as ``ORD_1704067200000_abc123def``: the suffix one uniform draw among the
    36**9 suffixes, from the OS CSPRNG by default (one read of it, not one per character)."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown order id prefix {prefix!r}")
    if not 10**12 <= now_ms < 10**13:
        raise ValueError("now_ms must be a 13-digit millisecond timestamp")
    n = rng.randrange(_SUFFIXES) if rng is not None else secrets.randbelow(_SUFFIXES)
    return f"{prefix}{now_ms}_{base36_suffix(n)}"


def new_flash_order_id(now_ms: int, rng: random.Random | None = None) -> str:
    """A new id such as ``FLASH_1704067200000_abc123def`` (suffix from a CSPRNG by default)."""
    return new_order_id(FLASH_PREFIX, now_ms, rng)


def is_order_id(value: object) -> bool:
    """Whether ``value`` is exactly a well-formed order id of any product (the API edge)."""
    return isinstance(value, str) and len(value) <= 40 and _ORDER_ID.fullmatch(value) is not None


def is_flash_order_id(value: object) -> bool:
    """Whether ``value`` is exactly a well-formed flash order id (strict, for the API edge)."""
    return (
        isinstance(value, str)
        and len(value) == MAX_FLASH_ORDER_ID_LENGTH
        and _FLASH_ID.fullmatch(value) is not None
    )


def flash_order_id_timestamp_ms(value: str) -> int:
    """The creation time embedded in a valid id; ``ValueError`` for anything else."""
    if not is_flash_order_id(value):
        raise ValueError("not a flash order id")
    return int(value[len(FLASH_PREFIX) : len(FLASH_PREFIX) + 13])
