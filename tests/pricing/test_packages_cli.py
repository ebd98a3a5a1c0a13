"""`tronrent packages list` in a real subprocess, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from subprocesses import run_command
from tronrent.kit.db import transaction_scope
from tronrent.models import EnergyPackage, PriceConfig


async def packages(database_url: str, tmp_path: Path, *args: str) -> list[str]:
    done = await run_command("packages", "list", *args, database_url=database_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


async def test_list_with_rules_and_inactive(
    database_url: str, session_maker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    lines = await packages(database_url, tmp_path)
    assert len(lines) == 10  # 4 energy packages, then the 6 count packages (0018)
    assert "65000 x   1 h" in lines[0] and "2 TRX" in lines[0] and "0.6 USDT" in lines[0]
    async with transaction_scope(session_maker) as session:
        session.add(PriceConfig(config_name="up", markup_bps=1000))
        await session.execute(
            update(EnergyPackage).where(EnergyPackage.sort_order == 40).values(is_active=False)
        )
    lines = await packages(database_url, tmp_path)
    assert len(lines) == 9 and "2.2 TRX" in lines[0] and "0.6 USDT" in lines[0]
    every = await packages(database_url, tmp_path, "--all")
    assert len(every) == 10 and every[3].endswith("inactive")
