"""Admin order routes (JWT, operator or admin): search with keyset pages, one order's story."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from tronrent.api.deps import SessionDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.api.search import SearchWindowDep
from tronrent.auth.dependencies import OperatorDep
from tronrent.kit.keyset import decode_cursor
from tronrent.models.chain_transaction import ChainTransaction
from tronrent.models.energy_delegation import EnergyDelegation
from tronrent.models.order import Order, OrderStatus, OrderType
from tronrent.models.payment import Payment
from tronrent.models.payment_change import PaymentChange
from tronrent.order.admin import OrderFilter, order_admin

router = APIRouter(
    prefix="/api/admin/orders",
    tags=["admin-orders"],
    responses={**ERROR_RESPONSES, 404: ERROR_RESPONSES[422] | {"description": "No such order"}},
)

#: an address or a tx hash to search by (TRON addresses are 34, tx hashes 64 characters)
SearchText = Annotated[str | None, Query(min_length=1, max_length=100)]


class OrderSummary(ApiModel):
    order_id: str
    order_number: str
    order_type: str
    status: str
    payment_status: str
    user_id: str | None
    currency: str
    energy_amount: int | None
    final_price_units: int
    paid_amount_units: int | None
    target_address: str | None
    from_address: str | None
    payment_address: str | None
    tron_tx_hash: str | None
    delegate_tx_hash: str | None
    status_reason: str | None
    created_at: datetime
    paid_at: datetime | None
    expires_at: datetime | None
    completed_at: datetime | None


class OrderPage(ApiModel):
    items: list[OrderSummary]
    #: pass as ``cursor`` for the next (older) page; null on the last page
    next_cursor: str | None


class PaymentOut(ApiModel):
    payment_id: int
    tx_hash: str
    event_index: int
    asset: str
    from_address: str
    to_address: str
    amount_units: int
    block_number: int
    block_timestamp: datetime | None
    status: str
    match_method: str | None
    order_id: str | None
    note: str | None
    handled_at: datetime | None
    created_at: datetime


class DelegationOut(ApiModel):
    delegation_id: int
    pool_id: str
    recipient_address: str
    energy_amount: int
    status: str
    tx_hash: str | None
    undelegate_tx_hash: str | None
    error_message: str | None
    delegated_at: datetime | None
    expires_at: datetime | None
    reclaimed_at: datetime | None


class ChainTxOut(ApiModel):
    txid: str
    purpose: str
    status: str
    owner_address: str
    to_address: str | None
    amount_sun: int | None
    block_number: int | None
    attempts: int
    last_error: str | None
    payment_id: int | None
    delegation_id: int | None
    created_at: datetime
    broadcast_at: datetime | None
    confirmed_at: datetime | None


class PaymentChangeOut(ApiModel):
    change_id: str
    payment_id: int
    order_id: str | None
    action: str
    actor: str
    reason: str
    before: dict[str, Any]
    after: dict[str, Any]
    created_at: datetime


class TimelineOut(ApiModel):
    at: datetime
    kind: str
    detail: dict[str, Any]


class OrderDetail(OrderSummary):
    package_id: str | None
    duration_hours: int
    transaction_count: int | None
    activation_fee_sun: int | None
    payments: list[PaymentOut]
    delegations: list[DelegationOut]
    transactions: list[ChainTxOut]
    changes: list[PaymentChangeOut]
    #: every dated step, oldest first
    timeline: list[TimelineOut]


def summary_fields(o: Order) -> dict[str, Any]:
    return {
        "order_id": o.id,
        "order_number": o.order_number,
        "order_type": o.order_type.value,
        "status": o.status.value,
        "payment_status": o.payment_status.value,
        "user_id": str(o.user_id) if o.user_id else None,
        "currency": o.currency.value,
        "energy_amount": o.energy_amount,
        "final_price_units": o.final_price_units,
        "paid_amount_units": o.paid_amount_units,
        "target_address": o.target_address,
        "from_address": o.from_address,
        "payment_address": o.payment_address,
        "tron_tx_hash": o.tron_tx_hash,
        "delegate_tx_hash": o.delegate_tx_hash,
        "status_reason": o.status_reason,
        "created_at": o.created_at,
        "paid_at": o.paid_at,
        "expires_at": o.expires_at,
        "completed_at": o.completed_at,
    }


def payment_out(p: Payment) -> PaymentOut:
    return PaymentOut(
        payment_id=p.id,
        tx_hash=p.tx_hash,
        event_index=p.event_index,
        asset=p.asset.value,
        from_address=p.from_address,
        to_address=p.to_address,
        amount_units=p.amount_units,
        block_number=p.block_number,
        block_timestamp=p.block_timestamp,
        status=p.status.value,
        match_method=p.match_method.value if p.match_method else None,
        order_id=p.order_id,
        note=p.note,
        handled_at=p.handled_at,
        created_at=p.created_at,
    )


def change_out(c: PaymentChange) -> PaymentChangeOut:
    return PaymentChangeOut(
        change_id=str(c.id),
        payment_id=c.payment_id,
        order_id=c.order_id,
        action=c.action.value,
        actor=c.actor,
        reason=c.reason,
        before=c.before,
        after=c.after,
        created_at=c.created_at,
    )


def _delegation_out(d: EnergyDelegation) -> DelegationOut:
    return DelegationOut(
        delegation_id=d.id,
        pool_id=str(d.pool_account_id),
        recipient_address=d.recipient_address,
        energy_amount=d.energy_amount,
        status=d.status.value,
        tx_hash=d.tx_hash,
        undelegate_tx_hash=d.undelegate_tx_hash,
        error_message=d.error_message,
        delegated_at=d.delegated_at,
        expires_at=d.expires_at,
        reclaimed_at=d.reclaimed_at,
    )


def _tx_out(t: ChainTransaction) -> ChainTxOut:
    return ChainTxOut(
        txid=t.txid,
        purpose=t.purpose.value,
        status=t.status.value,
        owner_address=t.owner_address,
        to_address=t.to_address,
        amount_sun=t.amount_sun,
        block_number=t.block_number,
        attempts=t.attempts,
        last_error=t.last_error,
        payment_id=t.payment_id,
        delegation_id=t.delegation_id,
        created_at=t.created_at,
        broadcast_at=t.broadcast_at,
        confirmed_at=t.confirmed_at,
    )


@router.get("")
async def search_orders(
    session: SessionDep,
    _op: OperatorDep,
    window: SearchWindowDep,
    status: OrderStatus | None = None,
    order_type: Annotated[OrderType | None, Query(alias="type")] = None,
    user_id: Annotated[uuid.UUID | None, Query(alias="userId")] = None,
    address: SearchText = None,
    tx_hash: Annotated[str | None, Query(alias="txHash", min_length=1, max_length=100)] = None,
) -> Envelope[OrderPage]:
    """Orders matching every filter given, newest first. `address`: the recipient, the payer
    or the payment address; `txHash`: the payment tx, the delegation tx or any transaction
    signed for the order. Pass `nextCursor` as `cursor` for the next page; 422
    `INVALID_CURSOR` for a cursor that is not one."""
    result = await order_admin.search(
        session,
        OrderFilter(
            status=status,
            order_type=order_type,
            user_id=user_id,
            address=address,
            tx_hash=tx_hash,
            created_from=window.created_from,
            created_to=window.created_to,
        ),
        limit=window.limit,
        after=decode_cursor(window.cursor, str) if window.cursor else None,
    )
    return ok(
        OrderPage(
            items=[OrderSummary.model_validate(summary_fields(o)) for o in result.items],
            next_cursor=result.next_cursor,
        )
    )


@router.get("/{order_id}")
async def get_order(
    order_id: Annotated[str, Path(min_length=1, max_length=100)],
    session: SessionDep,
    _op: OperatorDep,
) -> Envelope[OrderDetail]:
    """One order with its payments, delegations, chain transactions, operator actions and
    the timeline of every step; 404 `ORDER_NOT_FOUND`."""
    story = await order_admin.story(session, order_id)
    o = story.order
    return ok(
        OrderDetail.model_validate(
            {
                **summary_fields(o),
                "package_id": str(o.package_id) if o.package_id else None,
                "duration_hours": o.duration_hours,
                "transaction_count": o.transaction_count,
                "activation_fee_sun": o.activation_fee_sun,
                "payments": [payment_out(p) for p in story.payments],
                "delegations": [_delegation_out(d) for d in story.delegations],
                "transactions": [_tx_out(t) for t in story.transactions],
                "changes": [change_out(c) for c in story.changes],
                "timeline": [
                    TimelineOut(at=e.at, kind=e.kind, detail=e.detail) for e in story.timeline
                ],
            }
        )
    )
