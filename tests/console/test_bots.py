"""The bots pages over HTTP on both databases: the list and one bot (the token never shown,
only whether it is set), the admin's add, edit, disable, enable and remove through the bot
service (recorded with who and why), the operator's 403, bad input as a 4xx page."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import select

from tronrent.bot.service import bot as bot_service
from tronrent.kit.audit import Actor
from tronrent.models import Bot
from tronrent.models.bot import BotStatus
from tronrent.models.bot_change import BotAction, BotChange

from .conftest import Console


def token() -> str:
    return f"{secrets.randbelow(10**9)}:AA{secrets.token_urlsafe(33)}"


async def add_bot(console: Console, name: str, the_token: str) -> Bot:
    state = console.state
    async with state.session_maker() as s, s.begin():
        return await bot_service.add(
            s,
            box=state.secret_box,
            actor=Actor("cli:test"),
            reason="set up",
            token=the_token,
            name=name,
            username=f"{name}_bot",
            webhook_secret="s3cret-value",
        )


async def history(console: Console, bot_id: uuid.UUID) -> list[BotChange]:
    async with console.state.session_maker() as s:
        rows = await s.execute(
            select(BotChange).where(BotChange.bot_id == bot_id).order_by(BotChange.created_at)
        )
        return list(rows.scalars())


async def test_list_and_detail_never_show_the_token(console: Console) -> None:
    secret = token()
    bot = await add_bot(console, "alpha", secret)
    http = await console.sign_in("operator")
    page = await http.get("/admin/bots")
    assert page.status_code == 200 and f'href="/admin/bots/{bot.id}"' in page.text
    assert "@alpha_bot" in page.text and "polling" in page.text
    detail = await http.get(f"/admin/bots/{bot.id}")
    assert detail.status_code == 200 and "set up" in detail.text  # the history, for operators
    for shown in (page.text, detail.text):
        assert secret not in shown and secret.split(":")[1] not in shown
        assert "s3cret-value" not in shown
    assert "/edit" not in detail.text and "Add a bot" not in page.text  # no admin forms


async def test_admin_adds_edits_disables_removes(console: Console) -> None:
    http = await console.sign_in("admin")
    secret = token()
    added = await Console.post(
        http,
        "/admin/bots",
        "/admin/bots",
        reason="new shop bot",
        name="shop",
        username="@shop_bot",
        token=secret,
        webhook_url="",
        rate_limit="",
    )
    assert added.status_code == 303, added.text
    bot_id = uuid.UUID(added.headers["location"].split("/")[-1].split("?")[0])
    path = f"/admin/bots/{bot_id}"
    page = await http.get(added.headers["location"])
    assert "Bot added" in page.text and secret not in page.text
    edited = await Console.post(
        http,
        f"{path}/edit",
        path,
        reason="webhook now",
        name="shop",
        username="shop_bot",
        rate_limit="10",
        webhook_url="https://example.com/webhook/telegram",
        welcome_message="Hello!",
        maintenance_mode="true",
        token=token(),
    )
    assert edited.status_code == 303, edited.text
    disabled = await Console.post(http, f"{path}/status", path, reason="stop it", status="inactive")
    assert disabled.status_code == 303
    async with console.state.session_maker() as s:
        bot = await s.get(Bot, bot_id)
    assert bot is not None and bot.status is BotStatus.INACTIVE and bot.rate_limit == 10
    assert bot.webhook_url == "https://example.com/webhook/telegram" and bot.maintenance_mode
    enabled = await Console.post(http, f"{path}/status", path, reason="back", status="active")
    assert enabled.status_code == 303
    removed = await Console.post(http, f"{path}/remove", path, reason="not needed")
    assert removed.status_code == 303 and removed.headers["location"] == "/admin/bots?done=removed"
    rows = await history(console, bot_id)
    assert [(r.action, r.reason) for r in rows] == [
        (BotAction.ADD, "new shop bot"),
        (BotAction.EDIT, "webhook now"),
        (BotAction.EDIT, "stop it"),
        (BotAction.EDIT, "back"),
        (BotAction.REMOVE, "not needed"),
    ]
    assert rows[1].after["token"] == "(changed)" and rows[1].after["rate_limit"] == 10
    assert all(r.actor.startswith("admin:admin_") for r in rows)
    assert (await http.get(path)).status_code == 404


async def test_operator_gets_403(console: Console) -> None:
    bot = await add_bot(console, "alpha", token())
    http = await console.sign_in("operator")
    path = f"/admin/bots/{bot.id}"
    for tail, form in (
        ("/edit", {"name": "x", "username": "xxxxx_bot", "rate_limit": "5"}),
        ("/status", {"status": "inactive"}),
        ("/remove", {}),
    ):
        answer = await Console.post(http, path + tail, path, reason="mine", **form)
        assert answer.status_code == 403, tail
    add = await Console.post(
        http,
        "/admin/bots",
        "/admin/bots",
        reason="mine",
        name="b",
        username="bbbbb_bot",
        token=token(),
    )
    assert add.status_code == 403
    assert len(await history(console, bot.id)) == 1  # only its creation


async def test_bad_input_is_a_page(console: Console) -> None:
    taken = token()
    bot = await add_bot(console, "alpha", taken)
    http = await console.sign_in("admin")
    base = {"reason": "why not", "name": "beta", "username": "beta_bot", "token": token()}
    for form, status in (
        ({"token": "not-a-token"}, 422),
        ({"username": "x"}, 422),
        ({"webhook_url": "ftp://nope"}, 422),
        ({"rate_limit": "0"}, 422),
        ({"token": taken}, 409),
        ({"reason": ""}, 422),
    ):
        answer = await Console.post(http, "/admin/bots", "/admin/bots", **{**base, **form})
        assert answer.status_code == status, form
        assert answer.headers["content-type"].startswith("text/html")
    path = f"/admin/bots/{bot.id}"
    bad_status = await Console.post(http, f"{path}/status", path, reason="why", status="gone")
    assert bad_status.status_code == 422
    assert (await http.get("/admin/bots/nope")).status_code == 422
    assert (await http.get(f"/admin/bots/{uuid.uuid4()}")).status_code == 404
    assert len(await history(console, bot.id)) == 1
