"""Bots and their users (``bots``, ``bot_users``). Services never commit."""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.bot.errors import (
    AgentBotNotApproved,
    BotAlreadyExists,
    BotInUse,
    BotNotFound,
    InvalidBotToken,
)
from tronrent.kit.audit import Actor, require_reason
from tronrent.kit.crypto import Secret, SecretBox
from tronrent.kit.errors import ValidationFailed
from tronrent.kit.time import utcnow
from tronrent.models import (
    Agent,
    AgentStatus,
    Bot,
    BotAction,
    BotChange,
    BotStatus,
    BotUser,
    Order,
)
from tronrent.pricing.rules import price_config_service

_TOKEN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,100}$")
# A bot token carries ~200 random bits, so a hash of it cannot be brute-forced; the fixed key only
# separates this use from any other SHA-256 of the same string.
_TOKEN_HASH_KEY = b"tronrent.bots.token_hash.v1"


def token_hash(token: str | Secret) -> str:
    """The value stored in ``bots.token_hash`` (UNIQUE): HMAC-SHA256 of the token, hex."""
    text = token.reveal() if isinstance(token, Secret) else token
    return hmac.new(_TOKEN_HASH_KEY, text.encode("utf-8"), hashlib.sha256).hexdigest()


def validate_token(token: str) -> str:
    token = token.strip()
    if not _TOKEN.match(token):
        raise InvalidBotToken("bot token must look like 123456789:AA... (from @BotFather)")
    return token


@dataclass(frozen=True)
class BotConfig:
    """What a running bot needs, read from its ``bots`` row (token decrypted, kept masked)."""

    id: uuid.UUID
    name: str
    username: str
    token: Secret
    webhook_url: str | None = None
    webhook_secret: Secret | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    commands: list[Any] = field(default_factory=list)
    welcome_message: str | None = None
    help_message: str | None = None
    error_message: str | None = None
    maintenance_mode: bool = False
    rate_limit: int = 30
    updated_at: datetime | None = None

    @property
    def maintenance_message(self) -> str | None:
        value = self.settings.get("maintenance_message")
        return str(value) if value else None

    @property
    def mode(self) -> str:
        """``webhook`` when a webhook URL is set, else ``polling``."""
        return "webhook" if self.webhook_url else "polling"


#: what ``BotService.edit`` changes besides the token and webhook secret
EDITABLE = (
    "name",
    "username",
    "description",
    "status",
    "webhook_url",
    "settings",
    "commands",
    "welcome_message",
    "help_message",
    "error_message",
    "maintenance_mode",
    "rate_limit",
    "max_users",
)
#: how a changed secret (token, webhook secret) appears in ``bot_changes``
SECRET_CHANGED = "(changed)"  # noqa: S105 - a marker, not a secret


def _shown(key: str, value: Any) -> Any:
    """A value as recorded in ``bot_changes`` (secrets never)."""
    if key in ("token", "webhook_secret"):
        return SECRET_CHANGED if value else None
    if isinstance(value, enum.Enum):
        return value.value
    return value


class BotService:
    async def create(
        self,
        session: AsyncSession,
        *,
        box: SecretBox,
        token: str,
        name: str,
        username: str,
        description: str | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        welcome_message: str | None = None,
        help_message: str | None = None,
        error_message: str | None = None,
        settings: dict[str, Any] | None = None,
        commands: list[Any] | None = None,
        rate_limit: int = 30,
    ) -> Bot:
        """Add a bot; its token and webhook secret are stored encrypted."""
        token = validate_token(token)
        bot = Bot(
            id=uuid.uuid4(),
            name=name,
            username=username.lstrip("@"),
            description=description,
            token_encrypted=box.encrypt(token),
            token_hash=token_hash(token),
            webhook_url=webhook_url,
            webhook_secret_encrypted=box.encrypt(webhook_secret) if webhook_secret else None,
            welcome_message=welcome_message,
            help_message=help_message,
            error_message=error_message,
            settings=settings or {},
            commands=commands or [],
            rate_limit=rate_limit,
            status=BotStatus.ACTIVE,
        )
        try:
            async with session.begin_nested():
                session.add(bot)
                await session.flush()
        except IntegrityError:
            raise BotAlreadyExists("a bot with this token or username already exists") from None
        return bot

    async def add(
        self,
        session: AsyncSession,
        *,
        box: SecretBox,
        actor: Actor,
        reason: str,
        **fields: Any,
    ) -> Bot:
        """``create`` by an operator: recorded in ``bot_changes`` with who and why."""
        why = require_reason(reason, "bot change")
        bot = await self.create(session, box=box, **fields)
        after = {k: _shown(k, v) for k, v in fields.items() if v is not None and k != "token"}
        after["token"] = SECRET_CHANGED
        self.record(session, bot, BotAction.ADD, {}, after, actor, why)
        await session.flush()
        return bot

    async def edit(
        self,
        session: AsyncSession,
        bot_id: uuid.UUID,
        changes: Mapping[str, Any],
        *,
        box: SecretBox,
        actor: Actor,
        reason: str,
    ) -> Bot:
        """Change a bot's settings, token, webhook or ``status``; recorded with who and why.

        Keys of ``changes``: ``EDITABLE`` plus ``token`` and ``webhook_secret`` (stored
        encrypted; ``None`` clears the webhook secret). Nothing that differs: no change row.
        """
        why = require_reason(reason, "bot change")
        unknown = set(changes) - {*EDITABLE, "token", "webhook_secret"}
        if unknown:
            raise ValidationFailed(f"not editable: {', '.join(sorted(unknown))}")
        bot = await self.get(session, bot_id)
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for key in EDITABLE:
            if key not in changes:
                continue
            value = changes[key]
            if key == "username" and isinstance(value, str):
                value = value.lstrip("@")
            if key == "status":
                value = BotStatus(value)
                if (
                    value is BotStatus.ACTIVE
                    and bot.owner_agent_id is not None
                    and bot.approved_at is None
                ):
                    raise AgentBotNotApproved(
                        "an agent's bot runs once approved (POST /api/admin/bots/{id}/approve)"
                    )
            if value != getattr(bot, key):
                before[key], after[key] = _shown(key, getattr(bot, key)), _shown(key, value)
                setattr(bot, key, value)
        if "token" in changes:
            token = validate_token(str(changes["token"]))
            if token_hash(token) != bot.token_hash:
                bot.token_encrypted = box.encrypt(token)
                bot.token_hash = token_hash(token)
                before["token"] = after["token"] = SECRET_CHANGED
        if "webhook_secret" in changes:
            secret = changes["webhook_secret"]
            old = (
                box.decrypt(bot.webhook_secret_encrypted) if bot.webhook_secret_encrypted else None
            )
            if (old.reveal() if old else None) != secret:
                bot.webhook_secret_encrypted = box.encrypt(secret) if secret else None
                before["webhook_secret"] = SECRET_CHANGED if old else None
                after["webhook_secret"] = SECRET_CHANGED if secret else None
        if not after:
            return bot
        self.record(session, bot, BotAction.EDIT, before, after, actor, why)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError:
            raise BotAlreadyExists("a bot with this token or username already exists") from None
        return bot

    async def remove(
        self, session: AsyncSession, bot_id: uuid.UUID, *, actor: Actor, reason: str
    ) -> None:
        """Delete a bot that no order references (else ``BotInUse``: disable it instead).

        Its ``bot_users`` go with it, its outbox rows keep no bot; ``bot_changes`` keeps the
        history (the token is gone with the row). Its price rules are deleted (soft, as an
        operator's delete: ``delete`` in their ``price_history``, which stays) and let go of
        the bot. Any other row still referring to it (e.g. an order made meanwhile):
        ``BotInUse``, nothing removed."""
        why = require_reason(reason, "bot change")
        bot = await self.get(session, bot_id, lock=True)
        orders = await session.scalar(
            select(func.count()).select_from(Order).where(Order.bot_id == bot.id)
        )
        if orders:
            raise BotInUse(
                f"{orders} orders were made through this bot; disable it (status inactive) "
                "instead of removing it",
                details={"orders": int(orders)},
            )
        before = {"name": bot.name, "username": bot.username, "status": bot.status.value}
        try:
            async with session.begin_nested():
                rules = await price_config_service.detach_bot(session, bot, actor=actor, reason=why)
                after: dict[str, Any] = {"status": "removed"}
                if rules:
                    after["price_configs_deleted"] = [str(rule.id) for rule in rules]
                self.record(session, bot, BotAction.REMOVE, before, after, actor, why)
                await session.execute(delete(BotUser).where(BotUser.bot_id == bot.id))
                await session.delete(bot)
                await session.flush()
        except IntegrityError:
            raise BotInUse(
                "rows still refer to this bot (an order made meanwhile?); "
                "disable it (status inactive) instead of removing it"
            ) from None

    async def list_bots(self, session: AsyncSession) -> Sequence[Bot]:
        rows = await session.execute(select(Bot).order_by(Bot.created_at, Bot.id))
        return rows.scalars().all()

    async def changes(self, session: AsyncSession, bot_id: uuid.UUID) -> Sequence[BotChange]:
        """The bot's change history, newest first (a removed bot's too)."""
        rows = await session.execute(
            select(BotChange)
            .where(BotChange.bot_id == bot_id)
            .order_by(BotChange.created_at.desc(), BotChange.id)
        )
        found = rows.scalars().all()
        if not found and await session.get(Bot, bot_id) is None:
            raise BotNotFound(f"bot {bot_id} not found")
        return found

    @staticmethod
    def record(
        session: AsyncSession,
        bot: Bot,
        action: BotAction,
        before: dict[str, Any],
        after: dict[str, Any],
        actor: Actor,
        reason: str,
    ) -> None:
        session.add(
            BotChange(
                bot_id=bot.id,
                username=bot.username,
                actor=actor.name[:100],
                actor_id=actor.admin_id,
                action=action,
                before=before,
                after=after,
                reason=reason,
            )
        )

    async def get(self, session: AsyncSession, bot_id: uuid.UUID, *, lock: bool = False) -> Bot:
        bot = await session.get(Bot, bot_id, with_for_update=lock, populate_existing=lock)
        if bot is None:
            raise BotNotFound(f"bot {bot_id} not found")
        return bot

    async def set_status(self, session: AsyncSession, bot_id: uuid.UUID, status: BotStatus) -> Bot:
        bot = await self.get(session, bot_id)
        bot.status = status
        await session.flush()
        return bot

    async def list_active_configs(self, session: AsyncSession, box: SecretBox) -> list[BotConfig]:
        """Every bot that runs, tokens decrypted (a row that cannot be decrypted raises)."""
        rows = await session.execute(self.running_statement().order_by(Bot.created_at, Bot.id))
        return [self.to_config(bot, box) for bot in rows.scalars()]

    @staticmethod
    def running_statement() -> Select[Bot]:
        """The bots that run: active, and an agent's bot only while its agent is active."""
        owner_active = select(Agent.id).where(
            Agent.id == Bot.owner_agent_id, Agent.status == AgentStatus.ACTIVE
        )
        return select(Bot).where(
            Bot.status == BotStatus.ACTIVE,
            or_(Bot.owner_agent_id.is_(None), owner_active.exists()),
        )

    @staticmethod
    def to_config(bot: Bot, box: SecretBox) -> BotConfig:
        return BotConfig(
            id=bot.id,
            name=bot.name,
            username=bot.username,
            token=box.decrypt(bot.token_encrypted),
            webhook_url=bot.webhook_url,
            webhook_secret=(
                box.decrypt(bot.webhook_secret_encrypted) if bot.webhook_secret_encrypted else None
            ),
            settings=dict(bot.settings or {}),
            commands=list(bot.commands or []),
            welcome_message=bot.welcome_message,
            help_message=bot.help_message,
            error_message=bot.error_message,
            maintenance_mode=bot.maintenance_mode,
            rate_limit=bot.rate_limit,
            updated_at=bot.updated_at,
        )

    # --- bot users ---------------------------------------------------------------------------
    async def get_bot_user(
        self, session: AsyncSession, *, bot_id: uuid.UUID, user_id: uuid.UUID
    ) -> BotUser | None:
        result = await session.execute(
            select(BotUser).where(BotUser.bot_id == bot_id, BotUser.user_id == user_id)
        )
        return result.scalar_one_or_none()

    async def touch_bot_user(
        self,
        session: AsyncSession,
        *,
        bot_id: uuid.UUID,
        user_id: uuid.UUID,
        chat_id: int | None,
        now: datetime | None = None,
    ) -> BotUser:
        """Record one interaction of a user with a bot (first/last time, message counts)."""
        now = now or utcnow()
        bot_user = await self.get_bot_user(session, bot_id=bot_id, user_id=user_id)
        created = False
        if bot_user is None:
            bot_user = BotUser(
                id=uuid.uuid4(),
                bot_id=bot_id,
                user_id=user_id,
                telegram_chat_id=chat_id,
                first_interaction_at=now,
                last_interaction_at=now,
                total_messages=1,
                preferences={},
            )
            try:
                async with session.begin_nested():
                    session.add(bot_user)
                    await session.flush()
                created = True
            except IntegrityError:  # the same user's other update got there first
                bot_user = await self.get_bot_user(session, bot_id=bot_id, user_id=user_id)
                if bot_user is None:
                    raise
        if not created:
            bot_user.last_interaction_at = now
            bot_user.total_messages = BotUser.total_messages + 1
            if chat_id is not None:
                bot_user.telegram_chat_id = chat_id
        values: dict[str, Any] = {
            "total_messages": Bot.total_messages + 1,
            "last_message_at": now,
        }
        if created:
            values["current_users"] = Bot.current_users + 1
        await session.execute(update(Bot).where(Bot.id == bot_id).values(**values))
        await session.flush()
        if not created:
            await session.refresh(bot_user, ["total_messages"])
        return bot_user

    async def set_preference(
        self, session: AsyncSession, bot_user: BotUser, key: str, value: Any
    ) -> None:
        preferences = dict(bot_user.preferences or {})
        preferences[key] = value
        bot_user.preferences = preferences  # reassign: JSON columns do not track mutation
        await session.flush()

    async def chat_id_for(
        self, session: AsyncSession, *, bot_id: uuid.UUID, user_id: uuid.UUID
    ) -> int | None:
        result = await session.execute(
            select(BotUser.telegram_chat_id).where(
                BotUser.bot_id == bot_id, BotUser.user_id == user_id
            )
        )
        return result.scalar_one_or_none()


bot = BotService()
