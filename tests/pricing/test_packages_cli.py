"""`tronrent packages list` in a real subprocess, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from subprocesses import COMMAND, clean_env
from tronrent.kit.db import transaction_scope
from tronrent.models import EnergyPackage, PriceConfig


async def packages(database_url: str, tmp_path: Path, *args: str) -> list[str]:
    env = clean_env(tmp_path / "data", DATABASE_URL=database_url)
    done = await asyncio.to_thread(
        subprocess.run,
        [*COMMAND, "packages", "list", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
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
