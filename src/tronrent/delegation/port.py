"""What the delegation, reclaim and refund flows need from the chain (a Protocol port).

Implemented over the chain gateway (`tronrent.adapters.tron`) by `delegation.gateway_port`.
Results are small frozen dataclasses; no tronpy type crosses this line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from tronrent.pool.energy import EnergyRatio


class ChainUnavailableError(Exception):
    """The node could not be reached or answered garbage: retry later (same signed tx)."""


class TxRejectedError(Exception):
    """The node refused the transaction for good (validation); rebuild or give up."""


@dataclass(frozen=True, slots=True)
class UnsignedTx:
    txid: str
    raw_data: dict[str, Any]
    raw_data_hex: str

    @property
    def expiration_ms(self) -> int:
        return int(self.raw_data.get("expiration", 0))


@dataclass(frozen=True, slots=True)
class HeadBlock:
    number: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class TxInfo:
    """A transaction found in a block."""

    txid: str
    block_number: int
    success: bool
    message: str = ""


@dataclass(frozen=True, slots=True)
class AccountEnergy:
    """A pool account as the chain sees it."""

    balance_sun: int
    energy_limit: int
    energy_used: int
    delegated_energy_sun: int  # staked TRX delegated out for energy
    can_delegate_max_sun: int
    frozen_energy_sun: int


class ChainPort(Protocol):
    async def energy_ratio(self) -> EnergyRatio:
        """The chain's current TotalEnergyLimit / TotalEnergyWeight."""
        ...

    async def head(self) -> HeadBlock:
        """The latest block."""
        ...

    async def build_delegate(
        self, owner: str, receiver: str, balance_sun: int, lock_period: int | None
    ) -> UnsignedTx:
        """DelegateResourceContract (ENERGY); lock when lock_period (blocks) is given."""
        ...

    async def build_undelegate(self, owner: str, receiver: str, balance_sun: int) -> UnsignedTx:
        """UnDelegateResourceContract (ENERGY)."""
        ...

    async def build_transfer(self, owner: str, to: str, amount_sun: int) -> UnsignedTx:
        """TransferContract (TRX)."""
        ...

    async def broadcast(self, tx: UnsignedTx, signatures: list[str]) -> None:
        """Broadcast; a duplicate (already known) counts as success."""
        ...

    async def transaction_info(self, txid: str) -> TxInfo | None:
        """The transaction's result once it is in a block, else None."""
        ...

    async def lock_expiry_ms(self, owner: str, receiver: str) -> int | None:
        """When the locked energy delegation owner -> receiver unlocks (None: no lock)."""
        ...

    async def account_energy(self, address: str) -> AccountEnergy:
        """Energy figures of an account."""
        ...
