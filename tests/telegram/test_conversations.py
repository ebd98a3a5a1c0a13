"""Conversations with the real aiogram stack against the emulator and a migrated database."""

from __future__ import annotations

from sqlalchemy import select, update

from tgemulator.server import ChatMessage
from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key, submit
from tronproto.keys import PrivateKey
from tronrent.models import Bot, BotUser, Order, OrderStatus, User
from tronrent.telegram.callbacks import (
    CancelCb,
    CheckPaymentCb,
    ConfirmOrderCb,
    FlashCb,
    LangCb,
    MenuCb,
    OrdersPageCb,
)

from .conftest import FLASH_ADDRESS, RECIPIENT, Harness


def first_paragraph(message: ChatMessage) -> str:
    """A menu's first paragraph: the text before the package catalogue the menu lists."""
    return (message.text or "").split("\n\n", 1)[0]


TRX = 1_000_000


async def _user(h: Harness, telegram_id: int) -> User:
    async with h.session_maker() as session:
        user = (
            await session.execute(select(User).where(User.telegram_id == telegram_id))
        ).scalar_one()
        return user


class TestStart:
    async def test_start_registers_user_and_bot_user(self, harness: Harness) -> None:
        bot_id, token = await harness.add_bot(welcome_message="Hi <there> & welcome")
        await harness.manager.start()
        messages = await harness.say(token, "/start", user_id=501, first_name="<b>Eve</b>")
        # the bot's own welcome first, then the package catalogue (seeded by 0012_catalog)
        assert first_paragraph(messages[-1]) == "Hi <there> & welcome"
        assert messages[-1].button("⚡")  # main menu
        async with harness.session_maker() as session:
            user = (await session.execute(select(User).where(User.telegram_id == 501))).scalar_one()
            assert user.first_name == "<b>Eve</b>" and user.referral_code
            bot_user = (await session.execute(select(BotUser))).scalar_one()
            assert (bot_user.bot_id, bot_user.user_id) == (bot_id, user.id)
            assert bot_user.total_messages == 1 and bot_user.telegram_chat_id == 501
            row = await session.get(Bot, bot_id)
            assert row is not None and row.current_users == 1 and row.total_messages == 1
        await harness.say(token, "/help", user_id=501)
        async with harness.session_maker() as session:
            assert (await session.execute(select(BotUser.total_messages))).scalar_one() == 2

    async def test_start_with_referral_binds_referrer(self, harness: Harness) -> None:
        _, token = await harness.add_bot()
        await harness.manager.start()
        await harness.say(token, "/start", user_id=601)
        referrer = await _user(harness, 601)
        messages = await harness.say(token, f"/start {referrer.referral_code}", user_id=602)
        assert "Referrer linked" in messages[-1].text
        assert (await _user(harness, 602)).referred_by == referrer.id
        # an unknown code and one's own code bind nothing
        messages = await harness.say(token, "/start NOPE<>&", user_id=603)
        assert "Referrer" not in messages[-1].text
        assert (await _user(harness, 603)).referred_by is None

    async def test_chinese_by_default_and_language_switch(self, harness: Harness) -> None:
        _, token = await harness.add_bot(name="商店")
        await harness.manager.start()
        messages = await harness.say(token, "/start", user_id=701, language_code=None)
        assert "欢迎使用" in messages[-1].text and "商店" in messages[-1].text
        answer = await harness.press(
            token, messages[-1].message_id, LangCb(code="en").pack(), user_id=701
        )
        assert answer is not None
        assert "English" in harness.emulator.bot(token).messages(701)[-1].text
        messages = await harness.say(token, "/menu", user_id=701, language_code=None)
        assert first_paragraph(messages[-1]) == "Choose:"


class TestFlash:
    async def test_order_for_an_address_then_check_and_cancel(self, harness: Harness) -> None:
        _, token = await harness.add_bot()
        await harness.manager.start()
        chat = 801
        menu = (await harness.say(token, "/menu", user_id=chat))[-1]
        await harness.press(token, menu.message_id, MenuCb(action="flash").pack(), user_id=chat)
        messages = await harness.emulator.wait_messages(token, chat, 3)
        photo, intro = messages[-2], messages[-1]
        assert photo.photo and photo.photo.startswith(b"\x89PNG") and FLASH_ADDRESS in photo.body
        assert FLASH_ADDRESS in intro.text and "1.5 TRX" in intro.text

        await harness.press(token, intro.message_id, FlashCb(action="rent").pack(), user_id=chat)
        ask = (await harness.emulator.wait_messages(token, chat, 4))[-1]
        assert "TRON address" in ask.text
        bad = await harness.say(token, "<script>alert(1)</script>", user_id=chat)
        assert "not a TRON address" in bad[-1].text and "<script>" in bad[-1].text
        broken = RECIPIENT[:-1] + ("A" if RECIPIENT[-1] != "A" else "B")
        bad = await harness.say(token, broken, user_id=chat)
        assert "Checksum mismatch" in bad[-1].text
        confirm = (await harness.say(token, f"  {RECIPIENT} ", user_id=chat))[-1]
        assert RECIPIENT in confirm.text
        answer = await harness.press(
            token, confirm.message_id, ConfirmOrderCb(kind="flash").pack(), user_id=chat
        )
        assert answer is not None and not answer["show_alert"]
        card = harness.emulator.bot(token).chats[chat][confirm.message_id]  # edited in place
        async with harness.session_maker() as session:
            order = (await session.execute(select(Order))).scalar_one()
            user = await session.get(User, order.user_id)
        assert user is not None and user.tron_address == RECIPIENT
        assert order.target_address == RECIPIENT and order.chat_id == chat
        assert order.expected_amount_units is not None
        units = order.expected_amount_units
        amount = f"{units // 1_000_000}.{units % 1_000_000:06d}"
        assert f"Send {amount} TRX" in card.text and order.id in card.text
        assert (
            card.button("I have paid")["callback_data"] == CheckPaymentCb(order_id=order.id).pack()
        )

        answer = await harness.press(
            token, card.message_id, CheckPaymentCb(order_id=order.id).pack(), user_id=chat
        )
        assert answer is not None and "No payment yet" in answer["text"]
        # another user cannot see or cancel this order (forged callback data)
        answer = await harness.press(
            token, card.message_id, CancelCb(order_id=order.id).pack(), user_id=999
        )
        assert answer is not None and answer["text"] == "Order not found."
        answer = await harness.press(
            token, card.message_id, CancelCb(order_id=order.id).pack(), user_id=chat
        )
        assert answer is not None and answer["text"] == "Order cancelled."
        assert "cancelled" in card.text and not card.button("My order")["callback_data"].startswith(
            "check"
        )
        async with harness.session_maker() as session:
            assert (await session.get(Order, order.id)).status == OrderStatus.CANCELLED  # type: ignore[union-attr]
        answer = await harness.press(
            token, card.message_id, CancelCb(order_id=order.id).pack(), user_id=chat
        )
        assert answer is not None and "cannot be cancelled" in answer["text"]

    async def test_wrong_state_and_stale_buttons(self, harness: Harness) -> None:
        _, token = await harness.add_bot()
        await harness.manager.start()
        chat = 901
        messages = await harness.say(token, "/foo bar", user_id=chat)
        assert "Unknown command /foo" in messages[-1].text
        messages = await harness.say(token, "hello?", user_id=chat)
        assert "/menu" in messages[-1].text
        # a confirm button outside the confirming state, forged and unknown callback data
        for data in (ConfirmOrderCb(kind="flash").pack(), "check_payment", "zzz", "orders:x"):
            answer = await harness.press(token, messages[-1].message_id, data, user_id=chat)
            assert answer is not None and "expired" in answer["text"], data
        answer = await harness.press(
            token,
            messages[-1].message_id,
            CheckPaymentCb(order_id="FLASH_1_nope").pack(),
            user_id=chat,
        )
        assert answer is not None and answer["text"] == "Order not found."
        await harness.press(
            token, messages[-1].message_id, FlashCb(action="rent").pack(), user_id=chat
        )
        messages = await harness.say(token, "/cancel", user_id=chat)
        assert messages[-1].text == "Cancelled."


class TestOrdersAndBalance:
    async def test_orders_are_paginated(self, harness: Harness) -> None:
        _, token = await harness.add_bot()
        await harness.manager.start()
        chat = 1101
        messages = await harness.say(token, "/orders", user_id=chat)
        assert "no orders yet" in messages[-1].text
        user = await _user(harness, chat)
        async with harness.session_maker() as session, session.begin():
            for i in range(7):
                session.add(
                    Order(
                        id=f"FLASH_{1_700_000_000_000 + i}_abc{i}",
                        order_number=f"FLASH_{1_700_000_000_000 + i}_abc{i}",
                        user_id=user.id,
                        status=OrderStatus.COMPLETED,
                        expected_amount_units=3_000_000 + i,
                        tron_tx_hash="ab" * 32,
                    )
                )
        messages = await harness.say(token, "/orders", user_id=chat)
        page = messages[-1]
        assert "page 1/2, 7 in all" in page.text and page.text.count("FLASH_") == 5
        assert "✅ completed" in page.text and "abababab" in page.text
        await harness.press(token, page.message_id, OrdersPageCb(page=1).pack(), user_id=chat)
        assert "page 2/2" in page.text and page.text.count("FLASH_") == 2

    async def test_balance_with_and_without_address(
        self, harness: Harness, chain_devnet: DevnetServer
    ) -> None:
        _, token = await harness.add_bot()
        await harness.manager.start()
        chat = 1201
        messages = await harness.say(token, "/balance", user_id=chat)
        assert "TRX: 0" in messages[-1].text and "No TRON address" in messages[-1].text
        # a real account on the devnet: 12.345678 TRX, 5 USDT and energy delegated to it
        address = PrivateKey.random()
        chain_devnet.chain.faucet(address.address, 12_345_678, 5_000_000)
        staker = funded_key(chain_devnet.chain, 20_000 * TRX)
        submit(
            chain_devnet.chain,
            staker,
            "FreezeBalanceV2Contract",
            {"frozen_balance": 10_000 * TRX, "resource": "ENERGY"},
        )
        submit(
            chain_devnet.chain,
            staker,
            "DelegateResourceContract",
            {"receiver_address": address.address_hex, "balance": 7_000 * TRX, "resource": "ENERGY"},
        )
        energy = (await harness.chain.address_balance(address.address_base58)).energy_available
        assert energy > 60_000
        async with harness.session_maker() as session, session.begin():
            await session.execute(
                update(User)
                .where(User.telegram_id == chat)
                .values(tron_address=address.address_base58, trx_balance_sun=2_500_000)
            )
        messages = await harness.say(token, "/balance", user_id=chat)
        text = messages[-1].text
        assert "TRX: 2.5" in text and address.address_base58 in text
        assert "TRX: 12.345678" in text and "USDT: 5" in text and f"{energy:,}" in text


class TestBots:
    async def test_maintenance_mode_follows_the_database(self, harness: Harness) -> None:
        bot_id, token = await harness.add_bot()
        await harness.manager.start()
        await harness.say(token, "/start", user_id=1301)
        async with harness.session_maker() as session, session.begin():
            await session.execute(update(Bot).where(Bot.id == bot_id).values(maintenance_mode=True))
        await harness.manager.reload()
        messages = await harness.say(token, "/start", user_id=1301)
        assert "maintenance" in messages[-1].text

    async def test_two_bots_in_one_process_and_disable_without_restart(
        self, harness: Harness
    ) -> None:
        first_id, first = await harness.add_bot(name="One", welcome_message="I am bot one")
        await harness.manager.start()
        _second_id, second = await harness.add_bot(name="Two", help_message="Help of two")
        await harness.manager.reload()  # added through the database, no restart
        assert first_paragraph((await harness.say(first, "/start", user_id=1401))[-1]) == (
            "I am bot one"
        )
        assert "Welcome to <b>Two</b>" in str(
            (await harness.say(second, "/start", user_id=1401))[-1].raw_text
        )
        assert (await harness.say(second, "/help", user_id=1401))[-1].text == "Help of two"
        assert "Help" in (await harness.say(first, "/help", user_id=1401))[-1].text
        commands = harness.emulator.bot(first).commands
        assert any(c["command"] == "orders" for cmds in commands.values() for c in cmds)
        async with harness.session_maker() as session, session.begin():
            await session.execute(update(Bot).where(Bot.id == first_id).values(status="inactive"))
        await harness.manager.reload()
        assert first_id not in harness.manager.running and len(harness.manager.running) == 1
