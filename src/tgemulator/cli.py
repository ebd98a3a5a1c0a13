"""``tronrent tgemulator``: the local Bot API emulator with a chat in the terminal, to try the
bots of ``tronrent serve`` without Telegram.

Start it, then ``tronrent serve`` with ``TELEGRAM_API_URL`` pointing at it and the printed
``TELEGRAM_BOT_TOKEN`` (or add the bot through ``POST /api/admin/bots``). Type a message to send
it as a user; ``/press N`` presses button N of the bot's last message; ``/quit`` ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

from tgemulator.server import TelegramEmulator

USER_ID = 1001


def _buttons(markup: dict[str, Any] | None) -> list[tuple[str, str]]:
    rows = (markup or {}).get("inline_keyboard") or []
    return [(b.get("text", ""), b.get("callback_data", "")) for row in rows for b in row]


async def run(host: str, port: int, token: str | None, username: str) -> None:
    emulator = TelegramEmulator(auto_register=True)
    url = await emulator.start(host, port)
    bot = emulator.add_bot(token, username=username)
    print(f"Bot API emulator at {url} with bot @{bot.username}. Start the service with:")
    print(f"  TELEGRAM_API_URL={url} TELEGRAM_BOT_TOKEN={bot.token} tronrent serve")
    print("Then type messages (/start, /menu, ...); /press N presses button N; /quit ends.")
    seen = 0
    last_buttons: list[tuple[str, str]] = []
    last_message_id = 0
    loop = asyncio.get_running_loop()

    async def show_new() -> None:
        nonlocal seen, last_buttons, last_message_id
        messages = bot.messages(USER_ID)
        for m in messages[seen:]:
            print(f"bot> {m.text or m.caption or '(photo)'}")
            buttons = _buttons(m.reply_markup)
            for i, (label, _) in enumerate(buttons, 1):
                print(f"     [{i}] {label}")
            if buttons:
                last_buttons, last_message_id = buttons, m.message_id
        seen = len(messages)

    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or line.strip() == "/quit":
                return
            text = line.strip()
            if text.startswith("/press "):
                try:
                    _, data = last_buttons[int(text.split()[1]) - 1]
                except (ValueError, IndexError):
                    print("no such button")
                    continue
                emulator.press_button(
                    bot.token, user_id=USER_ID, message_id=last_message_id, data=data
                )
            elif text:
                emulator.user_message(bot.token, text, user_id=USER_ID)
            await asyncio.sleep(1.5)  # the bot answers within a poll or two
            await show_new()
    finally:
        await emulator.stop()


def main(host: str, port: int, token: str | None, username: str) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(host, port, token, username))
    return 0
