"""Merchant pages on both databases: API keys (created with the secret shown once, settings
changed and revoked with who and why) and the callback delivery log."""

from __future__ import annotations

import re
import socket
import uuid

import aiohttp
from sqlalchemy import select

from tronrent.kit.time import utcnow
from tronrent.merchant.callbacks import CallbackSender, on_order_events
from tronrent.merchant.keys import merchant_keys
from tronrent.models.merchant import (
    ApiKeyStatus,
    MerchantApiKey,
    MerchantKeyChange,
)
from tronrent.models.order import Order, OrderStatus, OrderType
from tronrent.user.service import TelegramProfile
from tronrent.user.service import user as user_service

from .conftest import Console

SECRET = re.compile(r'<code id="secret">([^<]+)</code>')


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def customer(console: Console) -> uuid.UUID:
    async with console.state.session_maker() as s, s.begin():
        made = await user_service.register_telegram_user(
            s, TelegramProfile(telegram_id=5151, username="shop")
        )
        return made.user.id


async def test_key_created_secret_shown_once(console: Console) -> None:
    owner = await customer(console)
    http = await console.sign_in("admin")
    answer = await Console.post(
        http,
        "/admin/merchants/keys",
        "/admin/merchants",
        user_id=str(owner),
        name="Shop backend",
        ip_allowlist="203.0.113.7\n10.0.0.0/8",
        callback_url="https://shop.example/cb",
        reason="signed contract",
    )
    assert answer.status_code == 201 and answer.headers["cache-control"] == "no-store"
    secret = SECRET.search(answer.text)
    assert secret and "this once" in answer.text
    async with console.state.session_maker() as s:
        key = (await s.execute(select(MerchantApiKey))).scalar_one()
        assert key.created_by.startswith("admin:admin_")
        assert key.created_reason == "signed contract"
        assert key.ip_allowlist == ["203.0.113.7/32", "10.0.0.0/8"]
        assert secret.group(1) not in key.secret_encrypted  # stored encrypted
    # never shown again: not on the list, not on the key's page
    for page in ("/admin/merchants", f"/admin/merchants/keys/{key.key_id}"):
        text = (await http.get(page)).text
        assert key.key_id in text and secret.group(1) not in text
    operator = await console.sign_in("operator")
    listing = (await operator.get("/admin/merchants")).text
    assert "Shop backend" in listing and "New key" not in listing


async def test_settings_and_revoke_with_who_and_why(console: Console) -> None:
    owner = await customer(console)
    async with console.state.session_maker() as s, s.begin():
        made = await merchant_keys.create(
            s, console.state.secret_box, user_id=owner, name="k", actor="cli:test"
        )
        key_id = made.key.key_id
    http = await console.sign_in("admin")
    page = f"/admin/merchants/keys/{key_id}"
    saved = await Console.post(
        http,
        f"{page}/settings",
        page,
        ip_allowlist="198.51.100.0/24",
        callback_url="https://shop.example/hook",
        reason="new office",
    )
    assert saved.headers["location"] == f"{page}?done=saved"
    text = (await http.get(saved.headers["location"])).text
    assert "new office" in text and "198.51.100.0/24" in text
    revoked = await Console.post(http, f"{page}/revoke", page, reason="leaked in a log")
    assert revoked.headers["location"] == f"{page}?done=revoked"
    async with console.state.session_maker() as s:
        key = await merchant_keys.get(s, key_id)
        assert key.status is ApiKeyStatus.REVOKED and key.revoked_reason == "leaked in a log"
        assert key.revoked_by is not None and key.revoked_by.startswith("admin:admin_")
        change = (await s.execute(select(MerchantKeyChange))).scalar_one()
        assert change.reason == "new office" and change.actor.startswith("admin:admin_")
        assert change.after["callbackUrl"] == "https://shop.example/hook"
    after = (await http.get(page)).text
    assert "leaked in a log" in after and f"{page}/settings" not in after
    # a revoked key's settings cannot change (409)
    late = await Console.post(http, f"{page}/settings", "/admin/merchants", reason="late")
    assert late.status_code == 409


async def test_keys_pages(console: Console) -> None:
    owner = await customer(console)
    async with console.state.session_maker() as s, s.begin():
        for n in range(55):
            key = await merchant_keys.create(
                s, console.state.secret_box, user_id=owner, name=f"key {n}", actor="cli:test"
            )
            if n < 40:  # at most 20 active keys per customer
                await merchant_keys.revoke(s, key.key.id, actor="cli:test", reason="rotate")
    http = await console.sign_in("operator")
    row = re.compile(r'href="/admin/merchants/keys/([^"]+)"')
    first = await http.get("/admin/merchants", params={"user": str(owner)})
    assert len(row.findall(first.text)) == 50
    older = re.search(r'href="(\?[^"]*cursor=[^"]+)" rel="next"', first.text)
    assert older
    second = await http.get("/admin/merchants" + older.group(1).replace("&amp;", "&"))
    assert len(row.findall(second.text)) == 5
    assert not set(row.findall(first.text)) & set(row.findall(second.text))


async def test_callback_deliveries(console: Console) -> None:
    owner = await customer(console)
    port = closed_port()
    async with console.state.session_maker() as s, s.begin():
        made = await merchant_keys.create(
            s,
            console.state.secret_box,
            user_id=owner,
            name="k",
            actor="cli:test",
            callback_url=f"http://127.0.0.1:{port}/cb",
        )
        order = Order(
            id="M_cb_order_1",
            order_number="M_cb_order_1",
            user_id=owner,
            order_type=OrderType.ENERGY_RENTAL,
            status=OrderStatus.ACTIVE,
            energy_amount=65_000,
            price_units=3_000_000,
            final_price_units=3_000_000,
            paid_at=utcnow(),
            price_config={
                "merchant": {"callback": True, "apiKeyId": str(made.key.id), "clientOrderId": "c1"}
            },
        )
        s.add(order)
        await s.flush()
        await on_order_events(
            s,
            [
                (order, "payment_received", {}, "evt-paid-1"),
                (order, "energy_delivered", {"tx_hashes": ["ab" * 32]}, "evt-delegated-1"),
            ],
        )
    # a real delivery attempt to a closed port: refused, no retry left -> failed
    async with aiohttp.ClientSession() as client:
        sender = CallbackSender(
            console.state.session_maker,
            console.state.secret_box,
            client=client,
            allow_private=True,
            schedule=(),
        )
        # one callback of an order at a time, in order
        reports = [(await sender.run_once()).failed for _ in range(2)]
    assert reports == [1, 1]
    async with console.state.session_maker() as s, s.begin():
        await on_order_events(s, [(order, "rental_ended", {}, "evt-reclaimed-1")])
    http = await console.sign_in("operator")
    page = await http.get("/admin/merchants/callbacks")
    assert page.status_code == 200
    text = page.text
    assert "order.paid" in text and "order.delegated" in text and "order.reclaimed" in text
    assert text.count('class="badge failed"') == 2 and text.count('class="badge pending"') == 1
    assert "ClientConnectorError" in text  # the attempt's error, from the delivery log
    failed = await http.get("/admin/merchants/callbacks", params={"status": "failed"})
    assert "order.reclaimed" not in failed.text and "order.paid" in failed.text
    by_order = await http.get("/admin/merchants/callbacks", params={"order": "M_cb_order_1"})
    assert by_order.text.count("M_cb_order_1") >= 3
    other = await http.get("/admin/merchants/callbacks", params={"order": "nope"})
    assert "no callback" in other.text


async def test_operator_refused_and_bad_input(console: Console) -> None:
    owner = await customer(console)
    async with console.state.session_maker() as s, s.begin():
        made = await merchant_keys.create(
            s, console.state.secret_box, user_id=owner, name="k", actor="cli:test"
        )
        key_id = made.key.key_id
    operator = await console.sign_in("operator")
    page = f"/admin/merchants/keys/{key_id}"
    for path, form in (
        ("/admin/merchants/keys", {"user_id": str(owner), "reason": "mine"}),
        (f"{page}/settings", {"ip_allowlist": "", "reason": "mine"}),
        (f"{page}/revoke", {"reason": "mine"}),
    ):
        answer = await Console.post(operator, path, page, **form)
        assert answer.status_code == 403 and "admin role" in answer.text, path
    admin = await console.sign_in("admin")
    for path, form, status in (
        ("/admin/merchants/keys", {"user_id": "nope", "reason": "typo"}, 422),
        ("/admin/merchants/keys", {"user_id": "", "reason": "typo"}, 422),
        ("/admin/merchants/keys", {"user_id": str(uuid.uuid4()), "reason": "who"}, 404),
        ("/admin/merchants/keys", {"user_id": str(owner), "reason": ""}, 422),
        (f"{page}/settings", {"ip_allowlist": "not-an-ip", "reason": "typo"}, 422),
        (f"{page}/settings", {"callback_url": "ftp://x", "reason": "typo"}, 422),
        ("/admin/merchants/keys/unknown/revoke", {"reason": "none"}, 404),
    ):
        answer = await Console.post(admin, path, page, **form)
        assert answer.status_code == status, (path, form, answer.text[:300])
        assert "<html" in answer.text
    for url in (
        "/admin/merchants?user=abc",
        "/admin/merchants?cursor=garbage",
        "/admin/merchants/callbacks?status=lost",
        "/admin/merchants/callbacks?cursor=-1",
    ):
        assert (await admin.get(url)).status_code == 422, url
    async with console.state.session_maker() as s:
        key = await merchant_keys.get(s, key_id)
        assert key.status is ApiKeyStatus.ACTIVE and key.ip_allowlist == []
