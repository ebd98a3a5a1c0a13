"""Webhook secret checks and a storm of random and malformed updates."""

from __future__ import annotations

import json
import random
import string

import httpx
import pytest
from fastapi import FastAPI

from tronrent.telegram.callbacks import CheckPaymentCb, MenuCb
from tronrent.telegram.webhook import webhook_router

from .conftest import Harness


class TestWebhook:
    async def test_right_and_wrong_secret(self, harness: Harness) -> None:
        bot_id, token = await harness.add_bot(
            webhook_url="http://127.0.0.1:9/webhook/telegram", webhook_secret="s3cret-token"
        )
        await harness.manager.start()
        state = harness.emulator.bot(token)
        assert state.webhook_url == f"http://127.0.0.1:9/webhook/telegram/{bot_id}"
        assert state.webhook_secret == "s3cret-token"
        app = FastAPI()
        app.include_router(webhook_router(harness.manager))
        update = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 77, "type": "private"},
                "from": {"id": 77, "is_bot": False, "first_name": "W"},
                "text": "/start",
            },
        }
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            url = f"/webhook/telegram/{bot_id}"
            wrong = await client.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}
            )
            assert wrong.status_code == 401 and wrong.json()["success"] is False
            missing = await client.post(url, json=update)
            assert missing.status_code == 401
            ok = await client.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
            )
            assert ok.status_code == 200
            other = await client.post(
                "/webhook/telegram/00000000-0000-0000-0000-000000000000",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"},
            )
            assert other.status_code == 404
        await harness.manager.drain()
        assert "欢迎使用" in harness.emulator.bot(token).messages(77)[-1].text


def _random_text(rng: random.Random) -> str:
    pool = string.printable + "<>&\"'/中文🙂\u202e\x00"
    return "".join(rng.choice(pool) for _ in range(rng.randint(0, 80)))


def _random_update(rng: random.Random, update_id: int) -> dict[str, object]:
    user = {
        "id": rng.choice([1, 2, 3, 10**12, -5]),
        "is_bot": False,
        "first_name": _random_text(rng),
    }
    chat = {"id": user["id"], "type": rng.choice(["private", "group", "channel", "weird"])}
    kind = rng.randrange(10)
    if kind == 0:
        return {"update_id": update_id, "message": {"text": "no chat"}}
    if kind == 1:
        return {"update_id": update_id, "unknown_field": {"x": [1, 2]}}
    if kind == 2:
        return {"update_id": update_id, "message": "not an object"}
    if kind == 3:
        data = rng.choice(
            [
                _random_text(rng)[:64] or "x",
                MenuCb(action=rng.choice(["flash", "orders", "balance", "nope"])).pack(),
                CheckPaymentCb(order_id=_random_text(rng)[:20].replace(":", "") or "x").pack(),
                "check_payment:",
                "orders:-5",
                "lang:xx",
            ]
        )
        return {
            "update_id": update_id,
            "callback_query": {
                "id": str(update_id),
                "from": user,
                "chat_instance": "1",
                "data": data,
                "message": {"message_id": 1, "date": 0, "chat": chat},
            },
        }
    text = rng.choice(
        [
            "/start",
            "/start " + _random_text(rng),
            "/orders",
            "/balance",
            "/menu",
            "/cancel",
            _random_text(rng),
            "/" + _random_text(rng),
            "T" + "1" * 33,
        ]
    )
    message: dict[str, object] = {"message_id": update_id, "date": 0, "chat": chat, "from": user}
    if kind == 4:
        message["sticker"] = {"file_id": "x"}
    elif text:
        message["text"] = text
    return {"update_id": update_id, "message": message}


class TestRandomUpdates:
    # aiogram warns about each update carrying no type it knows: those are the point here
    @pytest.mark.filterwarnings("ignore:Detected unknown update type:RuntimeWarning")
    async def test_thousand_random_and_malformed_updates_never_crash(
        self, harness: Harness
    ) -> None:
        _, token = await harness.add_bot()
        await harness.manager.start()
        rng = random.Random(20240601)
        for update_id in range(1, 1001):
            harness.emulator.inject_update(token, _random_update(rng, update_id))
        state = harness.emulator.bot(token)
        await harness.emulator.wait_for(lambda: not state.pending, 60)
        await harness.manager.drain()
        # still alive and answering
        harness.emulator.user_message(token, "/help", user_id=4242)
        messages = await harness.emulator.wait_messages(token, 4242, 1, 10)
        assert "/balance" in messages[-1].text
        assert state.requests.get("sendmessage", 0) > 100
        assert json.dumps(state.requests)  # every method the bot used was known to the emulator
