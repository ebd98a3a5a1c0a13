"""System configs through the admin API: typed and validated, secrets encrypted and never
returned, public keys readable without login, every change in system_config_history."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tronrent.api.state import AppState
from tronrent.flash.lifespan import _tron_api_key
from tronrent.models import SystemConfig, SystemConfigHistory

URL = "/api/admin/system-configs"


@pytest.fixture
async def admin_headers(make_admin: Any, login: Any) -> dict[str, str]:
    username, _ = await make_admin("admin")
    return {"Authorization": f"Bearer {await login(username)}"}


class TestSystemConfigs:
    async def test_defaults_listed_and_public_keys_open(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        listed = (await client.get(URL, headers=admin_headers)).json()["data"]
        by_key = {c["key"]: c for c in listed}
        assert by_key["site.name"]["value"] == "TronRent" and not by_key["site.name"]["isSet"]
        assert by_key["tron.api_key"]["isEncrypted"] and by_key["tron.api_key"]["value"] is None
        public = (await client.get("/api/system-configs/public")).json()["data"]
        assert public == {"site.name": "TronRent", "support.contact": ""}

    async def test_change_recorded_with_who_and_why(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], state: AppState
    ) -> None:
        body = {"value": "Energy Shop", "reason": "rebrand"}
        changed = await client.put(f"{URL}/site.name", json=body, headers=admin_headers)
        assert changed.status_code == 200, changed.text
        assert changed.json()["data"]["value"] == "Energy Shop"
        again = await client.put(f"{URL}/site.name", json=body, headers=admin_headers)
        assert again.status_code == 200  # same value: no second history row
        await client.put(
            f"{URL}/site.name", json={"value": None, "reason": "back"}, headers=admin_headers
        )
        history = (await client.get(f"{URL}/site.name/history", headers=admin_headers)).json()
        rows = [(h["oldValue"], h["newValue"]) for h in history["data"]]
        assert rows == [("Energy Shop", None), (None, "Energy Shop")]
        assert history["data"][1]["reason"].startswith("rebrand (admin:")
        assert history["data"][1]["changedBy"] is not None
        public = (await client.get("/api/system-configs/public")).json()["data"]
        assert public["site.name"] == "TronRent"

    async def test_secret_encrypted_never_returned_and_used(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], state: AppState
    ) -> None:
        secret = "0f3a2b1c-aaaa-bbbb-cccc-1234567890ab"
        body = {"value": secret, "reason": "trongrid key"}
        response = await client.put(f"{URL}/tron.api_key", json=body, headers=admin_headers)
        assert response.status_code == 200 and secret not in response.text
        assert response.json()["data"]["isSet"] is True
        history = await client.get(f"{URL}/tron.api_key/history", headers=admin_headers)
        assert secret not in history.text
        async with state.session_maker() as s:
            row = (await s.execute(select(SystemConfig))).scalar_one()
            [h] = (await s.execute(select(SystemConfigHistory))).scalars().all()
        assert secret not in (row.config_value or "") and secret not in (h.new_value or "")
        assert await _tron_api_key(state) == secret  # the engine's gateway uses it

    async def test_bad_values_and_access(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], make_admin: Any, login: Any
    ) -> None:
        for key, body in (
            ("site.name", {"value": "", "reason": "r"}),
            ("site.name", {"value": 5, "reason": "r"}),
            ("site.name", {"value": "x" * 101, "reason": "r"}),
            ("tron.api_key", {"value": "bad key!", "reason": "r"}),
            ("site.name", {"value": "ok"}),
            ("site.name", {"value": "ok", "reason": " "}),
        ):
            response = await client.put(f"{URL}/{key}", json=body, headers=admin_headers)
            assert response.status_code == 422, (body, response.text)
        unknown = await client.put(
            f"{URL}/no.such", json={"value": 1, "reason": "r"}, headers=admin_headers
        )
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "CONFIG_KEY_NOT_FOUND"
        username, _ = await make_admin("operator")
        op = {"Authorization": f"Bearer {await login(username)}"}
        assert (await client.get(URL, headers=op)).status_code == 200
        body = {"value": "x", "reason": "r"}
        assert (await client.put(f"{URL}/site.name", json=body, headers=op)).status_code == 403
        assert (await client.get(URL)).status_code == 401
