"""Recorded changes of every domain in one shape for the ``history()`` macro: when, who, what,
the fields before and after, why."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.models.admin_user import AdminUser
from tronrent.models.agent_change import AgentChange
from tronrent.models.catalog_change import CatalogChange
from tronrent.models.merchant import MerchantKeyChange
from tronrent.models.price_history import PriceHistory
from tronrent.models.user_status_change import UserStatusChange


@dataclass(frozen=True, slots=True)
class Change:
    at: datetime | None
    who: str
    what: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    why: str


async def admin_names(
    session: AsyncSession, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, str]:
    """``admin:<username>`` of the accounts ``ids`` (by primary key)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        select(AdminUser.id, AdminUser.username).where(AdminUser.id.in_(wanted))
    )
    return {i: f"admin:{name}" for i, name in rows.all()}


def of_catalog(rows: Iterable[CatalogChange]) -> list[Change]:
    return [
        Change(c.created_at, c.actor, c.action.value, c.before, c.after, c.reason) for c in rows
    ]


async def of_prices(session: AsyncSession, rows: Iterable[PriceHistory]) -> list[Change]:
    """``price_history`` rows (an admin's change names the account; the command line's has
    its name in the reason)."""
    rows = list(rows)
    names = await admin_names(session, (h.changed_by for h in rows))
    return [
        Change(
            h.created_at,
            names.get(h.changed_by, "-") if h.changed_by else "-",
            h.change_type.value,
            h.old_value,
            h.new_value,
            h.change_reason or "",
        )
        for h in rows
    ]


def of_agents(rows: Iterable[AgentChange]) -> list[Change]:
    return [
        Change(c.created_at, c.actor, c.action.value, c.before, c.after, c.reason) for c in rows
    ]


def of_keys(rows: Iterable[MerchantKeyChange]) -> list[Change]:
    return [Change(c.created_at, c.actor, "settings", c.before, c.after, c.reason) for c in rows]


def of_statuses(rows: Iterable[UserStatusChange]) -> list[Change]:
    return [
        Change(
            c.created_at,
            c.actor,
            "block" if c.status.value == "banned" else "unblock",
            {"status": c.previous_status.value},
            {"status": c.status.value},
            c.reason,
        )
        for c in rows
    ]
