"""Paying an order from the user's balance, and refunding a balance-paid order to it.

No chain payment to wait for: one transaction locks the order, debits the balance through the
ledger (``balance.apply``, cause ``order_payment`` / the order id), moves the order to paid,
closes its payment watch and queues ``payment_received``. No job: the engine's pickup
(`delegation.pickup`, in the process holding the scanner lease) reads the paid balance orders
as soon as it commits and delegates them in batches - the energy is delegated in the next
block, and a payment costs the engine a share of a batch, not a job of its own. What wakes
the pickup: on PostgreSQL a NOTIFY sent by a trigger on ``orders`` (migration
0034_balance_paid_notify: any process, any path); in this process also the payment's commit
(``paid_listeners``: SQLite has no NOTIFY).

Which orders: pending, with a user, in TRX or USDT, with a price already set on the order
(``final_price_units > 0``) and energy to deliver (``energy_amount``) - package orders are
priced when they are created. A flash order is priced by what is paid (the count follows from
the amount), so a pending flash order has no price yet and is paid by transfer only.

Exactly once: the order row lock (SQLite: the single writer) serializes payments of one order,
and the ledger's UNIQUE cause makes a second debit impossible even so. Paying again an order
already paid from the balance returns it unchanged (the call is idempotent, like the routes'
retries expect); any other non-pending order is refused (409 ``ORDER_NOT_PAYABLE``). A balance
that does not cover the price is refused by the users CHECK: 409 ``INSUFFICIENT_BALANCE``,
nothing changed. A user an operator blocked cannot pay (403 ``USER_BLOCKED``).

Refunds (``refund_to_balance``): a balance-paid order that fails is never refunded on chain -
the price goes back to the balance (cause ``order_refund`` / the order id, once) and the order
becomes refunded in the same transaction as its failure.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, Final

from sqlalchemy import literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from tronrent.agent import commission
from tronrent.kit.db import NewRows, after_commit
from tronrent.kit.errors import Conflict
from tronrent.kit.time import utcnow
from tronrent.models import User
from tronrent.models.balance_ledger import LedgerCause
from tronrent.models.common import Currency
from tronrent.models.order import Order, OrderPaymentStatus, OrderStatus
from tronrent.models.payment_monitoring_log import MonitoringStatus
from tronrent.order.errors import OrderNotFound
from tronrent.order.notify import OrderEvent, notify_order, notify_orders
from tronrent.order.service import stop_monitoring, stop_monitoring_statement
from tronrent.order.state import check_transition, move
from tronrent.product.base import amount_due
from tronrent.product.customer import ensure_may_order, ensure_status_not_blocked
from tronrent.user import totals
from tronrent.user.balance import balance as balance_service

log = logging.getLogger("tronrent.payment")

#: ``orders.payment_method`` of an order paid from the balance
BALANCE: Final = "balance"
#: the ``refund`` event's reason for a refund to the balance
REFUNDED_TO_BALANCE: Final = "refunded_to_balance"

#: called (no arguments, on the event loop) once a transaction that paid an order from the
#: balance commits in this process: the engine's pickup adds its wake-up here
paid_listeners: set[Callable[[], None]] = set()


def _paid_committed() -> None:
    for listener in tuple(paid_listeners):
        try:
            listener()
        except Exception:  # a listener of an event loop that is gone: it never hears again
            log.exception("balance payment listener failed; removed")
            paid_listeners.discard(listener)


class OrderNotPayable(Conflict):
    """The order cannot be paid from the balance (its state, owner or price)."""

    default_code = "ORDER_NOT_PAYABLE"


def _payable(order: Order) -> None:
    """Raise `OrderNotPayable` unless a pending ``order`` can be paid from a balance."""
    if order.status is not OrderStatus.PENDING:
        raise OrderNotPayable(
            f"order {order.id} is {order.status.value}; only a pending order can be paid"
        )
    if order.user_id is None:
        raise OrderNotPayable(f"order {order.id} has no user, so no balance to pay it from")
    if order.final_price_units <= 0 or not order.energy_amount:
        raise OrderNotPayable(
            f"order {order.id} has no price yet (flash orders are priced by the amount paid): "
            "pay it by transfer"
        )
    if Currency(order.currency) not in (Currency.TRX, Currency.USDT):  # pragma: no cover
        raise OrderNotPayable(f"order {order.id} is in an unknown currency")


async def pay_from_balance(
    session: AsyncSession,
    order_id: str,
    *,
    actor: str | None = None,
    authorize: Callable[[Order], object] | None = None,
) -> Order:
    """Pay a pending order from its user's balance (see the module docstring); the order.

    ``actor``: who asked (``admin:<name>``, ``customer``), kept in the ledger entry's note.
    ``authorize``: called with the order once it is read (and locked), before anything else:
    it raises when the caller may not pay it (the route's order-token check), so the route
    reads the order once.

    Raises:
        OrderNotFound (404)
        whatever ``authorize`` raises (401/403)
        OrderNotPayable (409): not pending (and not paid from the balance before), no user,
            no price.
        InsufficientBalance (409): the balance does not cover the price; nothing changed.
        UserBlocked (403 USER_BLOCKED): an operator blocked the order's user.
    """
    # the order locked and its user's status read in one statement
    row = (
        await session.execute(
            select(Order, User.status)
            .outerjoin(User, User.id == Order.user_id)
            .where(Order.id == order_id)
            .with_for_update(of=Order)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        raise OrderNotFound(f"order {order_id} not found")
    order, user_status = row
    if authorize is not None:
        authorize(order)
    if order.payment_method == BALANCE and order.status is not OrderStatus.PENDING:
        return order  # paid before: the same answer, nothing changes
    _payable(order)
    assert order.user_id is not None
    ensure_status_not_blocked(order.user_id, user_status)
    return await _pay(session, order, actor)


async def pay_new_order(session: AsyncSession, order: Order, *, actor: str) -> Order:
    """Pay from the balance an order this transaction has just created (``payment_method``
    balance, flushed, not committed): no other transaction can see it, so there is nothing to
    lock and nothing to read back - one statement less than `pay_from_balance`. Its user is
    checked again (a blocked user cannot pay: `ensure_may_order`, from the identity map when
    the creation loaded the user). Raises as `pay_from_balance`."""
    _payable(order)
    await ensure_may_order(session, order.user_id)
    return await _pay(session, order, actor)


def mark_unsaved_paid(session: AsyncSession, order: Order) -> OrderEvent:
    """Mark paid from the balance an order built but not written yet (pending, ``payment_method``
    balance, not in the session), so that its INSERT writes it paid - no UPDATE after
    (`pay_new_order`'s), and the trigger of migration 0034 wakes the pickup on that INSERT.
    The caller adds and flushes the order, queues the returned ``payment_received`` event after
    its creation's (one INSERT for both), and then, **in the same transaction, last before its
    commit**, calls `debit_unsaved` - the debit's UPDATE locks the user's row, so the later it
    comes, the less another order of the same customer waits for it. Exactly once as
    `pay_new_order`: the ledger's UNIQUE cause, and a failed debit (409 INSUFFICIENT_BALANCE)
    rolls the caller's transaction back with nothing written."""
    _payable(order)
    amount = amount_due(order)
    move(order, OrderStatus.PAID, **_paid_values(amount))
    after_commit(session, _paid_committed)
    return _paid_event(order, amount)


async def debit_unsaved(
    session: AsyncSession, order: Order, *, actor: str, along: Sequence[NewRows] = ()
) -> None:
    """The ledger debit of an order `mark_unsaved_paid` marked (and the caller wrote, having
    checked its user may order in this transaction: `create_package_order`). ``along``: rows
    written with the debit (in its statement on PostgreSQL: `BalanceService.apply`). Raises
    as `pay_from_balance` (the caller's transaction must then roll back)."""
    amount = await _debit(session, order, actor, along)
    log.info("order %s paid from the balance: %d %s", order.id, amount, order.currency.value)


async def _debit(
    session: AsyncSession, order: Order, actor: str | None, along: Sequence[NewRows] = ()
) -> int:
    """The ledger debit of ``order``'s price (never debited: pending and locked, or new) and
    of the recipient's activation fee a transfer order quoted with it (`amount_due`: the
    platform pays that transfer when it delivers); the amount."""
    assert order.user_id is not None
    amount = amount_due(order)
    await balance_service.apply(
        session,
        user_id=order.user_id,
        currency=order.currency,
        delta_units=-amount,
        cause_type=LedgerCause.ORDER_PAYMENT,
        cause_id=order.id,
        note=json.dumps({"by": actor or "customer"}),
        # the order is locked (or new) and pending: its payment was never debited
        fresh=True,
        # the user's counters (`totals.orders_paid`) in the debit's UPDATE
        user_additions=totals.paid_additions(order),
        along=along,
    )
    return amount


def _paid_values(amount: int) -> dict[str, Any]:
    """The order's columns once paid from the balance (besides its status)."""
    return {
        "payment_status": OrderPaymentStatus.PAID,
        "payment_method": BALANCE,
        "paid_at": utcnow(),
        "paid_amount_units": amount,
        "status_reason": None,
    }


def _paid_event(order: Order, amount: int) -> OrderEvent:
    """The customer's ``payment_received`` event of a payment from the balance."""
    return (
        order,
        "payment_received",
        {
            "paid_sun" if order.currency is Currency.TRX else "paid_units": amount,
            "currency": order.currency.value,
            "payment_method": BALANCE,
            "transaction_count": order.transaction_count,
            "energy": order.energy_amount,
        },
    )


async def _pay(session: AsyncSession, order: Order, actor: str | None) -> Order:
    """The payment of a pending, payable ``order`` this transaction holds (locked, or created
    by it): ledger debit, paid, watch closed, customer told."""
    # an order created to be paid from the balance never opened a payment watch
    watched = order.payment_method != BALANCE
    amount = await _debit(session, order, actor)
    paid = _paid_values(amount)
    closing = "paid from the balance"
    if watched and session.get_bind().dialect.name == "postgresql":
        # one round trip: the order's UPDATE carries the closing of its watches (a CTE)
        check_transition((order.status,), OrderStatus.PAID)
        paid |= {"status": OrderStatus.PAID, "updated_at": paid["paid_at"]}
        columns = Order.__table__.c
        watches = stop_monitoring_statement([order.id], MonitoringStatus.COMPLETED, closing)
        await session.execute(
            update(Order)
            .where(Order.id == order.id)
            # anonymous binds: the CTE's UPDATE has columns of the same names
            .values({name: literal(value, columns[name].type) for name, value in paid.items()})
            .add_cte(watches.cte("closed"))
            .execution_options(synchronize_session=False)
        )
        for name, value in paid.items():  # the loaded order as written, nothing left to flush
            set_committed_value(order, name, value)
    else:
        move(order, OrderStatus.PAID, **paid)
        await session.flush()
        if watched:
            await stop_monitoring(session, order.id, MonitoringStatus.COMPLETED, closing)
    await notify_orders(session, [_paid_event(order, amount)])
    after_commit(session, _paid_committed)
    log.info("order %s paid from the balance: %d %s", order.id, amount, order.currency.value)
    return order


async def refund_to_balance(session: AsyncSession, order: Order, *, reason: str) -> bool:
    """Give a failed balance-paid ``order`` (locked, or just moved to failed by the caller's
    conditional UPDATE) its price back: ledger credit of what was debited, order refunded,
    customer told. False (nothing done) unless it was paid from the balance and is failed or
    refunding. Idempotent: a refunded order is left alone and the credit has a unique cause."""
    if order.payment_method != BALANCE or order.user_id is None:
        return False
    if order.status not in (OrderStatus.FAILED, OrderStatus.REFUNDING):
        return False
    debit = await balance_service.get_entry_by_cause(
        session, cause_type=LedgerCause.ORDER_PAYMENT, cause_id=order.id
    )
    if debit is not None:  # what was taken, in the currency it was taken in
        await balance_service.apply(
            session,
            user_id=debit.user_id,
            currency=debit.currency,
            delta_units=-debit.delta_units,
            cause_type=LedgerCause.ORDER_REFUND,
            cause_id=order.id,
            note=json.dumps({"reason": reason}),
        )
    if order.status is OrderStatus.FAILED:
        move(order, OrderStatus.REFUNDING)
    move(order, OrderStatus.REFUNDED, payment_status=OrderPaymentStatus.REFUNDED)
    await session.flush()
    await totals.orders_refunded(session, [order])
    await commission.cancel_for_order(session, order.id)  # agents earn nothing on it
    amount = -debit.delta_units if debit is not None else 0
    await notify_order(
        session,
        order,
        "refund",
        {
            "amount_sun" if order.currency is Currency.TRX else "amount_units": amount,
            "currency": order.currency.value,
            "reason": REFUNDED_TO_BALANCE,
        },
    )
    log.info("order %s refunded to the balance: %d %s", order.id, amount, order.currency.value)
    return True
