"""Auto top-up set up, seen and stopped in the bot: the real aiogram stack against the Bot API
emulator, the real engine on the devnet, a tronpy wallet. /auto shows the price; the customer
gives the address and picks the threshold (the first transfer's worth paid from the balance),
sees the status, stops it from its button (energy taken back, told in the chat); another one
stops by itself when the balance does not cover a top-up, with the notice in the chat. Both
databases (tests/conftest.py)."""

from __future__ import annotations

from sqlalchemy import select

from flash.conftest import box, box_key, devnet, flash, gateway  # noqa: F401 - fixtures
from flash.test_count_packages import (
    EXISTING,
    USDT,
    _enough,
    receipt_of,
    usdt_with_tronpy,
    wait_until,
)
from trondevnet.testing import funded_key
from tronrent.kit.audit import Actor
from tronrent.models import OrderStatus, User
from tronrent.models.auto_top_up import AutoStopReason, AutoTopUp
from tronrent.models.order import Order
from tronrent.sysconfig.service import system_config
from tronrent.telegram.callbacks import AutoCb, CountCb
from tronrent.user.balance import balance as balance_service

from .test_count_purchase import TRX, add_count_package, button, energy_limit
from .test_count_purchase import shop as shop  # the fixture
from .test_full_purchase import Shop
from .test_package_purchase import Customer, clean

PRICE = 2 * TRX


async def offer_and_fund(shop: Shop, chat: int, trx_sun: int) -> None:
    async with shop.f.session_maker() as s, s.begin():
        await system_config.set(
            s,
            "auto_top_up.price_trx_sun",
            PRICE,
            box=shop.f.box,
            actor=Actor("cli:test"),
            reason="auto top-up for customers",
        )
        user = (await s.execute(select(User).where(User.telegram_id == chat))).scalar_one()
        await balance_service.apply(
            s,
            user_id=user.id,
            currency="TRX",
            delta_units=trx_sun,
            cause_type="adjustment",
            cause_id=f"{chat}-funds",
        )


async def auto_of(shop: Shop, address: str) -> AutoTopUp:
    async with shop.f.session_maker() as s:
        return (
            (
                await s.execute(
                    select(AutoTopUp)
                    .where(AutoTopUp.address == address)
                    .order_by(AutoTopUp.created_at.desc())
                )
            )
            .scalars()
            .first()
        )  # type: ignore[return-value]


async def set_up(me: Customer, address: str) -> None:
    """/auto -> set up -> the address -> the 65,000 threshold."""
    intro = await me.say("/auto")
    await me.press(intro, AutoCb(action="new").pack())
    assert "Send the TRON address" in me.messages()[-1].body
    ask = await me.say(address)
    assert address in ask.body
    answer = await me.press(ask, button("65,000", ask.buttons()))
    assert str(answer["text"]).startswith("⚡ Set up"), answer


class TestAutoTopUpInTheBot:
    async def test_set_up_seen_stopped_and_stopped_when_the_balance_runs_out(
        self, shop: Shop
    ) -> None:
        f = shop.f
        me = Customer(shop, 9401)
        await me.say("/start")
        first = await me.say("/auto")
        assert "not offered" in first.body
        # two set-ups' first transfers, and 1 TRX: short of any top-up
        await offer_and_fund(shop, me.chat, 2 * PRICE + TRX)
        package = await add_count_package(shop, 3)  # the transfer packages' page links here
        assert package.id is not None
        menu = await me.say("/menu")
        await me.press(menu, CountCb(action="list").pack())
        catalogue = me.messages()[-1]
        assert button("Auto top-up", catalogue.buttons()) == AutoCb(action="show").pack()
        await me.press(catalogue, AutoCb(action="show").pack())
        intro = next(m for m in me.messages() if m.message_id == catalogue.message_id)
        assert "2 TRX from your balance" in intro.body or "costs 2 TRX" in intro.body

        # set up from the bot, seen, then stopped from its button
        address = funded_key(f.devnet.chain, TRX).address_base58
        await set_up(me, address)
        card = me.messages()[-1]
        assert address in card.body and "Threshold: 65,000 energy" in card.body
        clean(card.body)
        row = await auto_of(shop, address)
        await f.wait_order(lambda o: o.status is OrderStatus.ACTIVE, order_id=row.order_id)
        await me.say("/auto")
        status = await me.wait("energy kept")  # (a notice of the delivery may come after it)
        assert "Top-ups: 0" in status.body
        stop = button("Stop", status.buttons())
        other = Customer(shop, 9402)
        await other.say("/start")
        answer = await other.press(other.messages()[-1], stop)
        assert "not found" in str(answer["text"])
        answer = await me.press(status, stop)
        assert str(answer["text"]).startswith("⛔ Stopped")
        told = await me.wait("stopped as you asked")
        clean(told.body)
        await f.wait_order(lambda o: o.status is OrderStatus.COMPLETED, order_id=row.order_id)
        await wait_until(lambda: _no_energy(shop, address))
        assert (await auto_of(shop, address)).stopped_reason is AutoStopReason.CUSTOMER
        # the rental's end notice, sent from the outbox: seen before the next dialogue so that
        # it cannot arrive in the middle of it
        ended = await me.wait(f"Rental ended, energy reclaimed (order {row.order_id})")
        assert address in ended.body

        # another: the customer's transfer finds the balance short of its top-up -> stopped
        wallet = funded_key(f.devnet.chain, 50 * TRX, usdt_units=100 * USDT)
        holder = funded_key(f.devnet.chain, TRX, usdt_units=USDT).address_base58
        await set_up(me, wallet.address_base58)
        row = await auto_of(shop, wallet.address_base58)
        await f.wait_order(lambda o: o.status is OrderStatus.ACTIVE, order_id=row.order_id)
        await wait_until(lambda: _enough(f, wallet.address_base58, EXISTING))
        txid = await usdt_with_tronpy(f, wallet, holder, USDT)
        notice = await me.wait("your balance does not cover the next top-up")
        assert "2 TRX" in notice.body
        clean(notice.body)
        done = await f.wait_order(
            lambda o: o.status is OrderStatus.COMPLETED, order_id=row.order_id, wait_s=30
        )
        assert done.status is OrderStatus.COMPLETED
        assert receipt_of(f, txid).energy_fee == 0  # the transfer had our energy
        async with f.session_maker() as s:
            stopped = await s.get(AutoTopUp, row.order_id)
            assert stopped is not None and stopped.stopped_reason is AutoStopReason.BALANCE
            user = (await s.execute(select(User).where(User.telegram_id == me.chat))).scalar_one()
            assert user.trx_balance_sun == TRX  # two first transfers paid, nothing more
            order = await s.get(Order, row.order_id)
            assert order is not None and order.chat_id == me.chat
        before = len(me.messages())
        await me.say("/auto")
        status = next(m for m in me.messages()[before:] if "Keep energy on your" in m.body)
        assert "Set up auto top-up" in str(status.buttons())  # nothing running any more


async def _no_energy(shop: Shop, address: str) -> bool:
    return await energy_limit(shop, address) == 0
