"""``FlashOrders`` on the flash rental services of ``tronrent.order`` (the production wiring)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.errors import ServiceUnavailable
from tronrent.models import Order
from tronrent.order.errors import OrderNotFound
from tronrent.order.recipient import RecipientCheck
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service
from tronrent.telegram.ports import FlashTerms, OrderPage, OrderView


def order_view(order: Order) -> OrderView:
    return OrderView(
        order_id=order.id,
        status=order.status.value,
        payment_address=order.payment_address,
        amount_sun=order.expected_amount_units or order.final_price_units or None,
        expires_at=order.expires_at,
        recipient=order.target_address,
        paid_amount_sun=order.paid_amount_units,
        transaction_count=order.transaction_count,
        energy=order.energy_amount,
        payment_tx_hash=order.tron_tx_hash,
        delegate_tx_hash=order.delegate_tx_hash,
        created_at=order.created_at,
        order_type=order.order_type.value,
        activation_fee_sun=order.activation_fee_sun,
    )


RuntimeSource = FlashRuntime | Callable[[], FlashRuntime | None]
RecipientSource = RecipientCheck | Callable[[], RecipientCheck | None] | None


class ServiceFlashOrders:
    """Reads and writes through ``tronrent.order.service`` with the process's ``FlashRuntime``.

    ``runtime`` may be a callable returning the runtime of the running flash engine (None while it
    is not running: the bot then answers that flash rental is unavailable)."""

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
            raise ServiceUnavailable("the flash rental engine is not running")
        return runtime

    async def flash_terms(self, session: AsyncSession) -> FlashTerms:
        cfg = await order_service.config(session, self.runtime)
        return FlashTerms(
            payment_address=self.runtime.payment_address,
            single_price_sun=cfg.price.single_price_sun,
            max_transactions=cfg.price.max_transactions,
            expiry_hours=cfg.price.expiry_hours,
            min_amount_sun=cfg.price.min_amount_sun,
            energy_per_transaction=cfg.energy_per_transaction,
            rental_seconds=self.runtime.rental_ms(cfg.price.expiry_hours) // 1000,
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
            state = await check.check(recipient.strip(), activates=rt.activates_recipients)
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

    async def _owned(
        self, session: AsyncSession, order_id: str, user_id: uuid.UUID
    ) -> Order | None:
        if not order_id or len(order_id) > 100:
            return None
        order = await session.get(Order, order_id)
        return order if order is not None and order.user_id == user_id else None

    async def get_order_for_user(
        self, session: AsyncSession, *, order_id: str, user_id: uuid.UUID
    ) -> OrderView | None:
        order = await self._owned(session, order_id, user_id)
        if order is not None:
            await session.refresh(order)
        return order_view(order) if order is not None else None

    async def cancel_order(
        self, session: AsyncSession, *, order_id: str, user_id: uuid.UUID
    ) -> OrderView:
        if await self._owned(session, order_id, user_id) is None:
            raise OrderNotFound(f"order {order_id} not found")
        return order_view(await order_service.cancel(session, order_id))

    async def list_orders_for_user(
        self, session: AsyncSession, *, user_id: uuid.UUID, offset: int, limit: int
    ) -> OrderPage:
        total = await session.scalar(
            select(func.count()).select_from(Order).where(Order.user_id == user_id)
        )
        rows = await session.execute(
            select(Order)
            .where(Order.user_id == user_id)
            .order_by(Order.created_at.desc(), Order.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return OrderPage([order_view(o) for o in rows.scalars()], int(total or 0))
