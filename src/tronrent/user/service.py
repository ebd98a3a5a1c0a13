"""Registration of Telegram users and referral binding. Never commits (the caller does)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.time import utcnow
from tronrent.models import Agent, User, UserStatus

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are typed by people
REFERRAL_CODE_LENGTH = 8


@dataclass(frozen=True)
class TelegramProfile:
    """Who a Telegram update comes from (``from_user`` of aiogram, decoupled from aiogram)."""

    telegram_id: int
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None


@dataclass(frozen=True)
class Registration:
    user: User
    created: bool


def new_referral_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH))


def _clip(value: str | None, length: int) -> str | None:
    return value[:length] if value else None


class UserService:
    async def get(self, session: AsyncSession, user_id: uuid.UUID) -> User | None:
        return await session.get(User, user_id)

    async def get_by_telegram_id(self, session: AsyncSession, telegram_id: int) -> User | None:
        result = await session.execute(select(User).where(User.telegram_id == telegram_id))
        return result.scalar_one_or_none()

    async def get_by_referral_code(self, session: AsyncSession, code: str) -> User | None:
        code = code.strip().upper()
        if not code or len(code) > 50:
            return None
        result = await session.execute(select(User).where(User.referral_code == code))
        return result.scalar_one_or_none()

    async def register_telegram_user(
        self, session: AsyncSession, profile: TelegramProfile
    ) -> Registration:
        """Get or create the user of ``profile`` (refreshing its names); safe under races."""
        user = await self.get_by_telegram_id(session, profile.telegram_id)
        if user is not None:
            self._refresh_profile(user, profile)
            return Registration(user, created=False)
        for _ in range(5):
            user = User(
                id=uuid.uuid4(),
                telegram_id=profile.telegram_id,
                referral_code=new_referral_code(),
                status=UserStatus.ACTIVE,
                last_login_at=utcnow(),
            )
            self._refresh_profile(user, profile)
            try:
                async with session.begin_nested():
                    session.add(user)
                    await session.flush()
            except IntegrityError:
                # Either another update registered this Telegram user first, or (rarely) the
                # random referral code collided: look again, retry with a new code.
                existing = await self.get_by_telegram_id(session, profile.telegram_id)
                if existing is not None:
                    self._refresh_profile(existing, profile)
                    return Registration(existing, created=False)
                continue
            return Registration(user, created=True)
        raise RuntimeError("could not allocate a unique referral code")

    async def bind_referrer(self, session: AsyncSession, user: User, code: str) -> User | None:
        """Bind the owner of referral ``code`` as ``user``'s referrer; the referrer or None.

        Only once (an existing referrer is kept), never oneself, never a two-user cycle.
        """
        if user.referred_by is not None:
            return None
        referrer = await self.get_by_referral_code(session, code)
        if referrer is None or referrer.id == user.id or referrer.referred_by == user.id:
            return None
        user.referred_by = referrer.id
        await session.flush()
        # the referrer's agent row (if any) counts its referrals
        await session.execute(
            update(Agent)
            .where(Agent.user_id == referrer.id)
            .values(total_referrals=Agent.total_referrals + 1)
            .execution_options(synchronize_session=False)
        )
        return referrer

    async def bind_tron_address(self, session: AsyncSession, user: User, address: str) -> None:
        """Remember ``address`` (already validated) as the user's TRON address if none is bound."""
        if user.tron_address is None:
            user.tron_address = address
            await session.flush()

    @staticmethod
    def _refresh_profile(user: User, profile: TelegramProfile) -> None:
        user.username = _clip(profile.username, 50)
        user.first_name = _clip(profile.first_name, 100)
        user.last_name = _clip(profile.last_name, 100)
        user.language_code = _clip(profile.language_code, 10)


user = UserService()
