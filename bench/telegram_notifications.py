"""Notifications delivered per second against the Bot API emulator enforcing Telegram's limits
(30 msg/s per bot, 1 msg/s per chat). Bar: >= 27 msg/s (90 %) with zero 429 answers.

    .venv/bin/python bench/telegram_notifications.py [--messages 300] [--chats 150]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from tgemulator import TelegramEmulator, TelegramLimits
from tronrent.adapters.telegram.transport import TelegramTransport
from tronrent.kit.db import create_engine, create_session_maker
from tronrent.notification.sender import NotificationSender
from tronrent.notification.service import enqueue_notification
from tronrent.storage.migrations import upgrade


async def main(messages: int, chats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = create_engine(url)
        session_maker = create_session_maker(engine)
        async with TelegramEmulator(limits=TelegramLimits(enabled=True)) as emulator:
            state = emulator.add_bot()
            bot = Bot(
                state.token, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.url))
            )
            async with session_maker() as session, session.begin():
                for i in range(messages):
                    await enqueue_notification(
                        session,
                        event="payment_received",
                        chat_id=10_000 + i % chats,
                        bot_id=None,
                        payload={"order_id": f"O{i}", "paid_sun": 1_500_000, "tx_hash": "ab" * 32},
                        dedupe_key=f"bench:{uuid.uuid4()}",
                    )
            sender = NotificationSender(session_maker, TelegramTransport(lambda _id: bot))
            started = time.perf_counter()
            sent = 0
            while sent < messages:
                sent += (await sender.run_once()).sent
            elapsed = time.perf_counter() - started
            await bot.session.close()
        await engine.dispose()
    rate = sent / elapsed
    print(f"delivered {sent} notifications to {chats} chats in {elapsed:.2f} s")
    print(
        f"rate: {rate:.1f} msg/s (limit 30/s per bot, bar >= 27); 429 answers: {state.rejected_429}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--chats", type=int, default=150)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.chats))
