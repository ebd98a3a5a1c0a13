"""Catalogue and prices pages on both databases: packages (energy and count), price rules with
their history, templates, the flash config; every change with who and why."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from tronrent.kit.audit import Actor
from tronrent.models.catalog_change import CatalogAction, CatalogChange
from tronrent.models.energy_package import EnergyPackage, PackageType
from tronrent.models.price_history import PriceChangeType, PriceHistory
from tronrent.pricing.package import package_service
from tronrent.pricing.rules import price_config_service
from tronrent.pricing.schemas import PackageSpec, PriceConfigSpec, TemplateSpec
from tronrent.pricing.template import template_service

from .conftest import Console

CLI = Actor("cli:test")
TRX = 1_000_000


async def seed(console: Console) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """An energy package, a count package, a rule on the first and a template."""
    async with console.state.session_maker() as s, s.begin():
        energy = await package_service.create(
            s,
            PackageSpec(
                name="Energy 65k", energy_amount=65_000, duration_hours=1, trx_price_sun=3 * TRX
            ),
            actor=CLI,
            reason="seed",
        )
        await package_service.create(
            s,
            PackageSpec(
                name="Ten transfers",
                package_type=PackageType.TRANSACTION_COUNT,
                energy_amount=65_000,
                duration_hours=24,
                transaction_count=10,
                trx_price_sun=25 * TRX,
                usdt_price_units=5 * TRX,
            ),
            actor=CLI,
            reason="seed",
        )
        rule = await price_config_service.create(
            s,
            PriceConfigSpec(config_name="Night discount", package_id=energy.id, markup_bps=-500),
            actor=CLI,
            reason="seed",
        )
        template = await template_service.create(
            s,
            TemplateSpec(
                name="Launch",
                configs=[PriceConfigSpec(config_name="Launch price", base_price_units=2 * TRX)],
            ),
            actor=CLI,
            reason="seed",
        )
        return energy.id, rule.id, template.id


async def test_pages_show_the_catalogue(console: Console) -> None:
    energy, rule, _ = await seed(console)
    http = await console.sign_in("operator")
    page = await http.get("/admin/catalogue")
    assert page.status_code == 200
    text = page.text
    assert "Energy 65k" in text and "Ten transfers" in text and "25 TRX · 5 USDT" in text
    assert "Night discount" in text and "-500 bps" in text and "Launch" in text
    assert "New package" not in text and "/apply" not in text  # operator: no admin forms
    detail = await http.get(f"/admin/catalogue/packages/{energy}")
    assert detail.status_code == 200 and "3 TRX" in detail.text and "cli:test" in detail.text
    assert "Save" not in detail.text
    price = await http.get(f"/admin/catalogue/prices/{rule}")
    assert price.status_code == 200 and "[cli:test] seed" in price.text
    flash = await http.get("/admin/catalogue/flash")
    assert flash.status_code == 200 and "Per transfer" in flash.text


async def test_change_a_price_with_a_reason_and_see_the_history(console: Console) -> None:
    _, rule, _ = await seed(console)
    http = await console.sign_in("admin")
    page = f"/admin/catalogue/prices/{rule}"
    answer = await Console.post(
        http, page, page, base_price="2.75", markup_bps="-500", priority="5", reason="promo week"
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"{page}?done=saved"
    shown = await http.get(answer.headers["location"])
    assert "Saved" in shown.text and "promo week" in shown.text and "2.75 TRX" in shown.text
    async with console.state.session_maker() as s:
        config = await price_config_service.get(s, rule)
        assert (config.base_price_units, config.priority) == (2_750_000, 5)
        history = (
            (await s.execute(select(PriceHistory).where(PriceHistory.config_id == rule)))
            .scalars()
            .all()
        )
    latest = [h for h in history if h.change_type is PriceChangeType.UPDATE]
    assert len(latest) == 1 and latest[0].change_reason == "promo week"
    assert latest[0].old_value == {"base_price_units": None, "priority": 0}
    assert latest[0].new_value == {"base_price_units": 2_750_000, "priority": 5}
    assert latest[0].changed_by is not None  # the signed-in admin
    assert re.search(r"admin:admin_\w+", shown.text)
    # the same values again: nothing recorded
    again = await Console.post(
        http, page, page, base_price="2.75", markup_bps="-500", priority="5", reason="again"
    )
    assert again.headers["location"].endswith("done=same")
    # off and on: deactivate / activate rows
    off = await Console.post(http, f"{page}/sale", page, reason="sold out")
    assert off.headers["location"].endswith("done=disabled")
    on = await Console.post(http, f"{page}/sale", page, active="1", reason="back")
    assert on.headers["location"].endswith("done=enabled")
    async with console.state.session_maker() as s:
        kinds = [h.change_type for h in await price_config_service.history(s, rule)]
    assert kinds[:2] == [PriceChangeType.ACTIVATE, PriceChangeType.DEACTIVATE]
    gone = await Console.post(http, f"{page}/delete", page, reason="retired")
    assert gone.status_code == 303
    assert (await http.get(page)).status_code == 404


async def test_packages_created_edited_disabled(console: Console) -> None:
    http = await console.sign_in("admin")
    made = await Console.post(
        http,
        "/admin/catalogue/packages",
        "/admin/catalogue",
        name="Count 5",
        package_type="transaction_count",
        energy_amount="65000",
        duration_hours="24",
        transaction_count="5",
        trx_price="12.5",
        reason="new product",
    )
    assert made.status_code == 303, made.text
    package_id = uuid.UUID(made.headers["location"].split("/")[-1].split("?")[0])
    page = f"/admin/catalogue/packages/{package_id}"
    edit = await Console.post(
        http,
        page,
        page,
        name="Count 5",
        package_type="transaction_count",
        energy_amount="65000",
        duration_hours="24",
        transaction_count="5",
        trx_price="13",
        usdt_price="",
        min_quantity="1",
        sort_order="0",
        reason="price up",
    )
    assert edit.headers["location"].endswith("done=saved")
    off = await Console.post(http, f"{page}/sale", page, reason="paused")
    assert off.headers["location"].endswith("done=disabled")
    async with console.state.session_maker() as s:
        package = await s.get(EnergyPackage, package_id)
        assert package is not None
        assert (package.base_price_units, package.is_active) == (13 * TRX, False)
        rows = (
            (
                await s.execute(
                    select(CatalogChange)
                    .where(CatalogChange.entity_id == package_id)
                    .order_by(CatalogChange.created_at)
                )
            )
            .scalars()
            .all()
        )
    assert [(c.action, c.reason) for c in rows] == [
        (CatalogAction.CREATE, "new product"),
        (CatalogAction.UPDATE, "price up"),
        (CatalogAction.UPDATE, "paused"),
    ]
    assert all(c.actor.startswith("admin:admin_") and c.actor_id for c in rows)
    assert rows[1].before == {"trx_price_sun": 12_500_000} and rows[1].after == {
        "trx_price_sun": 13 * TRX
    }
    text = (await http.get(page)).text
    assert "price up" in text and "paused" in text and "12500000" in text
    deleted = await Console.post(http, f"{page}/delete", page, reason="mistake")
    assert deleted.headers["location"] == "/admin/catalogue?done=deleted"


async def test_template_applied(console: Console) -> None:
    _, _, template = await seed(console)
    http = await console.sign_in("admin")
    answer = await Console.post(
        http, f"/admin/catalogue/templates/{template}/apply", "/admin/catalogue", reason="launch"
    )
    assert answer.headers["location"] == "/admin/catalogue?done=applied"
    assert "Launch price" in (await http.get("/admin/catalogue")).text


async def test_operator_refused_admin_actions(console: Console) -> None:
    energy, rule, template = await seed(console)
    http = await console.sign_in("operator")
    page = "/admin/catalogue"
    for path, form in (
        (f"{page}/prices/{rule}", {"base_price": "1", "reason": "try"}),
        (f"{page}/prices/{rule}/sale", {"reason": "try"}),
        (f"{page}/packages/{energy}/sale", {"reason": "try"}),
        (f"{page}/packages/{energy}/delete", {"reason": "try"}),
        (f"{page}/templates/{template}/apply", {"reason": "try"}),
        (
            f"{page}/packages",
            {"name": "x", "energy_amount": "1", "duration_hours": "1", "reason": "try"},
        ),
    ):
        answer = await Console.post(http, path, page, **form)
        assert answer.status_code == 403, path
        assert "admin role" in answer.text
    async with console.state.session_maker() as s:
        assert (await price_config_service.get(s, rule)).is_active


async def test_bad_input_is_a_4xx_page(console: Console) -> None:
    energy, rule, _ = await seed(console)
    http = await console.sign_in("admin")
    page = f"/admin/catalogue/prices/{rule}"
    for form, status in (
        ({"base_price": "1.1234567", "reason": "typo"}, 422),  # 7 decimals
        ({"base_price": "abc", "reason": "typo"}, 422),
        ({"base_price": "-1", "reason": "typo"}, 422),
        ({"markup_bps": "99999999", "reason": "typo"}, 422),
        ({"min_price": "5", "max_price": "1", "reason": "typo"}, 422),
        ({"base_price": "1", "reason": ""}, 422),  # a reason is required
    ):
        answer = await Console.post(http, page, page, **form)
        assert answer.status_code == status, (form, answer.text[:300])
        assert "<html" in answer.text
    in_use = await Console.post(
        http, f"/admin/catalogue/packages/{energy}/delete", page, reason="remove"
    )
    assert in_use.status_code == 409 and "deactivate" in in_use.text
    assert (await http.get(f"/admin/catalogue/prices/{uuid.uuid4()}")).status_code == 404
    assert (await http.get("/admin/catalogue/prices/not-a-uuid")).status_code == 422
    bad_package = await Console.post(
        http,
        "/admin/catalogue/packages",
        "/admin/catalogue",
        name="No price",
        energy_amount="65000",
        duration_hours="1",
        reason="try",
    )
    assert bad_package.status_code == 422 and "trxPriceSun" in bad_package.text


async def test_sidebar_follows_the_router_order(console: Console) -> None:
    http = await console.sign_in("admin")
    text = (await http.get("/admin/catalogue")).text
    side = text[text.index('<nav class="side"') : text.index("</nav>")]
    paths = re.findall(r'<a href="(/admin/[^"]*)"', side)
    assert paths == [
        "/admin/",
        "/admin/orders",
        "/admin/payments",
        "/admin/users",
        "/admin/catalogue",
        "/admin/pools",
        "/admin/bots",
        "/admin/agents",
        "/admin/merchants",
        "/admin/configs",
        "/admin/jobs",
    ]
