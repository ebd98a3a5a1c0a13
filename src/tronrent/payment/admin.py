"""What operators do with payments: search, the problem list, manual refund and manual match.
Never commits.

Each action locks the payment row, checks its state, writes the change and a
``payment_changes`` row (who, why, before/after) in the caller's transaction, and leaves the
work to the existing jobs, enqueued for after the commit: a refund is sent by
``payment.refund_payment`` (signed and stored before broadcast, at most one live transfer per
payment and purpose), a match is applied by ``payment.process_payment`` (PaymentService takes
a payment whose ``match_method`` is ``manual`` to its preset order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.errors import Conflict, NotFound
from tronrent.kit.keyset import Page, Position, newest_first, page
from tronrent.kit.logging import get_logger
from tronrent.models.common import Currency
from tronrent.models.order import Order
from tronrent.models.payment import MatchMethod, Payment, PaymentStatus
from tronrent.models.payment_change import PaymentAction, PaymentChange
from tronrent.order.admin import MAX_PAGE, created_between
from tronrent.order.errors import OrderNotFound
from tronrent.payment.service import MANUAL_MATCH_STATUSES, PROCESS_JOB, REFUND_JOB
from tronrent.user.admin import Actor
from tronrent.worker import enqueue_job

_log = get_logger("tronrent.payment")

#: payments an operator should look at: nothing or not all of it bought energy
PROBLEM_STATUSES: Final = (
    PaymentStatus.DUST,
    PaymentStatus.UNDERPAID,
    PaymentStatus.EXCESS,
    PaymentStatus.IGNORED,
)
#: what a manual refund takes: every problem payment (an excess one gets its excess back)
REFUNDABLE_STATUSES: Final = PROBLEM_STATUSES
#: what a manual match takes: a payment no order took
MATCHABLE_STATUSES: Final = (PaymentStatus.IGNORED,)


class PaymentNotFound(NotFound):
    default_code = "PAYMENT_NOT_FOUND"


class PaymentAlreadyRefunded(Conflict):
    default_code = "PAYMENT_ALREADY_REFUNDED"


class PaymentNotRefundable(Conflict):
    default_code = "PAYMENT_NOT_REFUNDABLE"


class PaymentNotMatchable(Conflict):
    default_code = "PAYMENT_NOT_MATCHABLE"


class OrderNotPayable(Conflict):
    default_code = "ORDER_NOT_PAYABLE"


@dataclass(frozen=True, slots=True)
class PaymentFilter:
    statuses: Sequence[PaymentStatus] = ()
    asset: Currency | None = None
    #: the sender or the receiving address
    address: str | None = None
    tx_hash: str | None = None
    order_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def _fields(p: Payment) -> dict[str, Any]:
    return {
        "status": p.status.value,
        "orderId": p.order_id,
        "matchMethod": p.match_method.value if p.match_method else None,
    }


class PaymentAdminService:
    async def search(
        self,
        session: AsyncSession,
        f: PaymentFilter,
        *,
        limit: int = 20,
        after: Position[int] | None = None,
    ) -> Page[Payment]:
        """Payments matching every filter given, newest first (each filter index-backed:
        status, the two address indexes, the unique tx hash index, the order index and the
        ``(created_at, id)`` index the pages are read along)."""
        limit = max(1, min(limit, MAX_PAGE))
        rows = (await session.execute(self.statement(f, limit=limit, after=after))).scalars()
        return page(rows.all(), limit, lambda p: Position(p.created_at, p.id))

    def statement(
        self, f: PaymentFilter, *, limit: int, after: Position[int] | None
    ) -> Select[Payment]:
        """The query of one page (``limit`` + 1 rows)."""
        conditions: list[ColumnElement[bool]] = created_between(
            Payment.created_at, f.created_from, f.created_to
        )
        if f.statuses:
            conditions.append(Payment.status.in_(sorted(set(f.statuses))))
        if f.asset is not None:
            conditions.append(Payment.asset == f.asset)
        if f.address:
            conditions.append(
                or_(Payment.from_address == f.address, Payment.to_address == f.address)
            )
        if f.tx_hash:
            conditions.append(Payment.tx_hash == f.tx_hash)
        if f.order_id:
            conditions.append(Payment.order_id == f.order_id)
        return newest_first(
            select(Payment).where(*conditions), Payment.created_at, Payment.id, after, limit
        )

    async def get(self, session: AsyncSession, payment_id: int, *, lock: bool = False) -> Payment:
        """Raises: PaymentNotFound (404)."""
        payment = await session.get(
            Payment, payment_id, with_for_update=lock, populate_existing=lock
        )
        if payment is None:
            raise PaymentNotFound(f"payment {payment_id} not found")
        return payment

    async def changes(self, session: AsyncSession, payment_id: int) -> list[PaymentChange]:
        stmt = (
            select(PaymentChange)
            .where(PaymentChange.payment_id == payment_id)
            .order_by(PaymentChange.created_at, PaymentChange.id)
        )
        return list((await session.execute(stmt)).scalars())

    async def refund(
        self, session: AsyncSession, payment_id: int, *, reason: str, by: Actor
    ) -> PaymentChange:
        """Send a problem payment back to its sender: all of it for dust, underpaid and
        ignored payments, the excess of an excess payment (what bought energy stays), less the
        configured refund fee (see payment.refund.refund_amount).

        Raises:
            PaymentNotFound (404); a USDT payment goes back as a TRC20 transfer;
            PaymentAlreadyRefunded (409: refunding or refunded); PaymentNotRefundable (409:
            not handled yet, orphaned, or matched to an order that got what it paid for).
        """
        payment = await self.get(session, payment_id, lock=True)
        if payment.status in (PaymentStatus.REFUNDING, PaymentStatus.REFUNDED):
            raise PaymentAlreadyRefunded(
                f"payment {payment_id} is already {payment.status.value}",
                details={"status": payment.status.value},
            )
        if payment.status not in REFUNDABLE_STATUSES or payment.handled_at is None:
            raise PaymentNotRefundable(
                f"a {payment.status.value} payment is not refunded: "
                + (
                    "its order was delivered"
                    if payment.status is PaymentStatus.MATCHED
                    else "it is not settled"
                ),
                details={"status": payment.status.value},
            )
        before = _fields(payment)
        payment.status = PaymentStatus.REFUNDING
        payment.note = f"{payment.note or ''}; refund ordered by admin:{by.username}: {reason}"
        change = await self._record(session, payment, PaymentAction.REFUND, before, reason, by)
        enqueue_job(REFUND_JOB, payment.id)
        return change

    async def match(
        self, session: AsyncSession, payment_id: int, order_id: str, *, reason: str, by: Actor
    ) -> PaymentChange:
        """Attach a payment no order took to a pending or expired order; the payment job then
        processes it as that order's payment (paid, underpaid or excess by its amount, as if
        it had matched by its tail), and delivers.

        Raises:
            PaymentNotFound, OrderNotFound (404); PaymentNotMatchable
            (409: not an unmatched payment, sent to another address than the order's, or in
            another currency);
            OrderNotPayable (409: the order is neither pending nor expired).
        """
        payment = await self.get(session, payment_id, lock=True)
        if payment.status not in MATCHABLE_STATUSES or payment.order_id is not None:
            raise PaymentNotMatchable(
                f"only an unmatched payment (ignored, no order) is matched; this one "
                f"is {payment.status.value}"
                + (f" for order {payment.order_id}" if payment.order_id else ""),
                details={"status": payment.status.value, "orderId": payment.order_id},
            )
        order = (
            await session.execute(
                select(Order)
                .where(Order.id == order_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
        if order is None:
            raise OrderNotFound(f"order {order_id} not found")
        if order.status not in MANUAL_MATCH_STATUSES:
            raise OrderNotPayable(
                f"order {order_id} is {order.status.value}: only a pending or expired order "
                "takes a payment",
                details={"status": order.status.value},
            )
        if payment.asset is not order.currency:
            raise PaymentNotMatchable(
                f"a {payment.asset.value} payment cannot pay a {order.currency.value} order",
                details={"asset": payment.asset.value, "orderCurrency": order.currency.value},
            )
        if payment.to_address != order.payment_address:
            raise PaymentNotMatchable(
                "the payment was sent to another address than the order's payment address",
                details={"toAddress": payment.to_address},
            )
        before = _fields(payment)
        payment.order_id = order.id
        payment.match_method = MatchMethod.MANUAL
        payment.status = PaymentStatus.RECEIVED
        payment.handled_at = None
        payment.note = (
            f"{payment.note or ''}; matched to order {order.id} by admin:{by.username}: {reason}"
        )
        change = await self._record(session, payment, PaymentAction.MATCH, before, reason, by)
        enqueue_job(PROCESS_JOB, payment.id)
        return change

    @staticmethod
    async def _record(
        session: AsyncSession,
        payment: Payment,
        action: PaymentAction,
        before: dict[str, Any],
        reason: str,
        by: Actor,
    ) -> PaymentChange:
        change = PaymentChange(
            payment_id=payment.id,
            order_id=payment.order_id,
            actor=f"admin:{by.username}",
            actor_id=by.admin_id,
            action=action,
            before=before,
            after=_fields(payment),
            reason=reason,
        )
        session.add(change)
        await session.flush()
        _log.info(
            f"payment.{action.value}",
            payment_id=payment.id,
            order_id=payment.order_id,
            by=by.username,
            admin_id=str(by.admin_id),
            reason=reason,
        )
        return change


payment_admin = PaymentAdminService()
