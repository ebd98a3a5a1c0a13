"""One router per module; ``get_routers()`` returns them in the order they must be tried."""

from __future__ import annotations

from aiogram import Router

from tronrent.telegram.handlers import (
    balance,
    errors,
    fallback,
    flash,
    language,
    orders,
    start,
)


def get_routers() -> list[Router]:
    # fallback last: it answers whatever no other router took
    modules = (errors, start, language, balance, orders, flash, fallback)
    return [module.create_router() for module in modules]
