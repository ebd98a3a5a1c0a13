"""Composition root of the bot: storage, services as workflow data, middlewares, routers."""

from __future__ import annotations

from collections.abc import Mapping

from aiogram import Dispatcher
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.bot.service import BotConfig
from tronrent.telegram.handlers import get_routers
from tronrent.telegram.middlewares import (
    BotContextMiddleware,
    DatabaseMiddleware,
    MaintenanceMiddleware,
    RateLimitMiddleware,
    UserMiddleware,
)
from tronrent.telegram.ports import ChainBalances, FlashOrders, PackageOrders

STATE_TTL_S = 3600  # seed 001 7.1: conversation state lives one hour


def create_storage(redis_url: str | None) -> BaseStorage:
    """aiogram's RedisStorage when Redis is configured, in-memory otherwise."""
    if redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(redis_url, state_ttl=STATE_TTL_S, data_ttl=STATE_TTL_S)
    return MemoryStorage()


def build_dispatcher(
    *,
    session_maker: async_sessionmaker[AsyncSession],
    flash: FlashOrders,
    chain: ChainBalances | None,
    configs: Mapping[int, BotConfig],
    storage: BaseStorage | None = None,
    packages: PackageOrders | None = None,
) -> Dispatcher:
    """One dispatcher for every bot; ``configs`` maps a Telegram bot id to its ``bots`` row."""
    dispatcher = Dispatcher(storage=storage or MemoryStorage())
    dispatcher["flash"] = flash
    dispatcher["chain"] = chain
    dispatcher["packages"] = packages
    for middleware in (
        BotContextMiddleware(configs),
        MaintenanceMiddleware(),
        RateLimitMiddleware(),
        DatabaseMiddleware(session_maker),
        UserMiddleware(),
    ):
        dispatcher.update.outer_middleware(middleware)
    dispatcher.include_routers(*get_routers(packages=packages is not None))
    return dispatcher
