"""A full flash purchase in the bot: the real aiogram stack against the emulator, the payment sent
with tronpy on the devnet, the real flash engine (scanner, workers, gateway - the fixtures of
tests/flash), and the outbox sender telling the customer every step, in order."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tronpy import AsyncTron
from tronpy.keys import PrivateKey as TronpyKey
from tronpy.providers.async_http import AsyncHTTPProvider

from flash.conftest import (  # noqa: F401  (fixtures of the flash tests)
    TRX,
    Flash,
    FlashFactory,
    box,
    box_key,
    devnet,
    flash,
    gateway,
)
from tgemulator import TelegramEmulator
from tgemulator.server import ChatMessage
from trondevnet.testing import funded_key
from tronproto.keys import PrivateKey
from tronrent.adapters.telegram.transport import TelegramTransport
from tronrent.bot.service import bot as bot_service
from tronrent.config import NETWORKS
from tronrent.models import (
    EnergyDelegation,
    NotificationOutbox,
    Order,
    OrderStatus,
    OutboxStatus,
)
from tronrent.notification.flood import FloodControl
from tronrent.notification.sender import NotificationSender
from tronrent.telegram.callbacks import ConfirmOrderCb, FlashCb, MenuCb
from tronrent.telegram.cards import OrderCardEditor
from tronrent.telegram.chain_gateway import PortChainBalances
from tronrent.telegram.flash_gateway import ServiceFlashOrders
from tronrent.telegram.manager import BotManager
from tronrent.telegram.ports import PackageOrders

from .conftest import Harness

TRONSCAN = re.compile(r'href="https://tronscan\.org/#/transaction/([0-9a-f]{64})"')


@dataclass
class Shop:
    f: Flash
    h: Harness
    token: str

    @property
    def emulator(self) -> TelegramEmulator:
        return self.h.emulator

    def chat(self, chat: int) -> list[ChatMessage]:
        return self.emulator.bot(self.token).messages(chat)

    async def order_in_bot(self, chat: int, recipient: str) -> tuple[Order, ChatMessage]:
        """/menu -> flash rental -> rent for an address -> confirm: the order and its card."""
        h, token = self.h, self.token
        menu = (await h.say(token, "/menu", user_id=chat))[-1]
        await h.press(token, menu.message_id, MenuCb(action="flash").pack(), user_id=chat)
        intro = self.chat(chat)[-1]  # after the QR code photo
        assert self.f.address in intro.text
        assert "reclaimed after 20 s)" in intro.text  # the true rental length, not "1 h"
        await h.press(token, intro.message_id, FlashCb(action="rent").pack(), user_id=chat)
        confirm = (await h.say(token, recipient, user_id=chat))[-1]
        assert recipient in confirm.body
        await h.press(token, confirm.message_id, ConfirmOrderCb(kind="flash").pack(), chat)
        async with self.f.session_maker() as s:
            order = (await s.execute(select(Order).where(Order.chat_id == chat))).scalar_one()
        card = self.emulator.bot(token).chats[chat][confirm.message_id]
        assert order.id in card.body
        return order, card

    async def ordered(self, chat: int) -> tuple[PrivateKey, Order, int, int]:
        """A funded customer's order placed in the bot, its "created" notice received:
        (customer, order, amount to pay in sun, messages in the chat so far)."""
        customer = funded_key(self.f.devnet.chain, 100 * TRX)
        order, card = await self.order_in_bot(chat, customer.address_base58)
        amount = order.expected_amount_units
        assert amount is not None
        await self.notifications(chat, self.upto(chat, card), 1)  # order created
        return customer, order, amount, len(self.chat(chat))

    def upto(self, chat: int, card: ChatMessage) -> int:
        """Messages in the chat up to the order card: the notices that follow it may already
        have arrived when the test looks (counting the chat then would skip them)."""
        return [m.message_id for m in self.chat(chat)].index(card.message_id) + 1

    async def notifications(self, chat: int, after: int, count: int) -> list[ChatMessage]:
        """The ``count`` messages the bot sent to ``chat`` after its first ``after``."""
        messages = await self.emulator.wait_messages(self.token, chat, after + count, seconds=30)
        return messages[after:]


async def pay_with_tronpy(url: str, key: PrivateKey, to: str, amount_sun: int) -> str:
    """The customer's wallet: a TRX transfer built, signed and broadcast by tronpy."""
    provider = AsyncHTTPProvider(url)
    provider.use_api_key = False
    async with AsyncTron(provider=provider) as tron:
        tx = await tron.trx.transfer(key.address_base58, to, amount_sun).build()
        signed = tx.sign(TronpyKey(bytes.fromhex(key.hex())))
        result = await signed.broadcast()
        return str(result["txid"])


@asynccontextmanager
async def open_shop(
    f: Flash,
    emulator: TelegramEmulator,
    session_maker: async_sessionmaker[AsyncSession],
    packages: PackageOrders | None = None,
) -> AsyncIterator[Shop]:
    """A bot on the emulator run by the real manager, wired to the running engine ``f``, and
    the outbox sender delivering its notifications."""
    state = emulator.add_bot(username="flash_shop_bot")
    async with session_maker() as s, s.begin():
        await bot_service.create(
            s, box=f.box, token=state.token, name="Shop", username=state.username
        )
    flash_orders = ServiceFlashOrders(f.engine.rt)
    chain = PortChainBalances(f.gateway, usdt_contract=f.devnet.config.usdt_address)
    manager = BotManager(
        session_maker=session_maker,
        box=f.box,
        flash=flash_orders,
        chain=chain,
        packages=packages,
        api_url=emulator.url,
        reload_interval=0,
        polling_timeout=1,
    )
    transport = TelegramTransport(manager.bot_for)
    sender = NotificationSender(
        session_maker,
        transport,
        tx_url=NETWORKS["mainnet"].explorer_tx_url,  # links as on mainnet
        flood=FloodControl(chat_interval=0.05),
        poll_interval=0.05,
        cards=OrderCardEditor(session_maker, flash_orders, transport),
    )
    await manager.start()
    stop = asyncio.Event()
    sending = asyncio.create_task(sender.run(stop))
    try:
        yield Shop(f, Harness(emulator, session_maker, f.box, manager, chain), state.token)
    finally:
        stop.set()
        await sending
        await manager.stop()


@pytest.fixture
async def shop(
    flash: FlashFactory,  # noqa: F811
    emulator: TelegramEmulator,
    session_maker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Shop]:
    # a 20 s rental, its ending told 10 s ahead (RENTAL_ENDING_NOTICE_SECONDS)
    f = await flash(rental_s=20.0, rental_ending_notice_s=10.0)
    async with open_shop(f, emulator, session_maker) as opened:
        yield opened


class TestFullPurchase:
    async def test_order_pay_deliver_reclaim_with_every_notification(self, shop: Shop) -> None:
        f, chat = shop.f, 9001
        customer = funded_key(f.devnet.chain, 100 * TRX, usdt_units=7_250_000)
        order, card = await shop.order_in_bot(chat, customer.address_base58)
        amount = order.expected_amount_units
        assert amount is not None and amount % 1_000_000  # the tail makes it unique
        shown = f"{amount // 1_000_000}.{amount % 1_000_000:06d}"
        assert f"Send {shown} TRX" in card.body and f.address in card.body
        [created] = await shop.notifications(chat, shop.upto(chat, card), 1)
        assert "created" in created.body and shown in created.body
        before = len(shop.chat(chat))

        txid = await pay_with_tronpy(f.devnet.url, customer, f.address, amount)
        done = await f.wait_order(
            lambda o: o.status is OrderStatus.COMPLETED, order_id=order.id, wait_s=40
        )
        assert done.tron_tx_hash == txid and done.transaction_count == 1

        got = await shop.notifications(chat, before, 4)
        paid, delivered, ending, ended = got
        assert "Payment of" in paid.body and txid[:10] in paid.body
        assert "Energy delivered" in delivered.body and customer.address_base58 in delivered.body
        [delegate_tx] = TRONSCAN.findall(delivered.raw_text or "")
        assert delegate_tx == done.delegate_tx_hash or delegate_tx in str(done.delegation_result)
        assert "ends soon" in ending.body and customer.address_base58 in ending.body
        left = re.search(r"reclaimed in (\d+) s \(", ending.body)
        assert left is not None and 1 <= int(left.group(1)) <= 10, ending.body
        assert "Rental ended" in ended.body and "Rental: 20 s\n" in ended.body
        for text in (paid.body, delivered.body, ending.body, ended.body):
            assert " - " not in text and "{" not in text and "None" not in text
        assert "Rental: 20 s\n" in delivered.body and "(1 transfer)" in delivered.body
        async with f.session_maker() as s:
            [reclaim] = (
                await s.execute(
                    select(EnergyDelegation.undelegate_tx_hash).where(
                        EnergyDelegation.order_id == order.id
                    )
                )
            ).scalars()
        assert reclaim and TRONSCAN.findall(ended.raw_text or "") == [reclaim]
        # the order card followed the status in place (no buttons to pay any more)
        card = shop.emulator.bot(shop.token).chats[chat][card.message_id]
        await shop.emulator.wait_for(lambda: "completed" in card.body)  # edited after the message
        assert shown not in card.body
        assert any("active" in (old or "") for old in card.history)
        assert not any("check_payment" in str(b.get("callback_data")) for b in card.buttons())
        # a row is marked sent right after its message arrives (the chat can show the last
        # message and a completed card before that commit): look until it is, briefly
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while True:
            async with f.session_maker() as s:
                rows = (
                    (
                        await s.execute(
                            select(NotificationOutbox).where(
                                NotificationOutbox.order_id == order.id
                            )
                        )
                    )
                    .scalars()
                    .all()
                )
            if OutboxStatus.PENDING not in {r.status for r in rows} or loop.time() > deadline:
                break
            await asyncio.sleep(0.05)
        assert [r.event_type for r in sorted(rows, key=lambda r: r.id)] == [
            "order_created",
            "payment_received",
            "energy_delivered",
            "rental_ending",
            "rental_ended",
        ]
        assert {r.status for r in rows} == {OutboxStatus.SENT}

        # /balance reads the bound address on chain: TRX, USDT (TRC20 balanceOf), energy
        balance = (await shop.h.say(shop.token, "/balance", user_id=chat))[-1]
        assert customer.address_base58 in balance.body and "USDT: 7.25" in balance.body

    async def test_underpaid_is_refunded_and_told(self, shop: Shop) -> None:
        f, chat = shop.f, 9002
        customer, order, amount, before = await shop.ordered(chat)
        short = amount - 300_000  # the order's tail; above dust, below one transfer's price
        txid = await pay_with_tronpy(f.devnet.url, customer, f.address, short)
        done = await f.wait_order(
            lambda o: o.status is OrderStatus.REFUNDED, order_id=order.id, wait_s=30
        )
        assert done.tron_tx_hash == txid
        underpaid, refund = await shop.notifications(chat, before, 2)
        assert "less than one transfer costs" in underpaid.body
        assert "Refunded" in refund.body and order.id in refund.body
        assert TRONSCAN.search(refund.raw_text or "")

    async def test_excess_is_refunded_and_told(self, shop: Shop) -> None:
        f, chat = shop.f, 9003
        customer, order, amount, before = await shop.ordered(chat)
        # the order's tail on 20 TRX: 10 transfers (the maximum, 15 TRX), the rest refunded
        await pay_with_tronpy(f.devnet.url, customer, f.address, amount + 18_500_000)
        done = await f.wait_order(lambda o: o.transaction_count == 10, order_id=order.id)
        assert done.transaction_count == 10
        texts = [m.body for m in await shop.notifications(chat, before, 3)]
        assert any("Payment of" in t for t in texts)
        assert any("Energy delivered" in t and "663,000" in t for t in texts), texts
        refund = amount + 18_500_000 - 15 * TRX
        shown = f"{refund // TRX}.{refund % TRX:06d}".rstrip("0").rstrip(".")
        assert any(f"Refunded {shown} TRX" in t for t in texts), texts
