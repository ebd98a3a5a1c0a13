"""Count packages (笔数套餐) bought in the bot: the real aiogram stack against the emulator, the
payment sent on the devnet, the real engine delivering; the card edited in place with the
counts and state, paused and resumed from its buttons (energy reclaimed, then delegated
again), /orders with the counts. Both databases (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flash.conftest import (  # noqa: F401  (fixtures of the flash tests)
    TRX,
    FlashFactory,
    box,
    box_key,
    devnet,
    flash,
    gateway,
)
from flash.test_count_packages import wait_until
from tgemulator import TelegramEmulator
from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key
from tronrent.models import EnergyPackage, OrderStatus
from tronrent.models.count_package import CountPackage
from tronrent.models.energy_package import PackageType
from tronrent.telegram.callbacks import ConfirmOrderCb, CountCb, EnergyPackageCb
from tronrent.telegram.package_gateway import ServicePackageOrders

from .test_full_purchase import Shop, open_shop, pay_with_tronpy
from .test_package_purchase import Customer, clean, order_of

USDT = 1_000_000


@pytest.fixture
async def shop(
    flash: FlashFactory,  # noqa: F811
    devnet: DevnetServer,  # noqa: F811
    emulator: TelegramEmulator,
    session_maker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Shop]:
    usdt = devnet.config.usdt_address
    f = await flash(rental_s=3600.0, usdt_contract=usdt, scanner_kw={"usdt_contract": usdt})
    async with open_shop(f, emulator, session_maker, ServicePackageOrders(f.engine.rt)) as s:
        yield s


async def add_count_package(shop: Shop, counts: int) -> EnergyPackage:
    async with shop.f.session_maker() as s, s.begin():
        package = EnergyPackage(
            name=f"{counts} USDT transfers",
            package_type=PackageType.TRANSACTION_COUNT,
            transaction_count=counts,
            energy_amount=65_000,
            duration_hours=720,
            base_price_units=3 * TRX * counts,
            usdt_price_units=counts * USDT,
            min_order_amount=1,
            max_order_amount=1,
        )
        s.add(package)
    return package


def button(message_text: str, buttons: list[dict[str, object]]) -> str:
    """The callback data of the button whose text holds ``message_text``."""
    for b in buttons:
        if message_text in str(b.get("text")):
            return str(b["callback_data"])
    raise AssertionError(f"no {message_text!r} button in {buttons}")


async def energy_limit(shop: Shop, address: str) -> int:
    return int((await shop.f.gateway.get_account_resource(address)).energy_limit)


class TestCountPurchase:
    async def test_bought_paid_by_trx_card_with_counts_paused_and_resumed(self, shop: Shop) -> None:
        f = shop.f
        package = await add_count_package(shop, 3)
        payer = funded_key(f.devnet.chain, 100 * TRX)
        recipient = funded_key(f.devnet.chain, TRX).address_base58
        me = Customer(shop, 9301)

        menu = await me.say("/menu")
        assert CountCb(action="list").pack() in [b["callback_data"] for b in menu.buttons()]
        await me.press(menu, CountCb(action="list").pack())
        catalogue = me.messages()[-1]
        assert "Transfer packages" in catalogue.body
        assert "3 USDT transfers: 3 transfers · 9 TRX / 3 USDT" in catalogue.body
        await me.press(catalogue, EnergyPackageCb(package_id=str(package.id)).pack())
        detail, ask = me.messages()[-2:]
        assert "Energy for 3 USDT transfers" in detail.body
        assert "use the package" in ask.body  # no quantity step: one package at a time
        confirm = await me.say(recipient)
        assert "3 transfers" in confirm.body and recipient in confirm.body
        assert "Total: 9 TRX" in confirm.body
        await me.press(
            confirm, ConfirmOrderCb(kind="package", currency="TRX", method="transfer").pack()
        )
        order = await order_of(shop, lambda o: o.chat_id == me.chat)
        assert order.order_type.value == "transaction_package" and order.transaction_count == 3
        amount = order.expected_amount_units
        assert amount is not None
        await pay_with_tronpy(f.devnet.url, payer, f.address, amount)
        await f.wait_order(lambda o: o.status is OrderStatus.ACTIVE, order_id=order.id)

        # the card, edited in place: counts, state and the pause button
        card = await me.wait("0 of 3 used, 3 left · energy ready")
        clean(card.body)
        pause = button("Pause", card.buttons())
        assert pause == CountCb(action="pause", order_id=order.id).pack()
        # another customer cannot pause it
        other = Customer(shop, 9302)
        await other.say("/start")
        answer = await other.press(other.messages()[-1], pause)
        assert "not found" in str(answer["text"])

        answer = await me.press(card, pause)
        assert str(answer["text"]).startswith("⏸ Paused")
        paused = next(m for m in me.messages() if m.message_id == card.message_id)
        assert "3 left · pausing…" in paused.body or "3 left · paused" in paused.body
        resume = button("Resume", paused.buttons())

        async def reclaimed() -> bool:
            # on chain, and the pause recorded as sent (a resume before is refused as busy)
            if await energy_limit(shop, recipient):
                return False
            async with f.session_maker() as s:
                pkg = await s.get(CountPackage, order.id)
                return pkg is not None and pkg.pending_action is None

        await wait_until(reclaimed)
        answer = await me.press(paused, resume)
        assert str(answer["text"]).startswith("▶️ Resumed")

        async def delegated() -> bool:
            return await energy_limit(shop, recipient) >= 64_285

        await wait_until(delegated)
        async with f.session_maker() as s:
            pkg = await s.get(CountPackage, order.id)
            assert pkg is not None and not pkg.paused and pkg.used_counts == 0

        # the resumed delivery's notification may come after the command's answer
        await me.say("/orders")
        orders = await me.wait("3 USDT transfers (3 transfers)")
        assert "0 of 3 used, 3 left" in orders.body
