"""Fixtures for HTTP tests: a migrated database, settings, the app with its lifespan running,
and an async client on the ASGI app (no server).

The database comes from ``database_url`` (tests/conftest.py): a fresh migrated database per
test, on SQLite and, when ``TEST_DATABASE_URL`` is set, on PostgreSQL as well.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import argon2.profiles
import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from tronrent.api.app import create_app
from tronrent.api.state import AppState
from tronrent.auth.passwords import use_parameters
from tronrent.auth.service import admin as admin_service
from tronrent.config import Settings
from tronrent.kit.crypto import generate_key
from tronrent.kit.logging import configure_logging

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session", autouse=True)
def fast_setup() -> None:
    """The service's own log pipeline (structlog's default renderer is slow on tracebacks) and
    argon2's cheapest parameters (still real argon2id hashes)."""
    configure_logging("info", stream=sys.stderr)
    use_parameters(argon2.profiles.CHEAPEST)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path,
            "secret_keys": [SecretStr(generate_key())],
            "jwt_secret": SecretStr("x" * 40),
            "rate_limit_per_minute": 0,
            "redis_url": None,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str) -> Settings:
    """Settings on a fresh migrated database (``database_url`` from tests/conftest.py: SQLite,
    and PostgreSQL too when TEST_DATABASE_URL is set)."""
    return make_settings(database_url=database_url)


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


RunApp = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def run_app() -> RunApp:
    """``async with run_app(app) as client``: lifespan running, client on the ASGI app."""

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
        async with app.router.lifespan_context(app), _client(app) as http:
            yield http

    return run


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def state(app: FastAPI) -> AppState:
    result: AppState = app.state.tronrent
    return result


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app) as http:
        yield http


@pytest.fixture
def admin_password() -> str:
    return PASSWORD


@pytest.fixture
def make_admin(state: AppState) -> Callable[..., Any]:
    """Create an account (unique name) in its own transaction; returns (username, user)."""

    async def make(role: str = "admin", *, active: bool = True) -> tuple[str, Any]:
        username = f"{role}_{uuid.uuid4().hex[:10]}"
        async with state.session_maker() as session, session.begin():
            user = await admin_service.create(
                session, username=username, password=PASSWORD, role=role
            )
            user.is_active = active
        return username, user

    return make


@pytest.fixture
def login(client: httpx.AsyncClient) -> Callable[..., Any]:
    """``await login(username)`` -> access token (asserts success)."""

    async def do(username: str, password: str = PASSWORD) -> str:
        response = await client.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["data"]["accessToken"]
        return token

    return do
