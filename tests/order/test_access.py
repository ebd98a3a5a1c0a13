"""order.access: the customer credential policy (pure), property-tested."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tronrent.order.access import (
    MAX_TOKEN_LENGTH,
    Access,
    OrderTokenInvalid,
    OrderTokenRequired,
    access_of,
    hash_order_token,
    new_order_token,
    require_owner,
    token_matches,
)

tokens = st.text(min_size=1, max_size=MAX_TOKEN_LENGTH)
maybe_tokens = st.none() | st.text(max_size=MAX_TOKEN_LENGTH + 10)


class TestToken:
    def test_fresh_tokens_are_32_random_urlsafe_bytes(self) -> None:
        seen = {new_order_token() for _ in range(200)}
        assert len(seen) == 200
        for token in seen:
            assert len(token) == 43
            raw = base64.urlsafe_b64decode(token + "=")
            assert len(raw) == 32

    @given(tokens)
    def test_hash_is_sha256_hex_and_never_the_token(self, token: str) -> None:
        digest = hash_order_token(token)
        assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")
        assert digest != token
        assert digest == hash_order_token(token)  # deterministic: stored and compared

    def test_known_vector(self) -> None:
        assert hash_order_token("abc") == hashlib.sha256(b"abc").hexdigest()


class TestMatches:
    @given(tokens)
    def test_own_token_matches(self, token: str) -> None:
        assert token_matches(token, hash_order_token(token))

    @given(tokens, tokens)
    def test_other_token_never_matches(self, token: str, other: str) -> None:
        assert token_matches(other, hash_order_token(token)) is (other == token)

    @given(maybe_tokens)
    def test_no_stored_hash_never_matches(self, presented: str | None) -> None:
        assert not token_matches(presented, None)

    @given(tokens)
    def test_the_hash_itself_is_not_a_token(self, token: str) -> None:
        stored = hash_order_token(token)
        assert not token_matches(stored, stored)

    def test_overlong_header_refused(self) -> None:
        token = "x" * (MAX_TOKEN_LENGTH + 1)
        assert not token_matches(token, hash_order_token(token))


class TestPolicy:
    @given(maybe_tokens, st.none() | tokens)
    def test_operator_may_always_act(self, presented: str | None, owner: str | None) -> None:
        stored = None if owner is None else hash_order_token(owner)
        assert require_owner(presented, stored, operator=True) is Access.OPERATOR
        assert access_of(presented, stored, operator=True) is Access.OPERATOR

    @given(tokens)
    def test_owner_may_act(self, token: str) -> None:
        assert require_owner(token, hash_order_token(token), operator=False) is Access.OWNER

    @given(maybe_tokens, tokens)
    def test_anyone_else_refused_and_sees_public(self, presented: str | None, owner: str) -> None:
        stored = hash_order_token(owner)
        if presented == owner:
            return
        assert access_of(presented, stored, operator=False) is Access.PUBLIC
        error: type[Exception] = OrderTokenInvalid if presented else OrderTokenRequired
        with pytest.raises(error) as raised:
            require_owner(presented, stored, operator=False)
        assert raised.value.code in ("ORDER_TOKEN_INVALID", "ORDER_TOKEN_REQUIRED")
        assert "X-Order-Token" in raised.value.message

    @given(maybe_tokens)
    def test_tokenless_order_only_for_operators(self, presented: str | None) -> None:
        with pytest.raises(OrderTokenInvalid, match="Telegram bot"):
            require_owner(presented, None, operator=False)
