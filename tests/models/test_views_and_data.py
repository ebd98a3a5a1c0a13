"""Seed 000's views and initial data, and the portable column types, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.time import utcnow
from tronrent.models import (
    ENERGY_FLASH_MODE,
    ENERGY_RESOURCE_TYPE,
    DelegationStatus,
    EnergyDelegation,
    EnergyPool,
    MonitoringStatus,
    Order,
    OrderStatus,
    OrderType,
    PaymentMonitoringLog,
    PriceConfig,
    ResourceConsumptionConfig,
)


def _order(**kw: object) -> Order:
    order_id = f"FLASH_1704067200000_{uuid.uuid4().hex[:9]}"
    return Order(id=order_id, order_number=order_id, order_type=OrderType.ENERGY_FLASH, **kw)


class TestInitialData:
    async def test_energy_flash_price_config(self, session: AsyncSession) -> None:
        config = await session.scalar(
            select(PriceConfig).where(PriceConfig.mode_type == ENERGY_FLASH_MODE)
        )
        assert config is not None
        assert config.is_active
        assert config.config["single_price"] == 1.5
        assert config.config["max_transactions"] == 10
        assert config.config["expiry_hours"] == 1
        assert config.config["min_amount"] == 1.0

    async def test_energy_resource_config_uses_65000(self, session: AsyncSession) -> None:
        config = await session.scalar(
            select(ResourceConsumptionConfig).where(
                ResourceConsumptionConfig.resource_type == ENERGY_RESOURCE_TYPE
            )
        )
        assert config is not None
        assert config.is_active
        assert config.config["usdt_standard_energy"] == 65_000
        assert config.config["trx_transfer_energy"] == 268


class TestPaymentMonitoringStatusView:
    async def test_latest_watch_per_order_with_expiry(self, session: AsyncSession) -> None:
        now = utcnow()
        expired = _order(expires_at=now - timedelta(minutes=5), status=OrderStatus.EXPIRED)
        open_ = _order(
            expires_at=now + timedelta(minutes=30),
            status=OrderStatus.PAID,
            paid_amount_units=15_000_000,
            transaction_count=10,
        )
        session.add_all([expired, open_])
        await session.flush()
        session.add_all(
            [
                PaymentMonitoringLog(
                    order_id=expired.id, payment_address="TPay", status=MonitoringStatus.TIMEOUT
                ),
                PaymentMonitoringLog(
                    order_id=open_.id, payment_address="TPay", status=MonitoringStatus.ERROR
                ),
            ]
        )
        await session.flush()
        # the newer watch of the same order supersedes the older one
        session.add(
            PaymentMonitoringLog(
                order_id=open_.id,
                payment_address="TPay",
                status=MonitoringStatus.COMPLETED,
                detected_amount_units=15_000_000,
                detected_from_address="TSender",
            )
        )
        await session.flush()

        rows = {
            row.order_id: row
            for row in (
                await session.execute(text("SELECT * FROM payment_monitoring_status"))
            ).mappings()
        }
        assert set(rows) == {expired.id, open_.id}
        assert rows[expired.id]["monitoring_status"] == "timeout"
        assert bool(rows[expired.id]["is_expired"]) is True
        assert rows[expired.id]["order_status"] == "expired"
        current = rows[open_.id]
        assert current["monitoring_status"] == "completed"
        assert bool(current["is_expired"]) is False
        assert current["order_status"] == "paid"
        assert current["paid_amount_units"] == 15_000_000
        assert current["detected_amount_units"] == 15_000_000
        assert current["detected_from_address"] == "TSender"
        assert current["transaction_count"] == 10


class TestEnergyDelegationStatsView:
    async def test_counts_and_sums_per_order(self, session: AsyncSession) -> None:
        order, other = _order(), _order()
        pool = EnergyPool(name="p", tron_address="TPoolStats", private_key_encrypted="x")
        session.add_all([order, other, pool])
        await session.flush()
        t0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)

        def delegation(
            order_id: str, status: DelegationStatus, energy: int, minute: int
        ) -> EnergyDelegation:
            return EnergyDelegation(
                order_id=order_id,
                pool_account_id=pool.id,
                recipient_address="TRecipient",
                energy_amount=energy,
                status=status,
                delegated_at=t0 + timedelta(minutes=minute),
            )

        session.add_all(
            [
                delegation(order.id, DelegationStatus.SUCCESS, 65_000, 0),
                delegation(order.id, DelegationStatus.SUCCESS, 130_000, 1),
                delegation(order.id, DelegationStatus.FAILED, 999, 2),
                delegation(other.id, DelegationStatus.PENDING, 65_000, 3),
            ]
        )
        await session.flush()
        rows = {
            row.order_id: row
            for row in (
                await session.execute(text("SELECT * FROM energy_delegation_stats"))
            ).mappings()
        }
        stats = rows[order.id]
        assert stats["total_delegations"] == 3
        assert stats["successful_delegations"] == 2
        assert stats["failed_delegations"] == 1
        assert stats["total_energy_delegated"] == 195_000
        assert rows[other.id]["total_energy_delegated"] == 0
        assert rows[other.id]["successful_delegations"] == 0


class TestPortableTypes:
    async def test_datetimes_come_back_aware_utc(self, session: AsyncSession) -> None:
        moment = datetime(2024, 1, 1, 20, 30, 15, 123456, tzinfo=timezone(timedelta(hours=8)))
        order = _order(expires_at=moment)
        session.add(order)
        await session.commit()
        session.expunge_all()
        loaded = await session.get(Order, order.id)
        assert loaded is not None and loaded.expires_at is not None
        assert loaded.expires_at == moment
        assert loaded.expires_at.tzinfo == UTC
        assert loaded.created_at.tzinfo == UTC
        assert abs(loaded.created_at - utcnow()) < timedelta(minutes=1)

    async def test_server_default_timestamps_are_utc(self, session: AsyncSession) -> None:
        order_id = "FLASH_1704067200000_rawinsert"
        await session.execute(
            text("INSERT INTO orders (id, order_number) VALUES (:id, :id)"), {"id": order_id}
        )
        loaded = await session.get(Order, order_id)
        assert loaded is not None
        assert loaded.created_at.tzinfo == UTC
        assert abs(loaded.created_at - utcnow()) < timedelta(minutes=1)
        assert loaded.status is OrderStatus.PENDING

    async def test_naive_datetimes_are_refused(self, session: AsyncSession) -> None:
        session.add(_order(expires_at=datetime(2024, 1, 1)))
        with pytest.raises(Exception, match="naive datetime"):
            await session.flush()

    async def test_json_round_trip(self, session: AsyncSession) -> None:
        result = [{"transactionIndex": 1, "poolAccount": "TPool", "energyAmount": 65_000}]
        order = _order(delegation_result=result, price_config={"single_price": 1.5})
        session.add(order)
        await session.commit()
        session.expunge_all()
        loaded = await session.get(Order, order.id)
        assert loaded is not None
        assert loaded.delegation_result == result
        assert loaded.price_config == {"single_price": 1.5}
