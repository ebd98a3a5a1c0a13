"""Admin routes over customers (JWT): search, detail, ledger, balance adjustments, block.

Reads need the operator or admin role; balance adjustments and block/unblock need admin.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import Field, StrictInt, StringConstraints, field_validator

from tronrent.api.deps import SessionDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.auth.dependencies import AdminDep, OperatorDep
from tronrent.models import AdminUser, User
from tronrent.models.balance_ledger import BalanceLedgerEntry
from tronrent.models.common import Currency
from tronrent.user.admin import Actor, StatusChange, user_admin
from tronrent.user.balance import MAX_DELTA_UNITS, MAX_PAGE
from tronrent.user.balance import balance as balance_service

router = APIRouter(
    prefix="/api/admin/users",
    tags=["admin-users"],
    responses={
        **ERROR_RESPONSES,
        404: ERROR_RESPONSES[422] | {"description": "No such user"},
        409: ERROR_RESPONSES[422]
        | {"description": "INSUFFICIENT_BALANCE, or LEDGER_CAUSE_REUSED (reference reused)"},
    },
)


#: free text an admin must fill in: surrounding blanks removed, blank refused
def _text(max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


class UserSummary(ApiModel):
    user_id: str
    telegram_id: int | None
    username: str | None
    first_name: str | None
    status: str
    referral_code: str | None
    trx_balance_sun: int
    usdt_balance_units: int
    created_at: datetime | None


class UserDetail(UserSummary):
    last_name: str | None
    language_code: str | None
    role: str
    tron_address: str | None
    referred_by: str | None
    total_orders: int
    total_spent_sun: int
    total_spent_usdt_units: int
    total_energy_used: int
    last_login_at: datetime | None


class LedgerEntryOut(ApiModel):
    entry_id: int
    user_id: str
    currency: str
    delta_units: int
    balance_after_units: int
    cause_type: str
    cause_id: str
    note: str | None
    created_at: datetime | None


class LedgerPageOut(ApiModel):
    items: list[LedgerEntryOut]
    #: pass as ``before`` for the next (older) page; null on the last page
    next_before: int | None


class AdjustmentRequest(ApiModel):
    currency: Currency
    amount: StrictInt = Field(
        ge=-MAX_DELTA_UNITS,
        le=MAX_DELTA_UNITS,
        description="signed integer base units (sun for TRX, 10^-6 USDT), non-zero",
    )
    reason: Annotated[str, _text(500)]
    reference: Annotated[str, _text(100)] = Field(
        description="idempotency key: a repeat returns the entry"
    )

    @field_validator("amount")
    @classmethod
    def _non_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be 0")
        return value


class AdjustmentOut(ApiModel):
    entry: LedgerEntryOut
    #: false: this reference had been applied before; nothing changed now
    created: bool


class BlockRequest(ApiModel):
    reason: Annotated[str, _text(500)]


class StatusChangeOut(ApiModel):
    user_id: str
    status: str
    previous_status: str
    by: str
    admin_id: str
    reason: str
    at: datetime


def summary_fields(u: User) -> dict[str, object]:
    return {
        "user_id": str(u.id),
        "telegram_id": u.telegram_id,
        "username": u.username,
        "first_name": u.first_name,
        "status": u.status.value,
        "referral_code": u.referral_code,
        "trx_balance_sun": u.trx_balance_sun,
        "usdt_balance_units": u.usdt_balance_units,
        "created_at": u.created_at,
    }


def user_detail(u: User) -> UserDetail:
    return UserDetail.model_validate(
        {
            **summary_fields(u),
            "last_name": u.last_name,
            "language_code": u.language_code,
            "role": u.role.value,
            "tron_address": u.tron_address,
            "referred_by": str(u.referred_by) if u.referred_by else None,
            "total_orders": u.total_orders,
            "total_spent_sun": u.total_spent_sun,
            "total_spent_usdt_units": u.total_spent_usdt_units,
            "total_energy_used": u.total_energy_used,
            "last_login_at": u.last_login_at,
        }
    )


def entry_out(e: BalanceLedgerEntry) -> LedgerEntryOut:
    return LedgerEntryOut(
        entry_id=e.id,
        user_id=str(e.user_id),
        currency=e.currency.value,
        delta_units=e.delta_units,
        balance_after_units=e.balance_after_units,
        cause_type=e.cause_type.value,
        cause_id=e.cause_id,
        note=e.note,
        created_at=e.created_at,
    )


def actor(admin: AdminUser) -> Actor:
    return Actor(admin_id=admin.id, username=admin.username)


def status_change_out(change: StatusChange) -> StatusChangeOut:
    return StatusChangeOut(
        user_id=str(change.user.id),
        status=change.user.status.value,
        previous_status=change.previous.value,
        by=change.by.username,
        admin_id=str(change.by.admin_id),
        reason=change.reason,
        at=change.at,
    )


@router.get("")
async def search_users(
    session: SessionDep,
    _op: OperatorDep,
    search: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Envelope[list[UserSummary]]:
    """Users by Telegram id (exact), TRON address (exact), username (substring) or referral
    code (exact); newest first. Without `search`: the newest users."""
    users = await user_admin.search(session, search, limit=limit)
    return ok([UserSummary.model_validate(summary_fields(u)) for u in users])


@router.get("/{user_id}")
async def get_user(
    user_id: uuid.UUID, session: SessionDep, _op: OperatorDep
) -> Envelope[UserDetail]:
    """One user with balances and counters; 404 `USER_NOT_FOUND`."""
    return ok(user_detail(await user_admin.get(session, user_id)))


@router.get("/{user_id}/ledger")
async def user_ledger(
    user_id: uuid.UUID,
    session: SessionDep,
    _op: OperatorDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    currency: Currency | None = None,
) -> Envelope[LedgerPageOut]:
    """The user's ledger entries, newest first; pass `nextBefore` as `before` for older ones."""
    await user_admin.get(session, user_id)
    page = await balance_service.list_entries(
        session, user_id, limit=limit, before_id=before, currency=currency
    )
    return ok(
        LedgerPageOut(items=[entry_out(e) for e in page.entries], next_before=page.next_before_id)
    )


@router.post("/{user_id}/balance-adjustments", status_code=201)
async def adjust_balance(
    user_id: uuid.UUID,
    body: AdjustmentRequest,
    session: SessionDep,
    admin: AdminDep,
    response: Response,
) -> Envelope[AdjustmentOut]:
    """A manual credit (amount > 0) or debit (amount < 0) as an `adjustment` ledger entry.

    201 with the new entry; 200 with the first entry when `reference` was applied before
    (idempotent); 409 `INSUFFICIENT_BALANCE` when a debit would go below zero (nothing changes);
    409 `LEDGER_CAUSE_REUSED` when the reference was used with another user, currency or amount.
    """
    applied = await user_admin.adjust_balance(
        session,
        user_id,
        currency=body.currency,
        amount_units=body.amount,
        reason=body.reason,
        reference=body.reference,
        by=actor(admin),
    )
    if not applied.created:
        response.status_code = 200
    return ok(AdjustmentOut(entry=entry_out(applied.entry), created=applied.created))


@router.post("/{user_id}/block")
async def block_user(
    user_id: uuid.UUID, body: BlockRequest, session: SessionDep, admin: AdminDep
) -> Envelope[StatusChangeOut]:
    """Set the user's status to `banned`; who and why are logged (`user.blocked`) and returned."""
    change = await user_admin.set_blocked(
        session, user_id, blocked=True, reason=body.reason, by=actor(admin)
    )
    return ok(status_change_out(change))


@router.post("/{user_id}/unblock")
async def unblock_user(
    user_id: uuid.UUID, body: BlockRequest, session: SessionDep, admin: AdminDep
) -> Envelope[StatusChangeOut]:
    """Set the user's status back to `active`; logged (`user.unblocked`) and returned."""
    change = await user_admin.set_blocked(
        session, user_id, blocked=False, reason=body.reason, by=actor(admin)
    )
    return ok(status_change_out(change))
