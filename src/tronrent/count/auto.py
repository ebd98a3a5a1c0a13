"""Auto top-up ("keep energy on my address"): a count package with no prepaid count.

An operator sets it up for a customer's address with a threshold and the price of one
transfer's worth (`create`), or the customer does (`create` with no price: the merchant API, the
bot; the price is the operator's system config ``auto_top_up.price_trx_sun`` /
``auto_top_up.price_usdt_units``): an ``auto_top_up`` order, paid from the customer's balance at
once (the first transfer's worth), delivered by the ordinary delegation flow - one unlocked
delegation of ``held_energy`` (the threshold, at least one transfer, plus the drift margin).
From then on it follows the address exactly like a count package (`count.flows`): the scanner
records each USDT transfer the address sends (no polling), and `weigh` adds the energy its
receipt says it drew to ``drawn_energy``. Once ``held_energy - drawn_energy`` falls below the
threshold, the transfers' worth (`top_up_due`, in whole transfers) is debited from the balance
- one ledger entry, cause ``auto_top_up``, cause id = the triggering transfer's hash, so a use
is billed at most once whatever re-runs - and the address is topped up with the count
packages' undelegate + re-delegate pair. A balance that does not cover a top-up stops it: no
top-up, the energy is reclaimed, the order completes and the customer is told
(``auto_top_up_stopped``, reason ``balance``). An operator or the customer may stop it too
(`stop`).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.count.service import PAUSE, PENDING_JOB, RESUME, locked_live_delegations
from tronrent.kit.audit import Actor, require_reason
from tronrent.kit.errors import Conflict, NotFound, ValidationFailed
from tronrent.kit.time import now_ms, utcnow
from tronrent.models import User
from tronrent.models.auto_top_up import AutoStopReason, AutoTopUp
from tronrent.models.balance_ledger import LedgerCause
from tronrent.models.common import Currency
from tronrent.models.count_package import CountPackage, CountUse, CountUseStatus
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.order import Order, OrderPaymentStatus, OrderStatus, OrderType
from tronrent.order import ids
from tronrent.order.notify import OrderEvent
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service
from tronrent.order.service import validate_address
from tronrent.order.state import move
from tronrent.payment.balance_pay import BALANCE, pay_from_balance
from tronrent.pool.energy import energy_per_transaction
from tronrent.pool.service import pool as pool_service
from tronrent.product.base import format_amount
from tronrent.product.customer import ensure_not_blocked
from tronrent.sysconfig.service import system_config
from tronrent.user.balance import MAX_DELTA_UNITS
from tronrent.user.balance import balance as balance_service
from tronrent.user.errors import InsufficientBalance, UserNotFound
from tronrent.worker import enqueue_job

log = logging.getLogger("tronrent.count")

CHARGED_EVENT: Final = "auto_top_up_charged"
STOPPED_EVENT: Final = "auto_top_up_stopped"
#: an auto top-up ends (its energy reclaimed) after this long at most: 30 days, like count
#: packages' default lifetime
LIFETIME_HOURS: Final = 720
#: the threshold an operator may set: one transfer to a new holder at most is 130,285 energy;
#: ten transfers' worth leaves room for a busy address
MAX_THRESHOLD_ENERGY: Final = 1_000_000
MIN_THRESHOLD_ENERGY: Final = 10_000


class AutoTopUpNotFound(NotFound):
    default_code = "AUTO_TOP_UP_NOT_FOUND"


class InvalidAutoTopUp(ValidationFailed):
    default_code = "INVALID_AUTO_TOP_UP"


class AddressAlreadyFollowed(Conflict):
    """The address has an active count package or auto top-up: its transfers can only be
    followed for one."""

    default_code = "ADDRESS_ALREADY_FOLLOWED"


class AutoTopUpNotActive(Conflict):
    default_code = "AUTO_TOP_UP_NOT_ACTIVE"


class AutoTopUpBusy(Conflict):
    """A top-up, or the previous pause / resume, is on its way."""

    default_code = "AUTO_TOP_UP_BUSY"


class AutoTopUpNotOffered(Conflict):
    """No price of one transfer's worth is configured for the currency."""

    default_code = "AUTO_TOP_UP_NOT_OFFERED"


#: the system config keys holding the price of one transfer's worth a customer pays
PRICE_KEYS: Final = {
    Currency.TRX: "auto_top_up.price_trx_sun",
    Currency.USDT: "auto_top_up.price_usdt_units",
}


#: the ordinary reclaim: undelegates an order's due delegations and completes it
RECLAIM_JOB: Final = "delegation.reclaim_order"


def top_up_due(*, held: int, drawn: int, threshold: int, per_transfer: int) -> int:
    """Transfers' worth to bill and top up now (0: not yet). Pure.

    Due once the energy left (``held - drawn``) is below ``threshold``; billed in whole
    transfers of ``per_transfer`` energy, rounded half up - a transfer that drew less than half
    of one (it found no energy left and burnt TRX) is not billed, like a count package's use
    (`rules.counts_for`), and nothing is topped up for it alone."""
    if held - drawn >= threshold or drawn <= 0:
        return 0
    return (2 * drawn + per_transfer) // (2 * per_transfer)


# --- operators' routes ------------------------------------------------------------------------


async def _follows(session: AsyncSession, address: str) -> str | None:
    """The order of an active count package or auto top-up following ``address``."""
    open_statuses = (OrderStatus.PAID, OrderStatus.DELEGATING, OrderStatus.ACTIVE)
    for model in (CountPackage, AutoTopUp):
        found = (
            await session.execute(
                select(Order.id)
                .join(model, model.order_id == Order.id)
                .where(model.address == address, Order.status.in_(open_statuses))
                .limit(1)
            )
        ).scalar_one_or_none()
        if found is not None:
            return str(found)
    return None


async def create(
    session: AsyncSession,
    rt: FlashRuntime,
    *,
    user_id: uuid.UUID,
    address: str,
    threshold_energy: int,
    currency: Currency | str,
    price_units: int | None,
    actor: Actor,
    bot_id: uuid.UUID | None = None,
    chat_id: int | None = None,
) -> AutoTopUp:
    """Keep energy on ``address`` for the user: an ``auto_top_up`` order paid from the
    balance now (``price_units``, the first transfer's worth), delegated by the engine.
    ``price_units`` None: the customer's own, at the configured price (`customer_price`;
    AutoTopUpNotOffered, 409, when there is none). ``bot_id`` / ``chat_id``: the chat the
    customer's notices go to (set up in the bot).

    Raises:
        UserNotFound (404). UserBlocked (403). InvalidAutoTopUp (422): threshold or price out
        of range. InvalidRecipient (422). AddressAlreadyFollowed (409). InsufficientBalance
        (409): the balance does not cover the first transfer's worth; nothing changed.
    """
    currency = Currency(currency)
    recipient = validate_address(address, "address")
    if not MIN_THRESHOLD_ENERGY <= threshold_energy <= MAX_THRESHOLD_ENERGY:
        raise InvalidAutoTopUp(
            f"thresholdEnergy must be {MIN_THRESHOLD_ENERGY} to {MAX_THRESHOLD_ENERGY}",
            details={"min": MIN_THRESHOLD_ENERGY, "max": MAX_THRESHOLD_ENERGY},
        )
    if price_units is None:
        price_units = await customer_price(session, currency)
    if not 0 < price_units <= MAX_DELTA_UNITS // 2:
        raise InvalidAutoTopUp(f"priceUnits must be 1 to {MAX_DELTA_UNITS // 2}")
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFound("user not found")
    ensure_not_blocked(user)
    if (other := await _follows(session, recipient)) is not None:
        raise AddressAlreadyFollowed(
            f"{recipient} is followed for order {other} already", details={"orderId": other}
        )
    cfg = await order_service.config(session, rt)
    held = energy_per_transaction(max(threshold_energy, cfg.base_energy), cfg.margin_bp)
    now = utcnow()
    order_id = ids.new_order_id(ids.PACKAGE_PREFIX, now_ms())
    order = Order(
        id=order_id,
        order_number=order_id,
        order_type=OrderType.AUTO_TOP_UP,
        status=OrderStatus.PENDING,
        payment_status=OrderPaymentStatus.PENDING,
        user_id=user_id,
        quantity=1,
        transaction_count=1,  # the first transfer's worth (its notices name it)
        currency=currency,
        target_address=recipient,
        energy_amount=held,
        energy_per_transaction=held,
        duration_hours=LIFETIME_HOURS,
        price_units=price_units,
        original_price_units=price_units,
        discount_units=0,
        final_price_units=price_units,
        payment_method=BALANCE,
        bot_id=bot_id,
        chat_id=chat_id,
        price_config={"unlocked": True, "flash": cfg.raw, "auto": {"by": actor.name}},
        expires_at=now + timedelta(seconds=rt.payment_timeout_s),
    )
    session.add(order)
    await session.flush()  # the order first: no relationship tells the flush the FK order
    auto = AutoTopUp(
        order_id=order_id,
        user_id=user_id,
        address=recipient,
        threshold_energy=min(threshold_energy, held),
        held_energy=held,
        energy_per_transfer=cfg.base_energy,
        price_units=price_units,
        currency=currency,
        drawn_energy=0,
        top_ups=0,
        billed_units=price_units,
    )
    session.add(auto)
    await session.flush()
    await pay_from_balance(session, order_id, actor=actor.name)
    return auto


async def customer_price(session: AsyncSession, currency: Currency | str) -> int:
    """The price of one transfer's worth a customer pays in ``currency`` (the operator's
    system config). Raises AutoTopUpNotOffered (409) when it is not set."""
    currency = Currency(currency)
    price = (await system_config.get(session, PRICE_KEYS[currency])).value
    if not price:
        raise AutoTopUpNotOffered(f"auto top-up is not offered in {currency.value}")
    return int(price)


@dataclass(frozen=True, slots=True)
class AutoState:
    auto: AutoTopUp
    order: Order


async def get(
    session: AsyncSession, order_id: str, *, user_id: uuid.UUID | None = None
) -> AutoState:
    """An auto top-up (``user_id``: the customer's own; another's is not found)."""
    stmt = (
        select(AutoTopUp, Order)
        .join(Order, Order.id == AutoTopUp.order_id)
        .where(AutoTopUp.order_id == order_id)
    )
    if user_id is not None:
        stmt = stmt.where(AutoTopUp.user_id == user_id)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise AutoTopUpNotFound(f"order {order_id} is not an auto top-up")
    return AutoState(row[0], row[1])


async def listing(
    session: AsyncSession,
    *,
    active: bool,
    limit: int,
    offset: int,
    user_id: uuid.UUID | None = None,
) -> tuple[list[AutoState], int]:
    """Auto top-ups, newest first (``active``: only those still following their address;
    ``user_id``: the customer's own)."""
    base = select(AutoTopUp, Order).join(Order, Order.id == AutoTopUp.order_id)
    if user_id is not None:
        base = base.where(AutoTopUp.user_id == user_id)
    if active:
        base = base.where(
            Order.status.in_((OrderStatus.PAID, OrderStatus.DELEGATING, OrderStatus.ACTIVE)),
            AutoTopUp.stopped_reason.is_(None),
        )
    total = int(
        (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    )
    rows = await session.execute(
        base.order_by(AutoTopUp.created_at.desc(), AutoTopUp.order_id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [AutoState(a, o) for a, o in rows], total


async def stop(
    session: AsyncSession,
    order_id: str,
    *,
    actor: Actor,
    reason: str,
    user_id: uuid.UUID | None = None,
) -> AutoState:
    """Stop an active auto top-up (its energy reclaimed by the ordinary reclaim job, the
    customer told), recorded with who and why (``stop_note``). ``user_id``: the customer
    stopping their own (``stopped_reason`` ``customer``; another's is not found); else an
    operator (``operator``).

    Raises:
        AutoTopUpNotFound (404). AutoTopUpNotActive (409): not active (stopped, ended or not
        delegated yet). REASON_REQUIRED (422).
    """
    why = require_reason(reason, "auto top-up stop")
    order, auto = await _locked_active(session, order_id, user_id)
    if auto.pending_action is not None or await _top_up_on_its_way(session, order_id):
        # its (re-)delegation would land after the reclaim and leave energy nobody reclaims
        raise AutoTopUpNotActive(f"a top-up of {order_id} is on its way: retry in a few seconds")
    auto.stopped_reason = AutoStopReason.OPERATOR if user_id is None else AutoStopReason.CUSTOMER
    auto.stop_note = f"{actor.name}: {why}"
    if auto.paused:  # nothing of ours on the address: the records close here
        await close_paused(session, order, utcnow())
    else:
        await end_now(session, [order], utcnow())
    return AutoState(auto, order)


async def _locked_active(
    session: AsyncSession, order_id: str, user_id: uuid.UUID | None
) -> tuple[Order, AutoTopUp]:
    """The order, then its auto top-up, locked (the count steps' lock order); ``user_id``: the
    customer's own. AutoTopUpNotFound (404), AutoTopUpNotActive (409)."""
    found = await session.get(AutoTopUp, order_id)
    if found is None or (user_id is not None and found.user_id != user_id):
        raise AutoTopUpNotFound(f"order {order_id} is not an auto top-up")
    order = await order_service.get(session, order_id, lock=True)
    auto = await session.get(AutoTopUp, order_id, with_for_update=True, populate_existing=True)
    assert auto is not None
    if order.status is not OrderStatus.ACTIVE or auto.stopped_reason is not None:
        raise AutoTopUpNotActive(
            f"auto top-up {order_id} is {order.status.value}"
            + (f", stopped ({auto.stopped_reason.value})" if auto.stopped_reason else "")
        )
    return order, auto


async def _top_up_on_its_way(session: AsyncSession, order_id: str) -> bool:
    found = (
        await session.execute(
            select(CountUse.id)
            .where(
                CountUse.order_id == order_id,
                CountUse.status.in_((CountUseStatus.SEEN, CountUseStatus.TOPPING_UP)),
            )
            .limit(1)
        )
    ).scalar_one_or_none()
    return found is not None


async def close_paused(session: AsyncSession, order: Order, now: datetime) -> None:
    """A paused auto top-up ends: the pause took our energy back, so its delegation records
    close here, the pools count the energy back and the order completes."""
    back: dict[uuid.UUID, int] = defaultdict(int)
    for x in await locked_live_delegations(session, order.id):
        x.status = DelegationStatus.EXPIRED
        x.reclaimed_at = now
        back[x.pool_account_id] += x.energy_amount
    for pool_id, energy in sorted(back.items()):
        await pool_service.reclaimed(session, pool_id, energy)
    move(order, OrderStatus.COMPLETED, completed_at=now)


async def pause_or_resume(
    session: AsyncSession,
    order_id: str,
    *,
    pause: bool,
    actor: Actor,
    user_id: uuid.UUID | None = None,
) -> AutoState:
    """Pause (our energy taken back by `PENDING_JOB`, enqueued in this transaction: the
    address is not followed and nothing is billed) or resume (one delegation of the held
    energy again, the next block; ``drawn_energy`` starts from 0) an active auto top-up.
    Idempotent. ``user_id``: the customer's own (another's is not found). While paused the
    order's lifetime still runs (`count.life` ends it).

    Raises:
        AutoTopUpNotFound (404). AutoTopUpNotActive (409): not active (stopped, ended, not
        delegated yet). AutoTopUpBusy (409): a top-up or the previous pause / resume is on
        its way.
    """
    order, auto = await _locked_active(session, order_id, user_id)
    if auto.paused is pause:
        return AutoState(auto, order)
    if auto.pending_action is not None or await _top_up_on_its_way(session, order_id):
        raise AutoTopUpBusy("a top-up or the previous pause / resume is on its way: retry")
    for x in await locked_live_delegations(session, order_id):
        # paused: not due (the pause takes it back, not the sweeper); resumed: due at the end
        x.expires_at = None if pause else order.expires_at
    auto.paused = pause
    auto.pending_action = PAUSE if pause else RESUME
    auto.pending_txids = None
    if not pause:
        auto.drawn_energy = 0  # the delegation comes back whole
    log.info("auto top-up %s %s by %s", order_id, auto.pending_action, actor.name)
    enqueue_job(PENDING_JOB, order_id)
    return AutoState(auto, order)


async def end_now(session: AsyncSession, orders: Sequence[Order], now: datetime) -> None:
    """Make the orders' live delegations due now; the reclaim job (enqueued for after the
    commit) undelegates them and completes the orders."""
    if not orders:
        return
    ids_ = sorted(o.id for o in orders)
    await session.execute(
        update(EnergyDelegation)
        .where(
            EnergyDelegation.order_id.in_(ids_),
            EnergyDelegation.status == DelegationStatus.SUCCESS,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    for o in orders:
        o.expires_at = now
    enqueue_job(RECLAIM_JOB, *ids_)


# --- following the address (count.flows) ------------------------------------------------------


async def locked(session: AsyncSession, order_ids: Sequence[str]) -> dict[str, AutoTopUp]:
    """The auto top-ups among ``order_ids``, rows locked (after their orders, like the count
    packages)."""
    rows = (
        await session.execute(
            select(AutoTopUp)
            .where(AutoTopUp.order_id.in_(sorted(set(order_ids))))
            .order_by(AutoTopUp.order_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalars()
    return {a.order_id: a for a in rows}


@dataclass
class Weighed:
    """What `weigh` decided for a batch: the uses to top up for (status ``topping_up``), the
    orders to end now (reclaim), the customer events."""

    top_up: list[CountUse] = field(default_factory=list)
    ending: list[str] = field(default_factory=list)
    events: list[tuple[OrderEvent, str]] = field(default_factory=list)


async def weigh(
    session: AsyncSession,
    now: datetime,
    orders: dict[str, Order],
    autos: dict[str, AutoTopUp],
    uses: Sequence[CountUse],
) -> Weighed:
    """Apply the auto top-ups' uses still ``seen`` (rows locked by the caller, chain order):
    add what each drew; bill and top up when due; stop when the balance does not cover it."""
    out = Weighed()
    by_order: dict[str, list[CountUse]] = defaultdict(list)
    for u in uses:
        if u.status is CountUseStatus.SEEN:
            by_order[u.order_id].append(u)
    for order_id, batch in by_order.items():
        order, auto = orders.get(order_id), autos[order_id]
        for u in batch:
            u.status = CountUseStatus.NOT_COUNTED
        if (
            order is None
            or order.status is not OrderStatus.ACTIVE
            or auto.stopped_reason
            or auto.paused
        ):
            continue  # ended, stopping or paused meanwhile: not billed, nothing topped up
        for u in batch:
            auto.drawn_energy += u.energy_used
            due = top_up_due(
                held=auto.held_energy,
                drawn=auto.drawn_energy,
                threshold=auto.threshold_energy,
                per_transfer=auto.energy_per_transfer,
            )
            if not due:
                continue
            amount = due * auto.price_units
            try:
                await balance_service.apply(
                    session,
                    user_id=auto.user_id,
                    currency=auto.currency,
                    delta_units=-amount,
                    cause_type=LedgerCause.AUTO_TOP_UP,
                    cause_id=u.tx_hash,
                    note=f"auto top-up {order_id}: {due} transfer(s), tx {u.tx_hash}",
                )
            except InsufficientBalance:
                u.status = CountUseStatus.LAST
                auto.stopped_reason = AutoStopReason.BALANCE
                auto.stop_note = f"the balance did not cover {format_amount(amount, auto.currency)}"
                out.ending.append(order_id)
                stopped: dict[str, Any] = {
                    "reason": "balance",
                    "price": format_amount(amount, auto.currency),
                    "tx_hash": u.tx_hash,
                }
                out.events.append(((order, STOPPED_EVENT, stopped), f":{u.tx_hash}"))
                break
            u.counts = due
            u.status = CountUseStatus.TOPPING_UP
            auto.drawn_energy = 0
            auto.top_ups += 1
            auto.billed_units += amount
            out.top_up.append(u)
            payload: dict[str, Any] = {
                "price": format_amount(amount, auto.currency),
                "transfers": due,
                "top_ups": auto.top_ups,
                "tx_hash": u.tx_hash,
            }
            out.events.append(((order, CHARGED_EVENT, payload), f":{u.tx_hash}"))
    return out


def stopped_event(state: AutoState) -> OrderEvent:
    """The customer's notice of an operator's or their own stop."""
    reason = state.auto.stopped_reason or AutoStopReason.OPERATOR
    return (state.order, STOPPED_EVENT, {"reason": reason.value, "price": None, "tx_hash": None})
