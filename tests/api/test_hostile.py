"""Hostile input at the API edge: moving-window rate limits per IP and per account, trusted
proxies only, login throttling, the body limit, NUL characters, offline docs, production start."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import limits.aio.storage.memory as limits_memory
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

import tronrent.api.ratelimit as ratelimit_module
from tronrent.api.app import create_app
from tronrent.api.middleware import body_has_nul
from tronrent.api.ratelimit import Limits, RateLimiter, storage_url
from tronrent.config import Settings, format_validation_error

PASSWORD = "correct horse battery"  # tests/api/conftest.py


class FakeClock:
    """Stands in for the ``time`` module of the rate limit code: a clock the test moves."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(1_800_000_000 - 0.5)  # half a second before a minute boundary
    assert fake.now % 60 == 59.5
    monkeypatch.setattr(limits_memory, "time", fake)
    monkeypatch.setattr(ratelimit_module, "time", fake)
    return fake


def _client(app: FastAPI, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(peer, 5000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
def serve(settings: Settings) -> Callable[..., Any]:
    """``async with serve(peer=..., **settings) as (app, client)``."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def run(peer: str = "127.0.0.1", **overrides: Any) -> AsyncIterator[Any]:
        app = create_app(settings.model_copy(update=overrides))
        async with app.router.lifespan_context(app), _client(app, peer) as http:
            yield app, http

    return run


def _assert_429(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["success"] is False and body["error"]["code"] in ("RATE_LIMITED", "LOGIN_THROTTLED")
    assert int(response.headers["retry-after"]) >= 1


class TestMovingWindow:
    async def test_no_double_budget_across_a_minute_boundary(
        self, serve: Any, clock: FakeClock
    ) -> None:
        async with serve(rate_limit_per_minute=5) as (_, http):
            before = [(await http.get("/api/nothing")).status_code for _ in range(5)]
            clock.now += 1  # a new fixed-window minute: the old limiter allowed 5 more here
            after = await http.get("/api/nothing")
            _assert_429(after)
            assert 58 <= int(after.headers["retry-after"]) <= 60
            clock.now += 59.5  # the first requests leave the 60 s window
            again = await http.get("/api/nothing")
        assert before == [404] * 5
        assert again.status_code == 404

    async def test_per_account_across_ips(
        self, serve: Any, make_admin: Any, login: Any, state: Any
    ) -> None:
        username, _ = await make_admin("admin")
        token = await login(username)
        headers = {"Authorization": f"Bearer {token}"}
        async with serve(
            rate_limit_per_minute=100,
            rate_limit_per_account_per_minute=3,
            trusted_proxies=["10.0.0.1"],
        ) as (app, _):
            statuses = []
            for i in range(4):  # a new client IP for each request: only the account limit holds
                async with _client(app, "10.0.0.1") as http:
                    forwarded = {**headers, "X-Forwarded-For": f"203.0.113.{i}"}
                    statuses.append(await http.get("/api/auth/me", headers=forwarded))
            anonymous = await _client(app, "10.0.0.1").get(
                "/api/nothing", headers={"X-Forwarded-For": "203.0.113.9"}
            )
        assert [r.status_code for r in statuses[:3]] == [200, 200, 200]
        _assert_429(statuses[3])
        assert "per account" in statuses[3].json()["error"]["message"]
        assert anonymous.status_code == 404

    @pytest.mark.redis
    async def test_shared_through_redis(self, serve: Any) -> None:
        redis_url = os.environ["TEST_REDIS_URL"]
        peer = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
        overrides = {"peer": peer, "redis_url": redis_url, "rate_limit_per_minute": 3}
        async with serve(**overrides) as (_, one), serve(**overrides) as (_, two):
            statuses = [(await c.get("/api/nothing")).status_code for c in (one, two, one)]
            blocked = await two.get("/api/nothing")
        assert statuses == [404, 404, 404]
        _assert_429(blocked)

    @given(
        limit=st.integers(1, 5),
        gaps=st.lists(st.floats(0, 40, allow_nan=False), min_size=1, max_size=40),
    )
    def test_moving_window_property(self, limit: int, gaps: list[float]) -> None:
        """Allowed requests never exceed the limit in any 60 s, and a request is refused only
        when the last 60 s already hold the limit."""
        from unittest import mock

        fake = FakeClock(1_800_000_000.0)

        async def run() -> list[tuple[float, bool]]:
            limiter = RateLimiter(Limits(None), per_ip_per_minute=limit)
            out = []
            for gap in gaps:
                fake.now += gap
                out.append((fake.now, await limiter.hit_ip("198.51.100.7") == 0))
            return out

        with (
            mock.patch.object(limits_memory, "time", fake),
            mock.patch.object(ratelimit_module, "time", fake),
        ):
            results = asyncio.run(run())
        allowed = [t for t, ok in results if ok]
        for moment, ok in results:
            recent = [t for t in allowed if moment - 60 < t <= moment]
            assert len(recent) <= limit
            if not ok:  # the window is closed at its old end: [moment - 60, moment]
                assert len([t for t in allowed if moment - 60 <= t <= moment]) >= limit

    def test_storage_url(self) -> None:
        assert storage_url(None) == "async+memory://"
        assert storage_url("redis://h:6379/1") == "async+redis://h:6379/1"
        assert storage_url("rediss://h/0") == "async+rediss://h/0"
        assert storage_url("unix:///run/redis.sock") == "async+redis+unix:///run/redis.sock"


class TestTrustedProxies:
    async def test_rotating_xff_from_untrusted_peer_is_limited(self, serve: Any) -> None:
        async with serve(rate_limit_per_minute=10) as (_, http):
            statuses = [
                (
                    await http.get("/api/nothing", headers={"X-Forwarded-For": f"192.0.2.{i}"})
                ).status_code
                for i in range(20)
            ]
        assert statuses.count(404) == 10 and statuses.count(429) == 10

    async def test_trusted_proxy_forwards_the_client_ip(self, serve: Any) -> None:
        async with (
            serve(rate_limit_per_minute=2, trusted_proxies=["10.0.0.0/8"]) as (app, _),
            _client(app, "10.1.2.3") as proxy,
        ):
            first = [
                (await proxy.get("/api/nothing", headers={"X-Forwarded-For": ip})).status_code
                for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.1", "192.0.2.2")
            ]
            third = await proxy.get("/api/nothing", headers={"X-Forwarded-For": "192.0.2.1"})
        assert first == [404, 404, 404, 404]  # two clients, two budgets
        _assert_429(third)

    def test_bad_entry_refused(self, make_settings: Any) -> None:
        with pytest.raises(ValidationError) as info:
            make_settings(trusted_proxies="10.0.0.1,not-an-ip")
        assert "TRUSTED_PROXIES" in format_validation_error(info.value)


class TestLoginThrottle:
    async def _login(self, http: httpx.AsyncClient, username: str, password: str) -> Any:
        return await http.post("/api/auth/login", json={"username": username, "password": password})

    async def test_per_username_even_with_the_right_password(
        self, serve: Any, make_admin: Any
    ) -> None:
        username, _ = await make_admin("admin")
        async with serve(login_failures_per_username=3) as (_, http):
            wrong = [(await self._login(http, username, "wrong!")).status_code for _ in range(3)]
            right = await self._login(http, username, PASSWORD)
            other, _ = await make_admin("admin")
            unaffected = await self._login(http, other, PASSWORD)
        assert wrong == [401, 401, 401]
        _assert_429(right)
        assert right.json()["error"]["code"] == "LOGIN_THROTTLED"
        assert "accessToken" not in right.text
        assert unaffected.status_code == 200

    async def test_username_counts_reset_by_success(self, serve: Any, make_admin: Any) -> None:
        username, _ = await make_admin("admin")
        async with serve(login_failures_per_username=3) as (_, http):
            codes = [(await self._login(http, username, "wrong!")).status_code for _ in range(2)]
            codes.append((await self._login(http, username, PASSWORD)).status_code)
            codes += [(await self._login(http, username, "wrong!")).status_code for _ in range(2)]
            codes.append((await self._login(http, username, PASSWORD)).status_code)
        assert codes == [401, 401, 200, 401, 401, 200]

    async def test_per_ip_not_reset_by_success(self, serve: Any, make_admin: Any) -> None:
        username, _ = await make_admin("admin")
        async with serve(login_failures_per_ip=3, login_failures_per_username=100) as (_, http):
            codes = [
                (await self._login(http, f"nobody_{i}", "wrong!")).status_code for i in range(2)
            ]
            codes.append((await self._login(http, username, PASSWORD)).status_code)
            codes.append((await self._login(http, "nobody_x", "wrong!")).status_code)
            blocked = await self._login(http, username, PASSWORD)
        assert codes == [401, 401, 200, 401]
        _assert_429(blocked)
        assert "from this address" in blocked.json()["error"]["message"]

    async def test_window_moves(self, serve: Any, make_admin: Any, clock: FakeClock) -> None:
        username, _ = await make_admin("admin")
        async with serve(login_failures_per_username=2, login_failure_window_seconds=900) as (
            _,
            http,
        ):
            for _ in range(2):
                await self._login(http, username, "wrong!")
            clock.now += 899
            blocked = await self._login(http, username, PASSWORD)
            clock.now += 2
            allowed = await self._login(http, username, PASSWORD)
        _assert_429(blocked)
        assert int(blocked.headers["retry-after"]) <= 2
        assert allowed.status_code == 200

    @pytest.mark.redis
    async def test_with_redis(self, serve: Any, make_admin: Any) -> None:
        username, _ = await make_admin("admin")
        async with serve(redis_url=os.environ["TEST_REDIS_URL"], login_failures_per_username=2) as (
            _,
            http,
        ):
            wrong = [(await self._login(http, username, "wrong!")).status_code for _ in range(2)]
            right = await self._login(http, username, PASSWORD)
        assert wrong == [401, 401]
        _assert_429(right)


class TestBodyLimit:
    async def test_content_length_over_the_limit(self, serve: Any) -> None:
        async with serve(max_request_body_bytes=1000) as (_, http):
            big = await http.post("/api/auth/login", json={"username": "a" * 2000, "password": "x"})
            small = await http.post("/api/auth/login", json={"username": "abc", "password": "x"})
        assert big.status_code == 413
        assert big.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        assert small.status_code == 401

    async def test_chunked_body_stopped_while_streaming(self, serve: Any) -> None:
        sent = 0

        async def chunks() -> AsyncIterator[bytes]:
            nonlocal sent
            yield b'{"username": "'
            for _ in range(1000):
                sent += 1
                yield b"a" * 1024
            yield b'", "password": "x"}'

        async with serve(max_request_body_bytes=10_000) as (_, http):
            response = await http.post(
                "/api/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
            )
        assert response.status_code == 413
        assert response.json()["success"] is False
        assert sent < 20  # refused after the limit, not after reading 1 MB

    async def test_ten_megabytes_refused_by_default(self, serve: Any) -> None:
        async with serve() as (_, http):
            response = await http.post("/api/auth/login", content=b"{" + b" " * 10_000_000 + b"}")
        assert response.status_code == 413


class TestNul:
    @pytest.mark.parametrize(
        "payload",
        [
            {"username": "adm\u0000in", "password": "x"},
            {"username": "admin", "password": "pass\u0000word"},
            {"username": "admin", "password": "x", "extra\u0000": 1},
            {"username": "admin", "password": "x", "nested": [{"a": "\u0000"}]},
        ],
    )
    async def test_json_strings(self, serve: Any, payload: dict[str, Any]) -> None:
        async with serve() as (_, http):
            response = await http.post("/api/auth/login", json=payload)
        assert response.status_code == 422, response.text
        assert "NUL" in response.json()["error"]["message"]

    async def test_deeply_nested(self, serve: Any) -> None:
        body = b"[" * 1000 + b'"\\u0000"' + b"]" * 1000
        assert body_has_nul(body)
        async with serve() as (_, http):
            response = await http.post(
                "/api/auth/login", content=body, headers={"Content-Type": "application/json"}
            )
        assert response.status_code == 422

    async def test_path_and_query(self, serve: Any) -> None:
        async with serve() as (_, http):
            in_path = await http.get("/api/orders/FLASH_1%00")
            in_query = await http.get("/api/health?x=%00")
        assert in_path.status_code == 422 and in_query.status_code == 422

    async def test_telegram_webhook_left_to_the_bot(self, serve: Any) -> None:
        async with serve(max_request_body_bytes=1000) as (_, http):
            update = {"update_id": 1, "message": {"text": "hi\u0000"}}
            passed = await http.post("/webhook/telegram/1", json=update)
            big = await http.post("/webhook/telegram/1", json={"x": "a" * 2000})
        assert passed.status_code == 404  # reached routing (no bots in this app), not refused
        assert big.status_code == 413

    async def test_escaped_backslash_is_not_nul(self, serve: Any) -> None:
        async with serve() as (_, http):
            response = await http.post(
                "/api/auth/login", json={"username": "a\\u0000b", "password": "x"}
            )
        assert response.status_code == 401  # the text "\u0000", not a NUL: checked normally

    @given(st.recursive(st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)))
    def test_detector_matches_a_walk(self, value: Any) -> None:
        import json

        def walk(v: Any) -> bool:
            if isinstance(v, str):
                return "\x00" in v
            if isinstance(v, list):
                return any(walk(x) for x in v)
            return any(walk(k) or walk(x) for k, x in v.items())

        assert body_has_nul(json.dumps(value).encode()) == walk(value)


class TestOfflineDocs:
    async def test_docs_use_only_local_assets(self, client: httpx.AsyncClient) -> None:
        for page in ("/api/docs", "/api/redoc"):
            html = (await client.get(page)).text
            urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
            urls += re.findall(r"""url:\s*['"]([^'"]+)['"]""", html)
            assert urls, page
            for url in urls:
                assert not url.startswith(("http:", "https:", "//")), (page, url)
            scripts = [u for u in urls if u.endswith(".js")]
            assert scripts, page
            for url in scripts:
                asset = await client.get(url)
                assert asset.status_code == 200, url
                assert "javascript" in asset.headers["content-type"]
                assert len(asset.content) > 10_000


class TestProductionStart:
    def test_production_needs_node_urls(self, make_settings: Any) -> None:
        with pytest.raises(ValidationError) as info:
            make_settings(environment="production")
        line = format_validation_error(info.value)
        assert "TRON_NODE_URLS must be set when ENVIRONMENT=production" in line
        assert "\n" not in line
        ok = make_settings(environment="production", tron_node_urls=["https://node.example"])
        assert not ok.embedded_chain
