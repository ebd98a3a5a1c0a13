"""Migration 0012_catalog: the default packages and the constraints on package prices."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.models import Currency, EnergyPackage
from tronrent.models.energy_package import PackageType


async def test_default_packages(session: AsyncSession) -> None:
    rows = (
        (
            await session.execute(
                select(EnergyPackage)
                .where(EnergyPackage.package_type == PackageType.ENERGY)
                .order_by(EnergyPackage.sort_order)
            )
        )
        .scalars()
        .all()
    )
    assert [(p.energy_amount, p.duration_hours) for p in rows] == [
        (65_000, 1),
        (131_000, 1),
        (65_000, 24),
        (65_000, 72),
    ]
    for p in rows:
        assert p.is_active and p.currency is Currency.TRX
        assert p.base_price_units > 0 and p.usdt_price_units and p.usdt_price_units > 0
        assert p.min_order_amount == 1 and p.max_order_amount and p.tags
    # a longer rental or more energy never costs less
    prices = [p.base_price_units for p in rows]
    assert prices == sorted(prices)


@pytest.mark.parametrize(
    "values",
    [
        {"usdt_price_units": -1},
        {"min_order_amount": 0},
        {"min_order_amount": 5, "max_order_amount": 4},
    ],
)
async def test_constraints(session: AsyncSession, values: dict[str, Any]) -> None:
    session.add(
        EnergyPackage(
            id=uuid.uuid4(),
            name="bad",
            energy_amount=1,
            duration_hours=1,
            base_price_units=1,
            **values,
        )
    )
    with pytest.raises(IntegrityError):
        await session.flush()


async def test_downgrade_keeps_packages_in_use(
    database_url: str, session_maker: Any, engine: Any
) -> None:
    """0012's downgrade removes its default packages except those a price rule with history
    refers to; upgrading again then skips nothing it needs (the ids are fixed)."""
    from tronrent.models import PriceConfig, PriceHistory
    from tronrent.models.price_history import PriceChangeType
    from tronrent.storage.migrations import downgrade, upgrade

    async with session_maker() as session, session.begin():
        first = await session.scalar(select(EnergyPackage.id).order_by(EnergyPackage.sort_order))
        rule = PriceConfig(id=uuid.uuid4(), config_name="r", package_id=first)
        session.add(rule)
        await session.flush()
        session.add(PriceHistory(config_id=rule.id, change_type=PriceChangeType.CREATE))
    await engine.dispose()
    downgrade(database_url, "0011_pool_ops")
    async with session_maker() as session:
        left = (await session.execute(select(EnergyPackage.id))).scalars().all()
    assert left == [first]
    upgrade(database_url)
    async with session_maker() as session:
        # the 4 energy packages of 0012 and the 6 count packages of 0018_count_packages
        assert len((await session.execute(select(EnergyPackage.id))).scalars().all()) == 10
