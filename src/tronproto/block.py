"""BlockHeader.raw encoding, block ID rule and the transaction Merkle root."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from hashlib import sha256
from typing import Any

from tronproto.address import to_raw
from tronproto.pb import field_bytes, field_varint


def block_header_raw_to_bytes(raw: Mapping[str, Any]) -> bytes:
    """Protobuf bytes of BlockHeader.raw from its JSON (hex fields, int fields)."""
    out = bytearray()
    out += field_varint(1, int(raw.get("timestamp") or 0))
    out += field_bytes(2, bytes.fromhex(raw.get("txTrieRoot") or ""))
    out += field_bytes(3, bytes.fromhex(raw.get("parentHash") or ""))
    out += field_varint(7, int(raw.get("number") or 0))
    out += field_varint(8, int(raw.get("witness_id") or 0))
    witness = raw.get("witness_address")
    out += field_bytes(9, to_raw(witness) if witness else b"")
    out += field_varint(10, int(raw.get("version") or 0))
    out += field_bytes(11, bytes.fromhex(raw.get("accountStateRoot") or ""))
    return bytes(out)


def block_id(number: int, header_raw_bytes: bytes) -> bytes:
    """Block ID: sha256(BlockHeader.raw) with its first 8 bytes replaced by the number."""
    return number.to_bytes(8, "big") + sha256(header_raw_bytes).digest()[8:]


def block_header_hash(header_raw_bytes: bytes) -> bytes:
    """The hash the witness signs: sha256(BlockHeader.raw)."""
    return sha256(header_raw_bytes).digest()


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Transaction trie root over sha256(Transaction bytes) leaves; 32 zero bytes when empty."""
    if not leaves:
        return b"\0" * 32
    level = list(leaves)
    while len(level) > 1:
        nxt = [sha256(level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]
