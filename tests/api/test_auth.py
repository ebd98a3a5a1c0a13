"""POST /api/auth/login and the role dependencies over HTTP: 401 without/with a bad token,
403 with the wrong role."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
import pytest
from fastapi import APIRouter

from tronrent.api.app import create_app
from tronrent.api.envelope import Envelope, ok
from tronrent.auth.dependencies import AdminDep, AdminUserDep, OperatorDep
from tronrent.config import Settings
from tronrent.kit.time import utcnow

protected = APIRouter(prefix="/api/test")


@protected.get("/admin-only")
async def admin_only(user: AdminDep) -> Envelope[str]:
    return ok(user.username)


@protected.get("/operators")
async def operators(user: OperatorDep) -> Envelope[str]:
    return ok(user.username)


@protected.get("/anyone")
async def anyone(user: AdminUserDep) -> Envelope[str]:
    return ok(user.username)


@pytest.fixture
async def http(settings: Settings, run_app: Any) -> Any:
    async with run_app(create_app(settings, routers=[protected])) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestLogin:
    async def test_success(self, client: Any, make_admin: Any, admin_password: str) -> None:
        username, user = await make_admin("admin")
        response = await client.post(
            "/api/auth/login", json={"username": username, "password": admin_password}
        )
        assert response.status_code == 200
        body = response.json()
        assert body["success"] is True
        data = body["data"]
        assert set(data) == {"accessToken", "tokenType", "expiresIn", "role"}
        assert data["tokenType"] == "Bearer"
        assert data["expiresIn"] == 900
        assert data["role"] == "admin"
        me = await client.get("/api/auth/me", headers=bearer(data["accessToken"]))
        assert me.json()["data"] == {"id": str(user.id), "username": username, "role": "admin"}

    async def test_wrong_password(self, client: Any, make_admin: Any) -> None:
        username, _ = await make_admin("admin")
        response = await client.post(
            "/api/auth/login", json={"username": username, "password": "wrong password!"}
        )
        assert response.status_code == 401
        assert response.json()["error"] == {
            "code": "INVALID_CREDENTIALS",
            "message": "invalid username or password",
        }
        assert "wrong password" not in response.text

    async def test_unknown_user_same_answer(self, client: Any, admin_password: str) -> None:
        response = await client.post(
            "/api/auth/login", json={"username": "nobody_here", "password": admin_password}
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "INVALID_CREDENTIALS"

    async def test_disabled_account(
        self, client: Any, make_admin: Any, admin_password: str
    ) -> None:
        username, _ = await make_admin("admin", active=False)
        response = await client.post(
            "/api/auth/login", json={"username": username, "password": admin_password}
        )
        assert response.status_code == 401

    async def test_missing_fields(self, client: Any) -> None:
        response = await client.post("/api/auth/login", json={"username": "x"})
        assert response.status_code == 422
        assert response.json()["error"]["message"] == "password: field required"


class TestRoleDependencies:
    @pytest.fixture
    async def tokens(self, http: Any, make_admin: Any, login: Any) -> dict[str, str]:
        admin_name, _ = await make_admin("admin")
        operator_name, _ = await make_admin("operator")
        return {"admin": await login(admin_name), "operator": await login(operator_name)}

    @pytest.mark.parametrize("path", ["/api/test/admin-only", "/api/test/anyone"])
    async def test_no_token_is_401(self, http: Any, path: str) -> None:
        response = await http.get(path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "NOT_LOGGED_IN"

    async def test_garbage_token_is_401(self, http: Any) -> None:
        response = await http.get("/api/test/anyone", headers=bearer("not.a.jwt"))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "INVALID_TOKEN"

    async def test_forged_token_is_401(self, http: Any, tokens: dict[str, str]) -> None:
        claims = jwt.decode(tokens["operator"], options={"verify_signature": False})
        claims["role"] = "admin"
        forged = jwt.encode(claims, "another secret of at least 32 chars!!", algorithm="HS256")
        response = await http.get("/api/test/admin-only", headers=bearer(forged))
        assert response.status_code == 401

    async def test_expired_token_is_401(
        self, http: Any, state: Any, make_admin: Any, settings: Settings
    ) -> None:
        _, user = await make_admin("admin")
        old = state.tokens.issue(user.id, "admin", now=utcnow() - timedelta(hours=1))
        response = await http.get("/api/test/admin-only", headers=bearer(old.token))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "TOKEN_EXPIRED"

    async def test_wrong_role_is_403(self, http: Any, tokens: dict[str, str]) -> None:
        response = await http.get("/api/test/admin-only", headers=bearer(tokens["operator"]))
        assert response.status_code == 403
        assert response.json()["error"] == {
            "code": "ROLE_NOT_ALLOWED",
            "message": "this action needs the admin role",
        }

    async def test_roles_allowed(self, http: Any, tokens: dict[str, str]) -> None:
        for role, path in [
            ("admin", "/api/test/admin-only"),
            ("admin", "/api/test/operators"),
            ("operator", "/api/test/operators"),
            ("operator", "/api/test/anyone"),
        ]:
            response = await http.get(path, headers=bearer(tokens[role]))
            assert response.status_code == 200, (role, path, response.text)

    async def test_deactivated_after_login_is_401(
        self, http: Any, make_admin: Any, login: Any, state: Any
    ) -> None:
        username, user = await make_admin("admin")
        token = await login(username)
        async with state.session_maker() as session, session.begin():
            (await session.get(type(user), user.id)).is_active = False
        response = await http.get("/api/test/anyone", headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "ACCOUNT_DISABLED"
