"""Devnet configuration: chain parameters and behaviour knobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from hashlib import sha256

USDT_MAINNET_ADDRESS = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
DEFAULT_WITNESS_KEY = sha256(b"trondevnet witness key").hexdigest()
TRX = 1_000_000


# getchainparameters keys the control API may change (``POST /devnet/chain_parameters``),
# with the DevnetConfig field each one reads
CHAIN_PARAMETER_FIELDS: dict[str, str] = {
    "getCreateAccountFee": "create_account_fee",
    "getCreateNewAccountFeeInSystemContract": "create_new_account_fee_in_system_contract",
    "getCreateNewAccountBandwidthRate": "create_new_account_bandwidth_rate",
    "getMaxCreateAccountTxSize": "max_create_account_tx_size",
    "getTransactionFee": "transaction_fee",
    "getEnergyFee": "energy_fee",
    "getMemoFee": "memo_fee",
    "getMaxDelegateLockPeriod": "max_delegate_lock_period",
    "getUpdateAccountPermissionFee": "update_account_permission_fee",
}

#: java-tron's default active permission operations (every contract type but a few), as a new
#: account gets it and as mainnet reports it; also the contract types an active permission may
#: name (``AVAILABLE_CONTRACT_TYPE``; inferred equal to the default, not read from a node)
ACTIVE_DEFAULT_OPERATIONS = "7fff1fc0033efb0f000000000000000000000000000000000000000000000000"


@dataclass(slots=True)
class DevnetConfig:
    """Everything that shapes the simulated chain. All amounts in sun, energy in units."""

    block_interval_ms: int = 3000
    solid_lag_blocks: int = 0
    witness_private_key: str = DEFAULT_WITNESS_KEY
    # Resource model
    total_energy_limit: int = 180_000_000_000
    virtual_energy_weight: int = 18_000_000_000  # whole TRX added to real energy stake
    total_net_limit: int = 43_200_000_000
    virtual_net_weight: int = 27_000_000_000  # whole TRX added to real bandwidth stake
    free_net_limit: int = 600
    window_slots: int = 28_800
    # Chain parameters (getchainparameters)
    energy_fee: int = 100
    transaction_fee: int = 1000
    create_account_fee: int = 100_000
    create_new_account_fee_in_system_contract: int = 1_000_000
    create_new_account_bandwidth_rate: int = 1  # staked bandwidth bytes per byte of creation tx
    max_create_account_tx_size: int = 1000  # getMaxCreateAccountTxSize (bytes)
    memo_fee: int = 1_000_000  # getMemoFee (mainnet: 1 TRX per transfer with a memo)
    max_delegate_lock_period: int = 864_000
    unfreeze_delay_days: int = 14
    max_fee_limit: int = 15_000 * TRX
    max_unfreeze_pending: int = 32
    update_account_permission_fee: int = 100 * TRX  # getUpdateAccountPermissionFee (mainnet)
    total_sign_num: int = 5  # getTotalSignNum: most keys in one permission
    # Built-in USDT (TRC20)
    usdt_address: str = USDT_MAINNET_ADDRESS
    usdt_energy_existing_holder: int = 64_285
    usdt_energy_new_holder: int = 130_285
    usdt_energy_revert: int = 13_000
    usdt_energy_view: int = 935
    usdt_issuer_supply: int = 0
    # Block production
    max_txs_per_block: int = 20_000
    genesis_accounts: dict[str, int] = field(default_factory=dict)

    @property
    def chain_parameters(self) -> dict[str, int]:
        """The settable chain parameters: ``getchainparameters`` key -> value."""
        return {key: getattr(self, name) for key, name in CHAIN_PARAMETER_FIELDS.items()}

    @property
    def slot_ms(self) -> int:
        return self.block_interval_ms

    @property
    def unfreeze_delay_ms(self) -> int:
        """Unstaking delay: unfreeze_delay_days x 28,800 slots of one block interval."""
        return self.unfreeze_delay_days * self.window_slots * self.block_interval_ms
