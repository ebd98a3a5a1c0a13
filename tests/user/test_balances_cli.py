"""`tronrent balances check` in a real subprocess, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from subprocesses import COMMAND, clean_env
from tronrent.kit.db import transaction_scope
from tronrent.models import User
from tronrent.user.balance import balance as balance_service


async def check(database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = clean_env(tmp_path / "data", DATABASE_URL=database_url)
    return await asyncio.to_thread(
        subprocess.run,
        [*COMMAND, "balances", "check"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_check_reports_a_balance_the_ledger_does_not_explain(
    database_url: str, session_maker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with transaction_scope(session_maker) as session:
        user = User(id=uuid.uuid4(), telegram_id=42)
        session.add(user)
        await session.flush()
        await balance_service.apply(
            session,
            user_id=user.id,
            currency="USDT",
            delta_units=3_000_000,
            cause_type="adjustment",
            cause_id="cli-1",
        )
    good = await check(database_url, tmp_path)
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == "ok: every balance equals the sum of its ledger entries"

    async with transaction_scope(session_maker) as session:  # a change that bypasses the ledger
        await session.execute(update(User).values(trx_balance_sun=5))
    bad = await check(database_url, tmp_path)
    assert bad.returncode == 1
    assert bad.stdout.splitlines() == [f"{user.id}\tTRX\tbalance 5\tledger 0"]
    assert "1 balance(s) differ from the ledger" in bad.stderr
