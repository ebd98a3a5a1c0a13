"""The database constraints that protect money and state, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Executable, literal, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.time import utcnow
from tronrent.models import (
    BalanceLedgerEntry,
    ChainTransaction,
    ChainTxPurpose,
    ChainTxStatus,
    Currency,
    EnergyDelegation,
    EnergyPool,
    LedgerCause,
    NotificationOutbox,
    Order,
    OrderStatus,
    OrderType,
    Payment,
    PaymentMonitoringLog,
    User,
)


async def violates(
    session: AsyncSession, *objects: object, sql: str | Executable | None = None, **params: Any
) -> None:
    """Assert that adding ``objects`` (or running ``sql``) is refused by the database."""
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            if sql is not None:
                await session.execute(text(sql) if isinstance(sql, str) else sql, params)
            session.add_all(objects)
            await session.flush()


def flash_order(**overrides: Any) -> Order:
    order_id = f"FLASH_1704067200000_{uuid.uuid4().hex[:9]}"
    values: dict[str, Any] = {
        "id": order_id,
        "order_number": order_id,
        "order_type": OrderType.ENERGY_FLASH,
        "target_address": "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf",
        "payment_address": "TPayFlashAddress1111111111111111111",
        "duration_hours": 1,
    }
    values.update(overrides)
    return Order(**values)


def pool(**overrides: Any) -> EnergyPool:
    values: dict[str, Any] = {
        "name": "pool",
        "tron_address": "T" + uuid.uuid4().hex[:33],
        "private_key_encrypted": "ciphertext",
        "available_energy": 1_000_000,
    }
    values.update(overrides)
    return EnergyPool(**values)


def payment(**overrides: Any) -> Payment:
    values: dict[str, Any] = {
        "tx_hash": uuid.uuid4().hex * 2,
        "event_index": 0,
        "asset": Currency.TRX,
        "from_address": "TSender",
        "to_address": "TPayFlashAddress1111111111111111111",
        "amount_units": 15_000_000,
        "block_number": 100,
    }
    values.update(overrides)
    return Payment(**values)


def chain_tx(**overrides: Any) -> ChainTransaction:
    values: dict[str, Any] = {
        "purpose": ChainTxPurpose.DELEGATE,
        "txid": uuid.uuid4().hex * 2,
        "owner_address": "TPool",
        "raw_data": {"contract": []},
        "raw_data_hex": "0a02",
        "signatures": ["ab" * 65],
        "expiration_ms": 1_704_067_260_000,
    }
    values.update(overrides)
    return ChainTransaction(**values)


class TestPayments:
    async def test_same_transfer_is_recorded_once(self, session: AsyncSession) -> None:
        first = payment()
        session.add(first)
        await session.flush()
        await violates(session, payment(tx_hash=first.tx_hash, event_index=0))

    async def test_other_events_of_one_transaction_are_distinct(
        self, session: AsyncSession
    ) -> None:
        first = payment(asset=Currency.USDT, event_index=0)
        session.add_all([first, payment(tx_hash=first.tx_hash, asset=Currency.USDT, event_index=1)])
        await session.flush()

    async def test_negative_amount_and_unknown_asset_are_refused(
        self, session: AsyncSession
    ) -> None:
        await violates(session, payment(amount_units=-1))
        await violates(
            session,
            sql="INSERT INTO payments (tx_hash, event_index, asset, from_address, to_address,"
            " amount_units, block_number) VALUES ('aa', 0, 'BTC', 'a', 'b', 1, 1)",
        )


class TestBalances:
    async def test_balances_never_negative(self, session: AsyncSession) -> None:
        await violates(session, User(trx_balance_sun=-1))
        await violates(session, User(usdt_balance_units=-1))

    async def test_debit_below_zero_is_refused(self, session: AsyncSession) -> None:
        user = User(telegram_id=1, trx_balance_sun=5)
        session.add(user)
        await session.flush()
        await violates(
            session,
            sql=update(User)
            .where(User.id == user.id)
            .values(trx_balance_sun=User.trx_balance_sun - 6),
        )

    async def test_same_cause_applies_once(self, session: AsyncSession) -> None:
        user = User(telegram_id=2, trx_balance_sun=10)
        session.add(user)
        await session.flush()

        def entry(**kw: Any) -> BalanceLedgerEntry:
            values: dict[str, Any] = {
                "user_id": user.id,
                "currency": Currency.TRX,
                "delta_units": 10,
                "balance_after_units": 10,
                "cause_type": LedgerCause.TOP_UP,
                "cause_id": "payment:1",
            }
            values.update(kw)
            return BalanceLedgerEntry(**values)

        session.add(entry())
        await session.flush()
        await violates(session, entry())
        # the same cause may move the other currency once
        session.add(entry(currency=Currency.USDT))
        await session.flush()

    async def test_ledger_rows_are_sane(self, session: AsyncSession) -> None:
        user = User(telegram_id=3)
        session.add(user)
        await session.flush()
        base: dict[str, Any] = {
            "user_id": user.id,
            "currency": Currency.TRX,
            "cause_type": LedgerCause.ADJUSTMENT,
        }
        await violates(
            session,
            BalanceLedgerEntry(**base, delta_units=0, balance_after_units=0, cause_id="a"),
        )
        await violates(
            session,
            BalanceLedgerEntry(**base, delta_units=-1, balance_after_units=-1, cause_id="b"),
        )


class TestOrders:
    async def test_seed_checks(self, session: AsyncSession) -> None:
        await violates(session, flash_order(energy_amount=0))
        await violates(session, flash_order(duration_hours=0))
        await violates(session, flash_order(price_units=-1))
        await violates(session, flash_order(final_price_units=-1))
        await violates(session, flash_order(paid_amount_units=-1))

    async def test_status_values_are_checked(self, session: AsyncSession) -> None:
        order = flash_order()
        session.add(order)
        await session.flush()
        for column in ("status", "payment_status", "order_type", "currency"):
            await violates(
                session, sql=f"UPDATE orders SET {column} = 'bogus' WHERE id = :id", id=order.id
            )

    async def test_order_number_unique(self, session: AsyncSession) -> None:
        first = flash_order()
        session.add(first)
        await session.flush()
        await violates(session, flash_order(order_number=first.order_number))

    async def test_open_orders_never_share_an_expected_amount(self, session: AsyncSession) -> None:
        first = flash_order(expected_amount_units=1_500_123)
        session.add(first)
        await session.flush()
        await violates(session, flash_order(expected_amount_units=1_500_123))
        # once the first is no longer waiting for payment, the amount is free again
        first.status = OrderStatus.PAID
        await session.flush()
        session.add(flash_order(expected_amount_units=1_500_123))
        await session.flush()

    async def test_walk_in_order_without_user(self, session: AsyncSession) -> None:
        order = flash_order(user_id=None)
        session.add(order)
        await session.commit()
        loaded = await session.get(Order, order.id)
        assert loaded is not None
        assert loaded.status is OrderStatus.PENDING
        assert loaded.order_type is OrderType.ENERGY_FLASH


class TestEnergyPools:
    async def test_seed_checks(self, session: AsyncSession) -> None:
        await violates(session, pool(total_energy=-1))
        await violates(session, pool(available_energy=-1))
        await violates(session, pool(delegated_energy=-1))
        await violates(session, pool(priority=0))
        await violates(session, pool(reserved_energy=-1))
        await violates(session, pool(min_delegation_amount=10, max_delegation_amount=5))
        await violates(session, pool(tron_address="TSame"), pool(tron_address="TSame"))
        p = pool()
        session.add(p)
        await session.flush()
        await violates(
            session,
            sql=update(EnergyPool).where(EnergyPool.id == p.id).values(status=literal("bogus")),
        )

    async def test_reservation_never_over_allocates(self, session: AsyncSession) -> None:
        p = pool(available_energy=100_000)
        session.add(p)
        await session.flush()

        async def reserve(amount: int) -> bool:
            result = await session.execute(
                update(EnergyPool)
                .where(
                    EnergyPool.id == p.id,
                    EnergyPool.available_energy - EnergyPool.reserved_energy >= amount,
                )
                .values(reserved_energy=EnergyPool.reserved_energy + amount)
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

        assert await reserve(65_000)
        assert not await reserve(65_000)
        assert await reserve(35_000)
        reserved = await session.scalar(
            select(EnergyPool.reserved_energy).where(EnergyPool.id == p.id)
        )
        assert reserved == 100_000


class TestDelegations:
    async def test_checks_and_foreign_keys(self, session: AsyncSession) -> None:
        order, p = flash_order(), pool()
        session.add_all([order, p])
        await session.flush()

        def delegation(**kw: Any) -> EnergyDelegation:
            values: dict[str, Any] = {
                "order_id": order.id,
                "pool_account_id": p.id,
                "recipient_address": "TRecipient",
                "energy_amount": 65_000,
            }
            values.update(kw)
            return EnergyDelegation(**values)

        await violates(session, delegation(energy_amount=0))
        await violates(session, delegation(order_id="FLASH_missing"))
        await violates(session, delegation(pool_account_id=uuid.uuid4()))
        ok = delegation()
        session.add(ok)
        await session.flush()
        await violates(
            session,
            sql="UPDATE energy_delegations SET status = 'bogus' WHERE id = :id",
            id=ok.id,
        )

    async def test_monitoring_status_values(self, session: AsyncSession) -> None:
        order = flash_order()
        session.add(order)
        await session.flush()
        log = PaymentMonitoringLog(order_id=order.id, payment_address="TPay")
        session.add(log)
        await session.flush()
        await violates(
            session,
            sql="UPDATE payment_monitoring_logs SET status = 'bogus' WHERE id = :id",
            id=log.id,
        )


class TestChainTransactions:
    async def test_txid_unique(self, session: AsyncSession) -> None:
        first = chain_tx()
        session.add(first)
        await session.flush()
        await violates(session, chain_tx(txid=first.txid))

    async def test_one_live_transaction_per_delegation(self, session: AsyncSession) -> None:
        order, p = flash_order(), pool()
        session.add_all([order, p])
        await session.flush()
        d = EnergyDelegation(
            order_id=order.id, pool_account_id=p.id, recipient_address="T", energy_amount=1
        )
        session.add(d)
        await session.flush()
        first = chain_tx(delegation_id=d.id)
        session.add(first)
        await session.flush()
        await violates(session, chain_tx(delegation_id=d.id))
        # provably expired and absent: a rebuilt transaction may take its place
        first.status = ChainTxStatus.EXPIRED
        await session.flush()
        session.add(chain_tx(delegation_id=d.id))
        # the undelegation is a different purpose
        session.add(chain_tx(delegation_id=d.id, purpose=ChainTxPurpose.UNDELEGATE))
        await session.flush()

    async def test_one_live_refund_per_payment(self, session: AsyncSession) -> None:
        paid = payment()
        session.add(paid)
        await session.flush()
        session.add(chain_tx(purpose=ChainTxPurpose.REFUND, payment_id=paid.id))
        await session.flush()
        await violates(session, chain_tx(purpose=ChainTxPurpose.REFUND, payment_id=paid.id))


class TestOutbox:
    async def test_dedupe_key_unique(self, session: AsyncSession) -> None:
        def message() -> NotificationOutbox:
            return NotificationOutbox(
                event_type="order.delivered",
                chat_id=42,
                payload={"orderId": "FLASH_1"},
                dedupe_key="order:FLASH_1:delivered",
                next_attempt_at=utcnow() + timedelta(seconds=1),
            )

        session.add(message())
        await session.flush()
        await violates(session, message())
