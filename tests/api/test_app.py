"""The envelope on every answer, request ids, transactions, health, metrics, rate limits."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout

from tronrent.api.app import create_app
from tronrent.api.deps import SessionDep
from tronrent.api.envelope import Envelope, ok
from tronrent.api.state import AppState
from tronrent.config import Settings
from tronrent.kit.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed
from tronrent.kit.metrics import render_latest
from tronrent.models.admin_user import AdminRole, AdminUser
from tronrent.storage.migrations import DatabaseNotMigrated, upgrade


class Item(BaseModel):
    name: str
    amount: int


probe = APIRouter(prefix="/api/test")


@probe.post("/items")
async def create_item(item: Item, limit: int = Query(default=1, ge=1)) -> Envelope[Item]:
    return ok(item)


@probe.get("/crash")
async def crash() -> Envelope[None]:
    raise RuntimeError("secret internals: password=hunter2")


@probe.get("/errors/{kind}")
async def raise_app_error(kind: str) -> Envelope[None]:
    errors: dict[str, Exception] = {
        "conflict": Conflict("order is not pending", "ORDER_NOT_PENDING"),
        "notfound": NotFound("order FLASH_1 not found", "ORDER_NOT_FOUND"),
        "invalid": ValidationFailed("address checksum mismatch", "INVALID_ADDRESS"),
        "down": ServiceUnavailable("chain unreachable", "CHAIN_UNAVAILABLE"),
    }
    raise errors[kind]


@probe.get("/pool-timeout")
async def pool_timeout() -> Envelope[None]:
    # what QueuePool raises when every connection is checked out for pool_timeout seconds
    raise SQLAlchemyTimeout("QueuePool limit of size 5 overflow 10 reached, connection timed out")


@probe.get("/db-locked")
async def db_locked() -> Envelope[None]:
    # what SQLite raises when its write lock is not obtained within the busy timeout
    raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))


@probe.get("/db-broken")
async def db_broken() -> Envelope[None]:
    raise OperationalError("SELECT", None, sqlite3.OperationalError("no such table: secret_t"))


@probe.post("/admins/{username}")
async def insert_then_maybe_fail(username: str, session: SessionDep, fail: bool = False) -> Any:
    session.add(AdminUser(username=username, password_hash="x", role=AdminRole.OPERATOR))
    await session.flush()
    if fail:
        raise Conflict("rolled back on purpose")
    return ok({"username": username})


@pytest.fixture
def probe_app(settings: Settings) -> FastAPI:
    return create_app(settings, routers=[probe])


@pytest.fixture
async def probe_client(probe_app: FastAPI, run_app: Any) -> Any:
    async with run_app(probe_app) as client:
        yield client


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert body["success"] is False, body
    assert set(body) == {"success", "error"}
    return dict(body["error"])


class TestEnvelope:
    async def test_success(self, probe_client: Any) -> None:
        response = await probe_client.post("/api/test/items", json={"name": "a", "amount": 3})
        assert response.status_code == 200
        assert response.json() == {"success": True, "data": {"name": "a", "amount": 3}}

    async def test_validation_error_names_fields(self, probe_client: Any) -> None:
        response = await probe_client.post(
            "/api/test/items?limit=0", json={"name": "a", "amount": "lots"}
        )
        assert response.status_code == 422
        error = _error(response)
        assert error["code"] == "VALIDATION_ERROR"
        assert "amount: input should be a valid integer" in error["message"]
        assert "limit (query): input should be greater than or equal to 1" in error["message"]

    async def test_missing_field_and_body(self, probe_client: Any) -> None:
        response = await probe_client.post("/api/test/items", json={"name": "a"})
        assert _error(response)["message"] == "amount: field required"
        response = await probe_client.post("/api/test/items")
        assert _error(response)["message"] == "request body: is required"

    async def test_malformed_json(self, probe_client: Any) -> None:
        response = await probe_client.post(
            "/api/test/items", content=b"{nope", headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        assert _error(response)["message"] == "request body is not valid JSON"

    async def test_unknown_route(self, probe_client: Any) -> None:
        response = await probe_client.get("/api/no/such/thing")
        assert response.status_code == 404
        assert _error(response) == {
            "code": "NOT_FOUND",
            "message": "no route GET /api/no/such/thing",
        }

    async def test_method_not_allowed(self, probe_client: Any) -> None:
        response = await probe_client.delete("/api/test/items")
        assert response.status_code == 405
        error = _error(response)
        assert error["code"] == "METHOD_NOT_ALLOWED"
        assert "DELETE" in error["message"] and "POST" in error["message"]

    async def test_unexpected_exception_is_generic_500(
        self, probe_client: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        response = await probe_client.get("/api/test/crash")
        assert response.status_code == 500
        error = _error(response)
        assert error["code"] == "INTERNAL_ERROR"
        assert "hunter2" not in response.text and "RuntimeError" not in response.text
        assert response.headers["x-request-id"]

    @pytest.mark.parametrize("path", ["pool-timeout", "db-locked"])
    async def test_busy_database_is_503_with_retry_after(
        self, probe_client: Any, path: str
    ) -> None:
        response = await probe_client.get(f"/api/test/{path}")
        assert response.status_code == 503
        assert _error(response)["code"] == "DATABASE_BUSY"
        assert int(response.headers["retry-after"]) >= 1
        assert "QueuePool" not in response.text and "locked" not in response.text

    async def test_other_database_errors_stay_generic_500(self, probe_client: Any) -> None:
        response = await probe_client.get("/api/test/db-broken")
        assert response.status_code == 500
        assert _error(response)["code"] == "INTERNAL_ERROR"
        assert "secret_t" not in response.text

    @pytest.mark.parametrize(
        ("kind", "status", "code"),
        [
            ("conflict", 409, "ORDER_NOT_PENDING"),
            ("notfound", 404, "ORDER_NOT_FOUND"),
            ("invalid", 422, "INVALID_ADDRESS"),
            ("down", 503, "CHAIN_UNAVAILABLE"),
        ],
    )
    async def test_app_errors_map_by_class(
        self, probe_client: Any, kind: str, status: int, code: str
    ) -> None:
        response = await probe_client.get(f"/api/test/errors/{kind}")
        assert response.status_code == status
        assert _error(response)["code"] == code

    async def test_openapi_served(self, probe_client: Any) -> None:
        response = await probe_client.get("/api/openapi.json")
        assert response.status_code == 200
        assert "/api/auth/login" in response.json()["paths"]


class TestRequestId:
    async def test_generated_when_absent(self, client: Any) -> None:
        response = await client.get("/api/health")
        assert len(response.headers["x-request-id"]) == 32

    async def test_echoed_when_valid(self, client: Any) -> None:
        response = await client.get("/api/health", headers={"X-Request-ID": "abc-123"})
        assert response.headers["x-request-id"] == "abc-123"

    async def test_replaced_when_invalid(self, client: Any) -> None:
        response = await client.get("/api/health", headers={"X-Request-ID": "bad id\x7f" * 10})
        assert response.headers["x-request-id"] != "bad id"
        assert len(response.headers["x-request-id"]) == 32


class TestRequestTransaction:
    async def test_commit_on_success(self, probe_client: Any, app_state: AppState) -> None:
        response = await probe_client.post("/api/test/admins/committed_user")
        assert response.status_code == 200
        assert await _admin_exists(app_state, "committed_user")

    async def test_rollback_on_error(self, probe_client: Any, app_state: AppState) -> None:
        response = await probe_client.post("/api/test/admins/rolled_back_user?fail=true")
        assert response.status_code == 409
        assert not await _admin_exists(app_state, "rolled_back_user")


@pytest.fixture
def app_state(probe_client: Any, probe_app: FastAPI) -> AppState:
    state: AppState = probe_app.state.tronrent
    return state


async def _admin_exists(state: AppState, username: str) -> bool:
    async with state.session_maker() as session:
        row = await session.scalar(select(AdminUser.id).where(AdminUser.username == username))
    return row is not None


class TestHealth:
    async def test_healthy(self, client: Any) -> None:
        response = await client.get("/api/health")
        assert response.status_code == 200
        data = response.json()["data"]
        assert data["status"] == "ok"
        assert data["checks"]["database"]["status"] == "ok"
        assert "redis" not in data["checks"]

    async def test_database_down_is_503(
        self, make_settings: Callable[..., Settings], tmp_path: Path, run_app: Any
    ) -> None:
        db_dir = tmp_path / "db"
        url = f"sqlite+aiosqlite:///{db_dir / 'x.db'}"
        upgrade(url)
        application = create_app(make_settings(database_url=url))
        async with run_app(application) as client:
            assert (await client.get("/api/health")).status_code == 200
            await application.state.tronrent.engine.dispose()
            shutil.rmtree(db_dir)  # the file and its directory are gone: connecting fails
            response = await client.get("/api/health")
        assert response.status_code == 503
        error = _error(response)
        assert error["code"] == "SERVICE_UNAVAILABLE"
        assert error["message"] == "unhealthy: database"
        assert error["details"]["checks"]["database"]["status"] == "down"

    async def test_redis_down_is_503(self, settings: Settings, run_app: Any) -> None:
        broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
        async with run_app(create_app(broken)) as client:
            response = await client.get("/api/health")
        assert response.status_code == 503
        checks = _error(response)["details"]["checks"]
        assert checks["redis"]["status"] == "down"
        assert checks["database"]["status"] == "ok"

    async def test_registered_chain_check(self, settings: Settings, run_app: Any) -> None:
        calls: list[int] = []

        async def chain() -> dict[str, int]:
            calls.append(1)
            return {"block": 42}

        async with run_app(create_app(settings, health_checks={"chain": chain})) as client:
            response = await client.get("/api/health")
        assert response.status_code == 200
        assert response.json()["data"]["checks"]["chain"]["block"] == 42

    async def test_failing_registered_check(self, settings: Settings, run_app: Any) -> None:
        async def chain() -> None:
            raise ConnectionError("node at http://user:pw@10.0.0.1 refused")

        async with run_app(create_app(settings, health_checks={"chain": chain})) as client:
            response = await client.get("/api/health")
        assert response.status_code == 503
        assert "pw@" not in response.text
        assert _error(response)["details"]["checks"]["chain"]["error"] == "ConnectionError"


@pytest.mark.redis
class TestWithRedis:
    async def test_health_reports_redis(self, settings: Settings, run_app: Any) -> None:
        configured = settings.model_copy(update={"redis_url": os.environ["TEST_REDIS_URL"]})
        async with run_app(create_app(configured)) as client:
            response = await client.get("/api/health")
        assert response.status_code == 200, response.text
        assert response.json()["data"]["checks"]["redis"]["status"] == "ok"

    async def test_rate_limit_shared_in_redis(self, settings: Settings, run_app: Any) -> None:
        configured = settings.model_copy(
            update={"redis_url": os.environ["TEST_REDIS_URL"], "rate_limit_per_minute": 2}
        )
        application = create_app(configured)
        async with run_app(application) as client:
            redis = application.state.tronrent.redis
            await redis.delete(*(await redis.keys("tronrent:ratelimit:*")) or ["none"])
            statuses = [(await client.get("/api/nothing")).status_code for _ in range(3)]
        assert statuses == [404, 404, 429]


class TestRateLimit:
    async def test_limit_per_client(self, settings: Settings, run_app: Any) -> None:
        limited = settings.model_copy(update={"rate_limit_per_minute": 3})
        async with run_app(create_app(limited)) as client:
            statuses = [(await client.get("/api/nothing")).status_code for _ in range(3)]
            blocked = await client.get("/api/nothing")
            health = await client.get("/api/health")
        assert statuses == [404, 404, 404]
        assert blocked.status_code == 429
        assert _error(blocked)["code"] == "RATE_LIMITED"
        assert 1 <= int(blocked.headers["retry-after"]) <= 60
        assert health.status_code == 200  # probes are never limited


class TestMetrics:
    async def test_exposition(self, client: Any) -> None:
        await client.get("/api/health")
        await client.get("/api/no-such-route")
        response = await client.get("/api/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        text = response.text
        assert 'tronrent_http_requests_total{method="GET",route="/api/health",status="200"}' in text
        assert 'route="unmatched",status="404"' in text
        assert "tronrent_http_request_duration_seconds_bucket" in text
        assert "tronrent_energy_delegations_total" in text
        assert 'tronrent_db_pool_connections_max{pool="main"}' in text
        assert "process_resident_memory_bytes" in text
        assert "tronrent_errors_total" in render_latest().decode()


class TestStartup:
    async def test_refuses_unmigrated_database(
        self, make_settings: Callable[..., Settings], tmp_path: Path
    ) -> None:
        application: FastAPI = create_app(
            make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
        )
        with pytest.raises(DatabaseNotMigrated, match="run `tronrent migrate`"):
            async with application.router.lifespan_context(application):
                pass


def test_routers_are_disjoint() -> None:
    """No path of one router's route matches a route of another router, whatever the
    method: `create_app` orders the routers for matching cost (the per-order routes first),
    and that order must decide nothing about which route answers (or 405's Allow)."""
    import re

    from fastapi.routing import APIRoute

    from tronrent.api.app import CORE_ROUTERS
    from tronrent.console.routers import CONSOLE_ROUTERS
    from tronrent.entrypoints.telegram import telegram_routers
    from tronrent.flash.routers import FLASH_ROUTERS

    routes = [
        (i, route)
        for i, router in enumerate(
            (*FLASH_ROUTERS, *CONSOLE_ROUTERS, *telegram_routers(), *CORE_ROUTERS)
        )
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    assert len(routes) > 100
    overlaps = [
        f"{a.path} ~ {b.path}"
        for i, a in routes
        for j, b in routes
        if i != j and a.path_regex.match(re.sub(r"\{[^}]+\}", "x1", b.path))
    ]
    assert overlaps == []
