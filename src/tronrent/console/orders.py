"""Orders: search with keyset pages, one order's story, and the refund of its payments."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Final

from fastapi import Depends, Path, Query, Request, Response

from tronrent.api.deps import SessionDep
from tronrent.console import session as console_session
from tronrent.console.forms import Reason, optional_text
from tronrent.console.session import ConsoleAdmin, ConsoleUser
from tronrent.console.web import choice, day, nav, page_router, redirect, render
from tronrent.flash.api_deps import JOB_SCOPE
from tronrent.kit.errors import NotFound
from tronrent.kit.keyset import decode_cursor
from tronrent.models.order import Order, OrderStatus, OrderType
from tronrent.order.admin import OrderFilter, order_admin
from tronrent.payment.admin import MATCHABLE_STATUSES, REFUNDABLE_STATUSES, payment_admin
from tronrent.user.admin_endpoints import actor
from tronrent.worker import open_failures_of

router = page_router(prefix="/admin/orders", dependencies=[console_session.CSRF])
nav("orders", "Orders", "/admin/orders")

PAGE_SIZE: Final = 50
_TX_HASH: Final = re.compile(r"^[0-9a-fA-F]{64}$")
_ADDRESS: Final = re.compile(r"^T[1-9A-HJ-NP-Za-km-z]{33}$")

OrderId = Annotated[str, Path(min_length=1, max_length=100)]


class OrderQuery:
    """The search form: one box (address, tx hash or order id), status, product, dates (UTC
    days, both included). Empty fields are "any"."""

    def __init__(
        self,
        q: Annotated[str | None, Query(max_length=100)] = None,
        status: Annotated[str | None, Query(max_length=30)] = None,
        type: Annotated[str | None, Query(max_length=30)] = None,
        since: Annotated[str | None, Query(alias="from", max_length=10)] = None,
        until: Annotated[str | None, Query(alias="to", max_length=10)] = None,
        cursor: Annotated[str | None, Query(max_length=300)] = None,
    ) -> None:
        self.q = optional_text(q)
        self.status = choice(OrderStatus, status, "status")
        self.type = choice(OrderType, type, "type")
        self.since = day(since, "from")
        self.until = day(until, "to")
        self.cursor = cursor or None

    def filter(self) -> OrderFilter:
        q = self.q or ""
        return OrderFilter(
            status=self.status,
            order_type=self.type,
            address=q if _ADDRESS.match(q) else None,
            tx_hash=q.lower() if _TX_HASH.match(q) else None,
            created_from=self.since,
            created_to=self.until + timedelta(days=1) if self.until else None,
        )


@router.get("")
async def orders(
    request: Request,
    session: SessionDep,
    _user: ConsoleUser,
    f: Annotated[OrderQuery, Depends()],
) -> Response:
    if f.q and not (_ADDRESS.match(f.q) or _TX_HASH.match(f.q)):
        # an order id or number: straight to the order when it exists
        order = await session.get(Order, f.q)
        if order is not None:
            return redirect(f"/admin/orders/{order.id}")
        return render(
            request,
            "orders.html",
            f=f,
            items=[],
            next_cursor=None,
            statuses=list(OrderStatus),
            types=list(OrderType),
            notice=f"no order {f.q!r}: search by a TRON address, a tx hash or an order id",
        )
    after = decode_cursor(f.cursor, str) if f.cursor else None
    page = await order_admin.search(session, f.filter(), limit=PAGE_SIZE, after=after)
    template = (
        "_orders_table.html" if request.headers.get("HX-Target") == "results" else ("orders.html")
    )
    return render(
        request,
        template,
        f=f,
        items=page.items,
        next_cursor=page.next_cursor,
        statuses=list(OrderStatus),
        types=list(OrderType),
        notice=None,
    )


@router.get("/{order_id}")
async def order_detail(
    request: Request,
    order_id: OrderId,
    session: SessionDep,
    _user: ConsoleUser,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    story = await order_admin.story(session, order_id)
    return render(
        request,
        "order.html",
        story=story,
        o=story.order,
        failures=await open_failures_of(session, order_id),
        refundable={s.value for s in REFUNDABLE_STATUSES},
        matchable={s.value for s in MATCHABLE_STATUSES},
        done=done,
    )


@router.post("/{order_id}/payments/{payment_id}/refund", dependencies=[JOB_SCOPE])
async def refund(
    order_id: OrderId,
    payment_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    reason: Reason,
    session: SessionDep,
    admin: ConsoleAdmin,
) -> Response:
    """The payment's refund (the same use case as ``POST /api/admin/payments/{id}/refund``):
    signed, stored and sent by the refund job, exactly once."""
    payment = await payment_admin.get(session, payment_id)
    if payment.order_id != order_id:
        raise NotFound(f"payment {payment_id} is not a payment of order {order_id}")
    await payment_admin.refund(session, payment_id, reason=reason, by=actor(admin))
    return redirect(f"/admin/orders/{order_id}?done=refund")
