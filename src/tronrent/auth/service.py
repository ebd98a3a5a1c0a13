"""Admin account use cases. Methods take ``session`` first and never commit."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.auth.passwords import (
    check_password_policy,
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)
from tronrent.kit.errors import Conflict, Unauthorized, ValidationFailed
from tronrent.kit.logging import get_logger
from tronrent.kit.time import utcnow
from tronrent.models.admin_user import AdminRole, AdminUser

_USERNAME: Final = re.compile(r"^[A-Za-z0-9_.@-]{3,50}$")
_log = get_logger("tronrent.auth")


class InvalidCredentials(Unauthorized):
    default_code = "INVALID_CREDENTIALS"


class AdminService:
    async def create(
        self, session: AsyncSession, *, username: str, password: str, role: AdminRole | str
    ) -> AdminUser:
        """Create an account; :class:`Conflict` if the username is taken."""
        username = username.strip()
        if not _USERNAME.match(username):
            raise ValidationFailed(
                "username must be 3-50 characters: letters, digits, '_', '.', '@' or '-'",
                "INVALID_USERNAME",
            )
        try:
            admin_role = AdminRole(role)
        except ValueError:
            allowed = ", ".join(r.value for r in AdminRole)
            raise ValidationFailed(f"role must be one of {allowed}", "INVALID_ROLE") from None
        check_password_policy(password)
        if await self.get_by_username(session, username) is not None:
            raise Conflict(f"admin user {username!r} already exists", "ADMIN_EXISTS")
        user = AdminUser(
            username=username,
            password_hash=await asyncio.to_thread(hash_password, password),
            role=admin_role,
            is_active=True,
        )
        session.add(user)
        await session.flush()
        _log.info("admin.created", admin_id=str(user.id), username=username, role=admin_role)
        return user

    async def authenticate(
        self, session: AsyncSession, *, username: str, password: str
    ) -> AdminUser:
        """The active account with these credentials; :class:`InvalidCredentials` otherwise.

        Unknown names cost one hash verification too, so timing does not reveal them.
        """
        user = await self.get_by_username(session, username.strip())
        hashed = user.password_hash if user is not None else dummy_hash()
        matches = await asyncio.to_thread(verify_password, hashed, password)
        if user is None or not matches or not user.is_active:
            _log.warning("admin.login_failed", username=username)
            raise InvalidCredentials("invalid username or password")
        if needs_rehash(user.password_hash):
            user.password_hash = await asyncio.to_thread(hash_password, password)
        user.last_login_at = utcnow()
        await session.flush()
        _log.info("admin.login", admin_id=str(user.id), role=user.role)
        return user

    async def get_by_username(self, session: AsyncSession, username: str) -> AdminUser | None:
        result = await session.execute(select(AdminUser).where(AdminUser.username == username))
        return result.scalar_one_or_none()

    async def get_active(self, session: AsyncSession, admin_id: uuid.UUID) -> AdminUser | None:
        user = await session.get(AdminUser, admin_id)
        return user if user is not None and user.is_active else None


admin = AdminService()
