"""Fixtures of the console tests.

- ``console``: the API app with the console routers on a fresh migrated database (SQLite, and
  PostgreSQL when TEST_DATABASE_URL is set), lifespan running; ``console.sign_in(role)`` returns
  an httpx client (ASGI, no server) signed in through the login form like a browser.
- the browser tests (tests/console/test_browser.py) start a real ``tronrent serve`` and drive
  Debian's chromium with Playwright.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.conftest import PASSWORD, fast_setup, make_settings, settings  # noqa: F401
from tronrent.api.app import create_app
from tronrent.api.state import AppState
from tronrent.auth.service import admin as admin_service
from tronrent.config import Settings
from tronrent.console.routers import CONSOLE_ROUTERS

from .browser import browser, screenshot_dir, served  # noqa: F401  (fixtures)

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@dataclass
class Console:
    app: FastAPI
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.tronrent
        return state

    def client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        self.clients.append(http)
        return http

    async def make_admin(self, role: str = "admin") -> str:
        username = f"{role}_{uuid.uuid4().hex[:8]}"
        async with self.state.session_maker() as session, session.begin():
            await admin_service.create(session, username=username, password=PASSWORD, role=role)
        return username

    async def sign_in(self, role: str = "admin") -> httpx.AsyncClient:
        """A client signed in through the login form as a new account of ``role``."""
        username = await self.make_admin(role)
        http = self.client()
        form = await http.get("/admin/login")
        answer = await http.post(
            "/admin/login",
            data={"csrf_token": csrf_of(form.text), "username": username, "password": PASSWORD},
        )
        assert answer.status_code == 303, answer.text
        return http

    @staticmethod
    async def post(http: httpx.AsyncClient, path: str, page: str, **data: Any) -> httpx.Response:
        """Submit a form of the page at ``page`` (its CSRF token) to ``path``."""
        token = csrf_of((await http.get(page)).text)
        return await http.post(path, data={"csrf_token": token, **data})


@pytest.fixture
async def console(settings: Settings) -> AsyncIterator[Console]:  # noqa: F811
    app = create_app(settings, routers=CONSOLE_ROUTERS)
    made = Console(app)
    async with app.router.lifespan_context(app):
        yield made
        for http in made.clients:
            await http.aclose()
