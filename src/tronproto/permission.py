"""``Permission`` messages (account permissions) <-> java-tron JSON, and the operations bitmap.

``Permission``: type = 1 (Owner 0, Witness 1, Active 2), id = 2, permission_name = 3 (string),
threshold = 4, parent_id = 5, operations = 6 (32 bytes, bit ``n`` = ContractType ``n``),
keys = 7 (repeated ``Key``: address = 1, weight = 2). Used by ``AccountPermissionUpdateContract``
(owner = 2, witness = 3, actives = 4 repeated).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from tronproto.address import InvalidAddressError, to_base58, to_raw
from tronproto.pb import DecodeError, field_bytes, field_varint, iter_fields, to_int64

PERMISSION_TYPES: Final = ("Owner", "Witness", "Active")
OPERATIONS_BYTES: Final = 32


class PermissionFormatError(ValueError):
    """A permission's JSON cannot be encoded."""


def operations_hex(contract_types: Iterable[int]) -> str:
    """The 32-byte operations bitmap (hex) allowing ``contract_types`` (ContractType numbers)."""
    bits = bytearray(OPERATIONS_BYTES)
    for n in contract_types:
        if not 0 <= n < OPERATIONS_BYTES * 8:
            raise ValueError(f"contract type {n} out of range")
        bits[n // 8] |= 1 << (n % 8)
    return bits.hex()


def operations_of(bitmap_hex: str | None) -> frozenset[int]:
    """ContractType numbers a bitmap (hex) allows; empty for none or a malformed one."""
    try:
        bits = bytes.fromhex(bitmap_hex or "")
    except ValueError:
        return frozenset()
    return frozenset(i for i in range(len(bits) * 8) if bits[i // 8] & (1 << (i % 8)))


def _type_code(value: Any) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, str):
        if value in PERMISSION_TYPES:
            return PERMISSION_TYPES.index(value)
        raise PermissionFormatError(f"unknown permission type {value!r}")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PermissionFormatError("permission type must be a name or a number")


def _int(value: Any, what: str) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PermissionFormatError(f"{what} must be an integer")
    try:
        return int(value)
    except ValueError:
        raise PermissionFormatError(f"{what} must be an integer") from None


def _address(value: Any) -> bytes:
    if isinstance(value, str) and len(value) == 42:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raw = b""
        if raw[:1] == b"\x41":
            return raw
    try:
        return to_raw(value)
    except (InvalidAddressError, TypeError, ValueError):
        raise PermissionFormatError(f"invalid key address {value!r}") from None


def permission_to_bytes(perm: Mapping[str, Any]) -> bytes:
    """Encode one ``Permission`` from its JSON (hex or base58 addresses)."""
    if not isinstance(perm, Mapping):
        raise PermissionFormatError("a permission must be an object")
    name = perm.get("permission_name") or ""
    if not isinstance(name, str):
        raise PermissionFormatError("permission_name must be a string")
    ops = perm.get("operations") or ""
    try:
        ops_bytes = bytes.fromhex(ops) if isinstance(ops, str) else b""
    except ValueError:
        raise PermissionFormatError("operations must be hex") from None
    out = bytearray()
    out += field_varint(1, _type_code(perm.get("type")))
    out += field_varint(2, _int(perm.get("id"), "id"))
    out += field_bytes(3, name.encode())
    out += field_varint(4, _int(perm.get("threshold"), "threshold"))
    out += field_varint(5, _int(perm.get("parent_id"), "parent_id"))
    out += field_bytes(6, ops_bytes)
    keys = perm.get("keys") or []
    if not isinstance(keys, list):
        raise PermissionFormatError("keys must be a list")
    for key in keys:
        if not isinstance(key, Mapping):
            raise PermissionFormatError("a key must be an object")
        body = field_bytes(1, _address(key.get("address"))) + field_varint(
            2, _int(key.get("weight"), "weight")
        )
        out += field_bytes(7, body) if body else bytes((7 << 3 | 2, 0))
    return bytes(out)


def permission_native(buf: bytes) -> dict[str, Any]:
    """Decode ``Permission`` bytes: ``type``/``id``/``threshold``/``parent_id`` ints, the name a
    str, ``operations`` bytes, ``keys`` a list of (21-byte address, weight)."""
    out: dict[str, Any] = {
        "type": 0,
        "id": 0,
        "permission_name": "",
        "threshold": 0,
        "parent_id": 0,
        "operations": b"",
        "keys": [],
    }
    names = {1: "type", 2: "id", 4: "threshold", 5: "parent_id"}
    for num, _wire, v in iter_fields(buf):
        if num in names:
            if not isinstance(v, int):
                raise DecodeError(f"permission {names[num]}: wrong wire type")
            out[names[num]] = to_int64(v)
        elif num in (3, 6, 7):
            if not isinstance(v, bytes):
                raise DecodeError("permission: wrong wire type")
            if num == 3:
                out["permission_name"] = v.decode()
            elif num == 6:
                out["operations"] = v
            else:
                address, weight = b"", 0
                for knum, _kw, kv in iter_fields(v):
                    if knum == 1 and isinstance(kv, bytes):
                        address = kv
                    elif knum == 2 and isinstance(kv, int):
                        weight = to_int64(kv)
                out["keys"].append((address, weight))
    return out


def permission_json(native: Mapping[str, Any], visible: bool) -> dict[str, Any]:
    """java-tron's JSON of a decoded permission (defaults omitted)."""
    out: dict[str, Any] = {}
    if native["type"]:
        kind = native["type"]
        out["type"] = PERMISSION_TYPES[kind] if 0 <= kind < len(PERMISSION_TYPES) else kind
    if native["id"]:
        out["id"] = native["id"]
    if native["permission_name"]:
        out["permission_name"] = native["permission_name"]
    if native["threshold"]:
        out["threshold"] = native["threshold"]
    if native["parent_id"]:
        out["parent_id"] = native["parent_id"]
    if native["operations"]:
        out["operations"] = native["operations"].hex()
    keys = []
    for address, weight in native["keys"]:
        key: dict[str, Any] = {}
        if address:
            key["address"] = to_base58(address) if visible and len(address) == 21 else address.hex()
        if weight:
            key["weight"] = weight
        keys.append(key)
    if keys:
        out["keys"] = keys
    return out
