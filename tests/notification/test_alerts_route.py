"""Operator alerts are never dropped: with no admin chat configured, a warning log carries the
alert and ``GET /api/admin/alerts`` lists it (newest first, paginated, in
OPERATOR_ALERT_LANGUAGE). On both databases."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import argon2.profiles
import httpx
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from structlog.testing import capture_logs

from tronrent.adapters.telegram.transport import TelegramTransport
from tronrent.api.app import create_app
from tronrent.auth.passwords import use_parameters
from tronrent.auth.service import admin as admin_service
from tronrent.config import Settings
from tronrent.kit.crypto import generate_key
from tronrent.kit.db import create_engine
from tronrent.notification import alerts
from tronrent.notification.endpoints import router as alerts_router
from tronrent.notification.sender import NO_ADMIN_CHAT, NotificationSender
from tronrent.notification.service import enqueue_notification

PASSWORD = "correct horse battery"
POOL = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
Maker = async_sessionmaker[AsyncSession]


@pytest.fixture(autouse=True)
def cheap_hashes() -> None:
    use_parameters(argon2.profiles.CHEAPEST)


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path,
            "database_url": database_url,
            "secret_keys": [SecretStr(generate_key())],
            "jwt_secret": SecretStr("x" * 40),
            "rate_limit_per_minute": 0,
            "redis_url": None,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@asynccontextmanager
async def _client(settings: Settings, username: str) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_engine(settings.database_url)
    app = create_app(settings, engine=engine, routers=(alerts_router,))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://t") as http,
        ):
            r = await http.post(
                "/api/auth/login", json={"username": username, "password": PASSWORD}
            )
            token = r.json()["data"]["accessToken"]
            http.headers["Authorization"] = f"Bearer {token}"
            yield http
    finally:
        await engine.dispose()


async def _raise_alerts(session_maker: Maker) -> str:
    async with session_maker() as s, s.begin():
        await alerts.pool_low(
            s,
            pool_id=uuid.uuid4(),
            pool_name="main",
            pool_address=POOL,
            available_energy=12_000,
        )
        await alerts.order_in_limbo(
            s, order_id="FLASH_1", status="paid", reason=None, blocks=20, recipient=POOL
        )
        # a customer's message is not an operator alert
        await enqueue_notification(
            s,
            event="order_expired",
            chat_id=5,
            bot_id=None,
            payload={"order_id": "FLASH_2"},
            dedupe_key="order:FLASH_2:order_expired",
        )
        username = f"admin_{uuid.uuid4().hex[:8]}"
        await admin_service.create(s, username=username, password=PASSWORD, role="admin")
    return username


async def test_no_admin_chat_alerts_are_logged_and_listed(
    session_maker: Maker, make_settings: Callable[..., Settings]
) -> None:
    username = await _raise_alerts(session_maker)
    sender = NotificationSender(session_maker, TelegramTransport(lambda _id: None))
    with capture_logs() as logs:
        report = await sender.run_once()
    assert report.failed == 2  # the two alerts: nowhere to send them...
    logged = [e for e in logs if e["event"] == "notification.operator_alert_undelivered"]
    assert [e["log_level"] for e in logged] == ["warning", "warning"]  # ...but logged in full
    assert {e["alert_event"] for e in logged} == {"pool_low", "order_in_limbo"}
    low = next(e for e in logged if e["alert_event"] == "pool_low")
    assert "能量池余量不足" in low["text"] and "12,000" in low["text"] and POOL in low["text"]

    settings = make_settings()
    assert settings.operator_alert_language == "zh"  # the default: zh-CN
    async with _client(settings, username) as http:
        anonymous = await http.get("/api/admin/alerts", headers={"Authorization": ""})
        assert anonymous.status_code == 401
        assert anonymous.json()["success"] is False
        r = await http.get("/api/admin/alerts")
        assert r.status_code == 200, r.text
        page = r.json()["data"]
        assert page["total"] == 2 and page["page"] == 1 and page["pageSize"] == 50
        limbo, low_item = page["items"]  # newest first
        assert (limbo["event"], low_item["event"]) == ("order_in_limbo", "pool_low")
        assert limbo["id"] > low_item["id"]
        for item in page["items"]:
            assert item["status"] == "failed" and item["lastError"] == NO_ADMIN_CHAT
            assert item["sentAt"] is None and item["createdAt"]
        assert "能量池余量不足" in low_item["text"] and "可用能量 12,000" in low_item["text"]
        assert "20 个区块" in limbo["text"] and "原因" not in limbo["text"]  # no reason given
        assert " - " not in limbo["text"] and "None" not in limbo["text"]

        second = (await http.get("/api/admin/alerts", params={"page": 2, "pageSize": 1})).json()
        assert [i["event"] for i in second["data"]["items"]] == ["pool_low"]
        assert second["data"]["total"] == 2
        past = (await http.get("/api/admin/alerts", params={"page": 3, "pageSize": 1})).json()
        assert past["data"]["items"] == []
        only = await http.get("/api/admin/alerts", params={"status": "sent"})
        assert only.json()["data"]["total"] == 0
        for bad in ({"pageSize": 0}, {"page": 0}, {"pageSize": "x"}, {"status": "lost"}):
            r = await http.get("/api/admin/alerts", params=bad)
            assert r.status_code == 422, bad
            assert r.json()["success"] is False

    async with _client(make_settings(operator_alert_language="en"), username) as http:
        items = (await http.get("/api/admin/alerts")).json()["data"]["items"]
        assert "still has no outcome after 20 blocks" in items[0]["text"]
        assert "Energy pool low" in items[1]["text"]


@pytest.mark.parametrize(
    ("value", "want"), [("zh-CN", "zh"), ("zh", "zh"), ("EN", "en"), ("en-US", "en")]
)
def test_operator_alert_language_setting(value: str, want: str, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, operator_alert_language=value)  # type: ignore[call-arg]
    assert settings.operator_alert_language == want
    with pytest.raises(ValidationError, match="operator_alert_language"):
        Settings(_env_file=None, data_dir=tmp_path, operator_alert_language="fr")  # type: ignore[call-arg]
