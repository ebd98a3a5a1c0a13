"""``ChainBalances`` on the chain gateway port (``tronrent.adapters.tron.port.ChainPort``)."""

from __future__ import annotations

from collections.abc import Callable

from tronrent.adapters.tron.port import ChainPort
from tronrent.kit.errors import ServiceUnavailable
from tronrent.telegram.ports import AddressBalance

ChainSource = ChainPort | Callable[[], ChainPort | None]


class PortChainBalances:
    """TRX and energy from ``getaccount``/``getaccountresource``, USDT from the TRC20
    ``balanceOf`` of ``usdt_contract`` (None when the node cannot answer it).

    ``chain`` may be a callable returning the running gateway (None: not running yet)."""

    def __init__(self, chain: ChainSource, *, usdt_contract: str) -> None:
        self._chain = chain
        self.usdt_contract = usdt_contract

    @property
    def chain(self) -> ChainPort:
        chain = self._chain() if callable(self._chain) else self._chain
        if chain is None:
            raise ServiceUnavailable("the chain gateway is not running")
        return chain

    async def address_balance(self, address: str) -> AddressBalance:
        chain = self.chain
        account = await chain.get_account(address)
        resource = await chain.get_account_resource(address)
        return AddressBalance(
            trx_sun=account.balance_sun if account is not None else 0,
            usdt_units=await chain.trc20_balance(self.usdt_contract, address),
            energy_available=resource.energy_available,
            energy_limit=resource.energy_limit,
        )
