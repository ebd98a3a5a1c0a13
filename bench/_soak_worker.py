"""One worker process of the exactly-once soak (bench/exactly_once_soak.py): the whole flash
engine (scanner under the leader lease, in-process job queue, sweeper) on the shared database,
until it is killed. Environment: SOAK_DB_URL, SOAK_NODE_URL, SOAK_SECRET_KEY, SOAK_ADDRESS,
SOAK_BLOCK_MS, SOAK_RENTAL_S."""

from __future__ import annotations

import asyncio
import logging
import os

from tronrent.adapters.tron.gateway import TronGateway
from tronrent.flash.engine import FlashEngine
from tronrent.kit.crypto import SecretBox
from tronrent.kit.db import create_engine, create_session_maker
from tronrent.order.runtime import FlashRuntime
from tronrent.scanner.service import ScannerConfig


async def main() -> None:
    logging.basicConfig(level=logging.CRITICAL)
    block_ms = int(os.environ["SOAK_BLOCK_MS"])
    address = os.environ["SOAK_ADDRESS"]
    engine = create_engine(os.environ["SOAK_DB_URL"], pool_size=10, max_overflow=10)
    async with TronGateway([os.environ["SOAK_NODE_URL"]], timeout_s=5) as gateway:
        flash = FlashEngine(
            session_maker=create_session_maker(engine),
            chain=gateway,
            box=SecretBox([os.environ["SOAK_SECRET_KEY"]]),
            rt=FlashRuntime(
                payment_address=address,
                block_interval_ms=block_ms,
                confirm_timeout_s=3,
                rental_duration_s=float(os.environ["SOAK_RENTAL_S"]),
            ),
            scanner_config=ScannerConfig(
                block_interval_s=block_ms / 1000,
                fixed_addresses=frozenset({address}),
                # the default lease (1.5 block intervals): renewed by its own task every 1/3
                # lease whatever a loaded batch takes, so a killed worker's scanner is replaced
                # within 2 blocks
            ),
            periodic_speedup=float(os.environ.get("SOAK_PERIODIC_SPEEDUP", "1")),
        )
        async with flash:
            print("ready", flush=True)
            await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
