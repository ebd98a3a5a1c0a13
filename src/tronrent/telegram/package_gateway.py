"""``PackageOrders`` on the package, pricing and balance services (the production wiring)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.count import auto
from tronrent.count import service as count_service
from tronrent.kit.audit import Actor
from tronrent.models import EnergyPackage
from tronrent.models.common import Currency
from tronrent.models.energy_package import PackageType
from tronrent.order.errors import OrderNotFound
from tronrent.order.notify import notify_orders
from tronrent.payment.balance_pay import pay_from_balance
from tronrent.pricing.quote import catalogue_prices, quote_order
from tronrent.product.count import create_count_order
from tronrent.product.package import create_package_order
from tronrent.product.topup import create_top_up
from tronrent.telegram.flash_gateway import (
    EngineSources,
    order_view,
    owned_order,
    owned_order_view,
)
from tronrent.telegram.ports import (
    AutoOffer,
    AutoTopUpView,
    OrderView,
    PackageOffer,
    PackageQuote,
)

#: quantity bounds when a package sets none
DEFAULT_MAX_QUANTITY = 10
#: what the bot sells: energy packages and count packages (笔数套餐)
SOLD = (PackageType.ENERGY, PackageType.TRANSACTION_COUNT)


def _parse_id(package_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(package_id)
    except ValueError:
        return None


class ServicePackageOrders(EngineSources):
    async def _offer(
        self, session: AsyncSession, package: EnergyPackage, bot_id: uuid.UUID | None = None
    ) -> PackageOffer:
        quoted = (await catalogue_prices(session, [package], bot_id=bot_id))[package.id]
        prices = {c: (None if q is None else q.final_price_units) for c, q in quoted.items()}
        low = max(1, package.min_order_amount or 1)
        return PackageOffer(
            package_id=str(package.id),
            name=package.name,
            energy=package.energy_amount,
            duration_hours=package.duration_hours,
            trx_price_units=prices[Currency.TRX],
            usdt_price_units=prices[Currency.USDT],
            min_quantity=low,
            max_quantity=max(low, package.max_order_amount or DEFAULT_MAX_QUANTITY),
            counts=(
                package.transaction_count or 1
                if package.package_type == PackageType.TRANSACTION_COUNT
                else None
            ),
        )

    async def _package(self, session: AsyncSession, package_id: str) -> EnergyPackage | None:
        key = _parse_id(package_id)
        package = await session.get(EnergyPackage, key) if key is not None else None
        if package is None or not package.is_active or package.package_type not in SOLD:
            return None
        return package

    async def _list(
        self, session: AsyncSession, kind: PackageType, bot_id: uuid.UUID | None
    ) -> list[PackageOffer]:
        rows = await session.execute(
            select(EnergyPackage)
            .where(EnergyPackage.is_active.is_(True), EnergyPackage.package_type == kind)
            .order_by(EnergyPackage.sort_order, EnergyPackage.name)
        )
        return [await self._offer(session, package, bot_id) for package in rows.scalars()]

    async def list_packages(
        self, session: AsyncSession, *, bot_id: uuid.UUID | None = None
    ) -> list[PackageOffer]:
        return await self._list(session, PackageType.ENERGY, bot_id)

    async def list_count_packages(
        self, session: AsyncSession, *, bot_id: uuid.UUID | None = None
    ) -> list[PackageOffer]:
        return await self._list(session, PackageType.TRANSACTION_COUNT, bot_id)

    async def pause_count(
        self, session: AsyncSession, *, order_id: str, user_id: uuid.UUID, pause: bool
    ) -> OrderView:
        change = count_service.pause if pause else count_service.resume
        await change(
            session, order_id, actor=Actor(f"user:{user_id}"), reason="bot", user_id=user_id
        )
        view = await owned_order_view(session, order_id, user_id)
        if view is None:  # pragma: no cover - the service found it owned
            raise OrderNotFound(f"order {order_id} not found")
        return view

    async def get_package(
        self, session: AsyncSession, package_id: str, *, bot_id: uuid.UUID | None = None
    ) -> PackageOffer | None:
        package = await self._package(session, package_id)
        return await self._offer(session, package, bot_id) if package is not None else None

    async def quote(
        self,
        session: AsyncSession,
        *,
        package_id: str,
        quantity: int,
        currency: str,
        user_id: uuid.UUID,
        bot_id: uuid.UUID,
    ) -> PackageQuote:
        package = await self._package(session, package_id)
        if package is None:
            raise OrderNotFound("package not found", "PACKAGE_NOT_FOUND")
        price = await quote_order(
            session,
            package=package,
            quantity=quantity,
            currency=currency,
            user_id=user_id,
            bot_id=bot_id,
        )
        return PackageQuote(
            offer=await self._offer(session, package, bot_id),
            quantity=quantity,
            currency=Currency(price.currency).value,
            unit_price_units=price.original_price_units // quantity,
            price_units=price.original_price_units,
            discount_units=price.discount_units,
            final_price_units=price.final_price_units,
        )

    async def activation_fee_sun(self, recipient: str) -> int:
        check = self.recipients
        rt = self.runtime
        if check is None or not rt.enabled:
            return 0
        state = await check.check(recipient, activates=rt.activates_recipients)
        return state.activation_fee_sun

    async def create_package_order(
        self,
        session: AsyncSession,
        *,
        package_id: str,
        quantity: int,
        recipient: str,
        currency: str,
        payment_method: str,
        user_id: uuid.UUID,
        bot_id: uuid.UUID,
        chat_id: int,
    ) -> OrderView:
        package = await self._package(session, package_id)
        if package is None:
            raise OrderNotFound("package not found", "PACKAGE_NOT_FOUND")
        rt = self.runtime
        check = self.recipients
        state = None
        if check is not None and rt.enabled:
            state = await check.within(session).check(
                recipient.strip(), activates=rt.activates_recipients
            )
        create = (
            create_count_order
            if package.package_type == PackageType.TRANSACTION_COUNT
            else create_package_order
        )
        order = await create(
            session,
            rt,
            package_id=package.id,
            quantity=quantity,
            recipient_address=recipient,
            currency=currency,
            payment_method="balance" if payment_method == "balance" else "transfer",
            user_id=user_id,
            bot_id=bot_id,
            chat_id=chat_id,
            recipient_state=state,
        )
        return order_view(order, package.name)

    async def pay_from_balance(
        self, session: AsyncSession, *, order_id: str, user_id: uuid.UUID
    ) -> OrderView:
        if await owned_order(session, order_id, user_id) is None:
            raise OrderNotFound(f"order {order_id} not found")
        order = await pay_from_balance(session, order_id, actor=f"user:{user_id}")
        package = await session.get(EnergyPackage, order.package_id) if order.package_id else None
        return order_view(order, package.name if package is not None else None)

    async def create_top_up(
        self, session: AsyncSession, *, user_id: uuid.UUID, currency: str, amount_units: int
    ) -> OrderView:
        order = await create_top_up(
            session, self.runtime, user_id=user_id, currency=currency, amount_units=amount_units
        )
        return order_view(order)

    async def auto_offer(self, session: AsyncSession, *, user_id: uuid.UUID) -> AutoOffer:
        price, currency = None, Currency.TRX
        for c in (Currency.TRX, Currency.USDT):  # the bot offers the first currency priced
            try:
                price, currency = await auto.customer_price(session, c), c
                break
            except auto.AutoTopUpNotOffered:
                continue
        rows, _ = await auto.listing(session, active=True, limit=1, offset=0, user_id=user_id)
        return AutoOffer(currency.value, price, _auto_view(rows[0]) if rows else None)

    async def start_auto(
        self,
        session: AsyncSession,
        *,
        user_id: uuid.UUID,
        address: str,
        threshold_energy: int,
        bot_id: uuid.UUID,
        chat_id: int,
    ) -> AutoTopUpView:
        offer = await self.auto_offer(session, user_id=user_id)
        # created and paid together or not at all: a short balance leaves no order behind
        async with session.begin_nested():
            created = await auto.create(
                session,
                self.runtime,
                user_id=user_id,
                address=address,
                threshold_energy=threshold_energy,
                currency=offer.currency,
                price_units=offer.price_units,
                actor=Actor(f"user:{user_id}"),
                bot_id=bot_id,
                chat_id=chat_id,
            )
        return _auto_view(await auto.get(session, created.order_id))

    async def stop_auto(
        self, session: AsyncSession, *, user_id: uuid.UUID, order_id: str
    ) -> AutoTopUpView:
        state = await auto.stop(
            session, order_id, actor=Actor(f"user:{user_id}"), reason="bot", user_id=user_id
        )
        await notify_orders(session, [auto.stopped_event(state)])
        return _auto_view(state)


def _auto_view(state: auto.AutoState) -> AutoTopUpView:
    a = state.auto
    return AutoTopUpView(
        order_id=a.order_id,
        address=a.address,
        status=state.order.status.value,
        threshold_energy=a.threshold_energy,
        price_units=a.price_units,
        currency=a.currency.value,
        top_ups=a.top_ups,
        billed_units=a.billed_units,
        stopped_reason=a.stopped_reason.value if a.stopped_reason else None,
    )
