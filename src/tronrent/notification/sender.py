"""Delivers the outbox: localized text, Telegram's flood limits, 429 retries, exactly-once marks.

Order is kept per chat (rows are claimed oldest first and a chat's rows go one after the other;
a row that must wait holds back the rows behind it). Chats are served concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.kit.i18n import DEFAULT_LANGUAGE, pick_language
from tronrent.kit.logging import get_logger
from tronrent.kit.time import utcnow
from tronrent.models import BotUser, User
from tronrent.notification import service as outbox
from tronrent.notification.flood import FloodControl
from tronrent.notification.messages import render
from tronrent.notification.ports import (
    DeliveryError,
    DeliveryRejected,
    DeliveryRetryAfter,
    DeliveryUnavailable,
    MessageTransport,
    OrderCards,
)
from tronrent.notification.service import OutboxItem

_log = logging.getLogger("tronrent.notification")
_alert_log = get_logger("tronrent.notification.alerts")

#: ``last_error`` of an operator alert that had no admin chat to go to (still listed at
#: ``GET /api/admin/alerts``)
NO_ADMIN_CHAT = "no admin chat configured (TELEGRAM_ADMIN_CHAT_ID): listed at /api/admin/alerts"


@dataclass(frozen=True)
class Target:
    chat_id: int
    language: str
    #: order id -> message id of the order cards the customer has (``order_cards`` preference)
    cards: dict[str, int] = field(default_factory=dict)


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    deferred: int = 0


class NotificationSender:
    """``await sender.run_once()`` delivers what is due; ``await sender.run(stop)`` loops."""

    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        transport: MessageTransport,
        *,
        admin_chat_id: int | None = None,
        admin_language: str = DEFAULT_LANGUAGE,
        flood: FloodControl | None = None,
        batch_size: int = 300,
        max_per_chat: int = 10,
        lease: timedelta = timedelta(seconds=120),
        max_attempts: int = 8,
        max_retry_after_waits: int = 5,
        bot_down_delay: timedelta = timedelta(seconds=5),
        poll_interval: float = 0.5,
        tx_url: str | None = None,
        cards: OrderCards | None = None,
    ) -> None:
        self.session_maker = session_maker
        self.transport = transport
        self.admin_chat_id = admin_chat_id
        self.admin_language = admin_language
        self.flood = flood or FloodControl()
        self.batch_size = batch_size
        self.max_per_chat = max_per_chat
        self.lease = lease
        self.max_attempts = max_attempts
        self.max_retry_after_waits = max_retry_after_waits
        self.bot_down_delay = bot_down_delay
        self.poll_interval = poll_interval
        self.tx_url = tx_url
        self.cards = cards
        self.on_sent: Callable[[OutboxItem, int, int], Awaitable[None]] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; errors are logged, never fatal."""
        while not stop.is_set():
            try:
                report = await self.run_once()
            except Exception:
                _log.exception("notification.sender_round_failed")
                report = SendReport()
            if report.sent == 0 and report.failed == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_interval)

    async def run_once(self) -> SendReport:
        async with self.session_maker() as session, session.begin():
            items = await outbox.claim_due(session, limit=self.batch_size, lease=self.lease)
        report = SendReport()
        if not items:
            return report
        async with self.session_maker() as session:
            targets = await self._resolve(session, items)
        groups: dict[tuple[str | None, int], list[OutboxItem]] = defaultdict(list)
        for item in items:
            target = targets.get(item.id)
            if target is None and item.is_operator_alert:
                self._log_undelivered_alert(item)
                await self._settle_failed(item, NO_ADMIN_CHAT, report)
                continue
            if target is None:
                await self._settle_failed(item, "no chat to deliver to", report)
                continue
            key = (self._bot_key(item), target.chat_id)
            groups[key].append(item)
        overflow: list[OutboxItem] = []
        for key, group in list(groups.items()):
            if len(group) > self.max_per_chat:
                overflow += group[self.max_per_chat :]
                groups[key] = group[: self.max_per_chat]
        if overflow:  # a chat gets ~1 message/s: the rest waits for the next round
            await self._defer(overflow, delay=timedelta(0), error=None, counted=False)
            report.deferred += len(overflow)
        await asyncio.gather(
            *(
                self._deliver_chat(bot_key, group, targets, report)
                for (bot_key, _chat), group in groups.items()
            )
        )
        return report

    def _log_undelivered_alert(self, item: OutboxItem) -> None:
        """An operator alert with no admin chat: never dropped silently - logged in full."""
        _alert_log.warning(
            "notification.operator_alert_undelivered",
            alert_id=item.id,
            alert_event=item.event,
            text=render(item.event, item.payload, self.admin_language, tx_url=self.tx_url),
            payload=item.payload,
            reason=NO_ADMIN_CHAT,
        )

    def _bot_key(self, item: OutboxItem) -> str | None:
        return self.transport.bot_key(item.bot_id)

    async def _deliver_chat(
        self,
        bot_key: str | None,
        group: list[OutboxItem],
        targets: dict[int, Target],
        report: SendReport,
    ) -> None:
        if bot_key is None:
            await self._defer(
                group, delay=self.bot_down_delay, error="bot not running", counted=False
            )
            report.deferred += len(group)
            return
        for index, item in enumerate(group):
            target = targets[item.id]
            text = render(item.event, item.payload, target.language, tx_url=self.tx_url)
            rest = group[index + 1 :]
            waits = 0
            while True:
                await self.flood.acquire(bot_key, target.chat_id)
                try:
                    message_id = await self.transport.send_html(item.bot_id, target.chat_id, text)
                except DeliveryRetryAfter as exc:
                    self.flood.pause(bot_key, exc.retry_after)
                    waits += 1
                    if waits <= self.max_retry_after_waits:
                        continue
                    delay = timedelta(seconds=exc.retry_after)
                    await self._defer([item, *rest], delay=delay, error=str(exc), counted=True)
                    report.deferred += 1 + len(rest)
                    return
                except DeliveryUnavailable as exc:
                    delay = self.bot_down_delay
                    await self._defer([item, *rest], delay=delay, error=str(exc), counted=False)
                    report.deferred += 1 + len(rest)
                    return
                except DeliveryRejected as exc:
                    await self._settle_failed(item, str(exc), report)
                    break
                except DeliveryError as exc:
                    if item.attempts >= self.max_attempts:
                        await self._settle_failed(item, str(exc), report)
                        break
                    delay = timedelta(seconds=min(2**item.attempts, 300))
                    await self._defer([item, *rest], delay=delay, error=str(exc), counted=True)
                    report.deferred += 1 + len(rest)
                    return
                self.flood.sent(bot_key, target.chat_id)
                async with self.session_maker() as session, session.begin():
                    await outbox.mark_sent(session, item.id)
                report.sent += 1
                if self.on_sent is not None:
                    await self.on_sent(item, target.chat_id, message_id)
                if not any(later.order_id == item.order_id for later in rest):
                    await self._update_card(bot_key, item, target)
                break

    async def _update_card(self, bot_key: str, item: OutboxItem, target: Target) -> None:
        """Edit the customer's order card to the order's current status (once per order and
        round, after its last event). Best effort: the message itself was delivered."""
        if self.cards is None or item.order_id is None or item.bot_id is None:
            return
        message_id = target.cards.get(item.order_id)
        if not isinstance(message_id, int):
            return
        await self.flood.acquire(bot_key, target.chat_id)
        try:
            await self.cards.update_card(
                bot_id=item.bot_id,
                chat_id=target.chat_id,
                message_id=message_id,
                order_id=item.order_id,
                user_id=item.user_id,
                language=target.language,
            )
        except DeliveryRetryAfter as exc:
            self.flood.pause(bot_key, exc.retry_after)
        except DeliveryError as exc:
            _log.info("notification.card_not_updated order=%s: %s", item.order_id, exc)
        else:
            self.flood.sent(bot_key, target.chat_id)

    async def _defer(
        self, items: list[OutboxItem], *, delay: timedelta, error: str | None, counted: bool
    ) -> None:
        at = utcnow() + delay
        async with self.session_maker() as session, session.begin():
            for item in items:
                await outbox.reschedule(session, item.id, at=at, error=error, count_attempt=counted)

    async def _settle_failed(self, item: OutboxItem, error: str, report: SendReport) -> None:
        _log.warning("notification.failed id=%s event=%s: %s", item.id, item.event, error)
        async with self.session_maker() as session, session.begin():
            await outbox.mark_failed(session, item.id, error=error)
        report.failed += 1

    async def _resolve(self, session: AsyncSession, items: list[OutboxItem]) -> dict[int, Target]:
        """Chat and language of each item (absent: nowhere to send)."""
        user_ids = {item.user_id for item in items if item.user_id is not None}
        users: dict[uuid.UUID, User] = {}
        if user_ids:
            rows = await session.execute(select(User).where(User.id.in_(user_ids)))
            users = {u.id: u for u in rows.scalars()}
        bot_ids = {item.bot_id for item in items if item.bot_id is not None}
        by_user: dict[tuple[uuid.UUID, uuid.UUID], BotUser] = {}
        by_chat: dict[tuple[uuid.UUID, int], BotUser] = {}
        if bot_ids:
            rows2 = await session.execute(
                select(BotUser).where(
                    BotUser.bot_id.in_(bot_ids),
                    (BotUser.user_id.in_(user_ids))
                    | BotUser.telegram_chat_id.in_(
                        {item.chat_id for item in items if item.chat_id is not None}
                    ),
                )
            )
            for row_user in rows2.scalars():
                by_user[(row_user.bot_id, row_user.user_id)] = row_user
                if row_user.telegram_chat_id is not None:
                    by_chat[(row_user.bot_id, row_user.telegram_chat_id)] = row_user
        targets: dict[int, Target] = {}
        for item in items:
            if item.is_operator_alert:
                if self.admin_chat_id is not None:
                    targets[item.id] = Target(self.admin_chat_id, self.admin_language)
                continue
            user = users.get(item.user_id) if item.user_id else None
            bot_user: BotUser | None = None
            if item.bot_id is not None:
                if item.user_id is not None:
                    bot_user = by_user.get((item.bot_id, item.user_id))
                if bot_user is None and item.chat_id is not None:
                    bot_user = by_chat.get((item.bot_id, item.chat_id))
            chat_id = item.chat_id
            if chat_id is None and bot_user is not None:
                chat_id = bot_user.telegram_chat_id
            if chat_id is None and user is not None:
                chat_id = user.telegram_id
            if chat_id is None:
                continue
            language = None
            cards: dict[str, int] = {}
            if bot_user is not None:
                preferences = bot_user.preferences or {}
                language = preferences.get("language")
                stored = preferences.get("order_cards")
                if isinstance(stored, dict):
                    cards = {k: v for k, v in stored.items() if isinstance(v, int)}
            if not isinstance(language, str):
                language = pick_language(user.language_code if user else None)
            targets[item.id] = Target(chat_id, language, cards)
        return targets
