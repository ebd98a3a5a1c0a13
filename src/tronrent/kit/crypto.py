"""Secret box: authenticated encryption of private keys and bot tokens at rest.

Tokens are Fernet (AES-128-CBC + HMAC-SHA256, with a timestamp) under a :class:`MultiFernet`:
the first key encrypts, every key decrypts, :meth:`SecretBox.rotate` re-encrypts an old token
under the current key. Keys come from ``SECRET_KEYS`` (comma list, first = current). Plaintext
is handed out only inside :class:`Secret`, whose ``repr``/``str`` are masked so it cannot leak
into logs or tracebacks by accident.
"""

from __future__ import annotations

import binascii
import hmac
from collections.abc import Iterable
from typing import Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from tronrent.kit.errors import SecretDecryptionError

MASK: Final = "**********"


class Secret:
    """A plaintext secret that never shows itself in ``repr``, ``str`` or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        """The plaintext. Call only at the point of use (signing, Bot API call)."""
        return self._value

    # pydantic's SecretStr spelling, so both can be handled alike
    get_secret_value = reveal

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, format_spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return hmac.compare_digest(self._value.encode(), other._value.encode())
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("Secret cannot be pickled")


def generate_key() -> str:
    """A new random key for ``SECRET_KEYS`` (url-safe base64 of 32 bytes)."""
    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Encrypts with the first key, decrypts with any; never logs or returns bare plaintext."""

    def __init__(self, keys: Iterable[str | bytes | Secret]) -> None:
        fernets: list[Fernet] = []
        for index, key in enumerate(keys):
            text = key.reveal() if isinstance(key, Secret) else key
            raw = text.encode("ascii") if isinstance(text, str) else text
            try:
                fernets.append(Fernet(raw))
            except (ValueError, binascii.Error):
                raise ValueError(f"secret key #{index + 1} is not a valid key") from None
        if not fernets:
            raise ValueError("at least one secret key is required")
        self._multi = MultiFernet(fernets)
        self._current = fernets[0]
        self._key_count = len(fernets)

    @property
    def key_count(self) -> int:
        return self._key_count

    def encrypt(self, plaintext: str | Secret) -> str:
        """Plaintext -> ciphertext token (ASCII, safe to store in a text column)."""
        text = plaintext.reveal() if isinstance(plaintext, Secret) else plaintext
        return self._current.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> Secret:
        """Token -> :class:`Secret`; :class:`SecretDecryptionError` if forged or unknown key."""
        try:
            data = self._multi.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError, ValueError):
            raise SecretDecryptionError(
                "stored secret cannot be decrypted: wrong SECRET_KEYS or tampered data"
            ) from None
        return Secret(data.decode("utf-8"))

    def rotate(self, token: str) -> str:
        """Re-encrypt a token (made under any known key) under the current key."""
        try:
            return self._multi.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError, ValueError):
            raise SecretDecryptionError(
                "stored secret cannot be rotated: wrong SECRET_KEYS or tampered data"
            ) from None

    def is_current(self, token: str) -> bool:
        """True when the token decrypts under the current (first) key."""
        try:
            self._current.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError, ValueError):
            return False
        return True

    def __repr__(self) -> str:
        return f"SecretBox(keys={self._key_count})"
