"""One router per module; ``get_routers()`` returns them in the order they must be tried."""

from __future__ import annotations

from aiogram import Router

from tronrent.telegram.handlers import (
    agent,
    apikey,
    auto,
    balance,
    count,
    errors,
    fallback,
    flash,
    language,
    orders,
    package,
    start,
)


def get_routers(*, packages: bool = True) -> list[Router]:
    """``packages``: a ``PackageOrders`` is wired (packages and top-ups are offered)."""
    # fallback last: it answers whatever no other router took; packages before flash, whose
    # ``entering_address`` handler takes the drafts that are not packages
    routers = [
        module.create_router()
        for module in (errors, start, language, balance, orders, apikey, agent)
    ]
    if packages:
        routers += [
            package.create_router(),
            count.create_router(),
            auto.create_router(),
            balance.create_top_up_router(),
        ]
    return [*routers, flash.create_router(), fallback.create_router()]
