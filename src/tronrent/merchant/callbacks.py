"""Merchant callbacks: a signed JSON event for every state change of a merchant order.

Queued (`on_order_events`, an order event tap) in the transaction of the change itself, once
per order event: ``event_id`` is the event's dedupe key (UNIQUE), so a retried job or a replayed
payment never queues it twice. `CallbackSender` delivers them oldest first per order (an event
waits while an earlier one of its order is pending), retrying on the itrx schedule (15 s, 15 s,
30 s, 3 min, 10 min, 20 min, 30 min after the failed attempts; then ``failed``), logging every
attempt in ``merchant_callback_attempts``. A receiver must answer 2xx; it may see an event twice
only if the sender dies between its 2xx and the mark (it dedupes by ``eventId``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, cast

import aiohttp
from sqlalchemy import Table, and_, bindparam, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from tronrent.kit.crypto import SecretBox
from tronrent.kit.db import NewRows, new_rows, write_rows
from tronrent.kit.errors import SecretDecryptionError
from tronrent.kit.time import isoformat, utcnow
from tronrent.merchant import signing
from tronrent.merchant.auth import purge_nonces
from tronrent.merchant.urls import Resolver, Target, post_pinned, resolve_target, system_resolve
from tronrent.models.merchant import (
    CallbackStatus,
    MerchantApiKey,
    MerchantCallback,
    MerchantCallbackAttempt,
)
from tronrent.models.order import Order
from tronrent.order.notify import add_event_tap

log = logging.getLogger("tronrent.merchant")

#: order event -> callback type; other order events are not sent
EVENT_TYPES: Final = {
    "payment_received": "order.paid",
    "package_payment_received": "order.paid",
    "package_payment_underpaid": "order.underpaid",
    "waiting_for_energy": "order.waiting",
    "energy_delivered": "order.delegated",
    "rental_ended": "order.reclaimed",
    "order_failed": "order.failed",
    "refund": "order.refunded",
    "order_expired": "order.expired",
    "count_package_used": "order.count_used",
}
#: seconds to wait after the 1st, 2nd, ... failed attempt (itrx's schedule); then failed
RETRY_SCHEDULE_S: Final = (15.0, 15.0, 30.0, 180.0, 600.0, 1200.0, 1800.0)


def _merchant(order: Order) -> dict[str, Any] | None:
    info = (order.price_config or {}).get("merchant")
    return info if isinstance(info, dict) and info.get("callback") else None


def event_body(
    order: Order, info: dict[str, Any], event: str, payload: dict[str, Any], event_id: str
) -> dict[str, Any]:
    """The JSON a receiver gets."""
    data = {k: v for k, v in payload.items() if k not in ("order_id", "recipient_address")}
    tx_hashes = data.get("tx_hashes") or []
    return {
        "eventId": event_id,
        "type": EVENT_TYPES[event],
        "createdAt": isoformat(utcnow()),
        "order": {
            "orderId": order.id,
            "clientOrderId": info.get("clientOrderId"),
            "status": order.status.value,
            "receiver": order.target_address,
            "energy": order.energy_amount,
            "durationHours": order.duration_hours,
            "currency": order.currency.value,
            "priceUnits": order.final_price_units,
            "txHash": tx_hashes[0] if tx_hashes else None,
        },
        "data": data,
    }


async def on_order_events(
    session: AsyncSession, events: list[tuple[Order, str, dict[str, Any], str]]
) -> None:
    """Queue the callbacks of these events now (`callback_rows`)."""
    await write_rows(session, callback_rows(events))


def callback_rows(events: list[tuple[Order, str, dict[str, Any], str]]) -> list[NewRows]:
    """The order event tap: a callback for each event of a merchant order that wants
    callbacks (no query for other orders: the order carries ``price_config["merchant"]``),
    skipped if its event id was queued before."""
    rows = []
    for order, event, payload, event_id in events:
        info = _merchant(order)
        if info is None or event not in EVENT_TYPES:
            continue
        rows.append(
            {
                "event_id": event_id,
                "event_type": EVENT_TYPES[event],
                "order_id": order.id,
                "api_key_id": uuid.UUID(str(info["apiKeyId"])),
                "url": info.get("callbackUrl"),
                "payload": event_body(order, info, event, payload, event_id),
                "status": CallbackStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": utcnow(),
            }
        )
    return [new_rows(MerchantCallback, rows, conflict=["event_id"])] if rows else []


def install() -> None:
    """Listen to order events (every process that changes orders calls this at start)."""
    add_event_tap(callback_rows)


install()


_CALLBACKS = cast(Table, MerchantCallback.__table__)
_ATTEMPTS = cast(Table, MerchantCallbackAttempt.__table__)


@dataclass
class SendReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    event_id: str
    url: str | None
    payload: dict[str, Any]
    attempts: int
    key_url: str | None
    key_secret: str
    key_active: bool


@dataclass(frozen=True, slots=True)
class _Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _why(exc: BaseException, prefix: str = "") -> str:
    """An exception as an attempt's error: type and text, at most 500 characters, without
    what a text column refuses (NUL; PostgreSQL) - the round's outcomes are written in one
    statement, so one unwritable error would lose them all."""
    why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return _storable(f"{prefix}: {why}" if prefix else why)


def _storable(text: str) -> str:
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode()[:500]


class CallbackSender:
    """``await sender.run_once()`` delivers what is due; ``run(stop)`` loops."""

    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        box: SecretBox,
        *,
        client: aiohttp.ClientSession | None = None,
        allow_private: bool = False,
        schedule: Sequence[float] = RETRY_SCHEDULE_S,
        timeout_s: float = 10.0,
        batch_size: int = 200,
        concurrency: int = 50,
        lease: timedelta = timedelta(seconds=60),
        poll_interval: float = 0.2,
        nonce_ttl_s: int = 600,
        resolve: Resolver = system_resolve,
    ) -> None:
        self.session_maker = session_maker
        self.box = box
        self.client = client
        self.allow_private = allow_private
        self.schedule = tuple(schedule)
        self.timeout_s = timeout_s
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.lease = lease
        self.poll_interval = poll_interval
        self.nonce_ttl_s = nonce_ttl_s
        self.resolve = resolve
        self._last_purge = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        own = self.client is None
        if own:
            # no cookies kept between receivers; no proxy from the environment
            self.client = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        try:
            while not stop.is_set():
                try:
                    report = await self.run_once()
                    await self._housekeeping()
                except Exception:
                    log.exception("merchant.callback_round_failed")
                    report = SendReport()
                if not report.delivered and not report.retried and not report.failed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.poll_interval)
        finally:
            if own and self.client is not None:
                await self.client.close()
                self.client = None

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_purge < 60:
            return
        self._last_purge = now
        async with self.session_maker() as session, session.begin():
            await purge_nonces(session, self.nonce_ttl_s)

    async def _claim(self) -> list[_Claimed]:
        """Due callbacks, each the oldest pending one of its order, leased to this sender."""
        now = utcnow()
        earlier = aliased(MerchantCallback)
        async with self.session_maker() as session, session.begin():
            stmt = (
                select(MerchantCallback, MerchantApiKey)
                .join(MerchantApiKey, MerchantApiKey.id == MerchantCallback.api_key_id)
                .where(
                    MerchantCallback.status == CallbackStatus.PENDING,
                    MerchantCallback.next_attempt_at <= now,
                    ~exists().where(
                        and_(
                            earlier.order_id == MerchantCallback.order_id,
                            earlier.status == CallbackStatus.PENDING,
                            earlier.id < MerchantCallback.id,
                        )
                    ),
                )
                .order_by(MerchantCallback.id)
                .limit(self.batch_size)
            )
            if session.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(of=MerchantCallback, skip_locked=True)
            rows = (await session.execute(stmt)).all()
            if not rows:
                return []
            await session.execute(
                update(MerchantCallback)
                .where(MerchantCallback.id.in_([cb.id for cb, _ in rows]))
                .values(next_attempt_at=now + self.lease)
                .execution_options(synchronize_session=False)
            )
            claimed = []
            secrets: dict[uuid.UUID, str] = {}  # each key's secret decrypted once a round
            for cb, key in rows:
                if (secret := secrets.get(key.id)) is None:
                    try:
                        secret = self.box.decrypt(key.secret_encrypted).reveal()
                    except SecretDecryptionError:
                        secret = ""
                    secrets[key.id] = secret
                claimed.append(
                    _Claimed(
                        cb.id,
                        cb.event_id,
                        cb.url,
                        dict(cb.payload),
                        cb.attempts,
                        key.callback_url,
                        secret,
                        key.status.value == "active" and bool(secret),
                    )
                )
            return claimed

    async def run_once(self) -> SendReport:
        claimed = await self._claim()
        report = SendReport()
        if not claimed:
            return report
        gate = asyncio.Semaphore(self.concurrency)

        async def one(item: _Claimed) -> tuple[_Claimed, _Outcome, bool]:
            # one callback's unexpected error is its own failed attempt (retried on the
            # schedule), never the round's: an exception escaping `gather` would skip
            # `_settle`, so every callback of the round would be re-claimed after the lease
            # and the delivered ones POSTed again, round after round
            async with gate:
                started = time.monotonic()
                try:
                    return await self._deliver(item)
                except Exception as exc:
                    log.exception("merchant.callback_delivery_crashed %s", item.event_id)
                    took = int((time.monotonic() - started) * 1000)
                    return item, _Outcome(None, _why(exc, "internal error"), took), False

        results = await asyncio.gather(*(one(item) for item in claimed))
        await self._settle(results, report)
        return report

    async def _deliver(self, item: _Claimed) -> tuple[_Claimed, _Outcome, bool]:
        """POST the event; (item, outcome, final): ``final`` = no retry can help."""
        url = item.url or item.key_url
        if not item.key_active:
            return item, _Outcome(None, "API key revoked or unreadable", 0), True
        if not url:
            return item, _Outcome(None, "no callback URL (order or key)", 0), True
        # resolved once, every address checked, and the request sent to a checked address
        # only (no second resolution: DNS rebinding cannot redirect it)
        target = await resolve_target(url, allow_private=self.allow_private, resolve=self.resolve)
        if not isinstance(target, Target):
            return item, _Outcome(None, target, 0), False
        body = json.dumps(item.payload, separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(time.time()))
        signature = signing.sign(
            item.key_secret, signing.callback_message(timestamp, item.event_id, body)
        )
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "tronrent-callbacks/1",
            "X-Event-Id": item.event_id,
            "X-Timestamp": timestamp,
            "X-Signature": signature,
        }
        assert self.client is not None, "run() or a client passed in"
        started = time.monotonic()
        try:
            status = await post_pinned(
                self.client, target, content=body, headers=headers, timeout_s=self.timeout_s
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            took = int((time.monotonic() - started) * 1000)
            return item, _Outcome(None, _why(exc), took), False
        took = int((time.monotonic() - started) * 1000)
        error = None if 200 <= status < 300 else f"HTTP {status}"
        return item, _Outcome(status, error, took), False

    async def _settle(
        self, results: Sequence[tuple[_Claimed, _Outcome, bool]], report: SendReport
    ) -> None:
        """The round's outcomes in two statements: the attempts logged (one multi-row
        INSERT) and each callback's new state (one UPDATE per row, sent as one batch; a
        callback no longer pending - settled by another sender after a lost lease - is left
        as it is)."""
        now = utcnow()
        attempts: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        for item, outcome, final in results:
            error = None if outcome.error is None else _storable(outcome.error)
            attempts.append(
                {
                    "callback_id": item.id,
                    "attempted_at": now,
                    "status_code": outcome.status_code,
                    "error": error,
                    "duration_ms": outcome.duration_ms,
                }
            )
            tries = item.attempts + 1
            change = {
                "b_id": item.id,
                "b_attempts": tries,
                "b_last_error": error,
                "b_status": CallbackStatus.PENDING,
                "b_delivered_at": None,
                "b_next_attempt_at": now,
            }
            if outcome.ok:
                change |= {"b_status": CallbackStatus.DELIVERED, "b_delivered_at": now}
                report.delivered += 1
            elif final or tries > len(self.schedule):
                change["b_status"] = CallbackStatus.FAILED
                report.failed += 1
                log.warning("merchant callback %s failed: %s", item.event_id, error)
            else:
                change["b_next_attempt_at"] = now + timedelta(seconds=self.schedule[tries - 1])
                report.retried += 1
            changes.append(change)
        async with self.session_maker() as session, session.begin():
            await session.execute(insert(_ATTEMPTS), attempts)
            await session.execute(
                update(_CALLBACKS)
                .where(
                    _CALLBACKS.c.id == bindparam("b_id"),
                    _CALLBACKS.c.status == CallbackStatus.PENDING,
                )
                .values(
                    attempts=bindparam("b_attempts"),
                    last_error=bindparam("b_last_error"),
                    status=bindparam("b_status"),
                    delivered_at=bindparam("b_delivered_at"),
                    next_attempt_at=bindparam("b_next_attempt_at"),
                ),
                changes,
            )
