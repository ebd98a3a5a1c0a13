"""Catalogue routes: packages CRUD, price configs with history, templates, the flash config and
the public package list - auth, roles, 422s, history rows, rules applied to quotes."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from tronrent.api.state import AppState
from tronrent.models import Agent, AgentStatus, Bot, Order, OrderType, User
from tronrent.models.catalog_change import CatalogChange
from tronrent.models.price_history import PriceHistory
from tronrent.order.flash_config import load_flash_config
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as flash_orders

PACKAGES = "/api/admin/energy-packages"
CONFIGS = "/api/admin/price-configs"
TEMPLATES = "/api/admin/price-templates"
FLASH = "/api/admin/flash-config"
PAY_TO = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
RECIPIENT = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def admin_headers(make_admin: Any, login: Any) -> dict[str, str]:
    name, _ = await make_admin("admin")
    return bearer(await login(name))


@pytest.fixture
async def operator_headers(make_admin: Any, login: Any) -> dict[str, str]:
    name, _ = await make_admin("operator")
    return bearer(await login(name))


def package_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Test 65K x 2h",
        "energyAmount": 65_000,
        "durationHours": 2,
        "trxPriceSun": 3_000_000,
        "usdtPriceUnits": 900_000,
        "minQuantity": 1,
        "maxQuantity": 50,
        "sortOrder": 5,
        "tags": ["test"],
        "reason": "new product",
    }
    body.update(overrides)
    return body


def rule_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "configName": "bulk discount",
        "currency": "TRX",
        "priority": 10,
        "conditions": {
            "quantityTiers": [
                {"minQuantity": 10, "discountPercentage": 5},
                {"minQuantity": 50, "discountPercentage": "12.5"},
            ]
        },
        "reason": "volume pricing",
    }
    body.update(overrides)
    return body


async def create(client: Any, url: str, body: dict[str, Any], headers: Any) -> dict[str, Any]:
    response = await client.post(url, json=body, headers=headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


class TestAuth:
    @pytest.mark.parametrize(
        ("method", "url"),
        [
            ("GET", PACKAGES),
            ("POST", PACKAGES),
            ("GET", PACKAGES + "/{id}"),
            ("PATCH", PACKAGES + "/{id}"),
            ("DELETE", PACKAGES + "/{id}?reason=x"),
            ("GET", PACKAGES + "/{id}/changes"),
            ("GET", PACKAGES + "/{id}/quote"),
            ("GET", CONFIGS),
            ("POST", CONFIGS),
            ("GET", CONFIGS + "/{id}"),
            ("PATCH", CONFIGS + "/{id}"),
            ("DELETE", CONFIGS + "/{id}?reason=x"),
            ("GET", CONFIGS + "/{id}/history"),
            ("GET", TEMPLATES),
            ("POST", TEMPLATES),
            ("GET", TEMPLATES + "/{id}"),
            ("PATCH", TEMPLATES + "/{id}"),
            ("DELETE", TEMPLATES + "/{id}?reason=x"),
            ("POST", TEMPLATES + "/{id}/apply"),
            ("GET", TEMPLATES + "/{id}/changes"),
            ("GET", FLASH),
            ("PUT", FLASH),
            ("GET", FLASH + "/history"),
        ],
    )
    async def test_token_required(self, client: Any, method: str, url: str) -> None:
        response = await client.request(method, url.format(id=uuid.uuid4()), json={"reason": "x"})
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "NOT_LOGGED_IN"

    async def test_operator_reads_but_cannot_change(
        self, client: Any, operator_headers: dict[str, str]
    ) -> None:
        assert (await client.get(PACKAGES, headers=operator_headers)).status_code == 200
        assert (await client.get(FLASH, headers=operator_headers)).status_code == 200
        for method, url, body in (
            ("POST", PACKAGES, package_body()),
            ("POST", CONFIGS, rule_body()),
            ("PUT", FLASH, {"config": {"single_price": 2}, "reason": "x"}),
        ):
            response = await client.request(method, url, json=body, headers=operator_headers)
            assert response.status_code == 403, response.text
            assert response.json()["error"]["code"] == "ROLE_NOT_ALLOWED"


class TestPackages:
    async def test_seeded_defaults(self, client: Any, operator_headers: dict[str, str]) -> None:
        every = (await client.get(PACKAGES, headers=operator_headers)).json()["data"]
        # the count packages of 0018_count_packages follow the energy packages
        data = [p for p in every if p["packageType"] == "energy"]
        assert [(p["energyAmount"], p["durationHours"]) for p in data] == [
            (65_000, 1),
            (131_000, 1),
            (65_000, 24),
            (65_000, 72),
        ]
        assert all(p["trxPriceSun"] > 0 and p["usdtPriceUnits"] > 0 for p in data)
        assert [p["sortOrder"] for p in data] == sorted(p["sortOrder"] for p in data)

    async def test_create_edit_delete_recorded(
        self, client: Any, state: AppState, admin_headers: dict[str, str]
    ) -> None:
        made = await create(client, PACKAGES, package_body(), admin_headers)
        url = f"{PACKAGES}/{made['packageId']}"
        assert made["trxPriceSun"] == 3_000_000 and made["maxQuantity"] == 50
        edit = await client.patch(
            url, json={"trxPriceSun": 3_500_000, "reason": "TRX fell"}, headers=admin_headers
        )
        assert edit.status_code == 200, edit.text
        assert edit.json()["data"]["trxPriceSun"] == 3_500_000
        assert edit.json()["data"]["usdtPriceUnits"] == 900_000
        same = await client.patch(
            url, json={"trxPriceSun": 3_500_000, "reason": "again"}, headers=admin_headers
        )
        assert same.status_code == 200
        changes = (await client.get(f"{url}/changes", headers=admin_headers)).json()["data"]
        assert [c["action"] for c in changes] == ["update", "create"]
        assert changes[0]["before"] == {"trx_price_sun": 3_000_000}
        assert changes[0]["after"] == {"trx_price_sun": 3_500_000}
        assert changes[0]["reason"] == "TRX fell" and changes[0]["actor"].startswith("admin:")
        gone = await client.delete(url, params={"reason": "unused"}, headers=admin_headers)
        assert gone.status_code == 200, gone.text
        assert (await client.get(url, headers=admin_headers)).status_code == 404
        changes = (await client.get(f"{url}/changes", headers=admin_headers)).json()["data"]
        assert changes[0]["action"] == "delete" and changes[0]["before"]["name"] == made["name"]
        async with state.session_maker() as session:
            assert await session.scalar(select(func.count()).select_from(CatalogChange)) == 3

    async def test_delete_refused_when_ordered_or_priced(
        self, client: Any, state: AppState, admin_headers: dict[str, str]
    ) -> None:
        made = await create(client, PACKAGES, package_body(), admin_headers)
        rule = await create(client, CONFIGS, rule_body(packageId=made["packageId"]), admin_headers)
        url = f"{PACKAGES}/{made['packageId']}"
        refused = await client.delete(url, params={"reason": "x"}, headers=admin_headers)
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "PACKAGE_IN_USE"
        await client.delete(
            f"{CONFIGS}/{rule['configId']}", params={"reason": "x"}, headers=admin_headers
        )
        # a deleted rule still refers to the package (its history stays): deactivate instead
        off = await client.patch(
            url, json={"isActive": False, "reason": "off sale"}, headers=admin_headers
        )
        assert off.json()["data"]["isActive"] is False
        public = (await client.get("/api/energy-packages")).json()["data"]
        assert made["packageId"] not in {p["packageId"] for p in public}

    async def test_delete_refused_with_an_order(
        self, client: Any, state: AppState, admin_headers: dict[str, str]
    ) -> None:
        made = await create(client, PACKAGES, package_body(), admin_headers)
        async with state.session_maker() as session, session.begin():
            user = User(id=uuid.uuid4())
            session.add(user)
            await session.flush()
            session.add(
                Order(
                    id=f"PKG_{uuid.uuid4().hex[:12]}",
                    user_id=user.id,
                    package_id=uuid.UUID(made["packageId"]),
                    order_number=f"PKG_{uuid.uuid4().hex[:12]}",
                    order_type=OrderType.ENERGY_RENTAL,
                    energy_amount=65_000,
                    duration_hours=2,
                    price_units=3_000_000,
                    final_price_units=3_000_000,
                )
            )
        refused = await client.delete(
            f"{PACKAGES}/{made['packageId']}", params={"reason": "x"}, headers=admin_headers
        )
        assert refused.status_code == 409

    @pytest.mark.parametrize(
        "overrides",
        [
            {"reason": ""},
            {"reason": "   "},
            {"name": ""},
            {"energyAmount": 0},
            {"energyAmount": "65000"},
            {"durationHours": 1.5},
            {"trxPriceSun": -1},
            {"trxPriceSun": None, "usdtPriceUnits": None},
            {"minQuantity": 10, "maxQuantity": 5},
            {"tags": "x"},
            {"tags": [""]},
            {"packageType": "transaction_count"},
            {"transactionCount": 10},
            {"surprise": 1},
        ],
    )
    async def test_bad_create_is_422(
        self, client: Any, admin_headers: dict[str, str], overrides: dict[str, Any]
    ) -> None:
        response = await client.post(
            PACKAGES, json=package_body(**overrides), headers=admin_headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["success"] is False

    @pytest.mark.parametrize(
        "patch",
        [
            {"trxPriceSun": 1},
            {"reason": "x", "name": None},
            {"reason": "x", "maxQuantity": 0},
            {"reason": "x", "minQuantity": 100},
            {"reason": "x", "trxPriceSun": None, "usdtPriceUnits": None},
            {"reason": "x", "unknown": True},
        ],
    )
    async def test_bad_patch_is_422(
        self, client: Any, admin_headers: dict[str, str], patch: dict[str, Any]
    ) -> None:
        made = await create(client, PACKAGES, package_body(), admin_headers)
        response = await client.patch(
            f"{PACKAGES}/{made['packageId']}", json=patch, headers=admin_headers
        )
        assert response.status_code == 422, response.text

    async def test_unknown_package(self, client: Any, admin_headers: dict[str, str]) -> None:
        url = f"{PACKAGES}/{uuid.uuid4()}"
        assert (await client.get(url, headers=admin_headers)).status_code == 404
        patch = await client.patch(url, json={"reason": "x", "name": "y"}, headers=admin_headers)
        assert patch.status_code == 404
        assert patch.json()["error"]["code"] == "PACKAGE_NOT_FOUND"
        assert (await client.get(f"{url}/changes", headers=admin_headers)).status_code == 404
        assert (await client.get(f"{PACKAGES}/nope", headers=admin_headers)).status_code == 422


class TestPriceConfigs:
    async def test_rule_applied_and_history(
        self, client: Any, state: AppState, admin_headers: dict[str, str]
    ) -> None:
        made = await create(client, PACKAGES, package_body(), admin_headers)
        quote_url = f"{PACKAGES}/{made['packageId']}/quote"
        plain = (
            await client.get(quote_url, params={"quantity": 10}, headers=admin_headers)
        ).json()["data"]
        assert plain["finalPriceUnits"] == 30_000_000 and plain["ruleId"] is None
        rule = await create(client, CONFIGS, rule_body(packageId=made["packageId"]), admin_headers)
        assert rule["conditions"]["quantity_tiers"][1]["discount_percentage"] == "12.5"
        tiered = (
            await client.get(quote_url, params={"quantity": 10}, headers=admin_headers)
        ).json()["data"]
        assert tiered["ruleId"] == rule["configId"]
        assert tiered["priceUnits"] == 30_000_000 and tiered["discountUnits"] == 1_500_000
        assert tiered["finalPriceUnits"] == 28_500_000
        usdt = (
            await client.get(
                quote_url, params={"quantity": 10, "currency": "USDT"}, headers=admin_headers
            )
        ).json()["data"]
        assert usdt["ruleId"] is None and usdt["finalPriceUnits"] == 9_000_000
        url = f"{CONFIGS}/{rule['configId']}"
        edit = await client.patch(
            url, json={"markupBps": 1000, "reason": "costs up"}, headers=admin_headers
        )
        assert edit.status_code == 200, edit.text
        off = await client.patch(
            url, json={"isActive": False, "reason": "pause"}, headers=admin_headers
        )
        assert off.json()["data"]["isActive"] is False
        history = (await client.get(f"{url}/history", headers=admin_headers)).json()["data"]
        assert [h["changeType"] for h in history] == ["deactivate", "update", "create"]
        assert history[1]["oldValue"] == {"markup_bps": 0}
        assert history[1]["newValue"] == {"markup_bps": 1000}
        assert history[1]["changeReason"] == "costs up" and history[1]["changedBy"]
        deleted = await client.delete(url, params={"reason": "gone"}, headers=admin_headers)
        assert deleted.status_code == 200
        assert (await client.get(url, headers=admin_headers)).status_code == 404
        history = (await client.get(f"{url}/history", headers=admin_headers)).json()["data"]
        assert history[0]["changeType"] == "delete" and history[0]["newValue"] is None
        listed = (await client.get(CONFIGS, headers=admin_headers)).json()["data"]
        assert rule["configId"] not in {c["configId"] for c in listed}

    async def test_bot_and_agent_rules(
        self, client: Any, state: AppState, admin_headers: dict[str, str]
    ) -> None:
        made = await create(client, PACKAGES, package_body(), admin_headers)
        async with state.session_maker() as session, session.begin():
            bot = Bot(
                name="b",
                token_encrypted="x",
                token_hash=uuid.uuid4().hex,
                username="b" + uuid.uuid4().hex[:8],
            )
            user = User(id=uuid.uuid4())
            session.add_all([bot, user])
            await session.flush()
            session.add(
                Agent(user_id=user.id, agent_code="AG1", level=2, status=AgentStatus.ACTIVE)
            )
        await create(
            client,
            CONFIGS,
            rule_body(
                configName="bot price",
                botId=str(bot.id),
                basePriceUnits=2_500_000,
                conditions={},
            ),
            admin_headers,
        )
        await create(
            client,
            CONFIGS,
            rule_body(
                configName="agents",
                priority=20,
                conditions={"agentOnly": True, "agentLevels": [2], "agentDiscountPercentage": 10},
            ),
            admin_headers,
        )
        url = f"{PACKAGES}/{made['packageId']}/quote"

        async def final(**params: Any) -> int:
            response = await client.get(url, params=params, headers=admin_headers)
            assert response.status_code == 200, response.text
            return int(response.json()["data"]["finalPriceUnits"])

        assert await final() == 3_000_000
        assert await final(botId=str(bot.id)) == 2_500_000
        assert await final(userId=str(user.id)) == 2_700_000
        assert await final(userId=str(uuid.uuid4())) == 3_000_000

    @pytest.mark.parametrize(
        "overrides",
        [
            {"reason": ""},
            {"configName": ""},
            {"currency": "BTC"},
            {"basePriceUnits": -1},
            {"markupBps": -10_000},
            {"minPriceUnits": 5, "maxPriceUnits": 4},
            {"packageId": "not-a-uuid"},
            {"conditions": []},
            {"conditions": {"quantityTiers": {"minQuantity": 1}}},
            {"conditions": {"quantityTiers": [{"minQuantity": 0, "discountPercentage": 1}]}},
            {"conditions": {"quantityTiers": [{"minQuantity": 2, "discountPercentage": 101}]}},
            {"conditions": {"quantityTiers": [{"minQuantity": 2, "discountPercentage": 1.234}]}},
            {"conditions": {"quantityTiers": [{"minQuantity": 2}]}},
            {"conditions": {"minQuantity": 5, "maxQuantity": 2}},
            {"conditions": {"agentLevels": "1"}},
            {"conditions": {"agentOnly": "yes"}},
            {"conditions": {"typo": 1}},
            {"conditions": "{}"},
        ],
    )
    async def test_bad_rule_is_422(
        self, client: Any, admin_headers: dict[str, str], overrides: dict[str, Any]
    ) -> None:
        response = await client.post(CONFIGS, json=rule_body(**overrides), headers=admin_headers)
        assert response.status_code == 422, response.text
        assert response.json()["success"] is False

    async def test_unknown_references(self, client: Any, admin_headers: dict[str, str]) -> None:
        for key in ("packageId", "botId"):
            response = await client.post(
                CONFIGS, json=rule_body(**{key: str(uuid.uuid4())}), headers=admin_headers
            )
            assert response.status_code == 422
            assert response.json()["error"]["code"] == "REFERENCE_NOT_FOUND"
        missing = await client.get(f"{CONFIGS}/{uuid.uuid4()}/history", headers=admin_headers)
        assert missing.status_code == 404

    async def test_flash_row_is_not_a_package_rule(
        self, client: Any, admin_headers: dict[str, str]
    ) -> None:
        flash = (await client.get(FLASH, headers=admin_headers)).json()["data"]
        url = f"{CONFIGS}/{flash['configId']}"
        assert (await client.get(url, headers=admin_headers)).status_code == 404
        patch = await client.patch(url, json={"reason": "x", "priority": 1}, headers=admin_headers)
        assert patch.status_code == 404


class TestTemplates:
    async def test_apply_creates_then_updates(
        self, client: Any, state: AppState, admin_headers: dict[str, str]
    ) -> None:
        made = await create(client, PACKAGES, package_body(), admin_headers)
        body = {
            "name": "Holiday",
            "configs": [
                {"configName": "holiday TRX", "markupBps": -1000, "priority": 50},
                {
                    "configName": "holiday bulk",
                    "packageId": made["packageId"],
                    "conditions": {"minQuantity": 20},
                    "markupBps": -2000,
                    "priority": 60,
                },
            ],
            "reason": "season",
        }
        template = await create(client, TEMPLATES, body, admin_headers)
        url = f"{TEMPLATES}/{template['templateId']}"
        applied = await client.post(f"{url}/apply", json={"reason": "go"}, headers=admin_headers)
        assert applied.status_code == 200, applied.text
        data = applied.json()["data"]
        assert len(data["created"]) == 2 and data["template"]["usageCount"] == 1
        quote_url = f"{PACKAGES}/{made['packageId']}/quote"
        q1 = (await client.get(quote_url, headers=admin_headers)).json()["data"]
        assert q1["finalPriceUnits"] == 2_700_000
        q20 = (await client.get(quote_url, params={"quantity": 20}, headers=admin_headers)).json()[
            "data"
        ]
        assert q20["finalPriceUnits"] == 20 * 2_400_000
        edit = await client.patch(
            url,
            json={"configs": [{"configName": "holiday TRX", "markupBps": -500}], "reason": "less"},
            headers=admin_headers,
        )
        assert edit.status_code == 200, edit.text
        again = (
            await client.post(f"{url}/apply", json={"reason": "again"}, headers=admin_headers)
        ).json()["data"]
        assert again["created"] == [] and len(again["updated"]) == 1
        assert again["template"]["usageCount"] == 2
        rule_id = again["updated"][0]["configId"]
        history = (await client.get(f"{CONFIGS}/{rule_id}/history", headers=admin_headers)).json()[
            "data"
        ]
        assert [h["changeType"] for h in history] == ["update", "create"]
        assert history[0]["changeReason"] == "template 'Holiday': again"
        changes = (await client.get(f"{url}/changes", headers=admin_headers)).json()["data"]
        assert [c["action"] for c in changes] == ["apply", "update", "apply", "create"]

    async def test_bad_templates(self, client: Any, admin_headers: dict[str, str]) -> None:
        good = {"name": "T", "configs": [{"configName": "a"}], "reason": "r"}
        for bad in (
            {**good, "configs": []},
            {**good, "configs": [{"configName": "a"}, {"configName": "a"}]},
            {**good, "configs": [{"configName": "a", "reason": "no"}]},
            {**good, "configs": [{"configName": "a", "conditions": {"x": 1}}]},
            {**good, "templateType": "other"},
            {**good, "name": ""},
        ):
            response = await client.post(TEMPLATES, json=bad, headers=admin_headers)
            assert response.status_code == 422, (bad, response.text)
        await create(client, TEMPLATES, good, admin_headers)
        taken = await client.post(TEMPLATES, json=good, headers=admin_headers)
        assert taken.status_code == 409
        missing = await client.post(
            f"{TEMPLATES}/{uuid.uuid4()}/apply", json={"reason": "r"}, headers=admin_headers
        )
        assert missing.status_code == 404


class TestFlashConfig:
    async def test_put_is_used_by_the_next_order_and_recorded(
        self, client: Any, state: AppState, admin_headers: dict[str, str]
    ) -> None:
        before = (await client.get(FLASH, headers=admin_headers)).json()["data"]
        assert before["singlePriceSun"] == 1_500_000 and before["maxTransactions"] == 10
        config = {
            "single_price": "2",
            "max_transactions": 5,
            "expiry_hours": 1,
            "min_amount": 1,
            "excess_policy": "keep",
        }
        put = await client.put(
            FLASH, json={"config": config, "reason": "TRX price"}, headers=admin_headers
        )
        assert put.status_code == 200, put.text
        assert put.json()["data"]["singlePriceSun"] == 2_000_000
        assert put.json()["data"]["excessPolicy"] == "keep"
        async with state.session_maker() as session, session.begin():
            cfg = await load_flash_config(session)
            assert cfg.price.single_price_sun == 2_000_000 and cfg.price.max_transactions == 5
            # the next flash order is priced with it
            rt = FlashRuntime(payment_address=PAY_TO)
            order, _ = await flash_orders.create_order(
                session, rt, recipient_address=RECIPIENT, chat_id=None
            )
            assert order.expected_amount_units is not None and order.amount_tail_units
            assert order.expected_amount_units == 2_000_000 + order.amount_tail_units
            assert order.price_config and order.price_config["max_transactions"] == 5
            rows = (await session.execute(select(PriceHistory))).scalars().all()
            assert [r.change_type.value for r in rows] == ["update"]
            assert rows[0].new_value == {"config": config}
            assert rows[0].old_value is not None and rows[0].old_value["config"]["single_price"]
        history = (await client.get(f"{FLASH}/history", headers=admin_headers)).json()["data"]
        assert history[0]["changeReason"] == "TRX price"

    @pytest.mark.parametrize(
        "config",
        [
            {"single_price": 0, "max_transactions": 10},
            {"single_price": "abc", "max_transactions": 10},
            {"single_price": 1.5, "max_transactions": 0},
            {"single_price": 1.5, "max_transactions": 10, "min_amount": 2},
            {"single_price": 1.5, "max_transactions": 10, "dust_policy": "burn"},
            {"single_price": 1.5, "max_transactions": 10, "refund_address": "Tnope"},
            {"single_price": 1.5, "max_transactions": 10, "singlePrice": 2},
            {"single_price": True, "max_transactions": 10},
            {"single_price": 1.5, "max_transactions": 1001},
            {"single_price": 1.5, "max_transactions": 10, "expiry_hours": 721},
            {"single_price": 10_001, "max_transactions": 10},
            {"single_price": 1.5, "max_transactions": 10**30},
        ],
    )
    async def test_bad_config_is_422(
        self, client: Any, admin_headers: dict[str, str], config: dict[str, Any]
    ) -> None:
        response = await client.put(
            FLASH, json={"config": config, "reason": "x"}, headers=admin_headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] in {"INVALID_PRICE_CONFIG", "VALIDATION_ERROR"}
        missing_reason = await client.put(
            FLASH,
            json={"config": {"single_price": 2, "max_transactions": 1}},
            headers=admin_headers,
        )
        assert missing_reason.status_code == 422


class TestPublicList:
    async def test_no_login_active_sorted_with_rules(
        self, client: Any, admin_headers: dict[str, str]
    ) -> None:
        response = await client.get("/api/energy-packages")
        assert response.status_code == 200
        data = response.json()["data"]
        assert len([p for p in data if p["packageType"] == "energy"]) == 4
        assert data[0]["energyAmount"] == 65_000
        assert data[0]["trxPriceSun"] == 2_000_000 and data[0]["trxPrice"] == "2"
        assert data[0]["usdtPriceUnits"] == 600_000 and data[0]["usdtPrice"] == "0.6"
        await create(client, CONFIGS, rule_body(markupBps=1000, conditions={}), admin_headers)
        data = (await client.get("/api/energy-packages")).json()["data"]
        assert data[0]["trxPriceSun"] == 2_200_000 and data[0]["usdtPriceUnits"] == 600_000
        assert set(data[0]) >= {"packageId", "durationHours", "minQuantity", "maxQuantity"}
        assert (await client.get("/api/energy-packages?botId=x")).status_code == 422
        unknown_bot = await client.get(f"/api/energy-packages?botId={uuid.uuid4()}")
        assert unknown_bot.json()["data"][0]["trxPriceSun"] == 2_200_000

    async def test_bot_prices(
        self, client: Any, state: AppState, admin_headers: dict[str, str]
    ) -> None:
        async with state.session_maker() as session, session.begin():
            bot = Bot(name="b", token_encrypted="x", token_hash="h", username="pricebot")
            session.add(bot)
        await create(
            client,
            CONFIGS,
            rule_body(botId=str(bot.id), markupBps=-5000, conditions={}),
            admin_headers,
        )
        data = (await client.get(f"/api/energy-packages?botId={bot.id}")).json()["data"]
        assert data[0]["trxPriceSun"] == 1_000_000 and data[0]["usdtPriceUnits"] == 600_000
        plain = (await client.get("/api/energy-packages")).json()["data"]
        assert plain[0]["trxPriceSun"] == 2_000_000

    async def test_rate_limited(self, make_settings: Any, database_url: str, run_app: Any) -> None:
        from tronrent.api.app import create_app

        app = create_app(make_settings(database_url=database_url, rate_limit_per_minute=2))
        async with run_app(app) as http:
            codes = [(await http.get("/api/energy-packages")).status_code for _ in range(3)]
        assert codes == [200, 200, 429]


class TestEveryAdminRoute:
    async def test_anonymous_refused(self, app: Any, client: Any) -> None:
        """Every /api/admin route of the app (not only the catalogue's) answers 401 without a
        token, whatever its parameters."""
        checked = 0
        for template, operations in app.openapi()["paths"].items():
            if not template.startswith("/api/admin"):
                continue
            path = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), template)
            for method in operations:
                response = await client.request(method.upper(), path, json={})
                assert response.status_code == 401, (method, template, response.text)
                checked += 1
        assert checked >= 20

    async def test_broken_flash_row_is_reported(
        self, client: Any, state: AppState, admin_headers: dict[str, str]
    ) -> None:
        from sqlalchemy import update

        from tronrent.models import ENERGY_FLASH_MODE, PriceConfig

        async with state.session_maker() as session, session.begin():
            await session.execute(
                update(PriceConfig)
                .where(PriceConfig.mode_type == ENERGY_FLASH_MODE)
                .values(config={"single_price": -1, "max_transactions": 10})
            )
        data = (await client.get(FLASH, headers=admin_headers)).json()["data"]
        assert data["configError"] and data["singlePriceSun"] == 1_500_000
        fixed = await client.put(
            FLASH,
            json={"config": {"single_price": 1.5, "max_transactions": 10}, "reason": "fix"},
            headers=admin_headers,
        )
        assert fixed.json()["data"]["configError"] is None
