"""First run on the devnet: start it in-process, fund a demo pool, print where things are.

`tronrent serve` with no `TRON_NODE_URLS` enters :func:`devnet_lifespan` first: it starts the
devnet on `TRON_DEVNET_PORT` (a free port if that one is taken) with `BLOCK_INTERVAL_MS` blocks
and publishes its URL as ``state.components["devnet_url"]`` (read by the flash hook). When the
node (embedded, or the first of `TRON_NODE_URLS`) is a devnet - it answers `/devnet/info` - it
also bootstraps the demo pool:

* the pool account ``devnet-demo`` is added once through the pool service (its key generated
  here and stored encrypted like any pool key); later starts with the same `DATA_DIR` decrypt
  and reuse it, so the pool, the flash payment address (the first pool's address when
  `TRON_PAYMENT_ADDRESS` is unset) and the refund account stay the same;
* on a chain that lacks it (the in-process devnet is new at every start) the account is funded
  by the faucet and stakes TRX for energy with a FreezeBalanceV2 signed and broadcast through
  the chain gateway, then synced;
* a scanner checkpoint left by an earlier chain (its block is missing or different) is dropped
  so the scanner starts at the new chain's head instead of waiting for a block that will never
  come.

:func:`banner_lifespan` (entered last) prints the DEVNET banner: API URL, devnet URL, flash
payment address.
"""

from __future__ import annotations

import contextlib
import errno
import shlex
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronproto.keys import PrivateKey
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.adapters.tron.port import ChainPort
from tronrent.api.state import AppState
from tronrent.demo.devnet import DevnetControl, DevnetInfo, probe
from tronrent.kit.crypto import Secret, SecretBox
from tronrent.kit.logging import get_logger
from tronrent.models.energy_pool import EnergyPool
from tronrent.models.scanner_checkpoint import ScannerCheckpoint
from tronrent.pool.service import pool as pool_service
from tronrent.pool.tasks import sync_pool

if TYPE_CHECKING:
    from trondevnet.server import DevnetServer

_log = get_logger("tronrent.devnet")

TRX = 1_000_000
DEMO_POOL_NAME = "devnet-demo"
#: stake of the demo pool: ~10 energy per staked TRX on the devnet -> ~7,500 USDT transfers
DEMO_STAKE_TRX = 50_000_000
#: liquid TRX kept on the demo pool (bandwidth burns, refunds from the flash address)
DEMO_BALANCE_TRX = 100_000
DEVNET_COMPONENT = "devnet"
DEVNET_URL_COMPONENT = "devnet_url"  # read by tronrent.flash.lifespan
DEMO_COMPONENT = "devnet_demo"
SCANNER_CHECKPOINT = "main"


@dataclass(frozen=True, slots=True)
class DemoPool:
    address: str
    staked_sun: int
    energy_limit: int
    created: bool


async def start_devnet(port: int, block_interval_ms: int) -> DevnetServer:
    """The in-process devnet on ``port``, or on a free port if that one is taken."""
    from trondevnet.server import DevnetServer

    try:
        return await DevnetServer(port=port, block_interval_ms=block_interval_ms).start()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
    server = await DevnetServer(port=0, block_interval_ms=block_interval_ms).start()
    _log.warning("devnet.port_in_use", wanted=port, using=server.port)
    return server


async def _load_or_add_pool(
    session_maker: async_sessionmaker[AsyncSession], box: SecretBox
) -> tuple[EnergyPool, Secret, bool]:
    """The demo pool and its key (hex, as a Secret: hidden from repr and logs), added once."""
    async with session_maker() as s, s.begin():
        pool = (
            await s.execute(
                select(EnergyPool).where(
                    EnergyPool.name == DEMO_POOL_NAME, EnergyPool.removed_at.is_(None)
                )
            )
        ).scalar_one_or_none()
        if pool is not None:
            return pool, box.decrypt(pool.private_key_encrypted), False
        key = Secret(PrivateKey.random().hex())
        # not checked on chain: the account is funded and staked right after
        pool = await pool_service.add(
            s,
            box,
            chain=None,
            check=False,
            private_key=key.reveal(),
            name=DEMO_POOL_NAME,
            priority=1,
        )
        return pool, key, True


async def ensure_demo_pool(
    session_maker: async_sessionmaker[AsyncSession],
    box: SecretBox,
    chain: TronGateway,
    control: DevnetControl,
    *,
    stake_trx: int = DEMO_STAKE_TRX,
    balance_trx: int = DEMO_BALANCE_TRX,
) -> DemoPool:
    """Add (once) and fund (whenever the chain lacks it) the demo pool; idempotent."""
    pool, key, created = await _load_or_add_pool(session_maker, box)
    address = pool.tron_address
    account = await chain.get_account(address)
    staked = account.frozen_energy_sun if account else 0
    balance = account.balance_sun if account else 0
    missing_stake = max(0, stake_trx * TRX - staked)
    top_up = max(0, balance_trx * TRX - balance) + missing_stake
    if top_up:
        await control.faucet(address, trx_sun=top_up)
    if missing_stake:
        tx = await chain.build_freeze(address, missing_stake)
        await chain.broadcast(chain.sign(tx, key.reveal()))
        _log.info("devnet.demo_pool_staked", address=address, staked_trx=stake_trx)
    async with session_maker() as s, s.begin():
        fresh = await s.get(EnergyPool, pool.id)
        assert fresh is not None
        await sync_pool(chain, fresh)
        limit = fresh.total_energy or 0
    return DemoPool(address, max(staked, stake_trx * TRX), limit, created)


async def drop_stale_checkpoint(
    session_maker: async_sessionmaker[AsyncSession],
    chain: ChainPort,
    name: str = SCANNER_CHECKPOINT,
) -> bool:
    """Forget a scanner checkpoint that points at a block this chain does not have."""
    async with session_maker() as s, s.begin():
        row = await s.get(ScannerCheckpoint, name)
        if row is None:
            return False
        head = await chain.get_head_block_number()
        stale = row.block_number > head
        if not stale and row.block_id:
            blocks = await chain.get_blocks(row.block_number, row.block_number + 1)
            stale = not blocks or str(blocks[0].get("blockID")) != row.block_id
        if stale:
            await s.execute(delete(ScannerCheckpoint).where(ScannerCheckpoint.name == name))
            _log.warning(
                "devnet.new_chain", checkpoint=row.block_number, head=head, action="scan from head"
            )
        return stale


async def bootstrap(state: AppState, url: str, info: DevnetInfo) -> DemoPool:
    async with TronGateway([url], timeout_s=10) as chain, DevnetControl(url) as control:
        await drop_stale_checkpoint(state.session_maker, chain)
        return await ensure_demo_pool(state.session_maker, state.secret_box, chain, control)


@asynccontextmanager
async def devnet_lifespan(state: AppState) -> AsyncIterator[None]:
    """Start the embedded devnet (no node configured) and bootstrap the demo pool on a devnet."""
    settings = state.settings
    server: DevnetServer | None = None
    if settings.tron_network != "devnet":  # a real network: no devnet to start or probe
        yield
        return
    try:
        if settings.embedded_chain:
            server = await start_devnet(settings.tron_devnet_port, settings.block_interval_ms)
            state.components[DEVNET_COMPONENT] = server
            state.components[DEVNET_URL_COMPONENT] = server.url
            url = server.url
            _log.info("devnet.started", url=url, block_interval_ms=settings.block_interval_ms)
        else:
            url = settings.node_urls[0]
        info = await probe(url)
        if info is not None:
            state.components[DEMO_COMPONENT] = (info, await bootstrap(state, url, info))
        yield
    finally:
        if server is not None:
            with contextlib.suppress(Exception):
                await server.stop()


def command_name() -> str:
    """How to run ``tronrent`` from the operator's shell: ``tronrent`` when that is on the PATH
    and is this installation's script, else the script's absolute path (``make run`` runs
    ``.venv/bin/tronrent`` without activating the venv), else ``python -m tronrent``."""
    script = Path(sys.executable).with_name("tronrent")
    found = shutil.which("tronrent")
    if found and (not script.exists() or Path(found).resolve() == script.resolve()):
        return "tronrent"
    if script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m tronrent"


def banner(api_url: str, info: DevnetInfo, pool: DemoPool, payment_address: str | None) -> str:
    line = "=" * 78
    staked = pool.staked_sun // TRX
    return "\n".join(
        [
            line,
            " DEVNET - local TRON simulator, not mainnet: nothing here is real money",
            line,
            f" API URL:               {api_url}   (docs: {api_url}/api/docs)",
            f" Devnet URL:            {info.url}   ({info.block_interval_ms} ms blocks)",
            f" Flash payment address: {payment_address or '(flash engine not running)'}",
            f" Demo pool:             {pool.address}  ({staked:,} TRX staked,"
            f" {pool.energy_limit:,} energy)",
            f" Try it:                {command_name()} demo"
            + (
                ""
                if api_url == "http://127.0.0.1:8000" and info.url == "http://127.0.0.1:8090"
                else f" --api {api_url} --devnet {info.url}"
            ),
            line,
        ]
    )


@asynccontextmanager
async def banner_lifespan(state: AppState) -> AsyncIterator[None]:
    """Print the DEVNET banner once everything else has started."""
    demo = state.components.get(DEMO_COMPONENT)
    if demo is not None:
        info, pool = demo
        settings = state.settings
        host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
        runtime = state.components.get("flash_runtime")
        address = getattr(runtime, "payment_address", None)
        print(banner(f"http://{host}:{settings.api_port}", info, pool, address), flush=True)
        sys.stdout.flush()
    yield
