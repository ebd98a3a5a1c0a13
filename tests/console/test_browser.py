"""The console in Debian's chromium (Playwright) against a real ``tronrent serve`` on the
devnet: sign in, find an order by the customer's address and refund its payment - the TRX is
back on the customer's account on chain - and an operator refused the admin-only refund.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
from tronpy import AsyncTron
from tronpy.keys import PrivateKey
from tronpy.providers.async_http import AsyncHTTPProvider

from tronrent.demo.devnet import DevnetControl

from .browser import TRX, Served, flash_order, send_trx, shot, sign_in


async def _underpaid_order(served: Served) -> tuple[str, str, int]:
    """A flash order paid half its price by a new customer, kept by the underpaid policy
    (``keep``: an operator decides); returns (order id, payer address, amount paid in sun)."""
    config = await served.admin_api("GET", "/api/admin/flash-config")
    stored = dict(config["config"])
    stored["underpaid_policy"] = "keep"
    await served.admin_api(
        "PUT",
        "/api/admin/flash-config",
        json={"config": stored, "reason": "browser test: underpaid payments wait for an operator"},
    )
    payer = PrivateKey.random()
    recipient = PrivateKey.random().public_key.to_base58check_address()
    payer_address = payer.public_key.to_base58check_address()
    async with DevnetControl(served.devnet_url) as devnet:
        await devnet.faucet(payer_address, trx_sun=50 * TRX)
    order = await flash_order(served, recipient)
    price = int(order["priceConfig"]["single_price"] * TRX)
    half = max(price // 2 // TRX, 1) * TRX + round(order["paymentTail"] * TRX)
    await send_trx(served, payer, order["paymentAddress"], half)
    for _ in range(300):
        found = await served.admin_api("GET", f"/api/admin/orders/{order['orderId']}")
        if found["status"] == "underpaid" and found["payments"]:
            return order["orderId"], payer_address, half
        await asyncio.sleep(0.1)
    raise AssertionError(f"the order did not become underpaid: {found}")


async def _trx_balance(served: Served, address: str) -> int:
    async with httpx.AsyncClient(timeout=30) as http:
        tron = AsyncTron(provider=AsyncHTTPProvider(served.devnet_url + "/", client=http))
        account = await tron.get_account(address)
    return int(account.get("balance", 0))


async def test_find_an_order_and_refund_it(
    served: Served,
    browser: Any,
    screenshot_dir: Path,
) -> None:
    order_id, payer, paid = await _underpaid_order(served)
    before = await _trx_balance(served, payer)
    page = await sign_in(browser, served, served.admin)
    await shot(page, screenshot_dir, "orders")

    await page.fill("input[name=q]", payer)
    await page.click("form.filters button[type=submit]")
    link = page.locator(f"a[href='/admin/orders/{order_id}']")
    await link.wait_for()
    await link.click()
    await page.wait_for_url(f"**/admin/orders/{order_id}")
    row = page.locator("table tr", has_text="underpaid")
    await row.locator("input[name=reason]").fill("customer sent half the price; asked to cancel")
    await shot(page, screenshot_dir, "order")
    await row.get_by_role("button", name="Refund").click()
    await page.wait_for_url(re.compile(r".*done=refund$"))
    assert "Refund ordered" in await page.locator("[role=status]").inner_text()

    for _ in range(300):  # the refund job signs, stores, broadcasts; the scanner confirms
        await page.reload()
        if await page.locator("table .badge.refunded").count():
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the payment was never shown refunded")
    timeline = await page.locator("ol.timeline").inner_text()
    assert "operator refund" in timeline and "customer sent half the price" in timeline
    assert await _trx_balance(served, payer) == before + paid  # no refund fee by default
    await shot(page, screenshot_dir, "order-refunded")


async def test_an_operator_is_refused_the_refund(
    served: Served,
    browser: Any,
) -> None:
    order_id, _, _ = await _underpaid_order(served)
    page = await sign_in(browser, served, served.operator)
    await page.goto(f"/admin/orders/{order_id}")
    assert await page.get_by_role("button", name="Refund").count() == 0
    assert "refund: admin role" in await page.locator("table").first.inner_text()
    # posting the form anyway (with a valid CSRF token) is refused with a page, not done
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    payments = await served.admin_api("GET", f"/api/admin/orders/{order_id}")
    payment_id = payments["payments"][0]["paymentId"]
    answer = await page.request.post(
        f"/admin/orders/{order_id}/payments/{payment_id}/refund",
        form={"csrf_token": token, "reason": "trying anyway"},
        headers={"Origin": served.url},
    )
    assert answer.status == 403
    assert "needs the admin role" in await answer.text()
    after = await served.admin_api("GET", f"/api/admin/orders/{order_id}")
    assert after["payments"][0]["status"] == "underpaid"
