"""Flash rental through an agent's own bot (issue 12): the agent's bot and the operator's bot in
one process (real aiogram against the Bot API emulator), the payments sent with tronpy on the
devnet, the real flash engine matching them by amount tail, delivering, and writing the
commission. An order of the agent's bot costs the operator's flash price + the agent's markup
per transaction and is the agent's; the operator's bot still sells at the operator's price;
paying an agent's order the operator's price buys nothing. Both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy import select
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
from tgemulator import TelegramEmulator
from tgemulator.server import ChatMessage
from trondevnet.testing import funded_key
from tronrent.kit.db import read_only
from tronrent.models import AgentEarning, Order, OrderStatus
from tronrent.telegram.callbacks import ConfirmOrderCb, FlashCb, MenuCb

from .test_agent_bots import make_agent, run_agent_bot
from .test_full_purchase import Shop, open_shop, pay_with_tronpy
from .test_packages import user_of

#: the default flash price (DEFAULT_FLASH_CONFIG: 1.5 TRX) and a 20 % markup on it
PRICE = 1_500_000
MARKUP = 300_000


@pytest.fixture
async def shop(
    flash: FlashFactory,  # noqa: F811
    emulator: TelegramEmulator,
    session_maker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Shop]:
    f = await flash()
    async with open_shop(f, emulator, session_maker) as opened:
        yield opened


async def order_in(shop: Shop, token: str, chat: int, recipient: str) -> tuple[Order, str]:
    """/menu -> flash rental -> rent for an address -> confirm in the bot of ``token``: the
    order and the texts of the intro and of the confirmation question."""
    h, emulator = shop.h, shop.emulator
    menu = (await h.say(token, "/menu", user_id=chat))[-1]
    await h.press(token, menu.message_id, MenuCb(action="flash").pack(), user_id=chat)
    intro = emulator.bot(token).messages(chat)[-1]
    await h.press(token, intro.message_id, FlashCb(action="rent").pack(), user_id=chat)
    confirm = (await h.say(token, recipient, user_id=chat))[-1]
    texts = intro.body + "\n" + confirm.body  # before the confirmation turns into the card
    await h.press(token, confirm.message_id, ConfirmOrderCb(kind="flash").pack(), chat)
    async with shop.f.session_maker() as s:
        order = (await s.execute(select(Order).where(Order.chat_id == chat))).scalar_one()
    card = emulator.bot(token).chats[chat][confirm.message_id]
    assert order.id in card.body
    amount = order.expected_amount_units
    assert amount is not None
    assert f"{amount // TRX}.{amount % TRX:06d}" in card.body  # the exact amount to pay
    return order, texts


def photos(messages: Sequence[ChatMessage]) -> int:
    return sum(1 for m in messages if m.photo is not None)


async def earnings(shop: Shop, count: int) -> list[tuple[str, object, str, int]]:
    """The ``count`` agent_earnings rows the engine's commission job writes on delivery."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        async with shop.f.session_maker() as s:
            await read_only(s)
            rows = (await s.execute(select(AgentEarning))).scalars().all()
        if len(rows) >= count or loop.time() > deadline:
            return sorted(
                (r.order_id, r.agent_id, r.earning_type.value, r.amount_units) for r in rows
            )
        await asyncio.sleep(0.05)


class TestAgentFlash:
    async def test_agent_bot_sells_flash_at_its_price_operator_bot_at_operators(
        self, shop: Shop
    ) -> None:
        f, h = shop.f, shop.h
        operator_token = shop.token
        y_chat, one, two, short, op = 4101, 4102, 4103, 4104, 4105
        await h.say(operator_token, "/start", user_id=y_chat)
        y = await make_agent(h, y_chat)

        # agent Y's own bot: 20 % markup, approved within 0..25 %, started without a restart
        row, agent_token = await run_agent_bot(h, y, "y_flash_bot", markup_bps=2000, max_bps=2500)

        customers = {chat: funded_key(f.devnet.chain, 100 * TRX) for chat in (one, two, short)}
        customers[op] = funded_key(f.devnet.chain, 100 * TRX)

        # the agent's bot shows the agent's price and no bare address to pay (a walk-in
        # payment has no bot: it would be neither at the agent's price nor the agent's)
        agent_order, texts = await order_in(shop, agent_token, one, customers[one].address_base58)
        assert "Price: 1.8 TRX per transfer" in texts and "1.5 TRX" not in texts
        assert f.address not in texts and "Just pay" not in texts
        assert photos(shop.emulator.bot(agent_token).messages(one)) == 0
        two_order, _ = await order_in(shop, agent_token, two, customers[two].address_base58)
        short_order, _ = await order_in(shop, agent_token, short, customers[short].address_base58)

        # the operator's bot in the same process: the operator's price, its address shown
        operator_order, texts = await order_in(
            shop, operator_token, op, customers[op].address_base58
        )
        assert "Price: 1.5 TRX per transfer" in texts and f.address in texts
        assert photos(shop.emulator.bot(operator_token).messages(op)) == 1  # the QR code

        for o in (agent_order, two_order, short_order):
            assert (o.bot_id, o.agent_id) == (row.id, y.id)
            assert o.expected_amount_units == PRICE + MARKUP + (o.amount_tail_units or 0)
            assert o.price_config is not None and o.price_config["agent_markup_sun"] == MARKUP
        assert (operator_order.bot_id, operator_order.agent_id) != (row.id, y.id)
        assert operator_order.agent_id is None
        assert operator_order.expected_amount_units == PRICE + (
            operator_order.amount_tail_units or 0
        )

        # each pays: the exact amount; two transfers' worth with the order's tail; the
        # operator's price with the order's tail (less than one transfer of the agent's bot)
        tail = two_order.amount_tail_units or 0
        short_tail = short_order.amount_tail_units or 0
        payments = [
            (one, agent_order.expected_amount_units or 0),
            (two, 2 * (PRICE + MARKUP) + tail),
            (short, PRICE + short_tail),
            (op, operator_order.expected_amount_units or 0),
        ]
        for chat, amount in payments:
            await pay_with_tronpy(f.devnet.url, customers[chat], f.address, amount)

        done = await f.wait_order(
            lambda o: o.status is OrderStatus.ACTIVE, order_id=agent_order.id, wait_s=40
        )
        assert (done.transaction_count, done.final_price_units) == (1, PRICE + MARKUP)
        assert done.agent_markup_units == MARKUP
        done = await f.wait_order(
            lambda o: o.status is OrderStatus.ACTIVE, order_id=two_order.id, wait_s=40
        )
        assert (done.transaction_count, done.final_price_units) == (2, 2 * (PRICE + MARKUP))
        assert done.agent_markup_units == 2 * MARKUP
        done = await f.wait_order(
            lambda o: o.status is OrderStatus.ACTIVE, order_id=operator_order.id, wait_s=40
        )
        assert (done.transaction_count, done.final_price_units) == (1, PRICE)
        assert done.agent_markup_units == 0
        refunded = await f.wait_order(
            lambda o: o.status is OrderStatus.REFUNDED, order_id=short_order.id, wait_s=40
        )
        assert refunded.transaction_count == 0 and refunded.agent_markup_units == 0
        assert "costs 1.8 TRX" in (refunded.status_reason or "")

        # delivered: Y's markup as a bonus plus Y's commission on the operator's price (10 %);
        # the operator's order (an unreferred customer) earns no one anything
        got = await earnings(shop, 4)
        assert got == sorted(
            [
                (agent_order.id, y.id, "bonus", MARKUP),
                (agent_order.id, y.id, "commission", PRICE // 10),
                (two_order.id, y.id, "bonus", 2 * MARKUP),
                (two_order.id, y.id, "commission", 2 * PRICE // 10),
            ]
        )
        assert (await user_of(h, op)).referred_by is None
