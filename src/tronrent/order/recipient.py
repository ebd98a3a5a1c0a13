"""Does the recipient have an account on chain, and what does activating it cost?

A delegation to an address with no account is rejected by java-tron (``Account[...] not
exists``). Create-order asks the node once per address and remembers the answer (seed 000
section 8.1: a 24 h address-check cache, in memory or in Redis): an account, once created,
never goes away, so "activated" is kept for the whole TTL; "not activated" only briefly (the
customer may activate it any moment). A node that cannot tell does not stop the order: the
answer is "unknown" and the delivery path finds out from the chain's rejection.

Activating = a TRX transfer to the address (java-tron creates the account). The sender pays
``getCreateNewAccountFeeInSystemContract`` (burnt by the transfer) and, when it lacks staked
bandwidth, ``getCreateAccountFee`` (burnt for the bandwidth of an account-creating transaction)
- both read from ``getchainparameters``, never constants - plus the amount sent,
``ACTIVATION_TRANSFER_SUN``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.adapters.tron.errors import ChainError
from tronrent.adapters.tron.port import ChainParameters, ChainPort
from tronrent.kit.db import release_write_lock

log = logging.getLogger("tronrent.order")

#: the amount an activation transfer sends (java-tron requires more than 0)
ACTIVATION_TRANSFER_SUN = 1
#: how long "not activated" is remembered (the customer may activate it meanwhile)
NOT_ACTIVATED_TTL_S = 60.0
#: how long the chain parameters (the activation fee) are remembered
PARAMETERS_TTL_S = 600.0
_KEY = "address_activated:"
_FEE_KEY = "activation_fee_sun"


class AddressCache(Protocol):
    """The few calls of a key-value cache we use (``cashews.Cache`` has them)."""

    async def get(self, key: str, default: Any = None) -> Any: ...

    async def set(self, key: str, value: Any, expire: float | None = None) -> Any: ...


def activation_fee_sun(params: ChainParameters) -> int:
    """What activating an account costs the sender at worst: the system-contract fee, the
    bandwidth burn of an account-creating transaction, and the amount sent."""
    return (
        params.get("getCreateNewAccountFeeInSystemContract")
        + params.get("getCreateAccountFee")
        + ACTIVATION_TRANSFER_SUN
    )


@dataclass(frozen=True, slots=True)
class RecipientState:
    #: None: the node could not tell (the delivery path finds out)
    activated: bool | None
    #: added to the quote: the activation fee when the account is missing and the policy
    #: activates, else 0
    activation_fee_sun: int = 0


@dataclass
class RecipientCheck:
    chain: ChainPort
    cache: AddressCache
    ttl_s: float = 86_400.0
    not_activated_ttl_s: float = NOT_ACTIVATED_TTL_S
    #: the keys' namespace (one Redis may serve several deployments, or test runs)
    key_prefix: str = "tronrent:"
    #: the unit of work the check runs in (`within`): on SQLite its write lock is released,
    #: when it has only read, before the node is asked (``kit.db.release_write_lock``)
    session: AsyncSession | None = None

    def within(self, session: AsyncSession) -> RecipientCheck:
        """This check for a unit of work that may hold the SQLite write lock."""
        return replace(self, session=session)

    async def _before_node(self) -> None:
        if self.session is not None:
            await release_write_lock(self.session)

    async def activated(self, address: str) -> bool | None:
        """Whether ``address`` has an account on chain (cached), None if the node cannot tell."""
        key = f"{self.key_prefix}{_KEY}{address}"
        hit = await self.cache.get(key)
        if hit is not None:
            return bool(hit)
        await self._before_node()
        try:
            exists = await self.chain.get_account(address) is not None
        except ChainError as exc:
            log.warning("account of %s unknown: %s", address, exc)
            return None
        await self.cache.set(key, exists, expire=self.ttl_s if exists else self.not_activated_ttl_s)
        return exists

    async def activation_fee(self) -> int:
        """The activation fee from the chain parameters (cached for ``PARAMETERS_TTL_S``)."""
        key = self.key_prefix + _FEE_KEY
        hit = await self.cache.get(key)
        if hit is not None:
            return int(hit)
        await self._before_node()
        fee = activation_fee_sun(await self.chain.get_chain_parameters())
        await self.cache.set(key, fee, expire=PARAMETERS_TTL_S)
        return fee

    async def check(self, address: str, *, activates: bool) -> RecipientState:
        """The recipient's state for create-order; the fee only when the policy activates."""
        activated = await self.activated(address)
        if activated is not False or not activates:
            return RecipientState(activated)
        try:
            return RecipientState(False, await self.activation_fee())
        except ChainError as exc:
            log.warning("activation fee unknown: %s", exc)
            return RecipientState(False)
