"""Agents' own bots (issue 12): an agent registers a bot in /agent, an operator approves it, it
starts without a restart, and it sells at the agent's price next to the operator's bot in the
same process; every order is attributed to the right agent. The real aiogram stack against the
Bot API emulator and a migrated database; both databases."""

from __future__ import annotations

from sqlalchemy import select, update

from agent.helpers import CFG, new_admin
from tronrent.agent.commission import record_commissions
from tronrent.agent.service import agent as agent_service
from tronrent.bot.agent_bots import agent_bots
from tronrent.kit.money import format_trx
from tronrent.models import AgentEarning, Bot, BotStatus, Order, OrderStatus
from tronrent.models.agent import Agent
from tronrent.telegram.callbacks import ConfirmOrderCb

from .conftest import Harness
from .test_packages import TRX, Shop, add_package, orders_of, user_of


async def make_agent(h: Harness, chat: int) -> Agent:
    user = await user_of(h, chat)
    async with h.session_maker() as s, s.begin():
        application = await agent_service.apply(s, user.id, experience="reseller")
        return await agent_service.approve(
            s, application.id, actor=await new_admin(s), notes="ok", cfg=CFG
        )


async def run_agent_bot(
    h: Harness, agent: Agent, username: str, *, markup_bps: int = 0, max_bps: int = 0
) -> tuple[Bot, str]:
    """``agent``'s own bot registered (``markup_bps`` asked), approved within ``0..max_bps``
    and started by the manager without a restart: its row and token."""
    state = h.emulator.add_bot(username=username)
    async with h.session_maker() as s, s.begin():
        row = await agent_bots.register(
            s,
            box=h.box,
            agent_id=agent.id,
            token=state.token,
            username=username,
            markup_bps=markup_bps,
        )
        await agent_bots.approve(
            s,
            row.id,
            min_markup_bps=0,
            max_markup_bps=max_bps,
            actor=await new_admin(s),
            reason="ok",
        )
    await h.manager.reload()
    assert row.id in h.manager.running
    return row, state.token


async def buy_one(shop: Shop, package_id: object) -> Order:
    """One package bought by transfer through ``shop``'s bot: the pending order."""
    from tronrent.models import EnergyPackage

    async with shop.h.session_maker() as s:
        package = await s.get(EnergyPackage, package_id)
    assert package is not None
    confirm = await shop.to_confirm(package, 1)
    await shop.press(
        confirm, ConfirmOrderCb(kind="package", currency="TRX", method="transfer").pack()
    )
    return (await orders_of(shop.h, shop.chat))[-1]


class TestAgentBot:
    async def test_two_bots_two_prices_each_order_to_its_agent(self, harness: Harness) -> None:
        h = harness
        shop_bot, shop_token = await h.add_bot("Shop")
        await h.manager.start()
        package = await add_package(h, "65k × 1 h", price_units=10 * TRX)

        # agent X refers the customer; agent Y runs their own bot
        x_chat, y_chat, customer = 3101, 3102, 3103
        for chat in (x_chat, y_chat):
            await h.say(shop_token, "/start", user_id=chat)
        x, y = await make_agent(h, x_chat), await make_agent(h, y_chat)
        x_user = await user_of(h, x_chat)
        await h.say(shop_token, f"/start {x_user.referral_code}", user_id=customer)

        # Y registers a bot (20 % markup asked); it does not run before the approval
        state = h.emulator.add_bot(username="y_energy_bot")
        registered = await h.say(
            shop_token, f"/agent bot add {state.token} @y_energy_bot 20", user_id=y_chat
        )
        assert "registered" in registered[-1].text
        async with h.session_maker() as s:
            row = (await s.execute(select(Bot).where(Bot.owner_agent_id == y.id))).scalar_one()
        assert row.status is BotStatus.INACTIVE and row.approved_at is None
        assert row.agent_markup_bps == 2000
        await h.manager.reload()
        assert row.id not in h.manager.running
        listing = (await h.say(shop_token, "/agent bot", user_id=y_chat))[-1].text
        assert "@y_energy_bot: awaiting approval · markup 20%" in listing

        # the operator approves it with bounds 0..25 %: it starts without a restart
        async with h.session_maker() as s, s.begin():
            await agent_bots.approve(
                s,
                row.id,
                min_markup_bps=0,
                max_markup_bps=2500,
                actor=await new_admin(s),
                reason="known reseller",
            )
        await h.manager.reload()
        assert row.id in h.manager.running and shop_bot in h.manager.running
        refused = (await h.say(shop_token, "/agent bot markup @y_energy_bot 30", user_id=y_chat))[
            -1
        ].text
        assert "within 0..2500" in refused
        below = (await h.say(shop_token, "/agent bot markup @y_energy_bot -5", user_id=y_chat))[
            -1
        ].text
        assert "never below the operator's price" in below  # not applied: still 20 %
        async with h.session_maker() as s:
            assert (await s.get(Bot, row.id, populate_existing=True)).agent_markup_bps == 2000

        # the same customer buys once in each bot
        operator_order = await buy_one(Shop(h, shop_token, customer), package.id)
        agent_shop = Shop(h, state.token, customer)
        menu = await agent_shop.say("/menu")
        assert f"{format_trx(12 * TRX)} TRX" in (menu.text or "")
        agent_order = await buy_one(agent_shop, package.id)

        assert (operator_order.bot_id, operator_order.agent_id) == (shop_bot, None)
        assert operator_order.final_price_units == 10 * TRX
        assert (agent_order.bot_id, agent_order.agent_id) == (row.id, y.id)
        assert agent_order.final_price_units == 12 * TRX
        assert agent_order.agent_markup_units == 2 * TRX

        # delivered: the commission of each order goes to its agent
        ids = [operator_order.id, agent_order.id]
        async with h.session_maker() as s, s.begin():
            await s.execute(
                update(Order).where(Order.id.in_(ids)).values(status=OrderStatus.ACTIVE)
            )
            assert await record_commissions(s, ids, CFG) == 3
        async with h.session_maker() as s:
            rows = (await s.execute(select(AgentEarning))).scalars().all()
        got = sorted((r.order_id, r.agent_id, r.earning_type.value, r.amount_units) for r in rows)
        assert got == sorted(
            [
                (operator_order.id, x.id, "commission", TRX),  # X referred the customer
                (agent_order.id, y.id, "bonus", 2 * TRX),  # Y's markup
                (agent_order.id, y.id, "commission", TRX),  # 10 % of the operator's price
            ]
        )

    async def test_a_suspended_agents_bot_stops(self, harness: Harness) -> None:
        h = harness
        _, shop_token = await h.add_bot("Shop")
        await h.manager.start()
        await h.say(shop_token, "/start", user_id=3201)
        agent = await make_agent(h, 3201)
        row, _ = await run_agent_bot(h, agent, "z_energy_bot")
        async with h.session_maker() as s, s.begin():
            await agent_service.edit(
                s,
                agent.id,
                actor=await new_admin(s),
                reason="fraud",
                status=type(agent.status)("suspended"),
            )
        await h.manager.reload()
        assert row.id not in h.manager.running
