"""Command line: `python -m trondevnet` / `tronrent devnet` (wired by the product's CLI)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections.abc import Sequence

from trondevnet.config import DevnetConfig


def build_parser() -> argparse.ArgumentParser:
    d = DevnetConfig()
    p = argparse.ArgumentParser(prog="trondevnet", description="Local TRON devnet (java-tron API)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--block-interval-ms", type=int, default=d.block_interval_ms)
    p.add_argument("--solid-lag", type=int, default=d.solid_lag_blocks, help="solid = head - N")
    p.add_argument("--virtual-energy-weight", type=int, default=d.virtual_energy_weight)
    p.add_argument("--total-energy-limit", type=int, default=d.total_energy_limit)
    p.add_argument("--energy-fee", type=int, default=d.energy_fee)
    p.add_argument("--usdt-address", default=d.usdt_address)
    p.add_argument("--usdt-energy-existing", type=int, default=d.usdt_energy_existing_holder)
    p.add_argument("--usdt-energy-new", type=int, default=d.usdt_energy_new_holder)
    p.add_argument("--memo-fee", type=int, default=d.memo_fee)
    p.add_argument(
        "--create-new-account-fee",
        type=int,
        default=d.create_new_account_fee_in_system_contract,
        help="getCreateNewAccountFeeInSystemContract (sun)",
    )
    p.add_argument(
        "--create-account-fee",
        type=int,
        default=d.create_account_fee,
        help="getCreateAccountFee (sun, when staked bandwidth does not pay)",
    )
    p.add_argument(
        "--create-new-account-bandwidth-rate",
        type=int,
        default=d.create_new_account_bandwidth_rate,
        help="getCreateNewAccountBandwidthRate",
    )
    p.add_argument(
        "--genesis",
        action="append",
        default=[],
        metavar="ADDRESS=SUN",
        help="fund an account at start (repeatable)",
    )
    return p


def config_from_args(args: argparse.Namespace) -> DevnetConfig:
    genesis = {}
    for item in args.genesis:
        address, _, sun = item.partition("=")
        genesis[address] = int(sun)
    return DevnetConfig(
        block_interval_ms=args.block_interval_ms,
        solid_lag_blocks=args.solid_lag,
        virtual_energy_weight=args.virtual_energy_weight,
        total_energy_limit=args.total_energy_limit,
        energy_fee=args.energy_fee,
        usdt_address=args.usdt_address,
        usdt_energy_existing_holder=args.usdt_energy_existing,
        usdt_energy_new_holder=args.usdt_energy_new,
        memo_fee=args.memo_fee,
        create_new_account_fee_in_system_contract=args.create_new_account_fee,
        create_account_fee=args.create_account_fee,
        create_new_account_bandwidth_rate=args.create_new_account_bandwidth_rate,
        genesis_accounts=genesis,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    from trondevnet.server import serve

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    print(
        json.dumps(
            {
                "trondevnet": f"http://{args.host}:{args.port}/",
                "block_interval_ms": config.block_interval_ms,
                "usdt": config.usdt_address,
            }
        ),
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, config=config))
    return 0
