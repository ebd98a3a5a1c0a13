"""The emulator speaks the Bot API well enough for the real aiogram."""

from __future__ import annotations

import asyncio
import io

import pytest
import qrcode
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import BotCommand, BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup
from aiohttp import web
from qrcode.image.pure import PyPNGImage

from tgemulator import TelegramEmulator

from .conftest import make_bot


def _keyboard(data: str = "x") -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="B", callback_data=data)]]
    )


class TestBotApi:
    async def test_get_me_and_unknown_token(self, emulator: TelegramEmulator) -> None:
        state = emulator.add_bot(username="shop_bot")
        async with make_bot(emulator, state.token).context() as bot:
            me = await bot.get_me()
            assert me.username == "shop_bot" and me.id == state.id
        async with make_bot(emulator, "123:unknown_token_xx").context() as bot:
            with pytest.raises(TelegramUnauthorizedError):
                await bot.get_me()

    async def test_send_edit_delete(self, emulator: TelegramEmulator) -> None:
        state = emulator.add_bot()
        async with make_bot(emulator, state.token).context() as bot:
            sent = await bot.send_message(
                42, "<b>hi</b> &lt;you&gt;", parse_mode="HTML", reply_markup=_keyboard()
            )
            [stored] = state.messages(42)
            assert stored.text == "hi <you>" and stored.button("B")["callback_data"] == "x"
            await bot.edit_message_text(
                "bye", chat_id=42, message_id=sent.message_id, reply_markup=_keyboard("y")
            )
            assert stored.text == "bye" and stored.history == ["hi <you>"]
            with pytest.raises(TelegramBadRequest, match="not modified"):
                await bot.edit_message_text(
                    "bye", chat_id=42, message_id=sent.message_id, reply_markup=_keyboard("y")
                )
            await bot.edit_message_reply_markup(chat_id=42, message_id=sent.message_id)
            assert stored.reply_markup is None
            assert await bot.delete_message(42, sent.message_id)
            with pytest.raises(TelegramBadRequest, match="not found"):
                await bot.delete_message(42, sent.message_id)

    async def test_invalid_html_and_button_data(self, emulator: TelegramEmulator) -> None:
        state = emulator.add_bot()
        async with make_bot(emulator, state.token).context() as bot:
            with pytest.raises(TelegramBadRequest, match="parse entities"):
                await bot.send_message(1, "a <script> b", parse_mode="HTML")
            with pytest.raises(TelegramBadRequest, match="parse entities"):
                await bot.send_message(1, "<b>open", parse_mode="HTML")
            with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
                await bot.send_message(1, "x", reply_markup=_keyboard("z" * 65))
            with pytest.raises(TelegramBadRequest, match="empty"):
                await bot.send_message(1, " ")

    async def test_send_photo_multipart(self, emulator: TelegramEmulator) -> None:
        state = emulator.add_bot()
        buffer = io.BytesIO()
        qrcode.make("TXYZ", image_factory=PyPNGImage).save(buffer)
        async with make_bot(emulator, state.token).context() as bot:
            message = await bot.send_photo(
                7,
                BufferedInputFile(buffer.getvalue(), "qr.png"),
                caption="<code>TXYZ</code>",
                parse_mode="HTML",
            )
            assert message.photo and message.caption == "TXYZ"
            [stored] = state.messages(7)
            assert stored.photo == buffer.getvalue()
            with pytest.raises(TelegramBadRequest, match="no text"):
                await bot.edit_message_text("x", chat_id=7, message_id=message.message_id)

    async def test_commands(self, emulator: TelegramEmulator) -> None:
        state = emulator.add_bot()
        async with make_bot(emulator, state.token).context() as bot:
            await bot.set_my_commands([BotCommand(command="start", description="Start")])
            assert [c.command for c in await bot.get_my_commands()] == ["start"]
            with pytest.raises(TelegramBadRequest):
                await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])


class TestUpdates:
    async def test_long_polling_and_offset(self, emulator: TelegramEmulator) -> None:
        state = emulator.add_bot()
        async with make_bot(emulator, state.token).context() as bot:
            asyncio.get_running_loop().call_later(
                0.1, lambda: emulator.user_message(state.token, "/start ref", user_id=5)
            )
            updates = await bot.get_updates(timeout=3)
            assert updates[0].message and updates[0].message.text == "/start ref"
            assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == []

    async def test_callback_query_answer(self, emulator: TelegramEmulator) -> None:
        state = emulator.add_bot()
        async with make_bot(emulator, state.token).context() as bot:
            sent = await bot.send_message(9, "pick", reply_markup=_keyboard("pick:1"))
            query_id = emulator.press_button(
                state.token, user_id=9, message_id=sent.message_id, data="pick:1"
            )
            [update] = await bot.get_updates(timeout=1)
            assert update.callback_query and update.callback_query.data == "pick:1"
            assert (
                update.callback_query.message
                and update.callback_query.message.message_id == sent.message_id
            )
            await bot.answer_callback_query(query_id, text="ok")
            assert emulator.callback_answer(state.token, query_id) == {
                "text": "ok",
                "show_alert": False,
                "url": None,
            }
            with pytest.raises(TelegramBadRequest, match="too old"):
                await bot.answer_callback_query(query_id, text="again")

    async def test_webhook_push_with_secret(self, emulator: TelegramEmulator) -> None:
        state = emulator.add_bot()
        received: list[tuple[str | None, dict]] = []

        async def hook(request: web.Request) -> web.Response:
            received.append(
                (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
            )
            return web.json_response({})

        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            async with make_bot(emulator, state.token).context() as bot:
                await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
                with pytest.raises(TelegramConflictError):
                    await bot.get_updates()
                emulator.user_message(state.token, "hello", user_id=3)
                await emulator.wait_for(lambda: bool(received), 3)
                assert received[0][0] == "s3cret"
                assert received[0][1]["message"]["text"] == "hello"
                await bot.delete_webhook()
                assert state.webhook_url is None
        finally:
            await runner.cleanup()


class TestLimits:
    async def test_forced_429(self, emulator: TelegramEmulator) -> None:
        state = emulator.add_bot()
        emulator.force_429(state.token, count=1, retry_after=3)
        async with make_bot(emulator, state.token).context() as bot:
            with pytest.raises(TelegramRetryAfter) as info:
                await bot.send_message(1, "x")
            assert info.value.retry_after == 3
            await bot.send_message(1, "x")
        assert state.rejected_429 == 1 and state.sent_count == 1

    async def test_per_chat_and_per_bot_limits(self, emulator: TelegramEmulator) -> None:
        state = emulator.add_bot()
        emulator.limits.enabled = True
        async with make_bot(emulator, state.token).context() as bot:
            await bot.send_message(1, "first")
            with pytest.raises(TelegramRetryAfter) as info:
                await bot.send_message(1, "second")
            assert info.value.retry_after == 1
            for chat in range(2, 31):
                await bot.send_message(chat, "x")
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(99, "x")
