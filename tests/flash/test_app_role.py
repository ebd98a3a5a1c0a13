"""The shipped deployment's least privilege: the service runs as a login role that is only a
member of the application role the migrations grant (``DB_APP_ROLE``, 0003_app_role_grants),
never as the owner - and everything works: the API (admin accounts, login, system configs,
bots, order search) and the engine (a walk-in payment delegated, then reclaimed)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError

from trondevnet.testing import funded_key
from tronrent.api.app import create_app
from tronrent.auth.service import admin as admin_service
from tronrent.config import Settings
from tronrent.flash.routers import FLASH_ROUTERS
from tronrent.kit.db import create_engine
from tronrent.models.order import OrderStatus
from tronrent.storage.migrations import upgrade_async

from .conftest import TRX, FlashFactory, active, send_trx

pytestmark = pytest.mark.postgres  # the application role exists on PostgreSQL only


@pytest.fixture
async def database_url(_postgres_server: Any) -> AsyncIterator[str]:
    """A database migrated by its owner, and the URL of a login role that is only a member of
    ``tron_app`` - what docker-compose.yml gives the service."""
    server = _postgres_server
    name = server.new_name()
    owner_url = await server.create(name)
    await upgrade_async(owner_url)
    role = f"tronrent_svc_{uuid.uuid4().hex[:8]}"
    await server._admin(f'CREATE ROLE "{role}" LOGIN IN ROLE tron_app')
    service_url = make_url(owner_url).set(username=role).render_as_string(hide_password=False)
    try:
        yield service_url
    finally:
        await server.drop(name)
        await server._admin(f'DROP ROLE IF EXISTS "{role}"')


REPO = Path(__file__).resolve().parents[2]


class TestComposeInitScript:
    async def test_shipped_script_makes_a_login_role_of_the_app_role(
        self, _postgres_server: Any
    ) -> None:
        """deploy/postgres-init.sh as the db container runs it; then migrate as the owner and
        write as the service user (the layout of docker-compose.yml)."""
        server = _postgres_server
        name = server.new_name()
        owner_url = await server.create(name)
        user = f"tronrent_svc_{uuid.uuid4().hex[:8]}"
        url = make_url(owner_url)
        env = {
            **os.environ,
            "POSTGRES_USER": url.username or "postgres",
            "POSTGRES_DB": name,
            "PGHOST": url.host or "127.0.0.1",
            "PGPORT": str(url.port or 5432),
            "DB_SERVICE_USER": user,
            "DB_SERVICE_PASSWORD": "pw'with quote",
        }
        try:
            script = await asyncio.create_subprocess_exec(
                "sh",
                str(REPO / "deploy" / "postgres-init.sh"),
                env=env,
                stderr=asyncio.subprocess.PIPE,
            )
            _, stderr = await asyncio.wait_for(script.communicate(), 60)
            assert script.returncode == 0, stderr.decode()
            await upgrade_async(owner_url)
            engine = create_engine(url.set(username=user).render_as_string(hide_password=False))
            try:
                async with engine.begin() as c:
                    await c.execute(
                        text(
                            "INSERT INTO job_failures (job_name, args, error)"
                            " VALUES ('x', '[]', 'e')"
                        )
                    )
                    with pytest.raises(DBAPIError):
                        async with c.begin_nested():
                            await c.execute(text("TRUNCATE orders"))
            finally:
                await engine.dispose()
        finally:
            await server.drop(name)
            await server._admin(f'DROP ROLE IF EXISTS "{user}"')


class TestServiceRole:
    async def test_the_role_cannot_change_the_schema(self, database_url: str) -> None:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as c:
                assert (
                    (await c.execute(text("SELECT current_user")))
                    .scalar_one()
                    .startswith("tronrent_svc_")
                )
                with pytest.raises(DBAPIError):
                    await c.execute(text("DROP TABLE orders"))
        finally:
            await engine.dispose()

    async def test_api_works_as_the_role(self, database_url: str, tmp_path: Path) -> None:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            data_dir=tmp_path,
            database_url=database_url,
            secret_keys=[
                SecretStr(__import__("cryptography.fernet").fernet.Fernet.generate_key().decode())
            ],
            jwt_secret=SecretStr("x" * 40),
            rate_limit_per_minute=0,
        )
        app = create_app(settings, routers=FLASH_ROUTERS)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://t") as http,
        ):
            state = app.state.tronrent
            async with state.session_maker() as s, s.begin():
                await admin_service.create(
                    s, username="boss", password="pw-123456789", role="admin"
                )
            login = await http.post(
                "/api/auth/login", json={"username": "boss", "password": "pw-123456789"}
            )
            assert login.status_code == 200, login.text
            h = {"Authorization": f"Bearer {login.json()['data']['accessToken']}"}
            body = {"value": "Shop", "reason": "as the app role"}
            put = await http.put("/api/admin/system-configs/site.name", json=body, headers=h)
            assert put.status_code == 200, put.text
            bot = {
                "token": "123456789:" + "A" * 35,
                "name": "Shop",
                "username": "role_shop_bot",
                "reason": "as the app role",
            }
            added = await http.post("/api/admin/bots", json=bot, headers=h)
            assert added.status_code == 201, added.text
            bot_url = f"/api/admin/bots/{added.json()['data']['botId']}"
            gone = await http.delete(bot_url, params={"reason": "r"}, headers=h)
            assert gone.status_code == 200, gone.text
            orders = await http.get("/api/admin/orders", headers=h)
            assert orders.status_code == 200, orders.text
            health = await http.get("/api/health")
            assert health.json()["data"]["checks"]["database"]["status"] == "ok"

    async def test_engine_delivers_and_reclaims_as_the_role(self, flash: FlashFactory) -> None:
        f = await flash(rental_s=1.0)
        customer = funded_key(f.devnet.chain, 100 * TRX)
        send_trx(f.devnet, customer, f.address, 3 * TRX)
        order = await f.wait_order(active, sender=customer.address_base58)
        assert order.delegation_result and order.delegation_result[0]["success"] is True
        done = await f.wait_order(
            lambda o: o.status is OrderStatus.COMPLETED, order_id=order.id, wait_s=30
        )
        assert done.id == order.id
