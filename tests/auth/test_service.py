"""AdminService on a real database (rolled-back ``session`` from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import argon2.profiles
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.auth import passwords
from tronrent.auth.service import InvalidCredentials
from tronrent.auth.service import admin as admin_service
from tronrent.kit.errors import Conflict, ValidationFailed
from tronrent.models.admin_user import AdminRole

PASSWORD = "a long enough password"


@pytest.fixture(autouse=True)
def cheap_hashes() -> Iterator[None]:
    passwords.use_parameters(argon2.profiles.CHEAPEST)
    yield


class TestCreate:
    async def test_creates_with_hash(self, session: AsyncSession) -> None:
        user = await admin_service.create(
            session, username="alice", password=PASSWORD, role="operator"
        )
        assert user.role is AdminRole.OPERATOR and user.is_active
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash

    async def test_duplicate(self, session: AsyncSession) -> None:
        await admin_service.create(session, username="bob", password=PASSWORD, role="admin")
        with pytest.raises(Conflict, match="already exists"):
            await admin_service.create(session, username="bob", password=PASSWORD, role="admin")

    @pytest.mark.parametrize(
        ("username", "password", "role", "code"),
        [
            ("ok_name", "short", "admin", "WEAK_PASSWORD"),
            ("a", PASSWORD, "admin", "INVALID_USERNAME"),
            ("bad name!", PASSWORD, "admin", "INVALID_USERNAME"),
            ("ok_name", PASSWORD, "root", "INVALID_ROLE"),
        ],
    )
    async def test_invalid(
        self, session: AsyncSession, username: str, password: str, role: str, code: str
    ) -> None:
        with pytest.raises(ValidationFailed) as info:
            await admin_service.create(session, username=username, password=password, role=role)
        assert info.value.code == code


class TestAuthenticate:
    async def test_success_sets_last_login(self, session: AsyncSession) -> None:
        await admin_service.create(session, username="carol", password=PASSWORD, role="admin")
        user = await admin_service.authenticate(session, username="carol", password=PASSWORD)
        assert user.last_login_at is not None

    async def test_rehashes_weak_hash(self, session: AsyncSession) -> None:
        user = await admin_service.create(session, username="dave", password=PASSWORD, role="admin")
        old_hash = user.password_hash
        passwords.use_parameters(argon2.profiles.RFC_9106_LOW_MEMORY)
        try:
            await admin_service.authenticate(session, username="dave", password=PASSWORD)
        finally:
            passwords.use_parameters(argon2.profiles.CHEAPEST)
        assert user.password_hash != old_hash

    @pytest.mark.parametrize(
        ("username", "password"), [("erin", "wrong password"), ("nobody", PASSWORD)]
    )
    async def test_rejected(self, session: AsyncSession, username: str, password: str) -> None:
        await admin_service.create(session, username="erin", password=PASSWORD, role="admin")
        with pytest.raises(InvalidCredentials, match="invalid username or password"):
            await admin_service.authenticate(session, username=username, password=password)

    async def test_inactive_rejected(self, session: AsyncSession) -> None:
        user = await admin_service.create(
            session, username="frank", password=PASSWORD, role="admin"
        )
        user.is_active = False
        await session.flush()
        with pytest.raises(InvalidCredentials):
            await admin_service.authenticate(session, username="frank", password=PASSWORD)
        assert await admin_service.get_active(session, user.id) is None
