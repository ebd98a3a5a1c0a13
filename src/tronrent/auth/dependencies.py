"""FastAPI dependencies that protect admin routes.

``AdminUserDep`` (any active account), ``OperatorDep`` (role admin or operator) and ``AdminDep``
(role admin) resolve the bearer token to the :class:`AdminUser` row; build others with
:func:`require_role`.

Raises:
    Unauthorized (401): no bearer token, a malformed, forged or expired token, or an account
        that no longer exists or was deactivated.
    Forbidden (403): a valid token whose account's role is not allowed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tronrent.api.deps import SessionDep, StateDep
from tronrent.auth.service import admin as admin_service
from tronrent.kit.audit import Actor
from tronrent.kit.db import release_write_lock
from tronrent.kit.errors import Forbidden, Unauthorized
from tronrent.models.admin_user import AdminRole, AdminUser

_bearer = HTTPBearer(auto_error=False, description="JWT from POST /api/auth/login")


async def get_current_admin(
    state: StateDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AdminUser:
    """The active admin account of the bearer token (401 otherwise)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token: log in at POST /api/auth/login", "NOT_LOGGED_IN")
    claims = state.tokens.verify(credentials.credentials)
    user = await admin_service.get_active(session, claims.admin_id)
    if user is None:
        raise Unauthorized("account not found or disabled", "ACCOUNT_DISABLED")
    # SQLite: this read does not keep the write lock through what the route does next (a
    # node call, for several admin routes); the route's own statements begin anew
    await release_write_lock(session)
    return user


AdminUserDep = Annotated[AdminUser, Depends(get_current_admin)]


def require_role(*roles: AdminRole | str) -> Callable[[AdminUser], Awaitable[AdminUser]]:
    """Dependency: the current account, 403 unless its role (from the database) is in ``roles``."""
    allowed = frozenset(AdminRole(r) for r in roles)
    names = " or ".join(sorted(r.value for r in allowed))

    async def dependency(user: AdminUserDep) -> AdminUser:
        if AdminRole(user.role) not in allowed:
            raise Forbidden(f"this action needs the {names} role", "ROLE_NOT_ALLOWED")
        return user

    dependency.__name__ = f"require_role_{'_'.join(sorted(r.value for r in allowed))}"
    return dependency


require_admin = require_role(AdminRole.ADMIN)
require_operator = require_role(AdminRole.ADMIN, AdminRole.OPERATOR)

AdminDep = Annotated[AdminUser, Depends(require_admin)]
OperatorDep = Annotated[AdminUser, Depends(require_operator)]


def actor_of(user: AdminUser) -> Actor:
    """The admin account of the request as the actor of a recorded change."""
    return Actor.admin(user.username, user.id)
