"""A flash worker process for crash tests: `python _worker_proc.py` with env
FLASH_DB_URL, FLASH_NODE_URL, FLASH_SECRET_KEY, FLASH_ADDRESS, FLASH_BLOCK_MS (and optionally
FLASH_USDT_CONTRACT: the scanner follows count packages' USDT transfers); runs until killed.
With FLASH_RESERVE_POOL_ID set it instead reserves FLASH_RESERVE_ENERGY, FLASH_RESERVE_TIMES
times and prints how many succeeded."""

from __future__ import annotations

import asyncio
import os
import uuid

from tronrent.adapters.tron.gateway import TronGateway
from tronrent.flash.engine import FlashEngine
from tronrent.kit.crypto import SecretBox
from tronrent.kit.db import create_engine, create_session_maker
from tronrent.order.runtime import FlashRuntime
from tronrent.pool.service import pool as pool_service
from tronrent.scanner.service import ScannerConfig


async def reserve_loop(url: str) -> None:
    engine = create_engine(url)
    maker = create_session_maker(engine)
    pool_id = uuid.UUID(os.environ["FLASH_RESERVE_POOL_ID"])
    energy = int(os.environ["FLASH_RESERVE_ENERGY"])
    ok = 0
    for _ in range(int(os.environ["FLASH_RESERVE_TIMES"])):
        async with maker() as s:
            if await pool_service.reserve(s, pool_id, energy):
                ok += 1
            await s.commit()
    print(ok, flush=True)
    await engine.dispose()


async def main() -> None:
    url = os.environ["FLASH_DB_URL"]
    if os.environ.get("FLASH_RESERVE_POOL_ID"):
        await reserve_loop(url)
        return
    block_ms = int(os.environ["FLASH_BLOCK_MS"])
    engine = create_engine(url)
    maker = create_session_maker(engine)
    address = os.environ["FLASH_ADDRESS"]
    async with TronGateway([os.environ["FLASH_NODE_URL"]], timeout_s=10) as gw:
        flash = FlashEngine(
            session_maker=maker,
            chain=gw,
            box=SecretBox([os.environ["FLASH_SECRET_KEY"]]),
            rt=FlashRuntime(
                payment_address=address, block_interval_ms=block_ms, confirm_timeout_s=3
            ),
            scanner_config=ScannerConfig(
                block_interval_s=block_ms / 1000,
                fixed_addresses=frozenset({address}),
                lease_s=1.0,
                usdt_contract=os.environ.get("FLASH_USDT_CONTRACT") or None,
            ),
        )
        async with flash:
            print("ready", flush=True)
            await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
