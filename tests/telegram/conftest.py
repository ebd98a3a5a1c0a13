"""Fixtures for the Telegram tests: a local Bot API emulator, real aiogram bots talking to it, and
the BotManager running the bots of a migrated test database (the shared ``session_maker``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from cashews import Cache
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tgemulator import TelegramEmulator
from trondevnet.server import DevnetServer
from trondevnet.testing import devnet_fixture
from tronproto.address import to_base58
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.bot.service import bot as bot_service
from tronrent.kit.crypto import SecretBox, generate_key
from tronrent.order.recipient import RecipientCheck
from tronrent.order.runtime import FlashRuntime
from tronrent.telegram.chain_gateway import PortChainBalances
from tronrent.telegram.flash_gateway import ServiceFlashOrders
from tronrent.telegram.manager import BotManager
from tronrent.telegram.package_gateway import ServicePackageOrders
from tronrent.telegram.ports import ChainBalances

FLASH_ADDRESS = to_base58(b"\x41" + bytes(range(1, 21)))
RECIPIENT = to_base58(b"\x41" + bytes(range(21, 41)))


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator() as emu:
        yield emu


def make_bot(emulator: TelegramEmulator, token: str) -> Bot:
    """A real aiogram Bot whose Bot API server is the emulator."""
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.url)))


@pytest.fixture
def bot_for(emulator: TelegramEmulator) -> Callable[[str], Bot]:
    return lambda token: make_bot(emulator, token)


#: one devnet for the Telegram tests: /balance reads real accounts through the chain gateway
chain_devnet = devnet_fixture(block_interval_ms=50, scope="session")


@pytest.fixture
async def chain_gateway(chain_devnet: DevnetServer) -> AsyncIterator[TronGateway]:
    async with TronGateway([chain_devnet.url]) as gateway:
        yield gateway


@pytest.fixture
def chain_balances(chain_devnet: DevnetServer, chain_gateway: TronGateway) -> PortChainBalances:
    """On-chain balances for /balance: the chain gateway on the devnet."""
    return PortChainBalances(chain_gateway, usdt_contract=chain_devnet.config.usdt_address)


@pytest.fixture
async def recipient_check(chain_gateway: TronGateway) -> AsyncIterator[RecipientCheck]:
    """Recipient accounts looked up on the devnet (an in-memory cache, one per test)."""
    cache = Cache()
    cache.setup("mem://")
    yield RecipientCheck(chain_gateway, cache, key_prefix=f"test-{uuid.uuid4().hex}:")
    await cache.close()


@dataclass
class Harness:
    emulator: TelegramEmulator
    session_maker: async_sessionmaker[AsyncSession]
    box: SecretBox
    manager: BotManager
    chain: ChainBalances
    tokens: dict[uuid.UUID, str] = field(default_factory=dict)

    async def add_bot(self, name: str = "Shop", **kwargs: Any) -> tuple[uuid.UUID, str]:
        state = self.emulator.add_bot(username=f"{name.lower()}_{len(self.tokens)}_bot")
        async with self.session_maker() as session, session.begin():
            row = await bot_service.create(
                session,
                box=self.box,
                token=state.token,
                name=name,
                username=state.username,
                **kwargs,
            )
        self.tokens[row.id] = state.token
        return row.id, state.token

    async def say(self, token: str, text: str, user_id: int = 1001, **kwargs: Any) -> list[Any]:
        """A user sends ``text``; wait for the bot's next message in that chat and for the
        update to be handled to the end (its transaction commits after the reply is sent), then
        return all the chat's messages."""
        before = len(self.emulator.bot(token).messages(user_id))
        self.emulator.user_message(token, text, user_id=user_id, **kwargs)
        messages = await self.emulator.wait_messages(token, user_id, before + 1)
        await self.manager.drain()
        return messages

    async def press(
        self, token: str, message_id: int, data: str, user_id: int = 1001, **kwargs: Any
    ) -> dict[str, Any] | None:
        """A user presses a button; wait for the callback answer and return it."""
        query = self.emulator.press_button(
            token, user_id=user_id, message_id=message_id, data=data, **kwargs
        )
        await self.emulator.wait_for(
            lambda: self.emulator.callback_answer(token, query) is not None
        )
        await self.manager.drain()
        return self.emulator.callback_answer(token, query)


@pytest.fixture
async def harness(
    emulator: TelegramEmulator,
    session_maker: async_sessionmaker[AsyncSession],
    chain_balances: PortChainBalances,
    recipient_check: RecipientCheck,
) -> AsyncIterator[Harness]:
    box = SecretBox([generate_key()])
    chain = chain_balances
    runtime = FlashRuntime(payment_address=FLASH_ADDRESS)
    manager = BotManager(
        session_maker=session_maker,
        box=box,
        flash=ServiceFlashOrders(runtime),
        packages=ServicePackageOrders(runtime, recipient_check),
        chain=chain,
        api_url=emulator.url,
        reload_interval=0,
        polling_timeout=1,
    )
    h = Harness(emulator, session_maker, box, manager, chain)
    try:
        yield h
    finally:
        await manager.stop()
