"""The outbox sender against the emulator enforcing Telegram's limits."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tgemulator import TelegramEmulator
from tronrent.adapters.telegram.transport import TelegramTransport
from tronrent.bot.service import bot as bot_service
from tronrent.config import NETWORKS
from tronrent.kit.crypto import SecretBox, generate_key
from tronrent.models import NotificationOutbox, OutboxStatus
from tronrent.notification.events import NotificationEvent
from tronrent.notification.flood import FloodControl
from tronrent.notification.messages import render
from tronrent.notification.sender import NotificationSender
from tronrent.notification.service import enqueue_notification

TX = "ab" * 32
Maker = async_sessionmaker[AsyncSession]
Setup = tuple[TelegramEmulator, uuid.UUID, str, Bot]  # emulator, bot row id, token, aiogram bot


@pytest.fixture
async def setup(session_maker: Maker) -> AsyncIterator[Setup]:
    async with TelegramEmulator() as emulator:
        emulator.limits.enabled = True
        state = emulator.add_bot()
        async with session_maker() as session, session.begin():
            row = await bot_service.create(
                session,
                box=SecretBox([generate_key()]),
                token=state.token,
                name="N",
                username=state.username,
            )
        bot = Bot(
            state.token, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.url))
        )
        try:
            yield emulator, row.id, state.token, bot
        finally:
            await bot.session.close()


async def _enqueue(session_maker: Maker, bot_id: uuid.UUID, chats: list[int], n: int) -> None:
    async with session_maker() as session, session.begin():
        for chat in chats:
            for i in range(n):
                await enqueue_notification(
                    session,
                    event=NotificationEvent.PAYMENT_RECEIVED,
                    chat_id=chat,
                    bot_id=bot_id,
                    payload={"order_id": f"O{chat}-{i}", "paid_sun": 1_500_000 + i, "tx_hash": TX},
                    dedupe_key=f"{chat}:{i}",
                )


async def _statuses(session_maker: Maker) -> list[OutboxStatus]:
    async with session_maker() as session:
        return list((await session.execute(select(NotificationOutbox.status))).scalars())


class TestEnqueue:
    async def test_dedupe_key_queues_once(self, session_maker: Maker) -> None:
        async with session_maker() as session, session.begin():
            first = await enqueue_notification(
                session, event="pool_low", chat_id=None, bot_id=None, payload={}, dedupe_key="k"
            )
            again = await enqueue_notification(
                session, event="pool_low", chat_id=None, bot_id=None, payload={}, dedupe_key="k"
            )
        assert (first, again) == (True, False)


class TestRender:
    def test_escapes_payload_and_links_tronscan(self) -> None:
        text = render(
            "energy_delivered",
            {
                "recipient_address": "<b>x</b>",
                "energy": 66300,
                "tx_hashes": [TX],
                "transaction_count": 1,
            },
            "en",
            tx_url=NETWORKS["mainnet"].explorer_tx_url,
        )
        assert "&lt;b&gt;x&lt;/b&gt;" in text and "66,300" in text
        assert f'href="https://tronscan.org/#/transaction/{TX}"' in text
        assert render("mystery", {}, "en") == "Notification: mystery"
        # no explorer (the devnet): the hash as code, no link
        plain = render(
            "energy_delivered", {"recipient_address": "T", "energy": 1, "tx_hashes": [TX]}, "en"
        )
        assert f"<code>{TX}</code>" in plain and "href" not in plain
        nile = render(
            "energy_delivered",
            {"recipient_address": "T", "energy": 1, "tx_hashes": [TX]},
            "en",
            tx_url=NETWORKS["nile"].explorer_tx_url,
        )
        assert f'href="https://nile.tronscan.org/#/transaction/{TX}"' in nile
        created = {"order_id": "O1", "payment_address": "TPay", "tail_sun": 17}
        created["single_price_sun"] = 1_500_000
        assert "订单已创建" in render("order_created", created, "zh")
        assert "1.500017" in render("order_created", created, "en")


class TestSender:
    async def test_delivers_in_order_within_limits(
        self, session_maker: Maker, setup: Setup
    ) -> None:
        emulator, bot_id, token, bot = setup
        await _enqueue(session_maker, bot_id, [11, 12, 13], 3)
        transport = TelegramTransport(lambda _id: bot)
        sender = NotificationSender(session_maker, transport, flood=FloodControl())
        report = await sender.run_once()
        assert report.sent == 9
        state = emulator.bot(token)
        assert state.rejected_429 == 0
        for chat in (11, 12, 13):
            orders = [re.search(r"O\d+-\d", m.text).group(0) for m in state.messages(chat)]  # type: ignore[union-attr]
            assert orders == [f"O{chat}-0", f"O{chat}-1", f"O{chat}-2"]
        assert set(await _statuses(session_maker)) == {OutboxStatus.SENT}
        assert (await sender.run_once()).sent == 0  # nothing sent twice

    async def test_retries_after_429(self, session_maker: Maker, setup: Setup) -> None:
        emulator, bot_id, token, bot = setup
        await _enqueue(session_maker, bot_id, [21], 2)
        emulator.force_429(token, count=2, retry_after=1)
        sender = NotificationSender(session_maker, TelegramTransport(lambda _id: bot))
        report = await sender.run_once()
        assert report.sent == 2 and emulator.bot(token).rejected_429 == 2
        assert len(emulator.bot(token).messages(21)) == 2

    async def test_bot_down_leaves_rows_pending(self, session_maker: Maker, setup: Setup) -> None:
        _emulator, bot_id, _token, _bot = setup
        await _enqueue(session_maker, bot_id, [31], 2)
        sender = NotificationSender(session_maker, TelegramTransport(lambda _id: None))
        report = await sender.run_once()
        assert report.deferred == 2 and report.sent == 0
        async with session_maker() as session:
            rows = (await session.execute(select(NotificationOutbox))).scalars().all()
        assert {r.status for r in rows} == {OutboxStatus.PENDING} and {
            r.attempts for r in rows
        } == {0}

    async def test_two_senders_never_double_send(self, session_maker: Maker, setup: Setup) -> None:
        emulator, bot_id, token, bot = setup
        await _enqueue(session_maker, bot_id, list(range(100, 130)), 1)
        flood = FloodControl()
        senders = [
            NotificationSender(
                session_maker, TelegramTransport(lambda _id: bot), flood=flood, batch_size=10
            )
            for _ in range(2)
        ]
        for _ in range(4):
            await asyncio.gather(*(s.run_once() for s in senders))
        state = emulator.bot(token)
        assert state.sent_count == 30 and state.rejected_429 == 0
        assert set(await _statuses(session_maker)) == {OutboxStatus.SENT}

    async def test_blocked_user_and_operator_alert(
        self, session_maker: Maker, setup: Setup
    ) -> None:
        emulator, bot_id, token, bot = setup
        emulator.block(token, 41)
        await _enqueue(session_maker, bot_id, [41], 1)
        async with session_maker() as session, session.begin():
            await enqueue_notification(
                session,
                event=NotificationEvent.POOL_LOW,
                chat_id=None,
                bot_id=None,
                payload={
                    "pool_name": "<main>",
                    "pool_address": "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7",
                    "available_energy": 1000,
                    "threshold": 65000,
                },
                dedupe_key="pool_low:1",
            )
        sender = NotificationSender(
            session_maker,
            TelegramTransport(lambda _id: bot),
            admin_chat_id=-100,
            admin_language="en",  # OPERATOR_ALERT_LANGUAGE
        )
        report = await sender.run_once()
        assert (report.sent, report.failed) == (1, 1)
        [alert] = emulator.bot(token).messages(-100)
        assert "<main>" in alert.text and "65,000" in alert.text
        assert alert.text.startswith("🚨 Energy pool low")
