"""Count packages sold, in the console, on the devnet (SQLite and PostgreSQL): a package bought
and paid over the API is listed; an operator adds counts, pauses (the count job reclaims the
energy) and resumes it, each change recorded with who and why; bad input is a 4xx page."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from flash.conftest import box, box_key, devnet, gateway, shop  # noqa: F401 - fixtures
from flash.test_count_api import bought, count_package
from flash.test_endpoints import Api
from trondevnet.testing import funded_key
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.count import service as count_service
from tronrent.models.count_package import CountChangeKind, CountPackageChange

from .conftest import Console

TRX = 1_000_000


async def test_adjust_pause_resume(
    shop: Api,  # noqa: F811
    console: Console,
    gateway: TronGateway,  # noqa: F811
) -> None:
    package_id = await count_package(shop, 3)
    customer = funded_key(shop.devnet.chain, TRX).address_base58
    data = await bought(shop, package_id, customer)
    order_id = data["orderId"]
    http = await console.sign_in("operator")  # operators may act, as in the API
    listing = await http.get("/admin/catalogue/count-packages")
    assert listing.status_code == 200 and order_id in listing.text and "0 / 3" in listing.text
    page = f"/admin/catalogue/count-packages/{order_id}"
    added = await Console.post(http, f"{page}/adjust", page, delta="2", reason="goodwill")
    assert added.headers["location"] == f"{page}?done=adjusted"
    paused = await Console.post(http, f"{page}/pause", page, reason="customer asked")
    assert paused.headers["location"] == f"{page}?done=paused"
    # the count job sends the undelegation (no job scope here: its periodic run picks it up)
    maker = console.state.session_maker
    for _ in range(400):
        async with maker() as s:
            pkg = (await count_service.state_of(s, order_id, uses=False)).package
        if pkg.pending_action is None:
            break
        await asyncio.sleep(0.05)
    assert pkg.paused and pkg.pending_action is None
    assert (await gateway.get_account_resource(customer)).energy_limit == 0
    shown = (await http.get(page)).text
    assert "Resume" in shown and "customer asked" in shown and "goodwill" in shown
    resumed = await Console.post(http, f"{page}/resume", page, reason="back")
    assert resumed.headers["location"] == f"{page}?done=resumed"
    async with maker() as s:
        rows = (
            (
                await s.execute(
                    select(CountPackageChange)
                    .where(CountPackageChange.order_id == order_id)
                    .order_by(CountPackageChange.id)
                )
            )
            .scalars()
            .all()
        )
    assert [(c.kind, c.reason, c.total_before, c.total_after) for c in rows] == [
        (CountChangeKind.ADJUST, "goodwill", 3, 5),
        (CountChangeKind.PAUSE, "customer asked", 5, 5),
        (CountChangeKind.RESUME, "back", 5, 5),
    ]
    assert all(c.actor.startswith("admin:operator_") and c.actor_id for c in rows)
    # bad input: a 4xx page, nothing changes
    for form, status in (
        ({"delta": "abc", "reason": "typo"}, 422),
        ({"delta": "0", "reason": "typo"}, 422),
        ({"delta": "-10", "reason": "below what is used"}, 422),
        ({"delta": "99999", "reason": "too many"}, 422),
        ({"delta": "1", "reason": ""}, 422),
    ):
        answer = await Console.post(http, f"{page}/adjust", page, **form)
        assert answer.status_code == status, (form, answer.text[:300])
    unknown = "/admin/catalogue/count-packages/ORD_1700000000000_aaaaaaaaa"
    assert (await http.get(unknown)).status_code == 404
    assert (await Console.post(http, f"{unknown}/pause", page, reason="x-x")).status_code == 404
    assert (await http.get("/admin/catalogue/count-packages?cursor=zz")).status_code == 422
