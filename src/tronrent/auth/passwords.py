"""argon2id password hashing (argon2-cffi). CPU-bound: call it from a thread in async code."""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from argon2 import Parameters, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tronrent.kit.errors import ValidationFailed

MIN_PASSWORD_LENGTH: Final = 10
MAX_PASSWORD_LENGTH: Final = 256

_hasher = PasswordHasher()


def use_parameters(parameters: Parameters) -> None:
    """Switch the argon2 cost parameters (tests use ``argon2.profiles.CHEAPEST``)."""
    global _hasher
    _hasher = PasswordHasher.from_parameters(parameters)
    dummy_hash.cache_clear()


def check_password_policy(password: str) -> None:
    """Raise :class:`ValidationFailed` unless the password length is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters", "WEAK_PASSWORD"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"password must be at most {MAX_PASSWORD_LENGTH} characters", "WEAK_PASSWORD"
        )


def hash_password(password: str) -> str:
    """argon2id hash (PHC string with salt and parameters)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; False on mismatch or a malformed hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash to verify against for unknown users, so timing does not reveal which names exist."""
    return _hasher.hash("tronrent-no-such-user")
