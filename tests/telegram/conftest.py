"""Fixtures for the Telegram tests: a local Bot API emulator and aiogram bots talking to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from tgemulator import TelegramEmulator


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
