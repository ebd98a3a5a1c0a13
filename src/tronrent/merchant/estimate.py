"""Energy a USDT transfer needs: about 64,285 when the receiver already holds USDT (its balance
slot exists), about 130,285 when it holds none (the transfer creates the slot).

The receiver's balance is read from the USDT contract (``balanceOf`` through the chain port)
and the answer cached (`ESTIMATE_TTL_S`, shorter for "holds none": it may receive some soon).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Protocol

from tronrent.adapters.tron.errors import ChainError
from tronrent.adapters.tron.port import ChainPort
from tronrent.kit.errors import ServiceUnavailable

#: energy of a USDT ``transfer`` to an address that holds USDT / that holds none (mainnet
#: contract TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t; the devnet's USDT charges the same)
ENERGY_TO_HOLDER: Final = 64_285
ENERGY_TO_NEW_HOLDER: Final = 130_285
ESTIMATE_TTL_S: Final = 300.0
NEW_HOLDER_TTL_S: Final = 30.0
_KEY = "usdt_holder:"


class Cache(Protocol):
    async def get(self, key: str, default: Any = None) -> Any: ...

    async def set(self, key: str, value: Any, expire: float | None = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class UsdtEstimate:
    receiver_holds_usdt: bool
    energy: int
    sender_balance_units: int | None


async def holds_usdt(
    chain: ChainPort, cache: Cache, contract: str, address: str, *, key_prefix: str = ""
) -> bool:
    key = f"{key_prefix}{_KEY}{contract}:{address}"
    hit = await cache.get(key)
    if hit is not None:
        return bool(hit)
    balance = await chain.trc20_balance(contract, address)
    holds = bool(balance)
    await cache.set(key, holds, expire=ESTIMATE_TTL_S if holds else NEW_HOLDER_TTL_S)
    return holds


async def usdt_transfer_energy(
    chain: ChainPort,
    cache: Cache,
    contract: str,
    *,
    sender: str,
    receiver: str,
    key_prefix: str = "",
) -> UsdtEstimate:
    """The estimate for a USDT transfer ``sender`` -> ``receiver``; 503 when the node cannot
    answer."""
    try:
        holds = await holds_usdt(chain, cache, contract, receiver, key_prefix=key_prefix)
        sender_units = await chain.trc20_balance(contract, sender)
    except ChainError as exc:
        raise ServiceUnavailable(
            f"the chain cannot be read now: {exc}", "CHAIN_UNAVAILABLE"
        ) from None
    return UsdtEstimate(
        receiver_holds_usdt=holds,
        energy=ENERGY_TO_HOLDER if holds else ENERGY_TO_NEW_HOLDER,
        sender_balance_units=sender_units,
    )
