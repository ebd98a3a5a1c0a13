"""TRON addresses: 21-byte raw form (0x41 + 20 bytes), hex form and Base58Check form."""

from __future__ import annotations

from functools import lru_cache
from hashlib import sha256

ADDRESS_PREFIX = 0x41
ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
ZERO_ADDRESS_HEX = "41" + "00" * 20


class InvalidAddressError(ValueError):
    """Raised when a string or bytes value is not a valid TRON address."""


def b58encode(data: bytes) -> str:
    """Plain base58 (Bitcoin alphabet) encoding."""
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(ALPHABET[r])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    """Plain base58 decoding; raises InvalidAddressError on a bad character."""
    n = 0
    try:
        for c in text:
            n = n * 58 + _INDEX[c]
    except KeyError as exc:
        raise InvalidAddressError(f"invalid base58 character in {text!r}") from exc
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    pad = len(text) - len(text.lstrip("1"))
    return b"\0" * pad + body


def _checksum(payload: bytes) -> bytes:
    return sha256(sha256(payload).digest()).digest()[:4]


def b58check_encode(payload: bytes) -> str:
    """Base58Check: base58(payload + sha256(sha256(payload))[:4])."""
    return b58encode(payload + _checksum(payload))


def b58check_decode(text: str) -> bytes:
    """Decode Base58Check text and verify its checksum."""
    raw = b58decode(text)
    if len(raw) < 5:
        raise InvalidAddressError(f"base58check value too short: {text!r}")
    payload, check = raw[:-4], raw[-4:]
    if _checksum(payload) != check:
        raise InvalidAddressError(f"bad base58check checksum: {text!r}")
    return payload


@lru_cache(maxsize=65536)
def _base58_to_raw(text: str) -> bytes:
    raw = b58check_decode(text)
    if len(raw) != 21 or raw[0] != ADDRESS_PREFIX:
        raise InvalidAddressError(f"not a TRON address: {text!r}")
    return raw


@lru_cache(maxsize=65536)
def _raw_to_base58(raw: bytes) -> str:
    return b58check_encode(raw)


def to_raw(address: str | bytes) -> bytes:
    """Any address form (base58, hex `41...`/`0x...`, 21 or 20 raw bytes) -> 21 raw bytes."""
    if isinstance(address, bytes | bytearray):
        raw = bytes(address)
        if len(raw) == 20:
            raw = b"\x41" + raw
        if len(raw) != 21 or raw[0] != ADDRESS_PREFIX:
            raise InvalidAddressError(f"not a TRON address: {raw.hex()}")
        return raw
    if not isinstance(address, str) or not address:
        raise InvalidAddressError(f"not a TRON address: {address!r}")
    if len(address) == 34 and address[0] == "T":
        return _base58_to_raw(address)
    text = address[2:] if address.startswith(("0x", "0X")) else address
    if len(text) == 40:
        text = "41" + text
    if len(text) == 42:
        try:
            raw = bytes.fromhex(text)
        except ValueError as exc:
            raise InvalidAddressError(f"not a TRON address: {address!r}") from exc
        if raw[0] != ADDRESS_PREFIX:
            raise InvalidAddressError(f"not a TRON address: {address!r}")
        return raw
    return _base58_to_raw(address)


def to_base58(address: str | bytes) -> str:
    """Any address form -> Base58Check (`T...`)."""
    return _raw_to_base58(to_raw(address))


def to_hex(address: str | bytes) -> str:
    """Any address form -> 42 hex chars starting with `41`."""
    return to_raw(address).hex()


def is_valid_base58(text: str) -> bool:
    """True when text is a Base58Check TRON address with a correct checksum."""
    if not isinstance(text, str) or len(text) != 34 or text[0] != "T":
        return False
    try:
        _base58_to_raw(text)
    except InvalidAddressError:
        return False
    return True


def is_valid_address(address: str | bytes) -> bool:
    """True when address is a valid TRON address in any accepted form."""
    try:
        to_raw(address)
    except InvalidAddressError:
        return False
    return True
