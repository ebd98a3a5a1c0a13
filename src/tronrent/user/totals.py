"""A user's order counters (``users.total_orders``, ``total_spent_sun``,
``total_spent_usdt_units``, ``total_energy_used``), kept true by the order's transitions.

Each hook runs in the transaction of an order transition that happens exactly once (the state
machine's conditional UPDATE or a locked ``move``), so a counter changes exactly once per order
however often a job or a request is retried:

- ``orders_paid`` (pending/expired -> paid): ``total_orders`` + 1 and the price charged
  (``final_price_units``, in the order's currency) added to the spent total of that currency;
- ``orders_delivered`` (delegating -> active): the order's energy added to ``total_energy_used``;
- ``orders_refunded`` (-> refunded): the paid hook reversed (an order is refunded only when it
  never became active, so there is no energy to take back); never below zero.

Orders without a user (walk-ins, transfers with no account) change nothing. One UPDATE per user
and hook, not per order, so a batch of orders stays a few statements (``orders_delivered``:
one executemany for the batch).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, update
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.models import User
from tronrent.models.common import Currency
from tronrent.models.order import Order


@dataclass
class _Delta:
    orders: int = 0
    spent_sun: int = 0
    spent_usdt_units: int = 0
    energy: int = 0


def _paid_deltas(orders: Iterable[Order], sign: int) -> dict[uuid.UUID, _Delta]:
    deltas: dict[uuid.UUID, _Delta] = defaultdict(_Delta)
    for order in orders:
        if order.user_id is None:
            continue
        delta = deltas[order.user_id]
        delta.orders += sign
        price = sign * (order.final_price_units or 0)
        if Currency(order.currency) is Currency.USDT:
            delta.spent_usdt_units += price
        else:
            delta.spent_sun += price
    return deltas


def _floored(column: Any, delta: int) -> Any:
    """``column + delta``, but never below zero (a counter from before the hooks existed)."""
    if delta >= 0:
        return column + delta
    return case((column + delta >= 0, column + delta), else_=0)


def _values(d: _Delta) -> dict[Any, Any]:
    """The ``users`` SET clause of one user's delta (empty: nothing changes)."""
    values: dict[Any, Any] = {}
    if d.orders:
        values[User.total_orders] = _floored(User.total_orders, d.orders)
    if d.spent_sun:
        values[User.total_spent_sun] = _floored(User.total_spent_sun, d.spent_sun)
    if d.spent_usdt_units:
        values[User.total_spent_usdt_units] = _floored(
            User.total_spent_usdt_units, d.spent_usdt_units
        )
    if d.energy:
        values[User.total_energy_used] = User.total_energy_used + d.energy
    return values


async def _apply(session: AsyncSession, deltas: dict[uuid.UUID, _Delta]) -> None:
    for user_id in sorted(deltas):  # one lock order for every caller: no deadlock
        values = _values(deltas[user_id])
        if values:
            await session.execute(
                update(User)
                .where(User.id == user_id)
                .values(values)
                .execution_options(synchronize_session=False)
            )


def paid_additions(order: Order) -> dict[str, int]:
    """``orders_paid`` of one order as amounts to add to its user's columns, for a caller that
    updates that row anyway (a payment from the balance: the debit's UPDATE, one statement
    for both; `user.balance`'s ``user_additions``). The same columns whatever the price (a
    free order adds 0): one statement shape per currency. Empty for an order without a user."""
    if order.user_id is None:
        return {}
    spent = (
        User.total_spent_usdt_units
        if Currency(order.currency) is Currency.USDT
        else User.total_spent_sun
    )
    return {User.total_orders.key: 1, spent.key: order.final_price_units or 0}


async def orders_paid(session: AsyncSession, orders: Iterable[Order]) -> None:
    """The orders just moved to paid: one more order each, their price spent."""
    await _apply(session, _paid_deltas(orders, +1))


async def orders_refunded(session: AsyncSession, orders: Iterable[Order]) -> None:
    """The orders just moved to refunded: ``orders_paid`` reversed."""
    await _apply(session, _paid_deltas(orders, -1))


#: ``orders_delivered``'s UPDATE, one parameter set per user (sent as one executemany)
_USERS = cast(Table, User.__table__)
_ADD_ENERGY = (
    update(_USERS)
    .where(_USERS.c.id == bindparam("uid"))
    .values(total_energy_used=_USERS.c.total_energy_used + bindparam("energy"))
)


async def orders_delivered(session: AsyncSession, orders: Iterable[Order]) -> None:
    """The orders just became active: their energy counts as used. One statement for the
    batch: an executemany of one UPDATE per user, in the users' order (no deadlock)."""
    energy: dict[uuid.UUID, int] = defaultdict(int)
    for order in orders:
        if order.user_id is not None and order.energy_amount:
            energy[order.user_id] += order.energy_amount
    if energy:
        await session.execute(
            _ADD_ENERGY, [{"uid": uid, "energy": energy[uid]} for uid in sorted(energy)]
        )
