"""Flash orders: create (ordered), create from a payment (walk-in), cancel, expire, read.

Services take the session first and never commit; the caller owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, and_, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tronproto.address import is_valid_base58
from tronrent.bot.agent_bots import agent_bots
from tronrent.kit.time import now_ms, utcnow
from tronrent.models.bot import Bot, BotStatus
from tronrent.models.bot_user import BotUser, BotUserStatus
from tronrent.models.order import Order, OrderPaymentStatus, OrderStatus, OrderType
from tronrent.models.payment_monitoring_log import MonitoringStatus, PaymentMonitoringLog
from tronrent.order import ids
from tronrent.order.errors import (
    ChatNotStarted,
    FlashDisabled,
    InvalidRecipient,
    NoPaymentTailAvailable,
    OrderNotCancellable,
    OrderNotFound,
)
from tronrent.order.flash_config import FlashConfig, load_flash_config, parse_flash_config
from tronrent.order.notify import notify_order
from tronrent.order.recipient import RecipientState
from tronrent.order.runtime import FlashRuntime
from tronrent.order.state import transition
from tronrent.payment.matching import TailsExhausted, choose_tail
from tronrent.pricing.calc import agent_flash_markup_sun, with_flash_markup


def validate_address(address: str, what: str = "recipientAddress") -> str:
    """A base58 TRON address with a valid checksum, else `InvalidRecipient`."""
    address = address.strip()
    if not is_valid_base58(address):
        raise InvalidRecipient(
            f"{what} is not a valid TRON address (base58 starting with T, valid checksum)"
        )
    return address


@dataclass(frozen=True, slots=True)
class FlashOffer:
    """What a flash order through one bot sells at (`FlashOrderService.offer`).

    ``config``: the flash config, its price the agent's when the bot is an agent's own;
    ``agent_id``: that agent (None: the operator's bot, or no bot); ``markup_sun``: the agent's
    markup per transaction (a multiple of ``granularity``, the payment-tail granularity)."""

    config: FlashConfig
    agent_id: uuid.UUID | None
    markup_sun: int
    granularity: int


class FlashOrderService:
    async def config(self, session: AsyncSession, rt: FlashRuntime) -> FlashConfig:
        return await load_flash_config(
            session, default_energy=rt.default_energy, default_margin_bp=rt.margin_bp
        )

    @staticmethod
    def config_of(rt: FlashRuntime, price: Any, energy: Any) -> FlashConfig:
        """`config` from the values of `flash_config.flash_config_columns`, read by the
        caller with another row (one statement less)."""
        return parse_flash_config(
            price, energy, default_energy=rt.default_energy, default_margin_bp=rt.margin_bp
        )

    async def offer(
        self, session: AsyncSession, rt: FlashRuntime, bot_id: uuid.UUID | None
    ) -> FlashOffer:
        """Flash rental as sold through ``bot_id``: the operator's config, with an agent's
        markup per transaction on the price when it is an agent's own bot (frozen in the
        config's ``raw`` snapshot as ``agent_markup_bps`` / ``agent_markup_sun``)."""
        cfg = await self.config(session, rt)
        granularity = min(rt.tail_granularity_sun, cfg.price.single_price_sun)
        agent_id, markup_bps = await agent_bots.seller(session, bot_id)
        markup = agent_flash_markup_sun(cfg.price.single_price_sun, markup_bps, granularity)
        if markup:
            raw = {**cfg.raw, "agent_markup_bps": markup_bps, "agent_markup_sun": markup}
            cfg = replace(cfg, price=with_flash_markup(cfg.price, markup), raw=raw)
        return FlashOffer(cfg, agent_id, markup, granularity)

    async def get(self, session: AsyncSession, order_id: str, *, lock: bool = False) -> Order:
        stmt = select(Order).where(Order.id == order_id)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        order = (await session.execute(stmt)).scalar_one_or_none()
        if order is None:
            raise OrderNotFound(f"order {order_id} not found")
        return order

    async def started_chat(self, session: AsyncSession, chat_id: int) -> BotUser | None:
        """The bot user row of a chat that started one of our bots (the most recently active
        one when it talks to several); ``chat_id`` 0 means no chat: None.

        A chat is *started* when the bot recorded an update from it in a private chat
        (``bot_users.telegram_chat_id``, written on /start and every later message) and the
        user has not blocked the bot. Anything else -> `ChatNotStarted` (422): the bot could
        not message that chat, and must not message a chat that never asked for it.
        """
        if chat_id == 0:
            return None
        row = (
            (
                await session.execute(
                    select(BotUser)
                    .join(Bot, Bot.id == BotUser.bot_id)
                    .where(
                        BotUser.telegram_chat_id == chat_id,
                        BotUser.status == BotUserStatus.ACTIVE,
                        Bot.status == BotStatus.ACTIVE,
                    )
                    .order_by(BotUser.last_interaction_at.desc(), BotUser.id)
                    .limit(1)
                )
            )
            .scalars()
            .first()
        )
        if row is not None:
            return row
        names = (
            (
                await session.execute(
                    select(Bot.username)
                    .where(Bot.status == BotStatus.ACTIVE)
                    .order_by(Bot.created_at, Bot.id)
                    .limit(3)
                )
            )
            .scalars()
            .all()
        )
        bots = " or ".join(f"@{n}" for n in names) or "our Telegram bot"
        raise ChatNotStarted(
            f"chat {chat_id} has not started the bot: open {bots} in Telegram and send /start"
            " first, then create the order again (or send chatId 0 for no Telegram messages)"
        )

    async def open_tails(self, session: AsyncSession, rt: FlashRuntime) -> set[int]:
        """The tails a new order on ``rt.payment_address`` may not draw: those of the open
        orders, and of the orders whose window closed within the grace period - a payment
        may still come for them (`payment.service` matches it by its tail), and a new order
        with the same tail would take it."""
        since = utcnow() - timedelta(seconds=rt.late_payment_grace_s)
        rows = await session.execute(
            select(Order.amount_tail_units).where(
                or_(
                    Order.status == OrderStatus.PENDING,
                    and_(Order.status == OrderStatus.EXPIRED, Order.expires_at >= since),
                ),
                Order.payment_address == rt.payment_address,
                Order.amount_tail_units.is_not(None),
            )
        )
        return {int(t) for (t,) in rows if t}

    async def add_with_tail(
        self,
        session: AsyncSession,
        rt: FlashRuntime,
        order: Order,
        granularity: int,
        amount_of: Callable[[int], int],
        started_at: datetime,
    ) -> int:
        """Write a new pending transfer ``order`` with a unique amount tail (see
        payment.matching) and its payment watch (`open_watch`); the tail.

        ``amount_tail_units``: a tail none of `open_tails` (read without a lock),
        ``expected_amount_units``: ``amount_of(tail)``. Two orders created at once (on
        PostgreSQL) may draw the same tail and, at one price, expect the same amount: the
        second INSERT violates ``uq_orders_open_expected_amount``. So the order is written in
        a SAVEPOINT (the caller's transaction survives it) and such a collision draws another
        tail, `TAIL_ATTEMPTS` in all; any other integrity error propagates. The objects the
        session holds unwritten (rows naming the order, like its merchant order) are written
        with it in the savepoint's flush - never before it, as begin_nested() would.

        Raises `NoPaymentTailAvailable` (503): every tail taken, or every attempt collided.
        """
        # out of the session until the savepoint: begin_nested() flushes what is pending,
        # and a row naming the order may not be written before it
        pending = list(session.new)
        for o in pending:
            session.expunge(o)
        along = [o for o in pending if o is not order]
        order.payment_address = rt.payment_address
        written = False
        taken: set[int] = set()
        try:
            for _ in range(TAIL_ATTEMPTS):
                try:
                    tail = choose_tail(await self.open_tails(session, rt) | taken, granularity)
                except TailsExhausted:
                    raise NoPaymentTailAvailable(
                        "too many open orders, try again shortly"
                    ) from None
                order.amount_tail_units = tail
                order.expected_amount_units = amount_of(tail)
                try:
                    # rolled back, the savepoint leaves the order and the rows with it unsaved
                    async with session.begin_nested():
                        session.add(order)
                        session.add_all(along)
                        open_watch(session, order, started_at)
                        await session.flush()
                except IntegrityError as exc:
                    if not _is_tail_collision(exc):
                        raise
                    taken.add(tail)  # a concurrent order's, committed since the read
                    continue
                written = True
                return tail
            raise NoPaymentTailAvailable("too many orders at once, try again shortly")
        finally:
            if not written:  # as the caller left them
                session.add_all(o for o in pending if o not in session)

    async def create_order(
        self,
        session: AsyncSession,
        rt: FlashRuntime,
        *,
        recipient_address: str,
        chat_id: int | None,
        user_id: object | None = None,
        bot_id: uuid.UUID | None = None,
        recipient_state: RecipientState | None = None,
        access_token_hash: str | None = None,
    ) -> tuple[Order, FlashConfig]:
        """An order waiting for payment, with a unique amount tail (see payment.matching).

        ``recipient_state`` (see order.recipient, checked before the transaction): a recipient
        with no account on chain gets the activation fee added to the quote when the policy
        activates, rounded up to the tail granularity so the tail still identifies the payment.
        ``access_token_hash``: the hash of the HTTP customer's order token (see order.access).

        Through an agent's own bot (``bot_id``) the order is the agent's and sells at the
        agent's flash price: the operator's ``single_price`` plus the agent's markup per
        transaction (`agent_flash_markup_sun`, a multiple of the tail granularity), frozen on
        the order (``price_config["agent_markup_sun"]``) and used when its payment is weighed
        (product.flash). The returned config carries the price this order sells at.
        """
        if not rt.enabled:
            raise FlashDisabled("energy flash rental is disabled")
        recipient = validate_address(recipient_address)
        offer = await self.offer(session, rt, bot_id)
        cfg, granularity = offer.config, offer.granularity
        fee = recipient_state.activation_fee_sun if recipient_state is not None else 0
        if fee:
            fee = -(-fee // granularity) * granularity
        now = utcnow()
        order_id = ids.new_flash_order_id(now_ms())
        order = Order(
            id=order_id,
            order_number=order_id,
            order_type=OrderType.ENERGY_FLASH,
            status=OrderStatus.PENDING,
            payment_status=OrderPaymentStatus.PENDING,
            user_id=user_id,
            bot_id=bot_id,
            # an agent's own bot: the order is the agent's, at the agent's price (its markup
            # in the final price, agent_markup_units, is written when the payment is weighed)
            agent_id=offer.agent_id,
            chat_id=chat_id,
            target_address=recipient,
            payment_address=rt.payment_address,
            activation_fee_sun=fee or None,
            access_token_hash=access_token_hash,
            energy_per_transaction=cfg.energy_per_transaction,
            duration_hours=cfg.price.expiry_hours,
            price_config=cfg.raw,
            expires_at=now + timedelta(seconds=rt.payment_timeout_s),
        )
        price = cfg.price.single_price_sun + fee
        tail = await self.add_with_tail(session, rt, order, granularity, lambda t: price + t, now)
        await notify_order(
            session,
            order,
            "order_created",
            {
                "payment_address": rt.payment_address,
                "amount_sun": order.expected_amount_units,
                "activation_fee_sun": fee,
                "single_price_sun": cfg.price.single_price_sun,
                "max_transactions": cfg.price.max_transactions,
                "tail_sun": tail,
                "expires_at": order.expires_at.isoformat() if order.expires_at else None,
            },
        )
        return order, cfg

    def build_walk_in(
        self, rt: FlashRuntime, cfg: FlashConfig, *, sender: str, tx_hash: str
    ) -> Order:
        """The (unsaved, pending) order of a payment no open order claims: energy goes to the
        sender. The caller adds it - a batch of them with one flush."""
        order_id = ids.new_flash_order_id(now_ms())
        return Order(
            id=order_id,
            order_number=order_id,
            order_type=OrderType.ENERGY_FLASH,
            status=OrderStatus.PENDING,
            target_address=sender,
            from_address=sender,
            payment_address=rt.payment_address,
            energy_per_transaction=cfg.energy_per_transaction,
            duration_hours=cfg.price.expiry_hours,
            price_config=cfg.raw,
            tron_tx_hash=tx_hash,
            status_reason="walk-in payment",
        )

    async def create_walk_in(
        self,
        session: AsyncSession,
        rt: FlashRuntime,
        cfg: FlashConfig,
        *,
        sender: str,
        tx_hash: str,
    ) -> Order:
        """The order of a payment no open order claims: energy goes to the sender."""
        order = self.build_walk_in(rt, cfg, sender=sender, tx_hash=tx_hash)
        session.add(order)
        await session.flush()
        return order

    async def cancel(self, session: AsyncSession, order_id: str) -> Order:
        """Cancel an order that was not paid yet (409 otherwise)."""
        order = await self.get(session, order_id)
        if not await transition(
            session,
            order_id,
            OrderStatus.PENDING,
            OrderStatus.CANCELLED,
            status_reason="cancelled by the customer",
        ):
            raise OrderNotCancellable(
                f"order {order_id} is {order.status.value}; only unpaid orders can be cancelled"
            )
        await stop_monitoring(session, order_id, MonitoringStatus.COMPLETED, "order cancelled")
        await session.refresh(order)
        return order

    async def expire_overdue(self, session: AsyncSession, limit: int = 500) -> Sequence[str]:
        """Pending orders whose payment window passed -> expired (customer told)."""
        now = utcnow()
        rows = (
            (
                await session.execute(
                    select(Order)
                    .where(Order.status == OrderStatus.PENDING, Order.expires_at < now)
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
        done: list[str] = []
        for order in rows:
            if await transition(
                session,
                order.id,
                OrderStatus.PENDING,
                OrderStatus.EXPIRED,
                status_reason="payment window passed",
            ):
                await stop_monitoring(session, order.id, MonitoringStatus.TIMEOUT, None)
                await notify_order(session, order, "order_expired", {})
                done.append(order.id)
        return done


#: tails a new order draws when concurrent ones took each before it was written (then 503)
TAIL_ATTEMPTS = 5
#: SQLite names the columns of the unique index, PostgreSQL the index
_TAIL_INDEX = "uq_orders_open_expected_amount"
_TAIL_INDEX_SQLITE = (
    "UNIQUE constraint failed: orders.payment_address, orders.currency, "
    "orders.expected_amount_units"
)


def _is_tail_collision(exc: IntegrityError) -> bool:
    """Whether ``exc`` is a violation of `_TAIL_INDEX`: an open order expects that amount."""
    orig = exc.orig
    # asyncpg (behind SQLAlchemy's adapter, its cause) / psycopg name the index
    for err in (orig, getattr(orig, "__cause__", None)):
        name = getattr(err, "constraint_name", None) or getattr(
            getattr(err, "diag", None), "constraint_name", None
        )
        if name:
            return bool(name == _TAIL_INDEX)
    text = str(orig)
    return _TAIL_INDEX in text or _TAIL_INDEX_SQLITE in text


def open_watch(session: AsyncSession, order: Order, started_at: datetime) -> None:
    """Add the payment watch (``payment_monitoring_logs``) of a new order that waits for a
    transfer of ``expected_amount_units`` to ``payment_address`` until ``expires_at``."""
    assert order.payment_address is not None
    session.add(
        PaymentMonitoringLog(
            order_id=order.id,
            payment_address=order.payment_address,
            monitoring_started_at=started_at,
            timeout_at=order.expires_at,
            expected_amount_units=order.expected_amount_units,
        )
    )


async def time_out_watches(session: AsyncSession, limit: int = 500) -> int:
    """Open payment watches past their own `timeout_at` -> `timeout` (the number closed).

    A watch started through the monitoring routes carries its own deadline, which may end
    before (or after) its order's payment window; the order's expiry closes the rest.
    """
    now = utcnow()
    rows = (
        (
            await session.execute(
                select(PaymentMonitoringLog)
                .where(
                    PaymentMonitoringLog.status == MonitoringStatus.MONITORING,
                    PaymentMonitoringLog.timeout_at < now,
                )
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    for row in rows:
        row.status = MonitoringStatus.TIMEOUT
        row.monitoring_stopped_at = now
    return len(rows)


@dataclass(frozen=True, slots=True)
class Detected:
    """The payment that closed a watch."""

    tx_hash: str
    amount: int | None
    sender: str | None


def stop_monitoring_statement(
    order_ids: Collection[str], status: MonitoringStatus, message: str | None
) -> Update:
    """The UPDATE closing the open payment watches of ``order_ids`` (`stop_monitoring_many`
    without ``detected``), for a caller that sends it along with another statement."""
    now = utcnow()
    values: dict[str, Any] = {"status": status, "monitoring_stopped_at": now, "updated_at": now}
    if message and status is MonitoringStatus.ERROR:
        values["error_message"] = message
    columns = PaymentMonitoringLog.__table__.c
    return (
        update(PaymentMonitoringLog)
        .where(
            PaymentMonitoringLog.order_id.in_(sorted(order_ids)),
            PaymentMonitoringLog.status == MonitoringStatus.MONITORING,
        )
        # anonymous binds: the statement may be a CTE of another UPDATE (same column names)
        .values({name: literal(value, columns[name].type) for name, value in values.items()})
    )


async def stop_monitoring_many(
    session: AsyncSession,
    order_ids: Collection[str],
    status: MonitoringStatus,
    message: str | None,
    *,
    detected: Mapping[str, Detected] | None = None,
) -> int:
    """Close the open payment watches of many orders with one SELECT (the changes go out with
    the session's next flush); ``detected``: the payment seen, by order. The number closed.
    Without ``detected`` (nothing differs per row) one UPDATE does it all."""
    if not order_ids:
        return 0
    now = utcnow()
    if not detected:
        result = await session.execute(stop_monitoring_statement(order_ids, status, message))
        return int(getattr(result, "rowcount", 0))
    rows = (
        (
            await session.execute(
                select(PaymentMonitoringLog).where(
                    PaymentMonitoringLog.order_id.in_(sorted(order_ids)),
                    PaymentMonitoringLog.status == MonitoringStatus.MONITORING,
                )
            )
        )
        .scalars()
        .all()
    )
    for row in rows:
        row.status = status
        row.monitoring_stopped_at = now
        if message and status is MonitoringStatus.ERROR:
            row.error_message = message
        seen = (detected or {}).get(row.order_id)
        if seen is not None and seen.tx_hash:
            row.detected_tx_hash = seen.tx_hash
            row.detected_amount_units = seen.amount
            row.detected_from_address = seen.sender
    return len(rows)


async def stop_monitoring(
    session: AsyncSession,
    order_id: str,
    status: MonitoringStatus,
    message: str | None,
    *,
    tx_hash: str | None = None,
    amount: int | None = None,
    sender: str | None = None,
) -> int:
    """Close the order's open payment watches; the number closed."""
    detected = {order_id: Detected(tx_hash, amount, sender)} if tx_hash else None
    return await stop_monitoring_many(session, [order_id], status, message, detected=detected)


order = FlashOrderService()
