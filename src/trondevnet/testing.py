"""Helpers for tests and benchmarks: fixture factory, funded keys, offline tx building.

    from trondevnet.testing import devnet_fixture
    devnet = devnet_fixture(block_interval_ms=50)      # in a conftest.py

`devnet` then yields a started `DevnetServer` (`.url`, `.chain`, `.node`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from trondevnet.chain import Chain
from trondevnet.server import DevnetServer
from tronproto.keys import PrivateKey
from tronproto.tx import raw_data_to_bytes, txid_bytes


def devnet_fixture(
    block_interval_ms: int = 50, scope: str = "function", **config_overrides: Any
) -> Any:
    """Build a pytest-asyncio fixture yielding a started in-process DevnetServer."""

    @pytest_asyncio.fixture(scope=scope)  # type: ignore[call-overload]
    async def _devnet() -> AsyncIterator[DevnetServer]:
        async with DevnetServer(
            port=0, block_interval_ms=block_interval_ms, **config_overrides
        ) as server:
            yield server

    return _devnet


def new_key() -> PrivateKey:
    return PrivateKey.random()


def funded_key(chain: Chain, trx_sun: int = 0, usdt_units: int = 0) -> PrivateKey:
    """A fresh key whose account exists on `chain` with the given balances."""
    key = PrivateKey.random()
    chain.faucet(key.address, trx_sun, usdt_units)
    return key


def build_raw(
    chain: Chain,
    contract_type: str,
    value: dict[str, Any],
    *,
    fee_limit: int = 0,
    memo: bytes = b"",
    expiration_ms: int | None = None,
    timestamp_ms: int | None = None,
    permission_id: int = 0,
) -> bytes:
    """Transaction.raw bytes referencing the chain's head block (values in hex-address JSON)."""
    raw = chain.unsigned_raw_data(
        contract_type,
        value,
        permission_id=permission_id,
        expiration_ms=expiration_ms,
        timestamp_ms=timestamp_ms,
    )
    if memo:
        raw["data"] = memo.hex()
    if fee_limit:
        raw["fee_limit"] = fee_limit
    return raw_data_to_bytes(raw)


def sign_raw(raw: bytes, *keys: PrivateKey) -> list[bytes]:
    digest = txid_bytes(raw)
    return [k.sign_hash(digest) for k in keys]


def submit(
    chain: Chain, key: PrivateKey, contract_type: str, value: dict[str, Any], **kw: Any
) -> Any:
    """Build, sign with `key` and broadcast on the engine directly; returns the TxRecord."""
    value = {"owner_address": key.address_hex, **value}
    raw = build_raw(chain, contract_type, value, **kw)
    return chain.broadcast(raw, sign_raw(raw, key))


__all__ = ["build_raw", "devnet_fixture", "funded_key", "new_key", "sign_raw", "submit"]
