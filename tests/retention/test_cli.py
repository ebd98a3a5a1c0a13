"""``tronrent retention run [--dry-run]`` in a real subprocess, on both databases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from subprocesses import run_command
from tronrent.kit.time import utcnow
from tronrent.models.order import Order, OrderStatus, OrderType
from tronrent.models.payment_monitoring_log import MonitoringStatus, PaymentMonitoringLog


async def _retention(database_url: str, tmp_path: Path, *args: str) -> str:
    done = await run_command("retention", "run", *args, database_url=database_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not done.stderr  # no log lines before the command's own output
    return done.stdout


async def _watches(maker: async_sessionmaker[AsyncSession]) -> int:
    async with maker() as s:
        return int((await s.execute(select(func.count(PaymentMonitoringLog.id)))).scalar_one())


async def test_dry_run_then_run(
    database_url: str, session_maker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with session_maker() as s:
        s.add(
            Order(
                id="O1",
                order_number="O1",
                order_type=OrderType.ENERGY_FLASH,
                status=OrderStatus.COMPLETED,
            )
        )
        await s.flush()
        for days in (40, 1):
            s.add(
                PaymentMonitoringLog(
                    order_id="O1",
                    payment_address="TPAY",
                    monitoring_started_at=utcnow() - timedelta(days=days),
                    status=MonitoringStatus.COMPLETED,
                )
            )
        await s.commit()
    dry = await _retention(database_url, tmp_path, "--dry-run")
    assert "payment_monitoring_logs: would delete 1 row(s) older than" in dry
    assert "notification_outbox: would delete 0 row(s)" in dry
    assert await _watches(session_maker) == 2
    done = await _retention(database_url, tmp_path)
    assert "payment_monitoring_logs: deleted 1 row(s) older than" in done
    assert await _watches(session_maker) == 1
