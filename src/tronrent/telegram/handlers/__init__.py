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
    return [
        errors.router,
        start.router,
        language.router,
        balance.router,
        orders.router,
        flash.router,
        fallback.router,
    ]
