"""Local signing: the txID is recomputed from ``raw_data`` and the key must own the transaction.

The private key is passed in by the caller, decrypted just in time, used once and not kept: it is
never stored on an object, logged, or put into an exception message.
"""

from __future__ import annotations

from collections.abc import Mapping
from hashlib import sha256
from typing import Any

from tronproto.address import to_hex
from tronproto.keys import PrivateKey, sign_hash
from tronproto.tx import TxFormatError, raw_data_to_bytes
from tronrent.adapters.tron.errors import SignerKeyMismatch, TransactionRejected, TxidMismatch
from tronrent.adapters.tron.port import SignedTx, UnsignedTx


def compute_txid(raw_data: Mapping[str, Any]) -> tuple[str, str]:
    """``(txid, raw_data_hex)`` computed locally from the JSON ``raw_data``."""
    try:
        raw = raw_data_to_bytes(raw_data)
    except (TxFormatError, ValueError, KeyError, TypeError) as exc:
        raise TransactionRejected("BAD_RAW_DATA", f"cannot encode raw_data: {exc}") from None
    return sha256(raw).hexdigest(), raw.hex()


def verified_unsigned(raw_data: Mapping[str, Any], node_txid: str) -> UnsignedTx:
    """An ``UnsignedTx`` for ``raw_data`` if ``node_txid`` is its hash, else ``TxidMismatch``."""
    txid, raw_hex = compute_txid(raw_data)
    if txid != node_txid.lower():
        raise TxidMismatch(txid, node_txid)
    return UnsignedTx(txid=txid, raw_data=raw_data, raw_data_hex=raw_hex)


def _load_key(private_key: bytes | str) -> PrivateKey:
    try:
        if isinstance(private_key, bytes):
            return PrivateKey(private_key)
        return PrivateKey.from_hex(private_key.strip())
    except ValueError:
        # Never echo the value: it is (almost) a private key.
        raise SignerKeyMismatch("the private key is malformed") from None


def sign_transaction(tx: UnsignedTx, private_key: bytes | str) -> SignedTx:
    """Sign ``tx`` with ``private_key`` (32 bytes or 64 hex chars).

    Recomputes the txID from ``raw_data`` (``TxidMismatch`` if it differs from ``tx.txid``) and
    checks that the key's address is the contract's owner (``SignerKeyMismatch``) before signing
    - unless the contract names an active permission (``Permission_id`` 2 or more): then the key
    is one of that permission's (a delegate-only key) and the chain checks it.
    """
    txid, raw_hex = compute_txid(tx.raw_data)
    if txid != tx.txid.lower():
        raise TxidMismatch(txid, tx.txid)
    key = _load_key(private_key)
    try:
        contract = tx.raw_data["contract"][0]
        owner = to_hex(str(contract["parameter"]["value"]["owner_address"]))
        permission_id = int(contract.get("Permission_id") or 0)
    except (KeyError, IndexError, TypeError, ValueError):
        raise TransactionRejected("BAD_RAW_DATA", "raw_data has no owner address") from None
    if permission_id < 2 and key.address_hex != owner.lower():
        raise SignerKeyMismatch("the private key does not belong to the transaction owner")
    signature = sign_hash(key.secret, bytes.fromhex(txid)).hex()
    return SignedTx(txid=txid, raw_data=tx.raw_data, raw_data_hex=raw_hex, signature=(signature,))
