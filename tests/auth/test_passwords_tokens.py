from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
import pytest

from tronrent.auth.passwords import (
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from tronrent.auth.tokens import TokenIssuer
from tronrent.kit.crypto import Secret
from tronrent.kit.errors import Unauthorized, ValidationFailed
from tronrent.kit.time import utcnow

SECRET = Secret("s" * 40)


class TestPasswords:
    def test_argon2id_round_trip(self) -> None:
        hashed = hash_password("correct horse battery")
        assert hashed.startswith("$argon2id$")
        assert "correct horse" not in hashed
        assert verify_password(hashed, "correct horse battery")
        assert not verify_password(hashed, "correct horse batterY")
        assert not verify_password("not-a-hash", "x")
        assert hash_password("same password") != hash_password("same password")  # salted
        assert not needs_rehash(hashed)

    @pytest.mark.parametrize("password", ["short", "", "x" * 257])
    def test_policy(self, password: str) -> None:
        with pytest.raises(ValidationFailed):
            check_password_policy(password)
        check_password_policy("ten chars!")


class TestTokens:
    def test_issue_and_verify(self) -> None:
        issuer = TokenIssuer(SECRET, ttl_seconds=900)
        admin_id = uuid.uuid4()
        access = issuer.issue(admin_id, "operator")
        assert access.expires_in == 900 and access.role == "operator"
        claims = issuer.verify(access.token)
        assert claims.admin_id == admin_id and claims.role == "operator"
        assert claims.expires_at - claims.issued_at == timedelta(seconds=900)
        raw = jwt.decode(access.token, options={"verify_signature": False})
        assert set(raw) == {"sub", "role", "iat", "exp", "iss"}
        assert jwt.get_unverified_header(access.token)["alg"] == "HS256"

    def test_expired(self) -> None:
        issuer = TokenIssuer(SECRET, ttl_seconds=60)
        old = issuer.issue(uuid.uuid4(), "admin", now=utcnow() - timedelta(seconds=61))
        with pytest.raises(Unauthorized) as info:
            issuer.verify(old.token)
        assert info.value.code == "TOKEN_EXPIRED"

    def test_wrong_secret_and_algorithm(self) -> None:
        token = TokenIssuer(Secret("o" * 40), 60).issue(uuid.uuid4(), "admin").token
        with pytest.raises(Unauthorized):
            TokenIssuer(SECRET, 60).verify(token)
        unsigned = jwt.encode(
            {"sub": str(uuid.uuid4()), "role": "admin", "iat": 0, "exp": 2**40, "iss": "tronrent"},
            key=None,
            algorithm="none",
        )
        with pytest.raises(Unauthorized):
            TokenIssuer(SECRET, 60).verify(unsigned)

    def test_missing_claims(self) -> None:
        token = jwt.encode({"sub": "x"}, SECRET.reveal(), algorithm="HS256")
        with pytest.raises(Unauthorized) as info:
            TokenIssuer(SECRET, 60).verify(token)
        assert info.value.code == "INVALID_TOKEN"

    def test_short_secret_rejected(self) -> None:
        with pytest.raises(ValueError, match="32"):
            TokenIssuer(Secret("short"), 60)
