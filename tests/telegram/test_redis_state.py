"""Conversation state in Redis (aiogram's RedisStorage, as in production): it survives a restart
of the bots. Runs when TEST_REDIS_URL is set - and then fails, never skips, if Redis is down."""

from __future__ import annotations

import os
import random

import pytest
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tgemulator import TelegramEmulator
from tronrent.bot.service import bot as bot_service
from tronrent.kit.crypto import SecretBox, generate_key
from tronrent.order.runtime import FlashRuntime
from tronrent.telegram.callbacks import FlashCb, MenuCb
from tronrent.telegram.chain_gateway import PortChainBalances
from tronrent.telegram.dispatcher import STATE_TTL_S, create_storage
from tronrent.telegram.flash_gateway import ServiceFlashOrders
from tronrent.telegram.manager import BotManager
from tronrent.telegram.states import Conversation

from .conftest import FLASH_ADDRESS, RECIPIENT, Harness

REDIS_URL = os.environ.get("TEST_REDIS_URL", "").strip()

pytestmark = pytest.mark.redis


def _manager(
    session_maker: async_sessionmaker[AsyncSession],
    box: SecretBox,
    emulator: TelegramEmulator,
    chain: PortChainBalances,
) -> BotManager:
    return BotManager(
        session_maker=session_maker,
        box=box,
        flash=ServiceFlashOrders(FlashRuntime(payment_address=FLASH_ADDRESS)),
        chain=chain,
        storage=create_storage(REDIS_URL),
        api_url=emulator.url,
        reload_interval=0,
        polling_timeout=1,
    )


async def test_conversation_state_lives_in_redis_across_restarts(
    emulator: TelegramEmulator,
    session_maker: async_sessionmaker[AsyncSession],
    chain_balances: PortChainBalances,
) -> None:
    client = Redis.from_url(REDIS_URL)
    try:
        assert await client.ping()  # unreachable Redis: this fails (ConnectionError)
    finally:
        await client.aclose()
    box = SecretBox([generate_key()])
    state = emulator.add_bot(username="redis_state_bot")
    async with session_maker() as s, s.begin():
        await bot_service.create(s, box=box, token=state.token, name="R", username=state.username)
    token, chat = state.token, random.randint(10_000_000, 99_999_999)

    first = _manager(session_maker, box, emulator, chain_balances)
    assert isinstance(first.dispatcher.storage, RedisStorage)
    h = Harness(emulator, session_maker, box, first, chain_balances)
    await first.start()
    try:
        menu = (await h.say(token, "/menu", user_id=chat))[-1]
        await h.press(token, menu.message_id, MenuCb(action="flash").pack(), user_id=chat)
        intro = emulator.bot(token).messages(chat)[-1]
        await h.press(token, intro.message_id, FlashCb(action="rent").pack(), user_id=chat)
    finally:
        await first.stop()

    # the state is a Redis key with the one-hour TTL of seed 001 7.1
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(f"fsm:*:{chat}:*state")]
        assert len(keys) == 1
        assert (await client.get(keys[0])) == Conversation.entering_address.state.encode()
        assert 0 < await client.ttl(keys[0]) <= STATE_TTL_S
    finally:
        await client.aclose()

    second = _manager(session_maker, box, emulator, chain_balances)  # a restarted process
    h.manager = second
    await second.start()
    try:
        confirm = (await h.say(token, RECIPIENT, user_id=chat))[-1]
        assert RECIPIENT in confirm.text and "confirm" in confirm.text.lower()
    finally:
        await second.stop()
