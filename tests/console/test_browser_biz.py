"""The business pages of the console in Debian's chromium (Playwright) against a real
``tronrent serve`` on the devnet (fixtures of ``browser.py``):

- an admin changes a price rule with a reason and sees the new price and its history (who,
  before / after, why); the API has the exact integer; an operator is refused;
- an admin approves an agent's withdrawal under review; the served payout job pays it and the
  TRX arrives on chain at the agent's address, once;
- a tour of every main page as an admin, with screenshots (``docs/console/`` is made with
  ``CONSOLE_SCREENSHOTS=$PWD/docs/console``).

Preconditions go through the admin HTTP API where it has a route. An agent's settled
commission has none: it comes from delivered orders of users the agent referred (users come
from the Telegram bot's ``/start``, earnings settle after the refund window). So
``_agent_with_commission`` writes the two users, one delivered order and its settled
commission with the domain code (``record_commissions``, ``settle_due``) on the served SQLite
file (WAL: the running service keeps working); the application, its approval and the
withdrawal request go through ``/api/agent-applications`` and ``/api/agent-withdrawals``.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from tronpy.exceptions import AddressNotFound
from tronpy.keys import PrivateKey

from agent.helpers import delivered_order
from tronrent.agent.commission import record_commissions, settle_due
from tronrent.agent.config import AgentConfig
from tronrent.demo.devnet import DevnetControl
from tronrent.kit.db import create_engine, create_session_maker
from tronrent.kit.time import utcnow
from tronrent.models import User
from tronrent.models.order import OrderPaymentStatus
from tronrent.user.service import new_referral_code
from tronrent.user.service import user as user_service

from .browser import TRX, Served, flash_order, send_trx, shot, sign_in
from .test_browser import _trx_balance, _underpaid_order

PRICE_REASON = "promo week: 2.75 TRX for 65k energy"


async def _catalogue(served: Served) -> tuple[str, str]:
    """A price rule on the default catalogue's "65K energy, 1 hour" (migration 0012);
    returns (package id, rule id)."""
    packages = await served.admin_api("GET", "/api/admin/energy-packages")
    package = next(p for p in packages if p["name"] == "65K energy, 1 hour")
    rule = await served.admin_api(
        "POST",
        "/api/admin/price-configs",
        json={
            "configName": "Night discount",
            "packageId": package["packageId"],
            "markupBps": -500,
            "priority": 5,
            "reason": "cheaper energy while the pools are idle",
        },
    )
    return package["packageId"], rule["configId"]


async def test_change_a_price_with_a_reason_and_see_the_history(
    served: Served, browser: Any, screenshot_dir: Path
) -> None:
    _, rule = await _catalogue(served)
    page = await sign_in(browser, served, served.admin)
    await page.locator("nav.side").get_by_role("link", name="Catalogue & prices").click()
    await page.wait_for_url("**/admin/catalogue")
    assert await page.locator("h1").inner_text() == "Catalogue & prices"
    await shot(page, screenshot_dir, "catalogue")

    await page.get_by_role("link", name="Night discount").click()
    await page.wait_for_url(f"**/admin/catalogue/prices/{rule}")
    form = page.locator(f"form[action='/admin/catalogue/prices/{rule}']")
    await form.locator("input[name=base_price]").fill("2.75")
    await form.locator("input[name=reason]").fill(PRICE_REASON)
    await form.get_by_role("button", name="Save").click()
    await page.wait_for_url(re.compile(r".*done=saved$"))
    assert "Saved" in await page.locator("[role=status]").inner_text()
    assert "2.75 TRX" in await page.locator("dl.kv").inner_text()
    entry = page.locator("table.history tbody tr", has_text=PRICE_REASON)
    cells = [await entry.locator("td").nth(i).inner_text() for i in range(6)]
    assert cells[1:3] == ["admin:boss", "update"], cells
    assert "base_price_units -" in cells[3] and "base_price_units 2750000" in cells[4], cells
    await shot(page, screenshot_dir, "price")

    stored = await served.admin_api("GET", f"/api/admin/price-configs/{rule}")
    assert stored["basePriceUnits"] == 2_750_000 and stored["markupBps"] == -500
    history = await served.admin_api("GET", f"/api/admin/price-configs/{rule}/history")
    updates = [h for h in history if h["changeType"] == "update"]
    assert len(updates) == 1 and updates[0]["changeReason"] == PRICE_REASON
    assert updates[0]["oldValue"] == {"base_price_units": None}
    assert updates[0]["newValue"] == {"base_price_units": 2_750_000}


async def test_an_operator_is_refused_the_price_change(served: Served, browser: Any) -> None:
    _, rule = await _catalogue(served)
    page = await sign_in(browser, served, served.operator)
    await page.goto(f"/admin/catalogue/prices/{rule}")
    assert "Night discount" in await page.locator("h1").inner_text()
    assert await page.locator("input[name=base_price]").count() == 0
    assert await page.get_by_role("button", name="Save").count() == 0
    # posting the form anyway (with a valid CSRF token) is refused with a page, not done
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    answer = await page.request.post(
        f"/admin/catalogue/prices/{rule}",
        form={"csrf_token": token or "", "base_price": "0.5", "reason": "trying anyway"},
        headers={"Origin": served.url},
    )
    assert answer.status == 403
    assert "admin role" in await answer.text()
    stored = await served.admin_api("GET", f"/api/admin/price-configs/{rule}")
    assert stored["basePriceUnits"] is None
    history = await served.admin_api("GET", f"/api/admin/price-configs/{rule}/history")
    assert [h["changeType"] for h in history] == ["create"]


def _telegram_user(telegram_id: int, username: str, first_name: str) -> User:
    """A user as the bot's ``/start`` makes one."""
    return User(
        id=uuid.uuid4(),
        telegram_id=telegram_id,
        username=username,
        first_name=first_name,
        referral_code=new_referral_code(),
    )


async def _agent_with_commission(served: Served) -> tuple[str, str]:
    """An agent (@tron_reseller) with 300 TRX of settled commission from a 3000 TRX order of
    a customer it referred; returns (agent's user id, agent id). See the module docstring."""
    cfg = AgentConfig()  # the served defaults: 10 % at level 1, 100 TRX auto-approved
    engine = create_engine(served.database_url)
    try:
        sessions = create_session_maker(engine)
        async with sessions() as s, s.begin():
            agent_user = _telegram_user(5_100_000_001, "tron_reseller", "Lena")
            buyer = _telegram_user(5_100_000_002, "usdt_payroll", "Max")
            s.add_all([agent_user, buyer])
            await s.flush()
            assert agent_user.referral_code is not None
            assert await user_service.bind_referrer(s, buyer, agent_user.referral_code)
        application = await served.admin_api(
            "POST",
            "/api/agent-applications",
            json={"userId": str(agent_user.id), "experience": "reseller in a TRON wallet chat"},
        )
        agent = await served.admin_api(
            "POST",
            f"/api/admin/agent-applications/{application['applicationId']}/approve",
            json={"notes": "known reseller"},
        )
        async with sessions() as s, s.begin():
            order = await delivered_order(s, buyer, 3000 * TRX)
            order.payment_status = OrderPaymentStatus.PAID  # paid in full
            order.target_address = PrivateKey.random().public_key.to_base58check_address()
            order.paid_amount_units = order.final_price_units
            assert await record_commissions(s, [order.id], cfg) == 1
            later = utcnow() + timedelta(seconds=cfg.refund_window_s + 1)
            assert await settle_due(s, cfg, now=later) == 1
    finally:
        await engine.dispose()
    return str(agent_user.id), agent["agentId"]


async def test_approve_an_agent_withdrawal(
    served: Served, browser: Any, screenshot_dir: Path
) -> None:
    user_id, agent_id = await _agent_with_commission(served)
    payout_to = PrivateKey.random().public_key.to_base58check_address()
    asked = await served.admin_api(
        "POST",
        "/api/agent-withdrawals",
        json={
            "userId": user_id,
            "currency": "TRX",
            "amountUnits": 150 * TRX,  # above the 100 TRX paid without review
            "toAddress": payout_to,
        },
    )
    assert asked["status"] == "pending_review", asked
    wid = asked["withdrawalId"]
    assert await _balance(served, payout_to) == 0

    page = await sign_in(browser, served, served.admin)
    await page.locator("nav.side").get_by_role("link", name="Agents").click()
    await page.wait_for_url("**/admin/agents")
    assert await page.locator("h1").inner_text() == "Agents"
    await page.locator(".subnav").get_by_role("link", name="Withdrawals").click()
    await page.wait_for_url("**/admin/agents/withdrawals?status=pending_review")
    row = page.locator("table tbody tr", has=page.locator(f"td:text-is('{wid}')"))
    assert "pending_review" in await row.inner_text()
    approve = row.locator(f"form[action='/admin/agents/withdrawals/{wid}/approve']")
    await approve.locator("input[name=reason]").fill("known reseller, address checked by phone")
    await shot(page, screenshot_dir, "agent-withdrawals")
    await approve.get_by_role("button", name="Approve").click()
    await page.wait_for_url(re.compile(r".*done=approved$"))
    assert "Withdrawal approved" in await page.locator("[role=status]").inner_text()
    row = page.locator("table tbody tr", has=page.locator(f"td:text-is('{wid}')"))
    assert "approved" in await row.inner_text()

    # the approval queued the payout job; the scanner confirms the transfer
    for _ in range(900):
        await page.reload()
        row = page.locator("table tbody tr", has=page.locator(f"td:text-is('{wid}')"))
        if await row.locator(".badge.paid").count():
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the withdrawal was never shown paid")
    assert "known reseller, address checked by phone" in await row.inner_text()
    await shot(page, screenshot_dir, "agent-withdrawal-paid")
    listed = await served.admin_api("GET", "/api/admin/agent-withdrawals")
    paid = [w for w in listed if w["withdrawalId"] == wid]
    assert paid and paid[0]["status"] == "paid" and paid[0]["txid"], paid
    assert await _balance(served, payout_to) == 149 * TRX  # 150 less the 1 TRX fee
    assert await _payout_transfers(served, payout_to) == [(paid[0]["txid"], 149 * TRX)]
    agent = await served.admin_api("GET", f"/api/admin/agents/{agent_id}")
    assert agent["withdrawnAmountSun"] == 150 * TRX, agent


async def _balance(served: Served, address: str) -> int:
    """The TRX of ``address`` in sun; 0 for an account the chain does not have yet."""
    try:
        return await _trx_balance(served, address)
    except AddressNotFound:
        return 0


async def _payout_transfers(served: Served, address: str) -> list[tuple[str, int]]:
    """Every TRX transfer the chain has to ``address`` (the devnet's account history)."""
    async with httpx.AsyncClient(base_url=served.devnet_url, timeout=30) as http:
        answer = await http.get(f"/v1/accounts/{address}/transactions", params={"limit": 50})
    assert answer.status_code == 200, answer.text
    found = []
    for tx in answer.json()["data"]:
        value = tx["raw_data"]["contract"][0]["parameter"]["value"]
        if tx["raw_data"]["contract"][0]["type"] == "TransferContract":
            found.append((tx["txID"], int(value["amount"])))
    return found


async def _paid_order(served: Served) -> str:
    """A flash order for a wallet holding USDT, paid in full from another wallet and
    delivered from the demo pool."""
    payer = PrivateKey.random()
    payer_address = payer.public_key.to_base58check_address()
    recipient = PrivateKey.random().public_key.to_base58check_address()
    async with DevnetControl(served.devnet_url) as devnet:
        await devnet.faucet(payer_address, trx_sun=50 * TRX)
        await devnet.faucet(recipient, usdt_units=250_000_000)  # in use: no activation
    order = await flash_order(served, recipient)
    price = round(order["priceConfig"]["single_price"] * TRX) + round(order["paymentTail"] * TRX)
    await send_trx(served, payer, order["paymentAddress"], price)
    for _ in range(300):
        found = await served.admin_api("GET", f"/api/admin/orders/{order['orderId']}")
        if found["status"] == "active":
            return str(order["orderId"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"the order was not delivered: {found}")


#: the side menu's entries and the heading of the page each opens
MAIN_PAGES = (
    ("Overview", "overview", "Overview"),
    ("Orders", "orders", "Orders"),
    ("Payments", "payments", "Payments"),
    ("Pools", "pools", "Energy pools"),
    ("Bots", "bots", "Bots"),
    ("System configs", "configs", "System configs"),
    ("Jobs & alerts", "jobs", "Dead-lettered jobs"),
    ("Catalogue & prices", "catalogue", "Catalogue & prices"),
    ("Users & balances", "users", "Users & balances"),
    ("Agents", "agents", "Agents"),
    ("Merchant API", "merchants", "Merchant API keys"),
)


async def _open(page: Any, click: Any) -> None:
    """Click a link and check the page it opens answered 200."""
    async with page.expect_navigation() as navigation:
        await click
    answer = await navigation.value
    assert answer is not None and answer.status == 200, (answer and answer.url, answer.status)


async def test_a_tour_of_the_main_pages(served: Served, browser: Any, screenshot_dir: Path) -> None:
    """Every main page as an admin, on a platform with a little business: packages and a rule,
    an agent with a withdrawal waiting, a merchant key, a delivered and an underpaid order."""
    await _catalogue(served)
    user_id, _ = await _agent_with_commission(served)
    await served.admin_api(
        "POST",
        "/api/agent-withdrawals",
        json={
            "userId": user_id,
            "currency": "TRX",
            "amountUnits": 120 * TRX,
            "toAddress": PrivateKey.random().public_key.to_base58check_address(),
        },
    )
    await served.admin_api(
        "POST",
        "/api/admin/merchant/keys",
        json={
            "userId": user_id,
            "name": "shop backend",
            "ipAllowlist": ["203.0.113.0/24"],
            "callbackUrl": "https://shop.example/tronrent/callback",
            "reason": "reseller integrates its shop",
        },
    )
    await _paid_order(served)
    await _underpaid_order(served)

    page = await sign_in(browser, served, served.admin)
    side = page.locator("nav.side")
    for label, name, heading in MAIN_PAGES:
        await _open(page, side.get_by_role("link", name=label, exact=True).click())
        assert await page.locator("h1").first.inner_text() == heading, label
        assert await page.locator(f"nav.side a.active:text-is('{label}')").count() == 1
        await shot(page, screenshot_dir, name)
        if name == "overview":
            assert "TRX" in await page.locator("main").inner_text()
        elif name == "payments":
            assert await page.locator("table tbody tr .badge").count() >= 2
            await _open(page, page.get_by_role("link", name="Problem payments").click())
            assert "underpaid" in await page.locator("table").first.inner_text()
            await shot(page, screenshot_dir, "payments-problems")
        elif name == "pools":
            await _open(page, page.get_by_role("link", name="devnet-demo").click())
            assert "devnet-demo" in await page.locator("h1").inner_text()
            await shot(page, screenshot_dir, "pool")
        elif name == "jobs":
            await _open(page, page.get_by_role("link", name="Alerts »").click())
            assert await page.locator("h1").inner_text() == "Alerts"
            await shot(page, screenshot_dir, "alerts", full_page=False)
        elif name == "users":
            await _open(page, page.get_by_role("link", name="@tron_reseller").click())
            assert "@tron_reseller" in await page.locator("h1").inner_text()
            # 300 TRX of commission settled, 120 TRX asked for
            assert "180 TRX" in await page.locator("dl.kv").inner_text()
            await shot(page, screenshot_dir, "user")
        elif name == "agents":
            await _open(
                page, page.locator(".subnav").get_by_role("link", name="Withdrawals").click()
            )
            assert "pending_review" in await page.locator("table").inner_text()
        elif name == "merchants":
            assert "shop backend" in await page.locator("table").first.inner_text()
