"""Admin payment routes (JWT): search, problem payments, manual refund and manual match.

Reads need the operator or admin role; a refund or a match (money moves, energy is delivered)
needs admin and a reason, recorded with who in ``payment_changes``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import StringConstraints

from tronrent.api.deps import SessionDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.api.search import SearchWindow, SearchWindowDep
from tronrent.auth.dependencies import AdminDep, OperatorDep
from tronrent.flash.api_deps import JOB_SCOPE
from tronrent.kit.keyset import decode_cursor
from tronrent.models.common import Currency
from tronrent.models.payment import PaymentStatus
from tronrent.order.admin_endpoints import (
    PaymentChangeOut,
    PaymentOut,
    SearchText,
    change_out,
    payment_out,
)
from tronrent.payment.admin import PROBLEM_STATUSES, PaymentFilter, payment_admin
from tronrent.user.admin_endpoints import actor

router = APIRouter(
    prefix="/api/admin/payments",
    tags=["admin-payments"],
    responses={
        **ERROR_RESPONSES,
        404: ERROR_RESPONSES[422] | {"description": "No such payment (or order)"},
        409: ERROR_RESPONSES[422]
        | {
            "description": "PAYMENT_ALREADY_REFUNDED, PAYMENT_NOT_REFUNDABLE, "
            "PAYMENT_NOT_MATCHABLE, ORDER_NOT_PAYABLE"
        },
    },
)

PaymentId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
ProblemKind = Literal["dust", "underpaid", "excess", "ignored"]


class PaymentPage(ApiModel):
    items: list[PaymentOut]
    #: pass as ``cursor`` for the next (older) page; null on the last page
    next_cursor: str | None


class PaymentDetail(PaymentOut):
    changes: list[PaymentChangeOut]


class RefundRequest(ApiModel):
    reason: Reason


class MatchRequest(ApiModel):
    order_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    reason: Reason


class ActionOut(ApiModel):
    payment: PaymentOut
    change: PaymentChangeOut


async def _search(
    session: SessionDep, window: SearchWindow, f: PaymentFilter
) -> Envelope[PaymentPage]:
    result = await payment_admin.search(
        session,
        f,
        limit=window.limit,
        after=decode_cursor(window.cursor, int) if window.cursor else None,
    )
    return ok(
        PaymentPage(items=[payment_out(p) for p in result.items], next_cursor=result.next_cursor)
    )


@router.get("")
async def search_payments(
    session: SessionDep,
    _op: OperatorDep,
    window: SearchWindowDep,
    status: PaymentStatus | None = None,
    asset: Currency | None = None,
    address: SearchText = None,
    tx_hash: Annotated[str | None, Query(alias="txHash", min_length=1, max_length=100)] = None,
    order_id: Annotated[str | None, Query(alias="orderId", min_length=1, max_length=100)] = None,
) -> Envelope[PaymentPage]:
    """Payments matching every filter given, newest first (`address`: the sender or the
    receiving address). Pass `nextCursor` as `cursor` for the next page."""
    f = PaymentFilter(
        statuses=(status,) if status else (),
        asset=asset,
        address=address,
        tx_hash=tx_hash,
        order_id=order_id,
        created_from=window.created_from,
        created_to=window.created_to,
    )
    return await _search(session, window, f)


@router.get("/problems")
async def problem_payments(
    session: SessionDep,
    _op: OperatorDep,
    window: SearchWindowDep,
    kind: ProblemKind | None = None,
    asset: Currency | None = None,
    address: SearchText = None,
) -> Envelope[PaymentPage]:
    """Payments that bought nothing or not all they could: `dust` (below the minimum),
    `underpaid`, `excess` (more than the largest order; kept by policy) and `ignored` (no order
    took them: flash disabled, not a TRX payment to the flash address, a manual match undone).
    Refund them or match an ignored one to its order."""
    statuses = (PaymentStatus(kind),) if kind else PROBLEM_STATUSES
    f = PaymentFilter(
        statuses=statuses,
        asset=asset,
        address=address,
        created_from=window.created_from,
        created_to=window.created_to,
    )
    return await _search(session, window, f)


@router.get("/{payment_id}")
async def get_payment(
    payment_id: PaymentId, session: SessionDep, _op: OperatorDep
) -> Envelope[PaymentDetail]:
    """One payment with the operator actions taken on it; 404 `PAYMENT_NOT_FOUND`."""
    p = await payment_admin.get(session, payment_id)
    changes = await payment_admin.changes(session, payment_id)
    return ok(
        PaymentDetail.model_validate(
            {**payment_out(p).model_dump(), "changes": [change_out(c) for c in changes]}
        )
    )


@router.post("/{payment_id}/refund", dependencies=[JOB_SCOPE], status_code=202)
async def refund_payment(
    payment_id: PaymentId, body: RefundRequest, session: SessionDep, admin: AdminDep
) -> Envelope[ActionOut]:
    """Send a problem TRX payment back to its sender (all of it; the excess of an excess
    payment), less the configured refund fee, through the refund job: signed and stored before
    broadcast, exactly once. 202: the payment is `refunding`; it becomes `refunded` once the
    transfer is in a block. 409 `PAYMENT_ALREADY_REFUNDED`, `PAYMENT_NOT_REFUNDABLE` (matched
    to a delivered order, not settled yet). A USDT payment goes back as a TRC20 transfer."""
    change = await payment_admin.refund(session, payment_id, reason=body.reason, by=actor(admin))
    p = await payment_admin.get(session, payment_id)
    return ok(ActionOut(payment=payment_out(p), change=change_out(change)))


@router.post("/{payment_id}/match", dependencies=[JOB_SCOPE], status_code=202)
async def match_payment(
    payment_id: PaymentId, body: MatchRequest, session: SessionDep, admin: AdminDep
) -> Envelope[ActionOut]:
    """Attach an unmatched (`ignored`) TRX or USDT payment to a pending or expired order of
    its currency; the payment job then processes it as that order's payment (paid, underpaid
    or excess by its amount) and delivers. 409 `PAYMENT_NOT_MATCHABLE` (also: another currency
    than the order's), `ORDER_NOT_PAYABLE`; 404 `ORDER_NOT_FOUND`."""
    change = await payment_admin.match(
        session, payment_id, body.order_id, reason=body.reason, by=actor(admin)
    )
    p = await payment_admin.get(session, payment_id)
    return ok(ActionOut(payment=payment_out(p), change=change_out(change)))
