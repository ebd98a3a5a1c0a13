"""What operators do to customers: search, manual balance adjustments, block/unblock.
Never commits.

Who and why of a block/unblock is a ``user_status_changes`` row (and the ``user.blocked`` /
``user.unblocked`` log line), returned to the caller; an adjustment's who and why is the
``note`` of its ledger entry (JSON), so it is kept with the change itself.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronproto.address import is_valid_base58
from tronrent.kit.keyset import Page, Position, newest_first, page, uuid_position
from tronrent.kit.logging import get_logger
from tronrent.kit.time import utcnow
from tronrent.models import User, UserStatus
from tronrent.models.balance_ledger import LedgerCause
from tronrent.models.common import Currency
from tronrent.models.user_status_change import UserStatusChange
from tronrent.user.balance import LedgerApplication
from tronrent.user.balance import balance as balance_service
from tronrent.user.errors import LedgerCauseReused, UserNotFound

_log = get_logger("tronrent.user")

MAX_SEARCH_RESULTS: Final = 100


@dataclass(frozen=True)
class Actor:
    """The operator account acting (from the admin JWT)."""

    admin_id: uuid.UUID
    username: str


@dataclass(frozen=True)
class StatusChange:
    user: User
    previous: UserStatus
    by: Actor
    reason: str
    at: datetime


def matching(query: str | None) -> list[ColumnElement[bool]]:
    """Who ``query`` finds: an exact Telegram id (digits), an exact TRON address, a username
    (case-insensitive, substring, a leading ``@`` ignored) or an exact referral code; nothing
    (every user) when it is blank."""
    query = (query or "").strip()
    if not query:
        return []
    name = query.removeprefix("@").lower()
    escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    conditions: list[ColumnElement[bool]] = [
        User.username.ilike(f"%{escaped}%", escape="\\"),
        User.referral_code == query.upper(),
    ]
    if query.isascii() and query.isdigit() and len(query) <= 18:  # "²".isdigit() too
        conditions.append(User.telegram_id == int(query))
    if is_valid_base58(query):
        conditions.append(User.tron_address == query)
    return [or_(*conditions)]


class UserAdminService:
    async def search(
        self, session: AsyncSession, query: str | None, *, limit: int = 20
    ) -> list[User]:
        """Users matching ``query`` (see `matching`), newest first."""
        limit = max(1, min(limit, MAX_SEARCH_RESULTS))
        return (await self.page(session, query, limit=limit)).items

    async def page(
        self,
        session: AsyncSession,
        query: str | None,
        *,
        limit: int = 50,
        after: Position[str] | None = None,
    ) -> Page[User]:
        """One page of the users matching ``query`` (see `matching`), newest first, after
        ``after`` (keyset over ``(created_at, id)``: ``idx_users_created_at``)."""
        statement = newest_first(
            select(User).where(*matching(query)),
            User.created_at,
            User.id,
            uuid_position(after),
            limit,
        )
        rows = list((await session.execute(statement)).scalars())
        return page(rows, limit, lambda u: Position(u.created_at, str(u.id)))

    async def get(self, session: AsyncSession, user_id: uuid.UUID) -> User:
        """Raises: UserNotFound (404)."""
        user = await session.get(User, user_id)
        if user is None:
            raise UserNotFound("user not found")
        return user

    async def status_changes(
        self, session: AsyncSession, user_id: uuid.UUID, *, limit: int = 50
    ) -> list[UserStatusChange]:
        """The user's blocks and unblocks, newest first."""
        rows = await session.execute(
            select(UserStatusChange)
            .where(UserStatusChange.user_id == user_id)
            .order_by(UserStatusChange.created_at.desc(), UserStatusChange.id)
            .limit(limit)
        )
        return list(rows.scalars())

    async def adjust_balance(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        *,
        currency: Currency,
        amount_units: int,
        reason: str,
        reference: str,
        by: Actor,
    ) -> LedgerApplication:
        """A manual credit (amount > 0) or debit (< 0) as an ``adjustment`` ledger entry whose
        cause id is ``reference``: repeating a reference returns the first entry.

        Raises:
            UserNotFound (404), InsufficientBalance (409), LedgerCauseReused (409: the reference
            was used for another user, currency or amount), InvalidLedgerChange (422).
        """
        await self.get(session, user_id)
        # The unique key includes the currency: one reference must not credit both currencies.
        earlier = await balance_service.get_entry_by_cause(
            session, cause_type=LedgerCause.ADJUSTMENT, cause_id=reference
        )
        if earlier is not None and earlier.currency != currency:
            raise LedgerCauseReused(
                f"reference {reference!r} was already used for a {earlier.currency.value} "
                "adjustment",
                details={"entryId": earlier.id},
            )
        note = json.dumps(
            {"by": by.username, "adminId": str(by.admin_id), "reason": reason},
            ensure_ascii=False,
        )
        applied = await balance_service.apply(
            session,
            user_id=user_id,
            currency=currency,
            delta_units=amount_units,
            cause_type=LedgerCause.ADJUSTMENT,
            cause_id=reference,
            note=note,
        )
        if applied.created:
            _log.info(
                "user.balance_adjusted",
                user_id=str(user_id),
                currency=currency.value,
                amount_units=amount_units,
                reference=reference,
                by=by.username,
                admin_id=str(by.admin_id),
                reason=reason,
                entry_id=applied.entry.id,
            )
        return applied

    async def set_blocked(
        self, session: AsyncSession, user_id: uuid.UUID, *, blocked: bool, reason: str, by: Actor
    ) -> StatusChange:
        """Block (status ``banned``) or unblock (``active``) a user; recorded
        (``user_status_changes``) and logged with who and why."""
        user = await self.get(session, user_id)
        previous = user.status
        user.status = UserStatus.BANNED if blocked else UserStatus.ACTIVE
        session.add(
            UserStatusChange(
                user_id=user.id,
                previous_status=previous,
                status=user.status,
                actor=f"admin:{by.username}"[:100],
                actor_id=by.admin_id,
                reason=reason,
            )
        )
        await session.flush()
        change = StatusChange(user, previous, by, reason, utcnow())
        _log.info(
            "user.blocked" if blocked else "user.unblocked",
            user_id=str(user_id),
            previous_status=previous.value,
            status=user.status.value,
            by=by.username,
            admin_id=str(by.admin_id),
            reason=reason,
        )
        return change


user_admin = UserAdminService()
