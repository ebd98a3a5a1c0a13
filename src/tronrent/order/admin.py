"""What operators read about orders: a filtered, keyset-paged search and one order's full
story (payments, delegations, chain transactions, operator actions, as one timeline). Never
commits, never writes.

Every filter is served by an index on PostgreSQL (see migration 0016_search and
bench/admin_search.py): status, type, user, the three addresses (a BitmapOr of their indexes),
the tx hash (the order's own tx hash columns, and the orders its payments and chain
transactions name, looked up first by their unique txid indexes) and the date range (the
``(created_at, id)`` index the pages are read along).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.keyset import Page, Position, newest_first, page
from tronrent.models.chain_transaction import ChainTransaction
from tronrent.models.energy_delegation import EnergyDelegation
from tronrent.models.order import Order, OrderStatus, OrderType
from tronrent.models.payment import Payment
from tronrent.models.payment_change import PaymentChange
from tronrent.order.errors import OrderNotFound

#: the largest page
MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class OrderFilter:
    status: OrderStatus | None = None
    order_type: OrderType | None = None
    user_id: uuid.UUID | None = None
    #: the recipient (``target_address``), the payer (``from_address``) or the payment address
    address: str | None = None
    #: the payment tx, the delegation tx, or any transaction we signed for the order
    tx_hash: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def created_between(
    column: Any, created_from: datetime | None, created_to: datetime | None
) -> list[ColumnElement[bool]]:
    """``created_from <= column < created_to`` (either end open)."""
    conditions: list[ColumnElement[bool]] = []
    if created_from is not None:
        conditions.append(column >= created_from)
    if created_to is not None:
        conditions.append(column < created_to)
    return conditions


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    kind: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OrderStory:
    order: Order
    payments: list[Payment]
    delegations: list[EnergyDelegation]
    transactions: list[ChainTransaction]
    changes: list[PaymentChange]
    timeline: list[TimelineEntry] = field(default_factory=list)


class OrderAdminService:
    async def search(
        self,
        session: AsyncSession,
        f: OrderFilter,
        *,
        limit: int = 20,
        after: Position[str] | None = None,
    ) -> Page[Order]:
        """Orders matching every filter given, newest first."""
        limit = max(1, min(limit, MAX_PAGE))
        stmt = await self.statement(session, f, limit=limit, after=after)
        rows = (await session.execute(stmt)).scalars().all()
        return page(rows, limit, lambda o: Position(o.created_at, o.id))

    async def statement(
        self, session: AsyncSession, f: OrderFilter, *, limit: int, after: Position[str] | None
    ) -> Select[Order]:
        """The query of one page (``limit`` + 1 rows); a tx hash is resolved first."""
        conditions = created_between(Order.created_at, f.created_from, f.created_to)
        if f.status is not None:
            conditions.append(Order.status == f.status)
        if f.order_type is not None:
            conditions.append(Order.order_type == f.order_type)
        if f.user_id is not None:
            conditions.append(Order.user_id == f.user_id)
        if f.address:
            conditions.append(
                or_(
                    Order.target_address == f.address,
                    Order.from_address == f.address,
                    Order.payment_address == f.address,
                )
            )
        if f.tx_hash:
            conditions.append(await self._tx_condition(session, f.tx_hash))
        return newest_first(
            select(Order).where(*conditions), Order.created_at, Order.id, after, limit
        )

    @staticmethod
    async def _tx_condition(session: AsyncSession, tx_hash: str) -> ColumnElement[bool]:
        """The orders a tx hash belongs to: their own columns, or named by a payment or a
        chain transaction with that hash (read first: two unique-index lookups, so the
        orders query stays one BitmapOr of indexes instead of a subplan per row)."""
        by_payment = select(Payment.order_id).where(
            Payment.tx_hash == tx_hash, Payment.order_id.is_not(None)
        )
        by_chain_tx = select(ChainTransaction.order_id).where(
            ChainTransaction.txid == tx_hash, ChainTransaction.order_id.is_not(None)
        )
        ids = sorted({str(i) for (i,) in await session.execute(by_payment.union(by_chain_tx))})
        own = [Order.tron_tx_hash == tx_hash, Order.delegate_tx_hash == tx_hash]
        return or_(*own, Order.id.in_(ids)) if ids else or_(*own)

    async def story(self, session: AsyncSession, order_id: str) -> OrderStory:
        """The order with everything that happened to it. Raises: OrderNotFound (404)."""
        order = await session.get(Order, order_id)
        if order is None:
            raise OrderNotFound(f"order {order_id} not found")
        payments = list(
            (
                await session.execute(
                    select(Payment).where(Payment.order_id == order_id).order_by(Payment.id)
                )
            ).scalars()
        )
        delegations = list(
            (
                await session.execute(
                    select(EnergyDelegation)
                    .where(EnergyDelegation.order_id == order_id)
                    .order_by(EnergyDelegation.id)
                )
            ).scalars()
        )
        # the order's transactions, and those sent for its payments (refunds name both)
        payment_ids = [p.id for p in payments]
        tx_condition = ChainTransaction.order_id == order_id
        if payment_ids:
            tx_condition = or_(tx_condition, ChainTransaction.payment_id.in_(payment_ids))
        transactions = list(
            (
                await session.execute(
                    select(ChainTransaction).where(tx_condition).order_by(ChainTransaction.id)
                )
            ).scalars()
        )
        change_condition = PaymentChange.order_id == order_id
        if payment_ids:
            change_condition = or_(change_condition, PaymentChange.payment_id.in_(payment_ids))
        changes = list(
            (
                await session.execute(
                    select(PaymentChange)
                    .where(change_condition)
                    .order_by(PaymentChange.created_at, PaymentChange.id)
                )
            ).scalars()
        )
        story = OrderStory(order, payments, delegations, transactions, changes)
        story.timeline.extend(_timeline(story))
        return story


def _timeline(s: OrderStory) -> list[TimelineEntry]:
    """Every dated step, oldest first (ties keep the order they are listed in here)."""
    o = s.order
    steps: list[TimelineEntry | None] = [
        TimelineEntry(o.created_at, "order_created", {"status": OrderStatus.PENDING.value}),
    ]

    def at(moment: datetime | None, kind: str, **detail: Any) -> None:
        steps.append(TimelineEntry(moment, kind, detail) if moment is not None else None)

    for p in s.payments:
        at(
            p.block_timestamp or p.created_at,
            "payment_received",
            paymentId=p.id,
            txHash=p.tx_hash,
            amountUnits=p.amount_units,
            asset=p.asset.value,
        )
        at(p.handled_at, "payment_handled", paymentId=p.id, status=p.status.value, note=p.note)
    at(o.paid_at, "order_paid", paidAmountUnits=o.paid_amount_units)
    for c in s.changes:
        at(
            c.created_at,
            f"operator_{c.action.value}",
            paymentId=c.payment_id,
            actor=c.actor,
            reason=c.reason,
        )
    for t in s.transactions:
        common = {"txid": t.txid, "purpose": t.purpose.value}
        at(t.created_at, "tx_signed", **common, amountSun=t.amount_sun, to=t.to_address)
        at(t.broadcast_at, "tx_broadcast", **common)
        at(t.confirmed_at, "tx_confirmed", **common, blockNumber=t.block_number)
        if t.last_error:
            at(t.updated_at, "tx_error", **common, status=t.status.value, error=t.last_error)
    for d in s.delegations:
        at(d.delegated_at, "energy_delegated", delegationId=d.id, energy=d.energy_amount)
        at(d.reclaimed_at, "energy_reclaimed", delegationId=d.id)
    at(o.completed_at, "order_completed", status=o.status.value)
    entries = [e for e in steps if e is not None]
    return sorted(entries, key=lambda e: e.at)


order_admin = OrderAdminService()
