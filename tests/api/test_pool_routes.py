"""PATCH/DELETE /api/energy-pools/{id} and GET .../changes over HTTP on both databases: admin
only, 4xx with the error envelope on bad input, 404 unknown pool, 409 in use, every change
recorded with the admin and the reason."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from trondevnet.testing import new_key
from tronrent.api.app import create_app
from tronrent.config import Settings
from tronrent.models import EnergyPool
from tronrent.pool import endpoints as pool_endpoints
from tronrent.pool.service import pool as pool_service


@pytest.fixture
async def http(settings: Settings, run_app: Any) -> Any:
    async with run_app(create_app(settings, routers=[pool_endpoints.router])) as client:
        yield client


@pytest.fixture
async def admin(http: Any, make_admin: Any, admin_password: str) -> tuple[dict[str, str], Any]:
    username, user = await make_admin("admin")
    return await bearer(http, username, admin_password), user


async def bearer(http: Any, username: str, password: str) -> dict[str, str]:
    r = await http.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['data']['accessToken']}"}


@pytest.fixture
async def pool(state: Any) -> EnergyPool:
    async with state.session_maker() as s, s.begin():
        p = await pool_service.add(
            s, state.secret_box, chain=None, check=False, private_key=new_key().hex(), name="p1"
        )
        p.available_energy = 1_000_000
    return p


def url(pool_id: object, tail: str = "") -> str:
    return f"/api/energy-pools/{pool_id}{tail}"


def error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["success"] is False
    err: dict[str, Any] = body["error"]
    return err


class TestAuth:
    @pytest.mark.parametrize(
        "method,tail,body",
        [
            ("PATCH", "", {"reason": "r", "priority": 2}),
            ("DELETE", "?reason=r", None),
            ("GET", "/changes", None),
        ],
    )
    async def test_admin_only(
        self,
        http: Any,
        make_admin: Any,
        admin_password: str,
        pool: EnergyPool,
        method: str,
        tail: str,
        body: Any,
    ) -> None:
        r = await http.request(method, url(pool.id, tail), json=body)
        assert error(r, 401)
        username, _ = await make_admin("operator")
        headers = await bearer(http, username, admin_password)
        r = await http.request(method, url(pool.id, tail), json=body, headers=headers)
        assert error(r, 403)


class TestEdit:
    async def test_edit_and_status_recorded(
        self, http: Any, admin: tuple[dict[str, str], Any], pool: EnergyPool
    ) -> None:
        headers, user = admin
        r = await http.patch(
            url(pool.id),
            headers=headers,
            json={
                "reason": "cheaper stake",
                "priority": 7,
                "costPerEnergySun": 30,
                "minDelegationAmount": 10_000,
                "maxDelegationAmount": 2_000_000,
                "dailyLimit": 5_000_000,
            },
        )
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert (data["priority"], data["costPerEnergySun"], data["dailyLimit"]) == (
            7,
            30,
            5_000_000,
        )
        r = await http.patch(
            url(pool.id), headers=headers, json={"reason": "disk swap", "status": "maintenance"}
        )
        assert r.json()["data"]["status"] == "maintenance"
        r = await http.patch(
            url(pool.id), headers=headers, json={"reason": "off", "status": "disabled"}
        )
        assert r.json()["data"]["status"] == "inactive"
        r = await http.patch(
            url(pool.id), headers=headers, json={"reason": "no cap", "dailyLimit": None}
        )
        assert r.json()["data"]["dailyLimit"] is None
        r = await http.get(url(pool.id, "/changes"), headers=headers)
        assert r.status_code == 200
        rows = r.json()["data"]
        assert [c["reason"] for c in rows] == ["no cap", "off", "disk swap", "cheaper stake"]
        assert {c["actor"] for c in rows} == {f"admin:{user.username}"}
        assert {c["actorId"] for c in rows} == {str(user.id)}
        assert rows[1]["before"] == {"status": "maintenance"}
        assert rows[1]["after"] == {"status": "inactive"}
        assert rows[3]["after"]["cost_per_energy_sun"] == 30

    @pytest.mark.parametrize(
        "body,status,fragment",
        [
            ({"priority": 2}, 422, "reason"),  # no reason
            ({"reason": "", "priority": 2}, 422, "reason"),
            ({"reason": "r", "priority": 2, "privateKey": "00"}, 422, "privateKey"),
            ({"reason": "r", "tronAddress": "T"}, 422, "tronAddress"),
            ({"reason": "r", "priority": -1}, 422, "priority"),
            ({"reason": "r", "costPerEnergySun": -5}, 422, "costPerEnergySun"),
            ({"reason": "r", "dailyLimit": -1}, 422, "dailyLimit"),
            ({"reason": "r", "dailyLimit": "lots"}, 422, "dailyLimit"),
            ({"reason": "r", "minDelegationAmount": 9, "maxDelegationAmount": 5}, 422, "exceed"),
            ({"reason": "r", "status": "gone"}, 422, "status"),
            ({"reason": "r", "priority": None}, 422, "priority"),
            ({"reason": "r", "name": None}, 422, "name"),
            ({"reason": "r", "name": "a\x00b"}, 422, ""),
            ({"reason": "a\x00", "priority": 2}, 422, ""),
        ],
    )
    async def test_bad_input(
        self,
        http: Any,
        admin: tuple[dict[str, str], Any],
        pool: EnergyPool,
        body: dict[str, Any],
        status: int,
        fragment: str,
    ) -> None:
        headers, _ = admin
        err = error(await http.patch(url(pool.id), headers=headers, json=body), status)
        assert fragment in err["message"] + str(err.get("details"))
        r = await http.get(url(pool.id, "/changes"), headers=headers)
        assert r.json()["data"] == []

    async def test_min_above_the_stored_max(
        self, http: Any, admin: tuple[dict[str, str], Any], pool: EnergyPool
    ) -> None:
        headers, _ = admin
        r = await http.patch(
            url(pool.id), headers=headers, json={"reason": "r", "maxDelegationAmount": 100}
        )
        assert r.status_code == 200
        err = error(
            await http.patch(
                url(pool.id), headers=headers, json={"reason": "r", "minDelegationAmount": 101}
            ),
            422,
        )
        assert "exceed" in err["message"]

    @pytest.mark.parametrize("pool_id", [uuid.uuid4(), "not-a-uuid"])
    async def test_unknown_pool(
        self, http: Any, admin: tuple[dict[str, str], Any], pool_id: object
    ) -> None:
        headers, _ = admin
        status = 404 if isinstance(pool_id, uuid.UUID) else 422
        error(
            await http.patch(url(pool_id), headers=headers, json={"reason": "r", "priority": 2}),
            status,
        )
        error(await http.delete(url(pool_id, "?reason=r"), headers=headers), status)
        error(await http.get(url(pool_id, "/changes"), headers=headers), status)


class TestRemove:
    async def test_in_use_then_removed(
        self, http: Any, admin: tuple[dict[str, str], Any], pool: EnergyPool, state: Any
    ) -> None:
        headers, user = admin
        async with state.session_maker() as s, s.begin():
            assert await pool_service.reserve(s, pool.id, 65_000)
        err = error(await http.delete(url(pool.id, "?reason=retire"), headers=headers), 409)
        assert err["code"] == "POOL_IN_USE" and err["details"]["reservedEnergy"] == 65_000
        async with state.session_maker() as s, s.begin():
            await pool_service.release(s, pool.id, 65_000, failed=False)
        error(await http.delete(url(pool.id), headers=headers), 422)  # reason required
        error(await http.delete(url(pool.id, "?reason="), headers=headers), 422)
        error(await http.delete(url(pool.id, "?reason=a%00b"), headers=headers), 422)
        error(await http.delete(url(pool.id, "?reason=" + "x" * 501), headers=headers), 422)
        r = await http.delete(url(pool.id, "?reason=retire"), headers=headers)
        assert r.status_code == 200, r.text
        listed = (await http.get("/api/energy-pools", headers=headers)).json()["data"]
        assert str(pool.id) not in {p["poolId"] for p in listed}
        error(await http.delete(url(pool.id, "?reason=retire"), headers=headers), 404)
        error(
            await http.patch(url(pool.id), headers=headers, json={"reason": "r", "priority": 2}),
            404,
        )
        [change] = (await http.get(url(pool.id, "/changes"), headers=headers)).json()["data"]
        assert change["action"] == "remove" and change["reason"] == "retire"
        assert change["actor"] == f"admin:{user.username}"
