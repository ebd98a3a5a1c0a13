"""Two orders created at once may draw the same payment tail (it is read without a lock) and,
at one price, expect the same amount: the second INSERT violates
``uq_orders_open_expected_amount``. `order.service.add_with_tail` writes the order in a
savepoint and draws another tail - never a 500; after `TAIL_ATTEMPTS` collisions a 503
(`NoPaymentTailAvailable`). Flash orders, package orders and top-ups all go through it.

The collision is forced (a concurrent creation's tail drawn first) on SQLite and PostgreSQL;
the real race needs PostgreSQL (SQLite has one writer)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from package_orders import TRX, build_package_order, new_user
from tronproto.keys import PrivateKey
from tronrent.models import User
from tronrent.models.common import Currency
from tronrent.models.energy_package import EnergyPackage
from tronrent.models.order import Order
from tronrent.models.payment_monitoring_log import PaymentMonitoringLog
from tronrent.order import service as order_module
from tronrent.order.errors import NoPaymentTailAvailable
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import TAIL_ATTEMPTS
from tronrent.order.service import order as order_service
from tronrent.payment import matching
from tronrent.product.package import create_package_order
from tronrent.product.topup import create_top_up

Sessions = async_sessionmaker[AsyncSession]


def new_address() -> str:
    return PrivateKey.random().address_base58


def draw_first(monkeypatch: pytest.MonkeyPatch, *tails: int) -> list[int]:
    """``choose_tail`` draws ``tails`` first whatever is taken (as a concurrent creation that
    read the tails before the order holding them was written), then as usual; every draw is
    recorded in the list returned."""
    queue, drawn = list(tails), []

    def choose(open_tails: Collection[int], granularity_sun: int, rng: object = None) -> int:
        tail = queue.pop(0) if queue else matching.choose_tail(open_tails, granularity_sun)
        drawn.append(tail)
        return tail

    monkeypatch.setattr(order_module, "choose_tail", choose)
    return drawn


async def rows_of(sessions: Sessions, address: str) -> tuple[list[Order], int]:
    """The orders on ``address`` (oldest first) and the number of their payment watches."""
    async with sessions() as s:
        orders = list(
            (
                await s.execute(
                    select(Order).where(Order.payment_address == address).order_by(Order.id)
                )
            ).scalars()
        )
        watches = await s.scalar(
            select(func.count())
            .select_from(PaymentMonitoringLog)
            .where(PaymentMonitoringLog.order_id.in_([o.id for o in orders]))
        )
    return orders, int(watches or 0)


async def add_trx_package(s: AsyncSession) -> EnergyPackage:
    pkg = EnergyPackage(
        name="65k x 1 h",
        energy_amount=65_000,
        duration_hours=1,
        base_price_units=5 * TRX,
        currency=Currency.TRX,
        min_order_amount=1,
        max_order_amount=5,
    )
    s.add(pkg)
    await s.flush()
    return pkg


class TestForcedCollision:
    async def test_flash_order_draws_another_tail(
        self, session_maker: Sessions, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        rt = FlashRuntime(payment_address=new_address())
        async with session_maker() as s:
            first, _ = await order_service.create_order(
                s, rt, recipient_address=new_address(), chat_id=None
            )
            await s.commit()
        assert first.amount_tail_units is not None
        drawn = draw_first(monkeypatch, first.amount_tail_units)
        async with session_maker() as s:
            second, _ = await order_service.create_order(
                s, rt, recipient_address=new_address(), chat_id=None
            )
            await s.commit()
        assert drawn[0] == first.amount_tail_units and len(drawn) == 2
        assert second.amount_tail_units == drawn[1] != first.amount_tail_units
        assert second.expected_amount_units != first.expected_amount_units
        orders, watches = await rows_of(session_maker, rt.payment_address)
        assert {o.id for o in orders} == {first.id, second.id} and watches == 2

    async def test_package_order_draws_another_tail(
        self, session_maker: Sessions, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        rt = FlashRuntime(payment_address=new_address())
        async with session_maker() as s:
            pkg = await add_trx_package(s)
            user = await new_user(s)
            await s.commit()

        async def buy() -> Order:
            async with session_maker() as s:
                order = await create_package_order(
                    s,
                    rt,
                    package_id=pkg.id,
                    quantity=1,
                    recipient_address=new_address(),
                    currency=Currency.TRX,
                    payment_method="transfer",
                    user_id=user.id,
                )
                await s.commit()
                return order

        first = await buy()
        assert first.amount_tail_units is not None
        drawn = draw_first(monkeypatch, first.amount_tail_units)
        second = await buy()
        assert drawn[0] == first.amount_tail_units and len(drawn) == 2
        assert second.amount_tail_units == drawn[1] != first.amount_tail_units
        assert first.expected_amount_units != second.expected_amount_units
        orders, watches = await rows_of(session_maker, rt.payment_address)
        assert len(orders) == 2 and watches == 2

    async def test_top_up_draws_another_tail(
        self, session_maker: Sessions, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        rt = FlashRuntime(payment_address=new_address())
        async with session_maker() as s:
            user = await new_user(s)
            first = await create_top_up(
                s, rt, user_id=user.id, currency=Currency.USDT, amount_units=10 * TRX
            )
            await s.commit()
        assert first.amount_tail_units is not None
        drawn = draw_first(monkeypatch, first.amount_tail_units)
        async with session_maker() as s:
            second = await create_top_up(
                s, rt, user_id=user.id, currency=Currency.USDT, amount_units=10 * TRX
            )
            await s.commit()
        assert second.amount_tail_units == drawn[1] != first.amount_tail_units
        orders, watches = await rows_of(session_maker, rt.payment_address)
        assert len(orders) == 2 and watches == 2

    async def test_every_attempt_collides_503_and_the_transaction_survives(
        self, session_maker: Sessions, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        rt = FlashRuntime(payment_address=new_address())
        async with session_maker() as s:
            first, _ = await order_service.create_order(
                s, rt, recipient_address=new_address(), chat_id=None
            )
            await s.commit()
        assert first.amount_tail_units is not None
        drawn = draw_first(monkeypatch, *[first.amount_tail_units] * TAIL_ATTEMPTS)
        async with session_maker() as s:
            user = await new_user(s)  # the caller's, written before
            with pytest.raises(NoPaymentTailAvailable):
                await order_service.create_order(
                    s, rt, recipient_address=new_address(), chat_id=None
                )
            await s.commit()
        assert drawn == [first.amount_tail_units] * TAIL_ATTEMPTS
        orders, watches = await rows_of(session_maker, rt.payment_address)
        assert [o.id for o in orders] == [first.id] and watches == 1
        async with session_maker() as s:
            assert await s.get(User, user.id) is not None

    async def test_a_pending_row_naming_the_order_is_written_with_it(
        self, session_maker: Sessions, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A row the caller added naming the order (like its merchant order) is written after
        the order, on the attempt that succeeds."""
        rt = FlashRuntime(payment_address=new_address())
        async with session_maker() as s:
            user = await new_user(s)
            first = build_package_order(user.id)
            await order_service.add_with_tail(
                s, rt, first, 10_000, lambda t: 5 * TRX + t, first.expires_at
            )
            await s.commit()
        assert first.amount_tail_units is not None
        drawn = draw_first(monkeypatch, first.amount_tail_units)
        async with session_maker() as s:
            second = build_package_order(user.id)
            # sorted after the order's table by the unit of work, like a merchant order
            s.add(
                PaymentMonitoringLog(
                    order_id=second.id,
                    payment_address=rt.payment_address,
                    monitoring_started_at=second.expires_at,
                    timeout_at=second.expires_at,
                    error_message="the caller's",
                )
            )
            tail = await order_service.add_with_tail(
                s, rt, second, 10_000, lambda t: 5 * TRX + t, second.expires_at
            )
            await s.commit()
        assert tail == drawn[1] != first.amount_tail_units
        orders, watches = await rows_of(session_maker, rt.payment_address)
        assert len(orders) == 2 and watches == 3
        async with session_maker() as s:
            found = await s.scalar(
                select(PaymentMonitoringLog.order_id).where(
                    PaymentMonitoringLog.error_message == "the caller's"
                )
            )
            assert found == second.id

    async def test_another_integrity_error_propagates(
        self, session_maker: Sessions, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Only the tail index is retried: an order id taken (the primary key) is raised at
        once, after one draw."""
        rt = FlashRuntime(payment_address=new_address())
        async with session_maker() as s:
            user = await new_user(s)
            first = build_package_order(user.id)
            await order_service.add_with_tail(
                s, rt, first, 10_000, lambda t: 5 * TRX + t, first.expires_at
            )
            await s.commit()
        drawn = draw_first(monkeypatch)
        async with session_maker() as s:
            twin = build_package_order(user.id)
            twin.id = twin.order_number = first.id
            with pytest.raises(IntegrityError):
                await order_service.add_with_tail(
                    s, rt, twin, 10_000, lambda t: 5 * TRX + t, twin.expires_at
                )
            assert len(drawn) == 1
            await s.rollback()


@pytest.mark.postgres
class TestRace:
    async def test_concurrent_top_ups_never_fail_on_the_index(
        self, session_maker: Sessions, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """N top-ups of one amount at once, 29 tails: every creation reads the tails before any
        is written (so many draw one another's), then each is written or refused with a 503 -
        never an IntegrityError. Every tail is held once."""
        n = 10
        rt = FlashRuntime(payment_address=new_address(), tail_granularity_sun=30)
        async with session_maker() as s:
            user = await new_user(s)
            await s.commit()
        real = order_service.open_tails
        readers: set[int] = set()
        all_read = asyncio.Event()

        async def open_tails(session: AsyncSession, rt_: FlashRuntime) -> set[int]:
            tails = await real(session, rt_)
            me = id(asyncio.current_task())
            if me not in readers:  # the first read of each waits for the others'
                readers.add(me)
                if len(readers) == n:
                    all_read.set()
                await asyncio.wait_for(all_read.wait(), 30)
            return tails

        monkeypatch.setattr(order_service, "open_tails", open_tails)

        async def one(user_id: uuid.UUID) -> Order | NoPaymentTailAvailable:
            async with session_maker() as s:
                try:
                    o = await create_top_up(
                        s, rt, user_id=user_id, currency=Currency.TRX, amount_units=10 * TRX
                    )
                except NoPaymentTailAvailable as exc:
                    await s.rollback()
                    return exc
                await s.commit()
                return o

        results = await asyncio.gather(*(one(user.id) for _ in range(n)))
        made = [r for r in results if isinstance(r, Order)]
        assert len(made) >= n // 2, results
        orders, watches = await rows_of(session_maker, rt.payment_address)
        assert {o.id for o in orders} == {o.id for o in made} and watches == len(made)
        assert len({o.amount_tail_units for o in orders}) == len(orders)
