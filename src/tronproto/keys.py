"""secp256k1 keys, TRON addresses from public keys, recoverable signatures over txIDs."""

from __future__ import annotations

import os
from dataclasses import dataclass

from coincurve import PrivateKey as _CCPrivateKey
from coincurve import PublicKey as _CCPublicKey
from Crypto.Hash import keccak

from tronproto.address import to_base58

TIP191_PREFIX = b"\x19TRON Signed Message:\n"

try:
    from coincurve._libsecp256k1 import ffi as _ffi
    from coincurve._libsecp256k1 import lib as _lib
    from coincurve.context import GLOBAL_CONTEXT

    _CTX = GLOBAL_CONTEXT.ctx
    _UNCOMPRESSED = _lib.SECP256K1_EC_UNCOMPRESSED
except ImportError:  # pragma: no cover - other coincurve builds: use the public API
    _lib = None


#: the order n of secp256k1's group: a private key is an integer in [1, n - 1]
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class BadSignatureError(ValueError):
    """Raised when a signature is malformed or does not recover to a public key."""


class InvalidPrivateKeyError(ValueError):
    """Not a secp256k1 private key: wrong length, not hex, zero, or not below the curve order.

    The message says which, and never contains the value (it is, nearly, a private key).
    """


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (Ethereum flavour, not SHA3-256)."""
    return keccak.new(digest_bits=256, data=data).digest()


def public_key_to_address(public_key64: bytes) -> bytes:
    """64-byte uncompressed public key (no 0x04 prefix) -> 21-byte TRON address."""
    return b"\x41" + keccak256(public_key64)[-20:]


@dataclass(frozen=True, slots=True)
class PrivateKey:
    """A secp256k1 private key (32 bytes)."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != 32:
            raise InvalidPrivateKeyError("a private key must be 32 bytes")
        if not 0 < int.from_bytes(self.secret, "big") < SECP256K1_ORDER:
            raise InvalidPrivateKeyError(
                "a private key must be between 1 and the secp256k1 curve order minus 1"
            )

    @classmethod
    def from_hex(cls, text: str) -> PrivateKey:
        """64 hex characters, optionally prefixed ``0x`` (surrounding whitespace ignored)."""
        cleaned = text.strip()
        if cleaned[:2] in ("0x", "0X"):
            cleaned = cleaned[2:]
        if len(cleaned) != 64:
            raise InvalidPrivateKeyError("a private key must be 64 hex characters")
        if not _HEX_DIGITS.issuperset(cleaned):
            raise InvalidPrivateKeyError("a private key must be hexadecimal (0-9, a-f)")
        return cls(bytes.fromhex(cleaned))

    @classmethod
    def random(cls) -> PrivateKey:
        while True:
            secret = os.urandom(32)
            try:
                _CCPrivateKey(secret)
            except ValueError:
                continue
            return cls(secret)

    def hex(self) -> str:
        return self.secret.hex()

    @property
    def public_key(self) -> bytes:
        """64-byte uncompressed public key without the 0x04 prefix."""
        if _lib is not None:
            # direct libsecp256k1 calls: coincurve's PrivateKey derives the key pair twice
            pub = _ffi.new("secp256k1_pubkey *")
            if not _lib.secp256k1_ec_pubkey_create(_CTX, pub, self.secret):
                raise InvalidPrivateKeyError("not a valid secp256k1 private key")
            out = _ffi.new("unsigned char[65]")
            outlen = _ffi.new("size_t *", 65)
            _lib.secp256k1_ec_pubkey_serialize(_CTX, out, outlen, pub, _UNCOMPRESSED)
            return bytes(_ffi.buffer(out, 65))[1:]
        return _CCPrivateKey(self.secret).public_key.format(compressed=False)[1:]

    @property
    def address(self) -> bytes:
        """21-byte raw address."""
        return public_key_to_address(self.public_key)

    @property
    def address_hex(self) -> str:
        return self.address.hex()

    @property
    def address_base58(self) -> str:
        return to_base58(self.address)

    def sign_hash(self, msg_hash: bytes) -> bytes:
        """Deterministic (RFC 6979) recoverable signature r||s||v, v in {0, 1}."""
        return sign_hash(self.secret, msg_hash)

    def sign_message(self, message: bytes) -> bytes:
        """TIP-191 message signature with v in {27, 28} (TronWeb signMessageV2)."""
        sig = sign_hash(self.secret, tip191_hash(message))
        return sig[:64] + bytes([sig[64] + 27])


def sign_hash(secret: bytes, msg_hash: bytes) -> bytes:
    """Sign a 32-byte hash; returns 65 bytes r||s||v with v in {0, 1}."""
    if len(msg_hash) != 32:
        raise ValueError("message hash must be 32 bytes")
    if _lib is not None:
        # direct libsecp256k1 calls (RFC 6979 nonces, as coincurve's): coincurve's PrivateKey
        # would derive the public key and the key pair first, ~2/3 of the cost
        if len(secret) != 32:
            raise ValueError("a private key must be 32 bytes")
        sig = _ffi.new("secp256k1_ecdsa_recoverable_signature *")
        if not _lib.secp256k1_ecdsa_sign_recoverable(
            _CTX, sig, msg_hash, secret, _ffi.NULL, _ffi.NULL
        ):
            raise ValueError("not a valid secp256k1 private key")
        out = _ffi.new("unsigned char[64]")
        recid = _ffi.new("int *")
        _lib.secp256k1_ecdsa_recoverable_signature_serialize_compact(_CTX, out, recid, sig)
        return bytes(_ffi.buffer(out, 64)) + bytes([recid[0]])
    return bytes(_CCPrivateKey(secret).sign_recoverable(msg_hash, hasher=None))


def recover_public_key(signature: bytes, msg_hash: bytes) -> bytes:
    """Recover the 64-byte public key from a 65-byte signature (v in {0,1} or {27,28})."""
    if len(signature) != 65 or len(msg_hash) != 32:
        raise BadSignatureError("signature must be 65 bytes and hash 32 bytes")
    v = signature[64]
    if v >= 27:
        v -= 27
    if v not in (0, 1, 2, 3):
        raise BadSignatureError(f"bad recovery id {signature[64]}")
    if _lib is not None:
        # direct libsecp256k1 calls: the node's hot path (coincurve's wrappers cost ~30%)
        sig = _ffi.new("secp256k1_ecdsa_recoverable_signature *")
        if not _lib.secp256k1_ecdsa_recoverable_signature_parse_compact(
            _CTX, sig, signature[:64], v
        ):
            raise BadSignatureError("cannot parse signature")
        pub = _ffi.new("secp256k1_pubkey *")
        if not _lib.secp256k1_ecdsa_recover(_CTX, pub, sig, msg_hash):
            raise BadSignatureError("cannot recover public key")
        out = _ffi.new("unsigned char[65]")
        outlen = _ffi.new("size_t *", 65)
        _lib.secp256k1_ec_pubkey_serialize(_CTX, out, outlen, pub, _UNCOMPRESSED)
        return bytes(_ffi.buffer(out, 65))[1:]
    try:
        pk = _CCPublicKey.from_signature_and_message(
            signature[:64] + bytes([v]), msg_hash, hasher=None
        )
    except Exception as exc:
        raise BadSignatureError(str(exc) or "cannot recover public key") from exc
    return bytes(pk.format(compressed=False)[1:])


_ADDRESS_CACHE: dict[bytes, bytes] = {}
_ADDRESS_CACHE_MAX = 200_000


def recover_address(signature: bytes, msg_hash: bytes) -> bytes:
    """Recover the 21-byte TRON address that signed msg_hash."""
    pub = recover_public_key(signature, msg_hash)
    address = _ADDRESS_CACHE.get(pub)
    if address is None:
        address = public_key_to_address(pub)
        if len(_ADDRESS_CACHE) >= _ADDRESS_CACHE_MAX:
            _ADDRESS_CACHE.clear()
        _ADDRESS_CACHE[pub] = address
    return address


def tip191_hash(message: bytes) -> bytes:
    """keccak256('\\x19TRON Signed Message:\\n' + len(message) + message)."""
    return keccak256(TIP191_PREFIX + str(len(message)).encode() + message)


def recover_message_address(message: bytes, signature: bytes) -> bytes:
    """Recover the signer of a TIP-191 message signature."""
    return recover_address(signature, tip191_hash(message))
