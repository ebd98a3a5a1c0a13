"""Flash order ids: ``FLASH_<13-digit ms timestamp>_<9 lowercase base36 chars>`` (seed 000)."""

from __future__ import annotations

import random
import re
from typing import Final

FLASH_PREFIX: Final = "FLASH_"
SUFFIX_LENGTH: Final = 9
BASE36_ALPHABET: Final = "0123456789abcdefghijklmnopqrstuvwxyz"
# 13 digits: 2001-09-09 .. 2286-11-20 in ms; ASCII only (``\d`` would accept other digits).
_FLASH_ID = re.compile(r"FLASH_[1-9][0-9]{12}_[0-9a-z]{9}")
MAX_FLASH_ORDER_ID_LENGTH: Final = len("FLASH_") + 13 + 1 + SUFFIX_LENGTH


def new_flash_order_id(now_ms: int, rng: random.Random | None = None) -> str:
    """A new id such as ``FLASH_1704067200000_abc123def`` (suffix from a CSPRNG by default)."""
    if not 10**12 <= now_ms < 10**13:
        raise ValueError("now_ms must be a 13-digit millisecond timestamp")
    rng = rng or random.SystemRandom()
    suffix = "".join(rng.choice(BASE36_ALPHABET) for _ in range(SUFFIX_LENGTH))
    return f"{FLASH_PREFIX}{now_ms}_{suffix}"


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
