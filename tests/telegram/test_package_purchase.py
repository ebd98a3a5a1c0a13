"""Energy packages bought in the bot end to end (issue 10): the real aiogram stack against the
emulator, payments sent on the devnet, the real engine (scanner, workers) delivering, and the
outbox sender telling the customer every step with the right amount, currency, package, energy
and rental length. Both databases (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flash.conftest import (  # noqa: F401  (fixtures of the flash tests)
    BLOCK_MS,
    TRX,
    FlashFactory,
    box,
    box_key,
    devnet,
    flash,
    gateway,
)
from flash.test_packages import send_usdt
from tgemulator import TelegramEmulator
from tgemulator.server import ChatMessage
from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key
from tronproto.keys import PrivateKey
from tronrent.kit.db import read_only
from tronrent.kit.money import format_usdt
from tronrent.models import EnergyDelegation, EnergyPackage, Order, OrderStatus
from tronrent.models.common import Currency
from tronrent.pool.energy import energy_per_transaction, lock_period_blocks_for_ms
from tronrent.telegram.callbacks import ConfirmOrderCb, EnergyPackageCb, PackageQtyCb, TopUpCb
from tronrent.telegram.package_gateway import ServicePackageOrders

from .test_full_purchase import Shop, open_shop, pay_with_tronpy

RENTAL_S = 20
USDT = 1_000_000
ENERGY = 65_000


@pytest.fixture
async def shop(
    flash: FlashFactory,  # noqa: F811
    devnet: DevnetServer,  # noqa: F811
    emulator: TelegramEmulator,
    session_maker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Shop]:
    """The engine with a 20 s rental (every package's; its ending told 10 s ahead) watching the
    USDT contract, and a bot that sells packages."""
    usdt = devnet.config.usdt_address
    f = await flash(
        rental_s=float(RENTAL_S),
        rental_ending_notice_s=10.0,
        usdt_contract=usdt,
        scanner_kw={"usdt_contract": usdt},
    )
    async with open_shop(f, emulator, session_maker, ServicePackageOrders(f.engine.rt)) as s:
        yield s


async def add_package(shop: Shop, name: str, *, usdt_units: int = 3 * USDT // 2) -> EnergyPackage:
    async with shop.f.session_maker() as s, s.begin():
        package = EnergyPackage(
            name=name,
            energy_amount=ENERGY,
            duration_hours=24,
            base_price_units=5 * TRX,
            usdt_price_units=usdt_units,
            min_order_amount=1,
            max_order_amount=5,
        )
        s.add(package)
    return package


class Customer:
    """One chat walking through the bot."""

    def __init__(self, shop: Shop, chat: int) -> None:
        self.shop, self.chat = shop, chat

    def messages(self) -> list[ChatMessage]:
        return self.shop.chat(self.chat)

    async def say(self, text: str) -> ChatMessage:
        return (await self.shop.h.say(self.shop.token, text, user_id=self.chat))[-1]

    async def press(self, message: ChatMessage, data: str) -> dict[str, object]:
        answer = await self.shop.h.press(
            self.shop.token, message.message_id, data, user_id=self.chat
        )
        assert answer is not None
        return answer

    async def confirm(self, package: EnergyPackage, quantity: int, recipient: str) -> ChatMessage:
        """/menu -> the package -> quantity -> recipient: the confirmation message."""
        menu = await self.say("/menu")
        await self.press(menu, EnergyPackageCb(package_id=str(package.id)).pack())
        await self.press(self.messages()[-1], PackageQtyCb(quantity=quantity).pack())
        return await self.say(recipient)

    async def wait(self, needle: str, seconds: float = 40) -> ChatMessage:
        """The first message whose text holds ``needle`` (waiting for it)."""

        def found() -> ChatMessage | None:
            return next((m for m in self.messages() if needle in m.body), None)

        await self.shop.emulator.wait_for(lambda: found() is not None, seconds)
        message = found()
        assert message is not None
        return message


def clean(*texts: str) -> None:
    for text in texts:
        assert " - " not in text and "{" not in text and "None" not in text, text


async def order_of(shop: Shop, match: Callable[[Order], bool]) -> Order:
    async with shop.f.session_maker() as s:
        await read_only(s)
        orders = (await s.execute(select(Order))).scalars().all()
    [order] = [o for o in orders if match(o)]
    return order


async def delegations(shop: Shop, order_id: str) -> list[EnergyDelegation]:
    async with shop.f.session_maker() as s:
        rows = await s.execute(
            select(EnergyDelegation).where(EnergyDelegation.order_id == order_id)
        )
        return list(rows.scalars())


class TestPackagePurchase:
    async def test_paid_in_usdt_delivered_and_every_step_told(self, shop: Shop) -> None:
        f = shop.f
        package = await add_package(shop, "65k × 1 day")
        payer = funded_key(f.devnet.chain, 100 * TRX, usdt_units=20 * USDT)
        recipient = funded_key(f.devnet.chain, TRX).address_base58  # activated: no fee
        me = Customer(shop, 9101)
        confirm = await me.confirm(package, 2, recipient)
        await me.press(
            confirm, ConfirmOrderCb(kind="package", currency="USDT", method="transfer").pack()
        )
        card = me.messages()[-1]
        order = await order_of(shop, lambda o: o.chat_id == me.chat)
        assert order.currency is Currency.USDT and order.quantity == 2
        assert order.energy_amount == energy_per_transaction(2 * ENERGY, 200)
        amount = order.expected_amount_units
        assert amount is not None and amount > order.final_price_units
        shown = f"{amount // USDT}.{amount % USDT:06d}"
        assert f"Send {shown} USDT" in card.body and f.address in card.body
        created = await me.wait("Package order")
        assert f"Send exactly {shown} USDT" in created.body and "65k × 1 day × 2" in created.body
        assert f"{order.energy_amount:,}" in created.body

        txid = send_usdt_to(shop, payer, amount)
        done = await f.wait_order(
            lambda o: o.status is OrderStatus.COMPLETED, order_id=order.id, wait_s=60
        )
        assert done.tron_tx_hash == txid
        [d] = await delegations(shop, order.id)
        assert d.energy_amount >= order.energy_amount and d.recipient_address == recipient
        assert d.lock_period == lock_period_blocks_for_ms(RENTAL_S * 1000, BLOCK_MS)

        paid = await me.wait("Payment of")
        delivered = await me.wait("Energy delivered")
        ending = await me.wait("ends soon")
        ended = await me.wait("Rental ended")
        assert f"{format_usdt(amount)} USDT" in paid.body and txid[:10] in paid.body
        assert f"{order.energy_amount:,}" in paid.body and "65k × 1 day" in paid.body
        assert "65k × 1 day" in delivered.body and recipient in delivered.body
        assert f"{order.energy_amount:,}" in delivered.body
        assert f"Rental: {RENTAL_S} s\n" in delivered.body
        assert recipient in ending.body and recipient in ended.body
        assert f"Rental: {RENTAL_S} s\n" in ended.body
        clean(created.body, paid.body, delivered.body, ending.body, ended.body)
        bodies = [m.body for m in me.messages()]
        assert bodies.index(paid.body) < bodies.index(delivered.body) < bodies.index(ended.body)

    async def test_paid_from_a_trx_top_up(self, shop: Shop) -> None:
        f = shop.f
        package = await add_package(shop, "65k × 1 day")
        payer = funded_key(f.devnet.chain, 200 * TRX)
        recipient = funded_key(f.devnet.chain, TRX).address_base58
        me = Customer(shop, 9102)
        balance = await me.say("/balance")
        await me.press(balance, TopUpCb(currency="TRX").pack())
        await me.press(me.messages()[-1], TopUpCb(currency="TRX", amount=50).pack())
        card = me.messages()[-1]
        top_up = await order_of(shop, lambda o: o.chat_id == me.chat)
        amount = top_up.expected_amount_units
        assert amount is not None and 50 * TRX <= amount < 51 * TRX
        assert f"Send {amount // TRX}.{amount % TRX:06d} TRX" in card.body

        txid = await pay_with_tronpy(f.devnet.url, payer, f.address, amount)
        credited = await me.wait("Top-up received")
        shown = f"{amount // TRX}.{amount % TRX:06d}".rstrip("0").rstrip(".")
        assert f"{shown} TRX" in credited.body and txid[:10] in credited.body

        confirm = await me.confirm(package, 2, recipient)
        answer = await me.press(
            confirm, ConfirmOrderCb(kind="package", currency="TRX", method="balance").pack()
        )
        assert answer["text"] == "✅ Paid from your balance."
        order = await order_of(shop, lambda o: o.package_id == package.id)
        done = await f.wait_order(
            lambda o: o.status is OrderStatus.COMPLETED, order_id=order.id, wait_s=60
        )
        assert done.payment_method == "balance" and done.paid_amount_units
        [d] = await delegations(shop, order.id)
        assert d.energy_amount >= energy_per_transaction(2 * ENERGY, 200)
        assert d.lock_period == lock_period_blocks_for_ms(RENTAL_S * 1000, BLOCK_MS)
        paid = await me.wait("Payment of")
        delivered = await me.wait("Energy delivered")
        ended = await me.wait("Rental ended")
        price = done.paid_amount_units
        price_shown = f"{price // TRX}.{price % TRX:06d}".rstrip("0").rstrip(".")
        assert f"{price_shown} TRX" in paid.body
        assert "65k × 1 day" in delivered.body and f"Rental: {RENTAL_S} s\n" in delivered.body
        clean(credited.body, paid.body, delivered.body, ended.body)


def send_usdt_to(shop: Shop, payer: PrivateKey, units: int) -> str:
    """The customer's wallet: a USDT transfer of ``units`` to the payment address."""
    return send_usdt(shop.f, payer, shop.f.address, units)  # type: ignore[arg-type]
