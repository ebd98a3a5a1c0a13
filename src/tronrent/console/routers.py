"""Every console router, for ``create_app(routers=...)`` (the sidebar follows this order)."""

from __future__ import annotations

from fastapi import APIRouter

from tronrent.console import (
    agents,
    bots,
    catalogue,
    configs,
    count_packages,
    jobs,
    login,
    merchants,
    overview,
    payments,
    pools,
    users,
)
from tronrent.console import orders as orders_pages
from tronrent.console.web import NAV, NavItem, static_router

CONSOLE_ROUTERS: tuple[APIRouter, ...] = (
    static_router,
    login.router,
    overview.router,
    orders_pages.router,
    payments.router,
    users.router,
    catalogue.router,
    count_packages.router,
    pools.router,
    bots.router,
    agents.router,
    merchants.router,
    configs.router,
    jobs.router,
)


def _rank(item: NavItem) -> int:
    """Where a sidebar entry goes: the position of the router serving its path (the longest
    prefix), so the sidebar follows CONSOLE_ROUTERS whatever order the modules were
    imported in (each registers its entry at import)."""
    path = item.path.rstrip("/")
    found = [
        (len(r.prefix), i)
        for i, r in enumerate(CONSOLE_ROUTERS)
        if r.prefix and (path == r.prefix or path.startswith(r.prefix + "/"))
    ]
    return max(found)[1] if found else len(CONSOLE_ROUTERS)


NAV.sort(key=_rank)
