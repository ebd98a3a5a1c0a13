"""The order state machine: an explicit transition table and idempotent transitions.

A transition is one conditional UPDATE (`... WHERE id = :id AND status IN (:from)`): when two
workers race, exactly one sees rowcount 1 and performs the side effects; the other sees 0 and
stops. Repeating a transition that already happened is therefore harmless.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.errors import AppError
from tronrent.models.order import Order, OrderStatus

S = OrderStatus

#: status -> statuses it may move to
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING: frozenset({S.PAID, S.UNDERPAID, S.EXPIRED, S.CANCELLED}),
    # a late payment matched to an order whose window just closed is still honoured
    S.EXPIRED: frozenset({S.PAID, S.UNDERPAID}),
    # PAID -> COMPLETED: delivered at once (a top-up credited to the balance)
    S.PAID: frozenset({S.DELEGATING, S.FAILED, S.REFUNDING, S.COMPLETED}),
    # DELEGATING -> PAID: every pool failed or is exhausted; the order waits for capacity
    S.DELEGATING: frozenset({S.ACTIVE, S.PAID, S.FAILED}),
    S.ACTIVE: frozenset({S.RECLAIMING, S.COMPLETED}),
    S.RECLAIMING: frozenset({S.COMPLETED}),
    S.UNDERPAID: frozenset({S.REFUNDING}),
    S.FAILED: frozenset({S.REFUNDING}),
    S.REFUNDING: frozenset({S.REFUNDED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}

#: no further automatic progress from these
FINAL_STATUSES = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt) | {
    S.EXPIRED,
    S.UNDERPAID,
    S.FAILED,
}

#: the customer has paid and the platform owes them energy (or a refund)
IN_FLIGHT_STATUSES = frozenset({S.PAID, S.DELEGATING, S.RECLAIMING, S.REFUNDING})


class IllegalTransition(AppError):
    default_code = "ILLEGAL_TRANSITION"


def check_transition(source: Iterable[OrderStatus], target: OrderStatus) -> None:
    """Raise `IllegalTransition` unless every `source` may move to `target`."""
    for s in source:
        if target not in TRANSITIONS[s]:
            raise IllegalTransition(f"order cannot go from {s.value} to {target.value}")


async def transition(
    session: AsyncSession,
    order_id: str,
    source: OrderStatus | Iterable[OrderStatus],
    target: OrderStatus,
    **values: Any,
) -> bool:
    """Move the order from `source` to `target` (and set `values`); False if it was not there."""
    sources = (source,) if isinstance(source, OrderStatus) else tuple(source)
    check_transition(sources, target)
    result = await session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status.in_(sources))
        .values(status=target, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def move(order: Order, target: OrderStatus, **values: Any) -> None:
    """Move a loaded order whose row the caller holds locked (``SELECT ... FOR UPDATE``, or
    SQLite's write lock) to `target` and set `values`; the session's flush writes it, batched
    with the other orders of the same batch. `IllegalTransition` if the table forbids it."""
    check_transition((order.status,), target)
    order.status = target
    for name, value in values.items():
        setattr(order, name, value)
