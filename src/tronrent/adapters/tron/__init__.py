"""Chain gateway: ``ChainPort`` (port.py) implemented over tronpy by ``gateway.TronGateway``.

Only the port and errors are re-exported here, so importing them does not load tronpy; the
entrypoints import ``tronrent.adapters.tron.gateway`` explicitly.
"""

from tronrent.adapters.tron.errors import (
    ChainError,
    ChainUnavailable,
    InvalidChainInput,
    SignerKeyMismatch,
    TransactionRejected,
    TxidMismatch,
)
from tronrent.adapters.tron.port import (
    Account,
    AccountResource,
    ActivationCost,
    ActivePermission,
    BlockHeader,
    BroadcastResult,
    ChainParameters,
    ChainPort,
    ChainTransaction,
    DelegatedResource,
    SignedTx,
    TransactionInfo,
    TxLookup,
    TxState,
    Unfreezing,
    UnsignedTx,
    activation_cost,
    tx_bandwidth_bytes,
)

__all__ = [
    "Account",
    "AccountResource",
    "ActivationCost",
    "ActivePermission",
    "BlockHeader",
    "BroadcastResult",
    "ChainError",
    "ChainParameters",
    "ChainPort",
    "ChainTransaction",
    "ChainUnavailable",
    "DelegatedResource",
    "InvalidChainInput",
    "SignedTx",
    "SignerKeyMismatch",
    "TransactionInfo",
    "TransactionRejected",
    "TxLookup",
    "TxState",
    "TxidMismatch",
    "Unfreezing",
    "UnsignedTx",
    "activation_cost",
    "tx_bandwidth_bytes",
]
