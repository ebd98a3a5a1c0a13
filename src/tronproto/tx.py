"""Transaction.raw <-> java-tron/tronpy JSON `raw_data`, txID, signed Transaction bytes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from hashlib import sha256
from typing import Any, Final

from tronproto.address import InvalidAddressError, to_base58, to_raw
from tronproto.pb import (
    WIRE_LEN,
    WIRE_VARINT,
    DecodeError,
    field_bytes,
    field_varint,
    iter_fields,
    to_int64,
    varint,
)
from tronproto.permission import (
    PermissionFormatError,
    permission_json,
    permission_native,
    permission_to_bytes,
)

TYPE_URL_PREFIX: Final = "type.googleapis.com/protocol."

# Field kinds: A address (21 bytes), I int64, B bytes (hex in JSON), E ResourceCode,
# T AccountType, Z bool, P a Permission message, L repeated Permission.
ADDR, INT, BYTES, ENUM, ACCOUNT_TYPE, BOOL = "A", "I", "B", "E", "T", "Z"
PERM, PERMS = "P", "L"
_LEN_KINDS: Final = (ADDR, BYTES, PERM, PERMS)

RESOURCE_NAMES: Final = ("BANDWIDTH", "ENERGY", "TRON_POWER")
RESOURCE_CODES: Final = {name: i for i, name in enumerate(RESOURCE_NAMES)}
ACCOUNT_TYPE_NAMES: Final = ("Normal", "AssetIssue", "Contract")
ACCOUNT_TYPE_CODES: Final = {name: i for i, name in enumerate(ACCOUNT_TYPE_NAMES)}
_ENUM_NAMES: Final = {ENUM: RESOURCE_NAMES, ACCOUNT_TYPE: ACCOUNT_TYPE_NAMES}
_ENUM_CODES: Final = {ENUM: RESOURCE_CODES, ACCOUNT_TYPE: ACCOUNT_TYPE_CODES}

FieldSpec = tuple[str, int, str]

CONTRACT_SPECS: Final[dict[str, tuple[int, tuple[FieldSpec, ...]]]] = {
    # ContractType 0: proto3 leaves the type field out of the bytes (the default value)
    "AccountCreateContract": (
        0,
        (("owner_address", 1, ADDR), ("account_address", 2, ADDR), ("type", 3, ACCOUNT_TYPE)),
    ),
    "TransferContract": (
        1,
        (("owner_address", 1, ADDR), ("to_address", 2, ADDR), ("amount", 3, INT)),
    ),
    "TriggerSmartContract": (
        31,
        (
            ("owner_address", 1, ADDR),
            ("contract_address", 2, ADDR),
            ("call_value", 3, INT),
            ("data", 4, BYTES),
            ("call_token_value", 5, INT),
            ("token_id", 6, INT),
        ),
    ),
    "AccountPermissionUpdateContract": (
        46,
        (
            ("owner_address", 1, ADDR),
            ("owner", 2, PERM),
            ("witness", 3, PERM),
            ("actives", 4, PERMS),
        ),
    ),
    "FreezeBalanceV2Contract": (
        54,
        (("owner_address", 1, ADDR), ("frozen_balance", 2, INT), ("resource", 3, ENUM)),
    ),
    "UnfreezeBalanceV2Contract": (
        55,
        (("owner_address", 1, ADDR), ("unfreeze_balance", 2, INT), ("resource", 3, ENUM)),
    ),
    "WithdrawExpireUnfreezeContract": (56, (("owner_address", 1, ADDR),)),
    "DelegateResourceContract": (
        57,
        (
            ("owner_address", 1, ADDR),
            ("resource", 2, ENUM),
            ("balance", 3, INT),
            ("receiver_address", 4, ADDR),
            ("lock", 5, BOOL),
            ("lock_period", 6, INT),
        ),
    ),
    "UnDelegateResourceContract": (
        58,
        (
            ("owner_address", 1, ADDR),
            ("resource", 2, ENUM),
            ("balance", 3, INT),
            ("receiver_address", 4, ADDR),
        ),
    ),
    "CancelAllUnfreezeV2Contract": (59, (("owner_address", 1, ADDR),)),
}
CONTRACT_TYPE_BY_NUMBER: Final = {num: name for name, (num, _) in CONTRACT_SPECS.items()}
_FIELDS_BY_NUMBER: Final = {
    name: {num: (fname, kind) for fname, num, kind in fields}
    for name, (_, fields) in CONTRACT_SPECS.items()
}
_KINDS_BY_NAME: Final = {
    name: {fname: kind for fname, _, kind in fields} for name, (_, fields) in CONTRACT_SPECS.items()
}


class TxFormatError(ValueError):
    """Raised when raw_data JSON or bytes cannot be encoded/decoded."""


def _hexbytes(value: Any, what: str) -> bytes:
    if value is None or value == "":
        return b""
    if not isinstance(value, str):
        raise TxFormatError(f"{what} must be a hex string")
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError as exc:
        raise TxFormatError(f"{what} is not valid hex: {value!r}") from exc


def _address(value: Any, what: str) -> bytes:
    if value is None or value == "":
        return b""
    if isinstance(value, str) and len(value) == 42:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raw = b""
        if raw[:1] == b"\x41":
            return raw
    try:
        return to_raw(value)
    except InvalidAddressError as exc:
        raise TxFormatError(f"{what}: invalid address {value!r}") from exc


def _int(value: Any, what: str) -> int:
    if type(value) is int and -(1 << 63) <= value < (1 << 63):
        return value
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        return int(value)
    try:
        result = int(value)
    except (TypeError, ValueError) as exc:
        raise TxFormatError(f"{what} must be an integer") from exc
    if not -(1 << 63) <= result < (1 << 63):
        raise TxFormatError(f"{what} out of int64 range")
    return result


def _enum(value: Any, what: str, codes: Mapping[str, int] = RESOURCE_CODES) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, str):
        if value in codes:
            return codes[value]
        raise TxFormatError(f"{what}: unknown value {value!r}")
    return _int(value, what)


_ENCODE_SPECS: Final = {
    name: tuple(
        (fname, kind, bytes([(num << 3) | (WIRE_LEN if kind in _LEN_KINDS else WIRE_VARINT)]))
        for fname, num, kind in fields
    )
    for name, (_, fields) in CONTRACT_SPECS.items()
}


def contract_value_to_bytes(contract_type: str, value: Mapping[str, Any]) -> bytes:
    """Encode the `parameter.value` JSON of one contract."""
    spec = _ENCODE_SPECS.get(contract_type)
    if spec is None:
        raise TxFormatError(f"unsupported contract type {contract_type!r}")
    out = bytearray()
    for fname, kind, tag in spec:
        v = value.get(fname)
        if v is None:
            continue
        if kind == ADDR:
            b = _address(v, fname)
            if b:
                out += tag
                out.append(len(b))
                out += b
        elif kind == INT:
            n = _int(v, fname)
            if n:
                out += tag
                out += varint(n)
        elif kind == BYTES:
            b = _hexbytes(v, fname)
            if b:
                out += tag
                out += varint(len(b))
                out += b
        elif kind in (ENUM, ACCOUNT_TYPE):
            n = _enum(v, fname, _ENUM_CODES[kind])
            if n:
                out += tag
                out += varint(n)
        elif kind in (PERM, PERMS):
            items = v if kind == PERMS else [v]
            if not isinstance(items, list):
                raise TxFormatError(f"{fname} must be a list")
            for item in items:
                try:
                    b = permission_to_bytes(item)
                except PermissionFormatError as exc:
                    raise TxFormatError(f"{fname}: {exc}") from None
                out += tag
                out += varint(len(b))
                out += b
        elif v:
            out += tag
            out.append(1)
    return bytes(out)


def contract_to_bytes(contract: Mapping[str, Any]) -> bytes:
    """Encode one Transaction.Contract from JSON."""
    ctype = contract.get("type")
    if not isinstance(ctype, str):
        raise TxFormatError("contract.type missing")
    spec = CONTRACT_SPECS.get(ctype)
    if spec is None:
        raise TxFormatError(f"unsupported contract type {ctype!r}")
    param = contract.get("parameter") or {}
    type_url = param.get("type_url") or TYPE_URL_PREFIX + ctype
    value = contract_value_to_bytes(ctype, param.get("value") or {})
    any_bytes = field_bytes(1, type_url.encode()) + field_bytes(2, value)
    out = field_varint(1, spec[0]) + field_bytes(2, any_bytes)
    if contract.get("provider"):
        out += field_bytes(3, _hexbytes(contract["provider"], "provider"))
    if contract.get("ContractName"):
        out += field_bytes(4, _hexbytes(contract["ContractName"], "ContractName"))
    pid = _int(contract.get("Permission_id"), "Permission_id")
    if pid:
        out += field_varint(5, pid)
    return out


def _memo_bytes(value: Any) -> bytes:
    if not value:
        return b""
    if not isinstance(value, str):
        raise TxFormatError("data must be a string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        return value.encode()


def raw_data_to_bytes(raw_data: Mapping[str, Any]) -> bytes:
    """Protobuf bytes of Transaction.raw from java-tron/tronpy JSON `raw_data`."""
    if not isinstance(raw_data, Mapping):
        raise TxFormatError("raw_data must be an object")
    out = bytearray()
    out += field_bytes(1, _hexbytes(raw_data.get("ref_block_bytes"), "ref_block_bytes"))
    out += field_varint(3, _int(raw_data.get("ref_block_num"), "ref_block_num"))
    out += field_bytes(4, _hexbytes(raw_data.get("ref_block_hash"), "ref_block_hash"))
    out += field_varint(8, _int(raw_data.get("expiration"), "expiration"))
    out += field_bytes(10, _memo_bytes(raw_data.get("data")))
    contracts = raw_data.get("contract") or []
    if not isinstance(contracts, Sequence):
        raise TxFormatError("contract must be a list")
    for contract in contracts:
        out += field_bytes(11, contract_to_bytes(contract))
    if raw_data.get("scripts"):
        out += field_bytes(12, _hexbytes(raw_data["scripts"], "scripts"))
    out += field_varint(14, _int(raw_data.get("timestamp"), "timestamp"))
    out += field_varint(18, _int(raw_data.get("fee_limit"), "fee_limit"))
    return bytes(out)


def txid_bytes(raw_bytes: bytes) -> bytes:
    """txID = sha256(Transaction.raw bytes)."""
    return sha256(raw_bytes).digest()


def txid(raw_data: Mapping[str, Any]) -> str:
    """txID hex of a JSON raw_data."""
    return sha256(raw_data_to_bytes(raw_data)).hexdigest()


def _addr_json(raw: bytes, visible: bool) -> str:
    return to_base58(raw) if visible else raw.hex()


def contract_value_from_bytes(contract_type: str, buf: bytes, visible: bool) -> dict[str, Any]:
    """Decode a contract's `parameter.value` bytes to JSON (defaults omitted)."""
    kinds = _KINDS_BY_NAME[contract_type]
    out = _native_value(contract_type, buf)
    for fname, v in out.items():
        kind = kinds[fname]
        if kind == ADDR:
            out[fname] = _addr_json(v, visible)
        elif kind == BYTES:
            out[fname] = v.hex()
        elif kind in (ENUM, ACCOUNT_TYPE):
            names = _ENUM_NAMES[kind]
            out[fname] = names[v] if 0 <= v < len(names) else v
        elif kind == PERM:
            out[fname] = permission_json(v, visible)
        elif kind == PERMS:
            out[fname] = [permission_json(p, visible) for p in v]
    return out


def _contract_parts(buf: bytes) -> tuple[str, bytes | None, bytes, int]:
    """(type name, type_url bytes or None, parameter value bytes, Permission_id) of a Contract."""
    ctype_num = 0
    param = b""
    pid = 0
    for num, _wire, v in iter_fields(buf):
        if num == 1 and isinstance(v, int):
            ctype_num = v
        elif num == 2 and isinstance(v, bytes):
            param = v
        elif num == 5 and isinstance(v, int):
            pid = v
    ctype = CONTRACT_TYPE_BY_NUMBER.get(ctype_num)
    if ctype is None:
        raise DecodeError(f"unsupported contract type number {ctype_num}")
    type_url: bytes | None = None
    value = b""
    for num, _wire, v in iter_fields(param):
        if num == 1 and isinstance(v, bytes):
            type_url = v
        elif num == 2 and isinstance(v, bytes):
            value = v
    return ctype, type_url, value, pid


def contract_from_bytes(buf: bytes, visible: bool) -> dict[str, Any]:
    """Decode one Transaction.Contract."""
    ctype, type_url, value, pid = _contract_parts(buf)
    out: dict[str, Any] = {
        "parameter": {
            "value": contract_value_from_bytes(ctype, value, visible),
            "type_url": TYPE_URL_PREFIX + ctype if type_url is None else type_url.decode(),
        },
        "type": ctype,
    }
    if pid:
        out["Permission_id"] = pid
    return out


def raw_data_from_bytes(buf: bytes, visible: bool = False) -> dict[str, Any]:
    """Decode Transaction.raw bytes to java-tron style JSON `raw_data`."""
    out: dict[str, Any] = {}
    contracts: list[dict[str, Any]] = []
    for num, _wire, v in iter_fields(buf):
        if isinstance(v, bytes):
            if num == 1:
                out["ref_block_bytes"] = v.hex()
            elif num == 4:
                out["ref_block_hash"] = v.hex()
            elif num == 10:
                out["data"] = v.hex()
            elif num == 11:
                contracts.append(contract_from_bytes(v, visible))
        elif num == 3:
            out["ref_block_num"] = to_int64(v)
        elif num == 8:
            out["expiration"] = to_int64(v)
        elif num == 14:
            out["timestamp"] = to_int64(v)
        elif num == 18:
            out["fee_limit"] = to_int64(v)
    out["contract"] = contracts
    return out


CONTRACT_RESULTS: Final = (
    "DEFAULT",
    "SUCCESS",
    "REVERT",
    "BAD_JUMP_DESTINATION",
    "OUT_OF_MEMORY",
    "PRECOMPILED_CONTRACT",
    "STACK_TOO_SMALL",
    "STACK_TOO_LARGE",
    "ILLEGAL_OPERATION",
    "STACK_OVERFLOW",
    "OUT_OF_ENERGY",
    "OUT_OF_TIME",
    "JVM_STACK_OVER_FLOW",
    "UNKNOWN",
    "TRANSFER_FAILED",
    "INVALID_CODE",
)
CONTRACT_RESULT_CODES: Final = {name: i for i, name in enumerate(CONTRACT_RESULTS)}


def transaction_to_bytes(
    raw_bytes: bytes, signatures: Sequence[bytes], contract_ret: str | None = None
) -> bytes:
    """Protobuf bytes of a whole Transaction (raw_data, signatures, optional ret)."""
    out = bytearray(field_bytes(1, raw_bytes))
    for sig in signatures:
        out += varint((2 << 3) | WIRE_LEN) + varint(len(sig)) + sig
    if contract_ret is not None:
        result = field_varint(3, CONTRACT_RESULT_CODES.get(contract_ret, 0))
        out += varint((5 << 3) | WIRE_LEN) + varint(len(result)) + result
    return bytes(out)


def transaction_from_bytes(buf: bytes) -> tuple[bytes, list[bytes]]:
    """Split Transaction bytes into (raw bytes, [signatures])."""
    raw = b""
    sigs: list[bytes] = []
    for num, _wire, v in iter_fields(buf):
        if num == 1 and isinstance(v, bytes):
            raw = v
        elif num == 2 and isinstance(v, bytes):
            sigs.append(v)
    return raw, sigs


def ref_block_fields(block_id_hex: str) -> tuple[str, str]:
    """(ref_block_bytes, ref_block_hash) for a reference block ID (TaPoS)."""
    return block_id_hex[12:16], block_id_hex[16:32]


class DecodedRaw:
    """Transaction.raw decoded for a node: native values (addresses as 21 raw bytes)."""

    __slots__ = (
        "contracts",
        "expiration",
        "fee_limit",
        "has_memo",
        "ref_block_bytes",
        "ref_block_hash",
        "timestamp",
    )

    def __init__(self) -> None:
        self.ref_block_bytes = b""
        self.ref_block_hash = b""
        self.expiration = 0
        self.timestamp = 0
        self.fee_limit = 0
        self.has_memo = False
        # (contract type name, value with native types, Permission_id)
        self.contracts: list[tuple[str, dict[str, Any], int]] = []


def _native_value(contract_type: str, buf: bytes) -> dict[str, Any]:
    by_num = _FIELDS_BY_NUMBER[contract_type]
    out: dict[str, Any] = {}
    for num, wire, v in iter_fields(buf):
        spec = by_num.get(num)
        if spec is None:
            continue
        fname, kind = spec
        if kind in (PERM, PERMS):
            if wire != WIRE_LEN or not isinstance(v, bytes):
                raise DecodeError(f"{fname}: wrong wire type")
            try:
                perm = permission_native(v)
            except UnicodeDecodeError as exc:
                raise DecodeError(f"{fname}: {exc}") from None
            if kind == PERM:
                out[fname] = perm
            else:
                out.setdefault(fname, []).append(perm)
        elif kind in (ADDR, BYTES):
            if wire != WIRE_LEN or not isinstance(v, bytes):
                raise DecodeError(f"{fname}: wrong wire type")
            if kind == ADDR and len(v) != 21:
                raise DecodeError(f"{fname}: address must be 21 bytes")
            out[fname] = v
        else:
            if wire != WIRE_VARINT or not isinstance(v, int):
                raise DecodeError(f"{fname}: wrong wire type")
            out[fname] = to_int64(v) if kind == INT else (bool(v) if kind == BOOL else v)
    return out


def decode_raw(buf: bytes) -> DecodedRaw:
    """One-pass decode of Transaction.raw bytes with native values (node hot path)."""
    out = DecodedRaw()
    for num, _wire, v in iter_fields(buf):
        if isinstance(v, bytes):
            if num == 11:
                ctype, _type_url, value, pid = _contract_parts(v)
                out.contracts.append((ctype, _native_value(ctype, value), pid))
            elif num == 1:
                out.ref_block_bytes = v
            elif num == 4:
                out.ref_block_hash = v
            elif num == 10:
                out.has_memo = bool(v)
        elif num == 8:
            out.expiration = to_int64(v)
        elif num == 14:
            out.timestamp = to_int64(v)
        elif num == 18:
            out.fee_limit = to_int64(v)
    return out
