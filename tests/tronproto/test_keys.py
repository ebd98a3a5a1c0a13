"""Private-key parsing: every secp256k1 scalar in [1, n-1] is accepted and gives tronpy's address;
everything else is one ``InvalidPrivateKeyError`` that never echoes the value."""

from __future__ import annotations

import string

import pytest
from coincurve import PrivateKey as CoincurvePrivateKey
from hypothesis import given
from hypothesis import strategies as st
from tronpy.keys import PrivateKey as TronpyKey

from tronproto.keys import SECP256K1_ORDER, InvalidPrivateKeyError, PrivateKey, sign_hash

valid_scalars = st.integers(min_value=1, max_value=SECP256K1_ORDER - 1)
out_of_range = st.one_of(st.just(0), st.integers(min_value=SECP256K1_ORDER, max_value=2**256 - 1))
non_hex_chars = st.characters(
    blacklist_characters=string.hexdigits, blacklist_categories=("Cs",)
).filter(lambda c: not c.isspace())


class TestFromHex:
    @given(valid_scalars, st.sampled_from(["", "0x", "0X"]), st.booleans())
    def test_valid_scalar_round_trips_to_the_same_address(
        self, k: int, prefix: str, upper: bool
    ) -> None:
        text = f"{k:064x}"
        key = PrivateKey.from_hex(prefix + (text.upper() if upper else text))
        assert key.hex() == text
        assert int.from_bytes(key.secret, "big") == k
        assert key.address_base58 == TronpyKey(key.secret).public_key.to_base58check_address()
        assert PrivateKey.from_hex(key.hex()).address == key.address

    @given(out_of_range)
    def test_zero_and_not_below_the_order_are_refused(self, k: int) -> None:
        with pytest.raises(InvalidPrivateKeyError, match="curve order") as info:
            PrivateKey.from_hex(f"{k:064x}")
        assert f"{k:064x}" not in str(info.value)

    @given(st.text(alphabet=string.hexdigits, max_size=80).filter(lambda t: len(t) != 64))
    def test_wrong_length_is_refused(self, text: str) -> None:
        with pytest.raises(InvalidPrivateKeyError, match="64 hex characters"):
            PrivateKey.from_hex(text)

    @given(
        st.integers(min_value=1, max_value=SECP256K1_ORDER - 1),
        st.integers(min_value=0, max_value=63),
        non_hex_chars,
    )
    def test_non_hex_is_refused(self, k: int, at: int, bad: str) -> None:
        text = f"{k:064x}"
        text = text[:at] + bad + text[at + 1 :]
        with pytest.raises(InvalidPrivateKeyError):
            PrivateKey.from_hex(text)

    @pytest.mark.parametrize("secret", [b"", b"\x01" * 31, b"\x01" * 33])
    def test_raw_secret_of_wrong_length(self, secret: bytes) -> None:
        with pytest.raises(InvalidPrivateKeyError, match="32 bytes"):
            PrivateKey(secret)

    def test_order_minus_one_is_the_largest_key(self) -> None:
        assert PrivateKey.from_hex(f"{SECP256K1_ORDER - 1:064x}").address_base58.startswith("T")
        with pytest.raises(InvalidPrivateKeyError):
            PrivateKey.from_hex(f"{SECP256K1_ORDER:064x}")


@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_direct_signing_is_coincurves(secret: bytes, msg_hash: bytes) -> None:
    """`sign_hash` and `PrivateKey.public_key` call libsecp256k1 directly: the same bytes as
    coincurve's wrappers (RFC 6979: deterministic), and the same refusal of a bad key."""
    try:
        theirs = CoincurvePrivateKey(secret)
    except ValueError:
        with pytest.raises(ValueError):
            sign_hash(secret, msg_hash)
        return
    assert sign_hash(secret, msg_hash) == bytes(theirs.sign_recoverable(msg_hash, hasher=None))
    assert PrivateKey(secret).public_key == theirs.public_key.format(compressed=False)[1:]
