"""Energy packages and top-ups in the bot: the real aiogram stack against the emulator, a migrated
database, recipients looked up on the devnet. Prices are whatever ``quote_order`` says (the
tests ask it, they never assume a price rule)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from tgemulator.server import ChatMessage
from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.kit.money import format_trx, format_usdt
from tronrent.models import (
    BalanceLedgerEntry,
    EnergyPackage,
    Order,
    OrderStatus,
    User,
    UserStatus,
)
from tronrent.models.common import Currency
from tronrent.order.recipient import activation_fee_sun
from tronrent.pool.energy import energy_per_transaction
from tronrent.pricing.quote import OrderPrice, quote_order
from tronrent.telegram.callbacks import (
    CancelCb,
    CheckPaymentCb,
    ConfirmOrderCb,
    EnergyPackageCb,
    MenuCb,
    PackageCb,
    PackageQtyCb,
    TopUpCb,
)
from tronrent.user.balance import balance as balance_service

from .conftest import FLASH_ADDRESS, RECIPIENT, Harness

TRX = 1_000_000


async def add_package(
    h: Harness,
    name: str,
    energy: int = 65_000,
    hours: int = 1,
    price_units: int = 3 * TRX,
    **kwargs: object,
) -> EnergyPackage:
    async with h.session_maker() as session, session.begin():
        package = EnergyPackage(
            name=name,
            energy_amount=energy,
            duration_hours=hours,
            base_price_units=price_units,
            **{"usdt_price_units": price_units * 3 // 10, **kwargs},
        )
        session.add(package)
    return package


async def quote(h: Harness, package: EnergyPackage, quantity: int, currency: str) -> OrderPrice:
    async with h.session_maker() as session:
        row = await session.get(EnergyPackage, package.id)
        assert row is not None
        return await quote_order(session, package=row, quantity=quantity, currency=currency)


async def user_of(h: Harness, chat: int) -> User:
    async with h.session_maker() as session:
        return (await session.execute(select(User).where(User.telegram_id == chat))).scalar_one()


async def orders_of(h: Harness, chat: int) -> list[Order]:
    user = await user_of(h, chat)
    async with h.session_maker() as session:
        rows = await session.execute(
            select(Order).where(Order.user_id == user.id).order_by(Order.created_at)
        )
        return list(rows.scalars())


async def credit(h: Harness, chat: int, currency: str, units: int) -> None:
    user = await user_of(h, chat)
    async with h.session_maker() as session, session.begin():
        await balance_service.apply(
            session,
            user_id=user.id,
            currency=currency,
            delta_units=units,
            cause_type="adjustment",
            cause_id=f"test-{uuid.uuid4().hex}",
        )


def exact(units: int) -> str:
    return f"{units // 1_000_000}.{units % 1_000_000:06d}"


class Shop:
    """One customer walking through the package flow."""

    def __init__(self, h: Harness, token: str, chat: int) -> None:
        self.h, self.token, self.chat = h, token, chat

    def last(self) -> ChatMessage:
        return self.h.emulator.bot(self.token).messages(self.chat)[-1]

    async def press(self, message: ChatMessage, data: str) -> dict[str, object]:
        answer = await self.h.press(self.token, message.message_id, data, user_id=self.chat)
        assert answer is not None
        return answer

    async def say(self, text: str) -> ChatMessage:
        return (await self.h.say(self.token, text, user_id=self.chat))[-1]

    async def to_confirm(
        self, package: EnergyPackage, quantity: int, recipient: str = RECIPIENT
    ) -> ChatMessage:
        """/menu -> package -> quantity button -> recipient: the ``confirming_order`` message."""
        menu = await self.say("/menu")
        await self.press(menu, EnergyPackageCb(package_id=str(package.id)).pack())
        await self.press(self.last(), PackageQtyCb(quantity=quantity).pack())
        assert "Send the TRON address" in self.last().text  # type: ignore[operator]
        return await self.say(recipient)


async def started(h: Harness, chat: int) -> Shop:
    _, token = await h.add_bot()
    await h.manager.start()
    shop = Shop(h, token, chat)
    await shop.say("/start")
    return shop


class TestMenu:
    async def test_lists_active_packages_with_prices(self, harness: Harness) -> None:
        one = await add_package(harness, "65k × 1 h", sort_order=1)
        day = await add_package(harness, "65k × 1 day", hours=24, price_units=9 * TRX, sort_order=2)
        await add_package(harness, "retired", is_active=False)
        shop = await started(harness, 2001)
        menu = await shop.say("/menu")
        assert menu.text is not None and "retired" not in menu.text
        for package, duration in ((one, "1 h"), (day, "1 d")):
            trx = await quote(harness, package, 1, "TRX")
            usdt = await quote(harness, package, 1, "USDT")
            line = (
                f"{package.name}: 65,000 energy · {duration} · {format_trx(trx.final_price_units)}"
                f" TRX / {format_usdt(usdt.final_price_units)} USDT"
            )
            assert line in menu.text
        buttons = [b["callback_data"] for b in menu.buttons()][:2]
        assert buttons == [EnergyPackageCb(package_id=str(p.id)).pack() for p in (one, day)]

    async def test_unknown_or_retired_package_is_refused(self, harness: Harness) -> None:
        retired = await add_package(harness, "retired", is_active=False)
        shop = await started(harness, 2002)
        menu = await shop.say("/menu")
        for package_id in (str(retired.id), str(uuid.uuid4()), "not-a-uuid"):
            answer = await shop.press(menu, EnergyPackageCb(package_id=package_id).pack())
            assert answer["show_alert"] and "no longer sold" in str(answer["text"])


class TestTransfer:
    async def test_trx_order_up_to_the_payment_card(
        self, harness: Harness, chain_gateway: TronGateway
    ) -> None:
        package = await add_package(harness, "65k × 1 h", min_order_amount=2, max_order_amount=7)
        shop = await started(harness, 2101)
        menu = await shop.say("/menu")
        await shop.press(menu, EnergyPackageCb(package_id=str(package.id)).pack())
        choose = shop.last()
        quantities = [b["text"] for b in choose.buttons()]
        assert quantities[:4] == ["2", "3", "5", "7"] and "Other quantity" in quantities[4]
        await shop.press(choose, PackageQtyCb(quantity=3).pack())
        assert "195,000 energy" in shop.last().text  # type: ignore[operator]
        bad = await shop.say("TNotAnAddress")
        assert "not a TRON address" in bad.text  # type: ignore[operator]
        confirm = await shop.say(RECIPIENT)  # no account on the devnet: activation fee quoted

        price = await quote(harness, package, 3, "TRX")
        unit = price.original_price_units // 3
        fee = activation_fee_sun(await chain_gateway.get_chain_parameters())
        text = confirm.text or ""
        assert f"TRX: {format_trx(unit)} × 3 = {format_trx(price.original_price_units)}" in text
        assert f"Activation fee: {format_trx(fee)} TRX" in text
        assert f"Total: {format_trx(price.final_price_units + fee)} TRX" in text
        assert "has no account on chain yet" in text and RECIPIENT in text
        assert "Pay from balance (0 TRX)" in confirm.button("balance (0 TRX")["text"]

        await shop.press(
            confirm, ConfirmOrderCb(kind="package", currency="TRX", method="transfer").pack()
        )
        photo, card = harness.emulator.bot(shop.token).messages(shop.chat)[-2:]
        [order] = await orders_of(harness, shop.chat)
        assert order.package_id == package.id and order.energy_amount == energy_per_transaction(
            3 * 65_000, 200
        )
        assert order.currency == Currency.TRX and order.target_address == RECIPIENT
        assert order.payment_address == FLASH_ADDRESS and order.expected_amount_units is not None
        assert photo.photo and photo.photo.startswith(b"\x89PNG") and FLASH_ADDRESS in photo.body
        assert card.text is not None and order.id in card.text and "65k × 1 h" in card.text
        assert f"Send {exact(order.expected_amount_units)} TRX" in card.text
        assert FLASH_ADDRESS in card.text and "Pay before" in card.text
        assert (await user_of(harness, shop.chat)).tron_address == RECIPIENT

        answer = await shop.press(card, CheckPaymentCb(order_id=order.id).pack())
        assert "No payment yet" in str(answer["text"])
        other = Shop(harness, shop.token, 2199)
        await other.say("/start")
        answer = await other.press(card, CheckPaymentCb(order_id=order.id).pack())
        assert answer["text"] == "Order not found."
        answer = await shop.press(card, CancelCb(order_id=order.id).pack())
        assert answer["text"] == "Order cancelled."
        [order] = await orders_of(harness, shop.chat)
        assert order.status == OrderStatus.CANCELLED

    async def test_usdt_custom_quantity_last_address(
        self, harness: Harness, chain_devnet: DevnetServer
    ) -> None:
        package = await add_package(harness, "131k × 1 h", energy=131_000, max_order_amount=20)
        shop = await started(harness, 2102)
        activated = funded_key(chain_devnet.chain, 5 * TRX).address_base58
        async with harness.session_maker() as session, session.begin():
            user = (
                await session.execute(select(User).where(User.telegram_id == 2102))
            ).scalar_one()
            user.tron_address = activated
        menu = await shop.say("/menu")
        await shop.press(menu, EnergyPackageCb(package_id=str(package.id)).pack())
        await shop.press(shop.last(), PackageQtyCb(quantity=0).pack())
        assert "from 1 to 20" in (shop.last().text or "")
        assert "is not a quantity" in ((await shop.say("21")).text or "")
        assert "is not a quantity" in ((await shop.say("two")).text or "")
        ask = await shop.say("12")
        assert "1,572,000 energy" in (ask.text or "")
        await shop.press(ask, PackageCb(action="last_address").pack())
        confirm = shop.last()
        price = await quote(harness, package, 12, "USDT")
        text = confirm.text or ""
        assert activated in text and "Activation fee" not in text  # it has an account
        assert f"Total: {format_usdt(price.final_price_units)} USDT" in text

        await shop.press(
            confirm, ConfirmOrderCb(kind="package", currency="USDT", method="transfer").pack()
        )
        card = shop.last()
        [order] = await orders_of(harness, shop.chat)
        assert order.currency == Currency.USDT and order.target_address == activated
        assert (
            order.energy_amount == energy_per_transaction(12 * 131_000, 200)
            and order.expected_amount_units is not None
        )
        assert f"Send {exact(order.expected_amount_units)} USDT" in (card.text or "")
        # the draft is gone: the same confirm button now is stale
        answer = await shop.press(
            confirm, ConfirmOrderCb(kind="package", currency="USDT", method="transfer").pack()
        )
        assert answer["show_alert"] and "expired" in str(answer["text"])
        assert len(await orders_of(harness, shop.chat)) == 1


class TestBalance:
    async def test_paid_from_the_balance(self, harness: Harness) -> None:
        package = await add_package(harness, "65k × 3 days", hours=72)
        shop = await started(harness, 2201)
        price = await quote(harness, package, 2, "USDT")
        await credit(harness, shop.chat, "USDT", price.final_price_units + 1)
        confirm = await shop.to_confirm(package, 2)
        assert (
            f"({format_usdt(price.final_price_units + 1)} USDT)"
            in confirm.button("balance (" + format_usdt(price.final_price_units + 1))["text"]
        )
        answer = await shop.press(
            confirm, ConfirmOrderCb(kind="package", currency="USDT", method="balance").pack()
        )
        assert answer["text"] == "✅ Paid from your balance."
        [order] = await orders_of(harness, shop.chat)
        assert order.status != OrderStatus.PENDING and order.paid_amount_units is not None
        assert order.payment_method == "balance" and order.payment_address is None
        card = shop.last()
        assert order.id in (card.text or "") and "Send " not in (card.text or "")
        user = await user_of(harness, shop.chat)
        async with harness.session_maker() as session:
            balances = await balance_service.get_balances(session, user.id)
            entries = (
                (
                    await session.execute(
                        select(BalanceLedgerEntry).where(
                            BalanceLedgerEntry.user_id == user.id,
                            BalanceLedgerEntry.cause_type == "order_payment",
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert balances.usdt_units == 1
        assert [(e.cause_id, e.delta_units) for e in entries] == [
            (order.id, -order.paid_amount_units)
        ]

    async def test_paid_in_trx_with_the_activation_fee(
        self, harness: Harness, chain_gateway: TronGateway
    ) -> None:
        package = await add_package(harness, "65k × 1 h")
        shop = await started(harness, 2203)
        price = await quote(harness, package, 1, "TRX")
        fee = activation_fee_sun(await chain_gateway.get_chain_parameters())
        await credit(harness, shop.chat, "TRX", price.final_price_units + fee)
        confirm = await shop.to_confirm(package, 1)  # RECIPIENT has no account
        answer = await shop.press(
            confirm, ConfirmOrderCb(kind="package", currency="TRX", method="balance").pack()
        )
        assert answer["text"] == "✅ Paid from your balance."
        [order] = await orders_of(harness, shop.chat)
        assert order.paid_amount_units is not None
        async with harness.session_maker() as session:
            left = (await balance_service.get_balances(session, order.user_id)).trx_sun  # type: ignore[arg-type]
        assert left == price.final_price_units + fee - order.paid_amount_units >= 0

    async def test_refused_when_short(self, harness: Harness) -> None:
        package = await add_package(harness, "65k × 1 day", hours=24)
        shop = await started(harness, 2202)
        price = await quote(harness, package, 1, "TRX")
        await credit(harness, shop.chat, "TRX", price.final_price_units - 1)
        confirm = await shop.to_confirm(package, 1)
        answer = await shop.press(
            confirm, ConfirmOrderCb(kind="package", currency="TRX", method="balance").pack()
        )
        assert answer["show_alert"] and "does not cover" in str(answer["text"])
        assert await orders_of(harness, shop.chat) == []
        # the draft is kept: paying by transfer still works
        await shop.press(
            confirm, ConfirmOrderCb(kind="package", currency="TRX", method="transfer").pack()
        )
        [order] = await orders_of(harness, shop.chat)
        assert order.status == OrderStatus.PENDING and order.payment_method == "transfer"


class TestTopUp:
    async def test_balance_ledger_and_top_up_card(self, harness: Harness) -> None:
        shop = await started(harness, 2301)
        await credit(harness, shop.chat, "TRX", 12_500_000)
        balance = await shop.say("/balance")
        assert "TRX: 12.5" in (balance.text or "") and "+12.5 TRX · Adjustment" in (
            balance.text or ""
        )
        await shop.press(balance, TopUpCb().pack())
        await shop.press(shop.last(), TopUpCb(currency="USDT").pack())
        assert [b["text"] for b in shop.last().buttons()][:2] == ["10 USDT", "50 USDT"]
        await shop.press(shop.last(), TopUpCb(currency="USDT", amount=50).pack())
        photo, card = harness.emulator.bot(shop.token).messages(shop.chat)[-2:]
        [order] = await orders_of(harness, shop.chat)
        assert order.currency == Currency.USDT and order.expected_amount_units is not None
        assert 50 * TRX <= order.expected_amount_units < 51 * TRX
        assert photo.photo and FLASH_ADDRESS in photo.body
        assert "Balance top-up" in (card.text or "")
        assert f"Send {exact(order.expected_amount_units)} USDT" in (card.text or "")
        # forged amounts and currencies are refused
        for data in (TopUpCb(currency="USDT", amount=7).pack(), TopUpCb(currency="BTC").pack()):
            answer = await shop.press(card, data)
            assert answer["show_alert"]
        assert len(await orders_of(harness, shop.chat)) == 1

    async def test_typed_amount(self, harness: Harness) -> None:
        shop = await started(harness, 2302)
        balance = await shop.say("/balance")
        await shop.press(balance, TopUpCb(currency="TRX").pack())
        await shop.press(shop.last(), TopUpCb(currency="TRX", custom=True).pack())
        assert "1 to 1000000 TRX" in (shop.last().text or "")
        for bad in ("0.5", "1.0000001", "abc", "2000000", "-3"):
            assert "is not an amount" in ((await shop.say(bad)).text or ""), bad
        await shop.say("1,234.5")
        card = shop.last()  # after the QR code
        [order] = await orders_of(harness, shop.chat)
        assert order.currency == Currency.TRX and order.expected_amount_units is not None
        assert 1_234_500_000 <= order.expected_amount_units < 1_235_500_000
        assert f"Send {exact(order.expected_amount_units)} TRX" in (card.text or "")
        # the amount was taken: the next text is not a top-up
        assert "I did not get that" in ((await shop.say("10")).text or "")


class TestOrders:
    async def test_lists_every_order_type(self, harness: Harness) -> None:
        package = await add_package(harness, "65k × 1 h")
        shop = await started(harness, 2401)
        confirm = await shop.to_confirm(package, 2)
        await shop.press(
            confirm, ConfirmOrderCb(kind="package", currency="USDT", method="transfer").pack()
        )
        balance = await shop.say("/balance")
        await shop.press(balance, TopUpCb(currency="TRX", amount=10).pack())
        text = (await shop.say("/orders")).text or ""
        assert (
            "Balance top-up" in text and "📦 65k × 1 h (132,600 energy · 1 h)"
        )  # 2 x 65k + 2 % margin in text
        assert " USDT · " in text and " TRX · " in text

    async def test_chinese_confirm(self, harness: Harness) -> None:
        package = await add_package(harness, "65k × 1 h")
        _, token = await harness.add_bot()
        await harness.manager.start()
        chat = 2402
        menu = (await harness.say(token, "/menu", user_id=chat, language_code=None))[-1]
        assert "能量套餐" in (menu.text or "")
        await harness.press(
            token,
            menu.message_id,
            EnergyPackageCb(package_id=str(package.id)).pack(),
            user_id=chat,
            language_code=None,
        )
        last = harness.emulator.bot(token).messages(chat)[-1]
        await harness.press(
            token,
            last.message_id,
            PackageQtyCb(quantity=1).pack(),
            user_id=chat,
            language_code=None,
        )
        confirm = (await harness.say(token, RECIPIENT, user_id=chat, language_code=None))[-1]
        assert "请确认订单" in (confirm.text or "") and "合计" in (confirm.text or "")
        assert confirm.button("TRX 转账支付")
        await harness.press(token, menu.message_id, MenuCb(action="home").pack(), user_id=chat)


class TestForgedButtons:
    async def test_stale_and_forged_callbacks_are_answered(self, harness: Harness) -> None:
        package = await add_package(harness, "65k × 1 h", max_order_amount=3)
        shop = await started(harness, 2501)
        menu = await shop.say("/menu")
        # a quantity button with no package draft: the fallback says it expired
        answer = await shop.press(menu, PackageQtyCb(quantity=1).pack())
        assert answer["show_alert"] and "expired" in str(answer["text"])
        await shop.press(menu, EnergyPackageCb(package_id=str(package.id)).pack())
        await shop.press(shop.last(), PackageQtyCb(quantity=99).pack())  # beyond max_order_amount
        assert "expired" in (shop.last().text or "")
        confirm = await shop.to_confirm(package, 1)
        answer = await shop.press(
            confirm, ConfirmOrderCb(kind="package", currency="BTC", method="transfer").pack()
        )
        assert answer["show_alert"] and "expired" in str(answer["text"])
        assert await orders_of(harness, shop.chat) == []
        # the draft is dropped: an address now starts nothing
        assert "I did not get that" in ((await shop.say(RECIPIENT)).text or "")
        # text in confirming_order is not taken for an address
        confirm = await shop.to_confirm(package, 1)
        assert "finish the step above" in ((await shop.say(RECIPIENT)).text or "")


class TestBlockedUser:
    async def test_a_blocked_user_is_told_and_cannot_order(self, harness: Harness) -> None:
        package = await add_package(harness, "65k × 1 h")
        shop = await started(harness, 2601)
        confirm = await shop.to_confirm(package, 1)  # drafted before the block
        await credit(harness, shop.chat, "TRX", 100 * TRX)
        async with harness.session_maker() as session, session.begin():
            user = (
                await session.execute(select(User).where(User.telegram_id == shop.chat))
            ).scalar_one()
            user.status = UserStatus.BANNED
        for data in (
            ConfirmOrderCb(kind="package", currency="TRX", method="balance").pack(),
            ConfirmOrderCb(kind="package", currency="TRX", method="transfer").pack(),
        ):
            answer = await shop.press(confirm, data)
            assert answer["show_alert"] and "account is blocked" in str(answer["text"]), answer
        menu = await shop.say("/menu")
        answer = await shop.press(menu, EnergyPackageCb(package_id=str(package.id)).pack())
        assert answer["show_alert"] and "account is blocked" in str(answer["text"])
        balance = await shop.say("/balance")
        answer = await shop.press(balance, TopUpCb(currency="TRX", amount=10).pack())
        assert answer["show_alert"] and "account is blocked" in str(answer["text"])
        assert await orders_of(harness, shop.chat) == []
