"""Operator alerts: pool low, delegation failing, dead-lettered jobs reach the admin chat once;
customer events of a walk-in order (no chat) never do; ``refund_sent`` reads as a refund."""

from __future__ import annotations

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
from tronrent.config import NETWORKS
from tronrent.models import NotificationOutbox, OutboxStatus
from tronrent.notification import alerts
from tronrent.notification.messages import render
from tronrent.notification.sender import NotificationSender
from tronrent.notification.service import enqueue_notification
from tronrent.worker import (
    ActorSpec,
    Priority,
    WorkerContext,
    get_worker_context,
    record_failure,
    set_worker_context,
)
from tronrent.worker._context import WorkerNotConfigured

ADMIN = -100_200


@pytest.fixture
async def admin_bot() -> AsyncIterator[tuple[TelegramEmulator, str, Bot]]:
    async with TelegramEmulator() as emulator:
        state = emulator.add_bot()
        bot = Bot(
            state.token, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.url))
        )
        try:
            yield emulator, state.token, bot
        finally:
            await bot.session.close()


async def _rows(session_maker: async_sessionmaker[AsyncSession]) -> list[NotificationOutbox]:
    async with session_maker() as s:
        return list(
            (await s.execute(select(NotificationOutbox).order_by(NotificationOutbox.id))).scalars()
        )


class TestAlerts:
    async def test_pool_low_once_per_window_and_only_below_threshold(
        self, session_maker: async_sessionmaker[AsyncSession]
    ) -> None:
        pool_id = uuid.uuid4()
        kw = {"pool_id": pool_id, "pool_name": "main", "pool_address": "TPool"}
        async with session_maker() as s, s.begin():
            assert not await alerts.pool_low(s, available_energy=alerts.POOL_LOW_ENERGY, **kw)
            assert await alerts.pool_low(s, available_energy=10, **kw)
            assert not await alerts.pool_low(s, available_energy=5, **kw)  # same window
        [row] = await _rows(session_maker)
        assert row.event_type == "pool_low" and row.chat_id is None and row.user_id is None

    async def test_dead_letter_alerts_the_admin_chat(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        admin_bot: tuple[TelegramEmulator, str, Bot],
    ) -> None:
        emulator, token, bot = admin_bot
        try:
            previous: WorkerContext | None = get_worker_context()
        except WorkerNotConfigured:
            previous = None
        set_worker_context(WorkerContext(session_maker))
        try:
            spec = ActorSpec("flash.refund", record_failure, Priority.HIGH, 3, 0.1, 1.0, None)
            await record_failure(spec, ("pay-1",), RuntimeError("node <down>"), 4)
        finally:
            set_worker_context(previous)
        async with session_maker() as s, s.begin():
            await alerts.delegation_failing(
                s,
                delegation_id=7,
                order_id="FLASH_1",
                pool_address="TPool",
                error="REVERT",
                attempts=2,
            )
            await alerts.delegation_failing(
                s, delegation_id=7, order_id="FLASH_1", pool_address="TPool", error="x"
            )
        sender = NotificationSender(
            session_maker, TelegramTransport(lambda _id: bot), admin_chat_id=ADMIN
        )
        report = await sender.run_once()
        assert report.sent == 2
        dead, failing = emulator.bot(token).messages(ADMIN)
        assert "flash.refund" in dead.text and "node <down>" in dead.text
        assert "FLASH_1" in failing.text and "REVERT" in failing.text

    async def test_walk_in_events_never_reach_the_admin_chat(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        admin_bot: tuple[TelegramEmulator, str, Bot],
    ) -> None:
        emulator, token, bot = admin_bot
        async with session_maker() as s, s.begin():
            await enqueue_notification(
                s,
                event="payment_received",
                chat_id=None,
                bot_id=None,
                payload={"order_id": "FLASH_W", "paid_sun": 3_000_000},
                dedupe_key="order:FLASH_W:payment_received",
            )
        sender = NotificationSender(
            session_maker, TelegramTransport(lambda _id: bot), admin_chat_id=ADMIN
        )
        report = await sender.run_once()
        assert (report.sent, report.failed) == (0, 1)
        assert emulator.bot(token).messages(ADMIN) == []
        [row] = await _rows(session_maker)
        assert row.status is OutboxStatus.FAILED and row.last_error == "no chat to deliver to"


def test_refund_sent_reads_as_a_refund() -> None:
    text = render(
        "refund_sent",
        {"order_id": "FLASH_R", "amount_sun": 5_000_000, "tx_hash": "ab" * 32},
        "en",
        tx_url=NETWORKS["mainnet"].explorer_tx_url,
    )
    assert text.startswith("↩️ Refunded <b>5 TRX</b>") and "tronscan.org" in text
    assert "Reason" not in text  # the refund worker gives none: no empty line
    text = render("refund", {"order_id": "R", "amount_sun": 1, "reason": "excess"}, "en")
    assert "Reason: more than the maximum" in text
