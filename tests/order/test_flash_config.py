"""The flash config read with another row (`flash_config_columns`, the merchant API's locking
read of the customer) is the config `order_service.config` reads on its own."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.models import ENERGY_FLASH_MODE, PriceConfig, User
from tronrent.order.flash_config import flash_config_columns
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service


async def test_read_with_a_users_row_is_the_config(session: AsyncSession) -> None:
    rt = FlashRuntime(payment_address="TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7")
    user = User(id=uuid.uuid4())
    session.add(user)
    await session.flush()

    async def with_row() -> object:
        query = select(User.id, *flash_config_columns()).where(User.id == user.id)
        row = (await session.execute(query)).one()
        return order_service.config_of(rt, row[1], row[2])

    assert await with_row() == await order_service.config(session, rt)  # the seeded rows
    await session.execute(
        update(PriceConfig)
        .where(PriceConfig.mode_type == ENERGY_FLASH_MODE)
        .values(is_active=False)
    )
    assert await with_row() == await order_service.config(session, rt)  # the defaults
