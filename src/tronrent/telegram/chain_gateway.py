"""``ChainBalances`` on the chain gateway port (``tronrent.adapters.tron.port.ChainPort``)."""

from __future__ import annotations

from tronrent.adapters.tron.port import ChainPort
from tronrent.telegram.ports import AddressBalance


class PortChainBalances:
    """TRX and energy from ``getaccount``/``getaccountresource``. USDT needs a TRC20 balance
    call the gateway does not offer yet, so it is reported as unknown (None)."""

    def __init__(self, chain: ChainPort) -> None:
        self.chain = chain

    async def address_balance(self, address: str) -> AddressBalance:
        account = await self.chain.get_account(address)
        resource = await self.chain.get_account_resource(address)
        return AddressBalance(
            trx_sun=account.balance_sun if account is not None else 0,
            usdt_units=None,
            energy_available=resource.energy_available,
            energy_limit=resource.energy_limit,
        )
