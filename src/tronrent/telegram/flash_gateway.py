"""``FlashOrders`` on the flash rental services of ``tronrent.order`` (the production wiring),
and the order reads every order type shares."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.errors import ServiceUnavailable
from tronrent.models import EnergyPackage, Order
from tronrent.models.count_package import CountPackage
from tronrent.models.order import OrderType
from tronrent.order.errors import OrderNotFound
from tronrent.order.recipient import RecipientCheck
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service
from tronrent.telegram.ports import (
    FLASH,
    PACKAGE,
    TOP_UP,
    CountState,
    FlashTerms,
    OrderPage,
    OrderView,
)


def order_kind(order: Order) -> str:
    """FLASH, PACKAGE or TOP_UP (a balance top-up order)."""
    if order.order_type == OrderType.ENERGY_FLASH:
        return FLASH
    if order.order_type == OrderType.BALANCE_TOP_UP:
        return TOP_UP
    return PACKAGE


def count_state(pkg: CountPackage | None) -> CountState | None:
    if pkg is None:
        return None
    return CountState(pkg.total_counts, pkg.used_counts, pkg.paused, pkg.pending_action)


def order_view(
    order: Order, package_name: str | None = None, count: CountPackage | None = None
) -> OrderView:
    return OrderView(
        order_id=order.id,
        status=order.status.value,
        payment_address=order.payment_address,
        amount_units=order.expected_amount_units or order.final_price_units or None,
        expires_at=order.expires_at,
        recipient=order.target_address,
        paid_amount_units=order.paid_amount_units,
        transaction_count=order.transaction_count,
        energy=order.energy_amount,
        payment_tx_hash=order.tron_tx_hash,
        delegate_tx_hash=order.delegate_tx_hash,
        created_at=order.created_at,
        order_type=order.order_type.value,
        activation_fee_sun=order.activation_fee_sun,
        currency=order.currency.value,
        kind=order_kind(order),
        package_name=package_name,
        duration_hours=order.duration_hours if order.package_id is not None else None,
        payment_method=order.payment_method,
        count=count_state(count),
    )


async def owned_order(session: AsyncSession, order_id: str, user_id: uuid.UUID) -> Order | None:
    """The order if it exists and belongs to ``user_id`` (None otherwise: never reveal)."""
    if not order_id or len(order_id) > 100:
        return None
    order = await session.get(Order, order_id, populate_existing=True)
    return order if order is not None and order.user_id == user_id else None


async def owned_order_view(
    session: AsyncSession, order_id: str, user_id: uuid.UUID
) -> OrderView | None:
    order = await owned_order(session, order_id, user_id)
    if order is None:
        return None
    package = (
        await session.get(EnergyPackage, order.package_id) if order.package_id is not None else None
    )
    count = (
        await session.get(CountPackage, order.id, populate_existing=True)
        if order.order_type == OrderType.TRANSACTION_PACKAGE
        else None
    )
    return order_view(order, package.name if package is not None else None, count)


RuntimeSource = FlashRuntime | Callable[[], FlashRuntime | None]
RecipientSource = RecipientCheck | Callable[[], RecipientCheck | None] | None


class EngineSources:
    """The process's ``FlashRuntime`` (payment address, payment window) and recipient check.

    ``runtime`` may be a callable returning the runtime of the running engine (None while it is
    not running: the bot then answers that the service is unavailable)."""

    def __init__(self, runtime: RuntimeSource, recipients: RecipientSource = None) -> None:
        self._runtime = runtime
        self._recipients = recipients

    @property
    def recipients(self) -> RecipientCheck | None:
        """The recipient account check (None: not wired; delivery finds out from the chain)."""
        if self._recipients is None or isinstance(self._recipients, RecipientCheck):
            return self._recipients
        return self._recipients()

    @property
    def runtime(self) -> FlashRuntime:
        runtime = self._runtime if isinstance(self._runtime, FlashRuntime) else self._runtime()
        if runtime is None:
            raise ServiceUnavailable("the order engine is not running")
        return runtime


class ServiceFlashOrders(EngineSources):
    """Reads and writes through ``tronrent.order.service`` with the process's ``FlashRuntime``."""

    async def flash_terms(
        self, session: AsyncSession, bot_id: uuid.UUID | None = None
    ) -> FlashTerms:
        """The terms as sold through ``bot_id`` (an agent's own bot: the agent's price)."""
        offer = await order_service.offer(session, self.runtime, bot_id)
        cfg = offer.config
        return FlashTerms(
            payment_address=self.runtime.payment_address,
            single_price_sun=cfg.price.single_price_sun,
            max_transactions=cfg.price.max_transactions,
            expiry_hours=cfg.price.expiry_hours,
            min_amount_sun=cfg.price.min_amount_sun,
            energy_per_transaction=cfg.energy_per_transaction,
            rental_seconds=self.runtime.rental_ms(cfg.price.expiry_hours) // 1000,
            walk_in=offer.agent_id is None,
        )

    async def create_flash_order(
        self,
        session: AsyncSession,
        *,
        recipient: str,
        chat_id: int,
        user_id: uuid.UUID,
        bot_id: uuid.UUID,
    ) -> OrderView:
        rt = self.runtime
        check = self.recipients
        state = None
        if check is not None and rt.enabled:
            state = await check.within(session).check(
                recipient.strip(), activates=rt.activates_recipients
            )
        order, _cfg = await order_service.create_order(
            session,
            rt,
            recipient_address=recipient,
            chat_id=chat_id,
            user_id=user_id,
            bot_id=bot_id,
            recipient_state=state,
        )
        return order_view(order)

    async def get_order_for_user(
        self, session: AsyncSession, *, order_id: str, user_id: uuid.UUID
    ) -> OrderView | None:
        return await owned_order_view(session, order_id, user_id)

    async def cancel_order(
        self, session: AsyncSession, *, order_id: str, user_id: uuid.UUID
    ) -> OrderView:
        if await owned_order(session, order_id, user_id) is None:
            raise OrderNotFound(f"order {order_id} not found")
        return order_view(await order_service.cancel(session, order_id))

    async def list_orders_for_user(
        self, session: AsyncSession, *, user_id: uuid.UUID, offset: int, limit: int
    ) -> OrderPage:
        total = await session.scalar(
            select(func.count()).select_from(Order).where(Order.user_id == user_id)
        )
        rows = await session.execute(
            select(Order, EnergyPackage.name, CountPackage)
            .outerjoin(EnergyPackage, EnergyPackage.id == Order.package_id)
            .outerjoin(CountPackage, CountPackage.order_id == Order.id)
            .where(Order.user_id == user_id)
            .order_by(Order.created_at.desc(), Order.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return OrderPage([order_view(o, name, c) for o, name, c in rows], int(total or 0))
