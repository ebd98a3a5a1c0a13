"""API keys of customers: several per customer, the secret shown once, stored encrypted.

The secret is encrypted with ``SECRET_KEYS`` (`kit.crypto.SecretBox`), not hashed: checking an
HMAC signature needs the secret itself. It is returned only by `create`, never logged, never
shown again (a lost secret means a new key). Revoking is final; the row stays for its orders.
Who created or revoked a key, and why, is kept on the row (``admin:<name>`` from the admin
API, ``customer:<telegram id>`` from the bot).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.crypto import Secret, SecretBox
from tronrent.kit.db import STANDALONE
from tronrent.kit.keyset import Page, Position, newest_first, page, uuid_position
from tronrent.kit.time import utcnow
from tronrent.merchant import signing
from tronrent.merchant.errors import ApiKeyNotFound, InvalidAllowlist, KeyRevoked, TooManyKeys
from tronrent.merchant.urls import check_callback_url
from tronrent.models.merchant import ApiKeyStatus, MerchantApiKey, MerchantKeyChange
from tronrent.models.user import User
from tronrent.product.customer import ensure_not_blocked
from tronrent.user.errors import UserNotFound


class Unset(enum.Enum):
    """``callback_url=UNSET``: leave the URL as it is (``None`` removes it)."""

    UNSET = "unset"


UNSET: Final = Unset.UNSET
MAX_ACTIVE_KEYS: Final = 20
MAX_ALLOWLIST: Final = 50
#: ``last_used_at`` is written at most this often per key (one hot row at 200 requests/s)
LAST_USED_RESOLUTION: Final = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class NewKey:
    """A created key and its secret (shown to the customer once)."""

    key: MerchantApiKey
    secret: Secret


def _allowlist(entries: Sequence[str]) -> list[str]:
    if len(entries) > MAX_ALLOWLIST:
        raise InvalidAllowlist(f"at most {MAX_ALLOWLIST} allowlist entries")
    try:
        return signing.parse_allowlist(entries)
    except ValueError:
        raise InvalidAllowlist(
            "ipAllowlist entries must be IP addresses or networks (1.2.3.4, 10.0.0.0/8)"
        ) from None


#: a signed request's key (every merchant request): built once, bound per request
_BY_KEY_ID = select(MerchantApiKey).where(MerchantApiKey.key_id == bindparam("key_id"))


class MerchantKeyService:
    async def create(
        self,
        session: AsyncSession,
        box: SecretBox,
        *,
        user_id: uuid.UUID,
        name: str,
        actor: str,
        ip_allowlist: Sequence[str] = (),
        callback_url: str | None = None,
        reason: str | None = None,
    ) -> NewKey:
        """A new active key for the user.

        Raises:
            UserNotFound (404). UserBlocked (403). InvalidAllowlist, InvalidCallbackUrl (422).
            TooManyKeys (409): the user has `MAX_ACTIVE_KEYS` active keys.
        """
        user = await session.get(User, user_id, with_for_update=True)
        if user is None:
            raise UserNotFound("user not found")
        ensure_not_blocked(user)
        networks = _allowlist(ip_allowlist)
        url = check_callback_url(callback_url)
        active = await session.scalar(
            select(func.count())
            .select_from(MerchantApiKey)
            .where(
                MerchantApiKey.user_id == user_id,
                MerchantApiKey.status == ApiKeyStatus.ACTIVE,
            )
        )
        if (active or 0) >= MAX_ACTIVE_KEYS:
            raise TooManyKeys(f"at most {MAX_ACTIVE_KEYS} active API keys per customer")
        secret = Secret(signing.new_secret())
        key = MerchantApiKey(
            id=uuid.uuid4(),
            key_id=signing.new_key_id(),
            user_id=user_id,
            name=(name.strip() or "API key")[:100],
            secret_encrypted=box.encrypt(secret),
            ip_allowlist=networks,
            callback_url=url,
            status=ApiKeyStatus.ACTIVE,
            created_by=actor,
            created_reason=reason,
        )
        session.add(key)
        await session.flush()
        return NewKey(key, secret)

    async def list(
        self, session: AsyncSession, *, user_id: uuid.UUID | None = None, limit: int = 200
    ) -> Sequence[MerchantApiKey]:
        stmt = select(MerchantApiKey).order_by(MerchantApiKey.created_at.desc()).limit(limit)
        if user_id is not None:
            stmt = stmt.where(MerchantApiKey.user_id == user_id)
        return (await session.execute(stmt)).scalars().all()

    async def page(
        self,
        session: AsyncSession,
        *,
        user_id: uuid.UUID | None = None,
        limit: int = 50,
        after: Position[str] | None = None,
    ) -> Page[MerchantApiKey]:
        """Keys newest first, after ``after`` (keyset: ``idx_merchant_api_keys_created_at``)."""
        stmt = select(MerchantApiKey)
        if user_id is not None:
            stmt = stmt.where(MerchantApiKey.user_id == user_id)
        stmt = newest_first(
            stmt, MerchantApiKey.created_at, MerchantApiKey.id, uuid_position(after), limit
        )
        rows = (await session.execute(stmt)).scalars().all()
        return page(rows, limit, lambda k: Position(k.created_at, str(k.id)))

    async def get(
        self, session: AsyncSession, key: uuid.UUID | str, *, user_id: uuid.UUID | None = None
    ) -> MerchantApiKey:
        """By row id or public key id; ``user_id``: only that customer's key (a customer in the
        bot). `ApiKeyNotFound` (404)."""
        if isinstance(key, uuid.UUID):
            found = await session.get(MerchantApiKey, key)
        else:
            found = await self.get_by_key_id(session, key)
        if found is None or (user_id is not None and found.user_id != user_id):
            raise ApiKeyNotFound("API key not found")
        return found

    async def get_by_key_id(self, session: AsyncSession, key_id: str) -> MerchantApiKey | None:
        if not signing.KEY_ID_RE.match(key_id):
            return None
        return (await session.execute(_BY_KEY_ID, {"key_id": key_id})).scalar_one_or_none()

    async def revoke(
        self,
        session: AsyncSession,
        key: uuid.UUID | str,
        *,
        actor: str,
        reason: str,
        user_id: uuid.UUID | None = None,
    ) -> MerchantApiKey:
        """Revoke (idempotent: a revoked key is returned unchanged). ``user_id``: only that
        customer's key (a customer revoking from the bot), else 404."""
        found = await self.get(session, key, user_id=user_id)
        if found.status is ApiKeyStatus.REVOKED:
            return found
        found.status = ApiKeyStatus.REVOKED
        found.revoked_at = utcnow()
        found.revoked_by = actor
        found.revoked_reason = reason
        await session.flush()
        return found

    async def update_settings(
        self,
        session: AsyncSession,
        key: uuid.UUID | str,
        *,
        actor: str,
        reason: str,
        user_id: uuid.UUID | None = None,
        ip_allowlist: Sequence[str] | None = None,
        callback_url: str | Unset | None = UNSET,
    ) -> MerchantApiKey:
        """Set the key's IP allowlist (``[]``: any address) and/or callback URL (``None``:
        none; `UNSET`: unchanged), recorded in ``merchant_key_changes`` with who and why (only
        what changed; nothing when nothing did). ``user_id``: only that customer's key.

        Raises:
            ApiKeyNotFound (404). KeyRevoked (409). InvalidAllowlist, InvalidCallbackUrl (422).
        """
        found = await self.get(session, key, user_id=user_id)
        if found.status is ApiKeyStatus.REVOKED:
            raise KeyRevoked("the API key is revoked: create a new one")
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        if ip_allowlist is not None:
            networks = _allowlist(ip_allowlist)
            if networks != list(found.ip_allowlist or []):
                before["ipAllowlist"], after["ipAllowlist"] = list(found.ip_allowlist), networks
                found.ip_allowlist = networks
        if not isinstance(callback_url, Unset):
            url = check_callback_url(callback_url)
            if url != found.callback_url:
                before["callbackUrl"], after["callbackUrl"] = found.callback_url, url
                found.callback_url = url
        if after:
            session.add(
                MerchantKeyChange(
                    api_key_id=found.id, actor=actor, reason=reason, before=before, after=after
                )
            )
        await session.flush()
        return found

    async def changes(
        self, session: AsyncSession, key: MerchantApiKey, *, limit: int = 50
    ) -> Sequence[MerchantKeyChange]:
        """The key's settings changes, newest first."""
        return (
            (
                await session.execute(
                    select(MerchantKeyChange)
                    .where(MerchantKeyChange.api_key_id == key.id)
                    .order_by(MerchantKeyChange.id.desc())
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )

    async def touch(self, session: AsyncSession, key: MerchantApiKey) -> None:
        """Record use (at most once per `LAST_USED_RESOLUTION`: a conditional UPDATE)."""
        now = utcnow()
        if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
            return
        await session.execute(
            update(MerchantApiKey)
            .where(
                MerchantApiKey.id == key.id,
                (MerchantApiKey.last_used_at.is_(None))
                | (MerchantApiKey.last_used_at < now - LAST_USED_RESOLUTION),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False, **{STANDALONE: True})
        )


merchant_keys = MerchantKeyService()
