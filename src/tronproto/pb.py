"""Minimal protobuf wire-format helpers (varint, length-delimited), no generated code."""

from __future__ import annotations

WIRE_VARINT = 0
WIRE_I64 = 1
WIRE_LEN = 2
WIRE_I32 = 5

_U64 = 1 << 64


class DecodeError(ValueError):
    """Raised on malformed protobuf bytes."""


def varint(value: int) -> bytes:
    """Encode an int64/uint64/bool/enum as a varint (negative ints as 10-byte two's complement)."""
    if value < 0:
        value += _U64
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def key(field: int, wire: int) -> bytes:
    return varint((field << 3) | wire)


def field_varint(field: int, value: int) -> bytes:
    """A varint field, or b'' for the proto3 default 0."""
    if not value:
        return b""
    return varint(field << 3) + varint(value)


def field_bytes(field: int, value: bytes) -> bytes:
    """A length-delimited field, or b'' for the proto3 default (empty)."""
    if not value:
        return b""
    return varint((field << 3) | WIRE_LEN) + varint(len(value)) + value


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Read a varint at pos; returns (value, new_pos)."""
    result = 0
    shift = 0
    n = len(buf)
    while True:
        if pos >= n:
            raise DecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def to_int64(value: int) -> int:
    """Interpret an unsigned varint value as a signed int64."""
    return value - _U64 if value >= (1 << 63) else value


def iter_fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """Parse a message into [(field_number, wire_type, value)], value int or bytes."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    n = len(buf)
    while pos < n:
        tag, pos = read_varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if field == 0:
            raise DecodeError("field number 0")
        if wire == WIRE_VARINT:
            value, pos = read_varint(buf, pos)
            out.append((field, wire, value))
        elif wire == WIRE_LEN:
            length, pos = read_varint(buf, pos)
            end = pos + length
            if end > n:
                raise DecodeError("truncated length-delimited field")
            out.append((field, wire, bytes(buf[pos:end])))
            pos = end
        elif wire == WIRE_I64:
            if pos + 8 > n:
                raise DecodeError("truncated fixed64")
            out.append((field, wire, int.from_bytes(buf[pos : pos + 8], "little")))
            pos += 8
        elif wire == WIRE_I32:
            if pos + 4 > n:
                raise DecodeError("truncated fixed32")
            out.append((field, wire, int.from_bytes(buf[pos : pos + 4], "little")))
            pos += 4
        else:
            raise DecodeError(f"unsupported wire type {wire}")
    return out
