"""What the domains need from the chain, as a Protocol and frozen dataclasses.

Domains depend on ``ChainPort`` only; ``gateway.TronGateway`` implements it over tronpy. Amounts
are integer sun, energy integer units, times integer milliseconds, addresses base58 (``T...``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from hashlib import sha256
from typing import Any, Final, Protocol

from tronproto.tx import raw_data_to_bytes
from tronrent.adapters.tron.errors import TxidMismatch

#: ContractType numbers of the two contracts a delegate-only key may sign
DELEGATE_RESOURCE: Final = 57
UNDELEGATE_RESOURCE: Final = 58


@dataclass(frozen=True, slots=True)
class ActivePermission:
    """One ``active_permission`` of an account: the contract types its keys may sign
    (``operations``, ContractType numbers) with weights against ``threshold``."""

    id: int
    name: str
    threshold: int
    keys: tuple[tuple[str, int], ...]
    operations: frozenset[int]

    def can_sign(self, address: str) -> bool:
        """Whether ``address``'s key alone meets the threshold."""
        return sum(w for key, w in self.keys if key == address) >= self.threshold


@dataclass(frozen=True, slots=True)
class Unfreezing:
    """One pending (or withdrawable, once ``expire_time_ms`` passed) ``unfrozenV2`` entry."""

    resource: str
    amount_sun: int
    expire_time_ms: int


@dataclass(frozen=True, slots=True)
class Account:
    """``getaccount``: balance and Stake 2.0 figures of an existing account."""

    address: str
    balance_sun: int
    frozen_energy_sun: int
    """Own stake for energy (``frozenV2`` ENERGY), including what is delegated out."""
    frozen_bandwidth_sun: int
    delegated_energy_sun: int
    """Stake for energy delegated to others (``delegated_frozenV2_balance_for_energy``)."""
    acquired_energy_sun: int
    """Stake for energy delegated to this account by others."""
    energy_usage: int
    create_time_ms: int
    unfreezing_sun: int
    """Sum of pending ``unfrozenV2`` amounts."""
    owner_threshold: int = 1
    owner_keys: tuple[tuple[str, int], ...] = ()
    """``owner_permission``: (base58 address, weight) of each key; empty when the node gave none
    (then the account's own key alone owns it)."""
    active_permissions: tuple[ActivePermission, ...] = ()
    unfreezing: tuple[Unfreezing, ...] = ()
    """``unfrozenV2``: every pending unstake with when it can be withdrawn."""

    def active_permission(self, permission_id: int) -> ActivePermission | None:
        return next((p for p in self.active_permissions if p.id == permission_id), None)

    def withdrawable_sun(self, now_ms: int) -> int:
        """Unstaked TRX whose wait has passed at chain time ``now_ms``."""
        return sum(u.amount_sun for u in self.unfreezing if u.expire_time_ms <= now_ms)

    def owner_can_sign(self, address: str) -> bool:
        """Whether ``address``'s key alone meets the owner permission's threshold."""
        if not self.owner_keys:
            return address == self.address
        weight = sum(w for key, w in self.owner_keys if key == address)
        return weight >= self.owner_threshold


@dataclass(frozen=True, slots=True)
class AccountResource:
    """``getaccountresource``: the account's limits and the network totals (energy ratio)."""

    energy_limit: int
    energy_used: int
    net_limit: int
    net_used: int
    free_net_limit: int
    free_net_used: int
    total_energy_limit: int
    total_energy_weight: int
    total_net_limit: int
    total_net_weight: int

    @property
    def energy_available(self) -> int:
        return max(0, self.energy_limit - self.energy_used)

    @property
    def bandwidth_available(self) -> int:
        return max(0, self.net_limit - self.net_used) + max(
            0, self.free_net_limit - self.free_net_used
        )

    @property
    def staked_bandwidth_available(self) -> int:
        """Bandwidth from stake (own or delegated in) left now; the free 600 a day not counted:
        it never pays for creating an account (see ``activation_cost``)."""
        return max(0, self.net_limit - self.net_used)


@dataclass(frozen=True, slots=True)
class ChainParameters:
    """``getchainparameters`` as ``{key: value}``; a few named accessors for what we use."""

    values: Mapping[str, int]

    def get(self, key: str, default: int = 0) -> int:
        return self.values.get(key, default)

    @property
    def energy_fee_sun(self) -> int:
        """Sun burnt per energy unit when none is available (``getEnergyFee``)."""
        return self.get("getEnergyFee")

    @property
    def transaction_fee_sun(self) -> int:
        """Sun burnt per bandwidth byte (``getTransactionFee``)."""
        return self.get("getTransactionFee")

    @property
    def max_delegate_lock_period(self) -> int:
        """Longest ``lock_period`` in blocks (``getMaxDelegateLockPeriod``)."""
        return self.get("getMaxDelegateLockPeriod")

    @property
    def create_new_account_fee_sun(self) -> int:
        """Sun burnt by the sender of a transaction that creates an account - a TRX transfer to
        a new address or an ``AccountCreateContract`` (``getCreateNewAccountFeeInSystemContract``,
        1 TRX on mainnet)."""
        return self.get("getCreateNewAccountFeeInSystemContract")

    @property
    def create_account_fee_sun(self) -> int:
        """Sun burnt for the bandwidth of an account-creating transaction when the sender's
        staked bandwidth does not cover it (``getCreateAccountFee``, 0.1 TRX on mainnet)."""
        return self.get("getCreateAccountFee")

    @property
    def create_new_account_bandwidth_rate(self) -> int:
        """Staked bandwidth consumed per byte of an account-creating transaction
        (``getCreateNewAccountBandwidthRate``, 1 on mainnet; 1 when the node does not say)."""
        return self.get("getCreateNewAccountBandwidthRate", 1)


ACTIVATION_TX_BYTES: Final = 300
"""Upper bound of the bandwidth size (``tx_bandwidth_bytes``) of a single-signature
``AccountCreateContract`` or memo-less ``TransferContract``: about 270-280 bytes in practice.
An estimate made with it is never cheaper than the real cost."""

MAX_RESULT_SIZE_IN_TX: Final = 64
"""java-tron counts 64 bytes of result per contract on top of the transaction's size."""

SIGNATURE_BYTES: Final = 67
"""One 65-byte signature as a protobuf field (tag, length, bytes)."""


def tx_bandwidth_bytes(tx: UnsignedTx, signatures: int | None = None) -> int:
    """Bandwidth a transaction consumes, as java-tron's ``BandwidthProcessor.consume`` counts
    it: the serialized ``Transaction`` without ``ret`` plus 64 bytes (one contract).

    ``signatures``: how many 65-byte signatures it carries (default: those of a ``SignedTx``,
    or 1 for an unsigned one).
    """
    raw_len = len(tx.raw_data_hex) // 2
    if signatures is None:
        signatures = len(tx.signature) if isinstance(tx, SignedTx) and tx.signature else 1
    return 1 + _varint_len(raw_len) + raw_len + signatures * SIGNATURE_BYTES + MAX_RESULT_SIZE_IN_TX


def _varint_len(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)


@dataclass(frozen=True, slots=True)
class ActivationCost:
    """What creating ("activating") an account costs its sender, from ``activation_cost``.

    The same for a TRX transfer to a new address (plus the amount sent) and for an
    ``AccountCreateContract``.
    """

    fee_sun: int
    """``getCreateNewAccountFeeInSystemContract``: always burnt."""
    bandwidth_fee_sun: int
    """``getCreateAccountFee``, burnt when staked bandwidth does not cover ``bandwidth_bytes``
    (then no bandwidth is consumed); 0 when it does."""
    bandwidth_bytes: int
    """Staked bandwidth consumed: transaction bytes x ``getCreateNewAccountBandwidthRate``."""
    uses_staked_bandwidth: bool

    @property
    def total_sun(self) -> int:
        """TRX (sun) the sender must have on top of any amount it sends."""
        return self.fee_sun + self.bandwidth_fee_sun


def activation_cost(
    params: ChainParameters,
    staked_bandwidth_available: int,
    *,
    tx_bytes: int = ACTIVATION_TX_BYTES,
) -> ActivationCost:
    """The cost of an account-creating transaction for a sender with
    ``staked_bandwidth_available`` (``AccountResource.staked_bandwidth_available``).

    java-tron's rule (``BandwidthProcessor.consumeForCreateNewAccount``): the transaction's
    ``tx_bytes`` x ``getCreateNewAccountBandwidthRate`` come from staked bandwidth if enough is
    left, else ``getCreateAccountFee`` is burnt; the free daily bandwidth never pays for it. On
    top, ``getCreateNewAccountFeeInSystemContract`` is burnt (``TransferActuator``,
    ``CreateAccountActuator``). Every figure comes from ``params`` (``getchainparameters``).
    ``tx_bytes`` defaults to an upper bound (``ACTIVATION_TX_BYTES``); pass
    ``tx_bandwidth_bytes(tx)`` for a built transaction.
    """
    if tx_bytes < 0 or staked_bandwidth_available < 0:
        raise ValueError("bytes and bandwidth must be >= 0")
    fee = params.create_new_account_fee_sun
    bandwidth = tx_bytes * params.create_new_account_bandwidth_rate
    if bandwidth <= staked_bandwidth_available:
        return ActivationCost(fee, 0, bandwidth, True)
    return ActivationCost(fee, params.create_account_fee_sun, 0, False)


@dataclass(frozen=True, slots=True)
class DelegatedResource:
    """One ``getdelegatedresourcev2`` record (owner -> receiver)."""

    from_address: str
    to_address: str
    energy_sun: int
    energy_expire_time_ms: int
    """0 for an unlocked delegation; else when the lock ends (undelegatable after it)."""
    bandwidth_sun: int
    bandwidth_expire_time_ms: int

    def energy_locked_at(self, now_ms: int) -> bool:
        return self.energy_expire_time_ms > now_ms


@dataclass(frozen=True, slots=True)
class BlockHeader:
    number: int
    block_id: str
    parent_hash: str
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class TransactionInfo:
    """``gettransactioninfobyid`` of a transaction included in a block."""

    txid: str
    block_number: int
    block_timestamp_ms: int
    fee_sun: int
    failed: bool
    """``result: FAILED`` (a contract execution failure)."""
    message: str
    receipt: Mapping[str, Any]
    logs: Sequence[Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class ChainTransaction:
    """``gettransactionbyid``: a transaction included in a block, first contract decoded."""

    txid: str
    contract_type: str
    parameter: Mapping[str, Any]
    """The first contract's ``parameter.value``, addresses in base58."""
    contract_ret: str
    """``SUCCESS``, ``REVERT``, ``OUT_OF_ENERGY``... (``SUCCESS`` when the node omits it)."""
    raw_data: Mapping[str, Any]


class TxState(StrEnum):
    """Where a transaction stands on chain.

    ``absent``: in no block (never seen, still in a node's pool, or dropped); ``pending``: in a
    block with fewer than the asked confirmations; ``confirmed``: deep enough and succeeded;
    ``failed``: included but its execution failed.
    """

    ABSENT = "absent"
    PENDING = "pending"
    CONFIRMED = "confirmed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TxLookup:
    txid: str
    state: TxState
    block_number: int | None = None
    confirmations: int = 0
    fee_sun: int = 0
    message: str = ""


@dataclass(frozen=True, slots=True)
class UnsignedTx:
    """A built transaction: ``txid`` has been checked against ``raw_data`` locally."""

    txid: str
    raw_data: Mapping[str, Any]
    raw_data_hex: str

    @property
    def expiration_ms(self) -> int:
        return int(self.raw_data["expiration"])

    @property
    def contract_type(self) -> str:
        return str(self.raw_data["contract"][0]["type"])

    @property
    def owner_address_hex(self) -> str:
        return str(self.raw_data["contract"][0]["parameter"]["value"]["owner_address"])


@dataclass(frozen=True, slots=True)
class SignedTx(UnsignedTx):
    """A signed transaction, storable (``to_json``/``from_json``) before it is broadcast."""

    signature: tuple[str, ...] = field(default=())

    def to_json(self) -> str:
        """Canonical JSON to store: ``{txID, raw_data, raw_data_hex, signature}``."""
        return json.dumps(
            {
                "txID": self.txid,
                "raw_data": self.raw_data,
                "raw_data_hex": self.raw_data_hex,
                "signature": list(self.signature),
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | Mapping[str, Any]) -> SignedTx:
        """Load a stored transaction; the txID is recomputed and must match (``TxidMismatch``)."""
        data = json.loads(text) if isinstance(text, str) else text
        raw_bytes = raw_data_to_bytes(data["raw_data"])
        computed = sha256(raw_bytes).hexdigest()
        if computed != data["txID"]:
            raise TxidMismatch(computed, str(data["txID"]))
        return cls(
            txid=computed,
            raw_data=data["raw_data"],
            raw_data_hex=raw_bytes.hex(),
            signature=tuple(str(s) for s in data.get("signature", ())),
        )


@dataclass(frozen=True, slots=True)
class BroadcastResult:
    """``duplicate``: the node already had it ("Dup transaction") - still a success."""

    txid: str
    duplicate: bool = False


class ChainPort(Protocol):
    """The chain operations domains use. Errors: ``ChainUnavailable`` (retry later),
    ``TransactionRejected`` (permanent), ``TxidMismatch``, ``SignerKeyMismatch``."""

    async def get_account(self, address: str) -> Account | None:
        """The account, or ``None`` when it does not exist on chain."""
        ...

    async def get_account_resource(self, address: str) -> AccountResource:
        """Limits of ``address`` and the network totals (energy ratio)."""
        ...

    async def trc20_balance(self, contract: str, holder: str) -> int | None:
        """``balanceOf(holder)`` of a TRC20 token in base units (USDT: 6 decimals), read with
        ``triggerconstantcontract``; ``None`` when ``contract`` is not a contract on this chain."""
        ...

    async def get_chain_parameters(self) -> ChainParameters: ...

    async def get_head_block(self) -> BlockHeader: ...

    async def get_head_block_number(self) -> int: ...

    async def get_blocks(self, start: int, end: int) -> Sequence[Mapping[str, Any]]:
        """Blocks ``[start, end)`` (at most 100) as node JSON, via ``getblockbylimitnext``."""
        ...

    async def get_transaction_infos(self, block_number: int) -> Sequence[Mapping[str, Any]]:
        """All transaction infos (with logs) of one block (``gettransactioninfobyblocknum``)."""
        ...

    async def get_transaction(self, txid: str) -> ChainTransaction | None: ...

    async def get_transaction_info(self, txid: str) -> TransactionInfo | None: ...

    async def can_delegate_max_size(self, owner: str) -> int:
        """Sun of energy stake ``owner`` can delegate now (``getcandelegatedmaxsize``)."""
        ...

    async def get_delegated_resource(
        self, owner: str, receiver: str
    ) -> list[DelegatedResource]: ...

    async def build_delegate(
        self, owner: str, receiver: str, balance_sun: int, *, lock: bool, lock_period: int
    ) -> UnsignedTx:
        """DelegateResourceContract (ENERGY); ``lock_period`` in blocks."""
        ...

    async def build_undelegate(self, owner: str, receiver: str, balance_sun: int) -> UnsignedTx:
        """UnDelegateResourceContract (ENERGY)."""
        ...

    async def build_transfer(
        self, owner: str, to: str, amount_sun: int, memo: str | None = None
    ) -> UnsignedTx: ...

    async def build_create_account(self, owner: str, account: str) -> UnsignedTx:
        """AccountCreateContract: ``owner`` (must exist) creates ``account`` (must not); costs
        ``activation_cost``. Rejected with "Account has existed" when it exists."""
        ...

    async def reference_block(self, max_age_s: float) -> BlockHeader:
        """A recent head block for TaPoS, read at most once per ``max_age_s`` (cached)."""
        ...

    async def energy_totals(self, address: str, max_age_s: float) -> tuple[int, int]:
        """``(TotalEnergyLimit, TotalEnergyWeight)``, read at most once per ``max_age_s``."""
        ...

    def build_delegate_local(
        self,
        ref: BlockHeader,
        owner: str,
        receiver: str,
        balance_sun: int,
        *,
        lock: bool,
        lock_period: int,
        permission_id: int = 0,
    ) -> UnsignedTx:
        """``build_delegate`` without a node round trip: TaPoS from ``ref``, txID local.
        ``permission_id``: the active permission that signs it (0: the owner)."""
        ...

    def build_undelegate_local(
        self,
        ref: BlockHeader,
        owner: str,
        receiver: str,
        balance_sun: int,
        *,
        permission_id: int = 0,
    ) -> UnsignedTx:
        """``build_undelegate`` without a node round trip."""
        ...

    async def build_freeze(self, owner: str, amount_sun: int) -> UnsignedTx:
        """FreezeBalanceV2Contract: stake ``amount_sun`` for ENERGY."""
        ...

    async def build_unfreeze(self, owner: str, amount_sun: int) -> UnsignedTx:
        """UnfreezeBalanceV2Contract: start unstaking ``amount_sun`` of ENERGY stake."""
        ...

    async def build_withdraw_unfrozen(self, owner: str) -> UnsignedTx:
        """WithdrawExpireUnfreezeContract: take back unstaked TRX whose wait has passed."""
        ...

    async def build_cancel_unfreeze(self, owner: str) -> UnsignedTx:
        """CancelAllUnfreezeV2Contract: re-stake every pending unstake (expired ones are
        withdrawn)."""
        ...

    def build_transfer_local(
        self, ref: BlockHeader, owner: str, to: str, amount_sun: int, memo: str | None = None
    ) -> UnsignedTx:
        """``build_transfer`` without a node round trip."""
        ...

    def build_create_account_local(self, ref: BlockHeader, owner: str, account: str) -> UnsignedTx:
        """``build_create_account`` without a node round trip: TaPoS from ``ref``, txID local."""
        ...

    def build_trc20_transfer_local(
        self,
        ref: BlockHeader,
        owner: str,
        contract: str,
        to: str,
        units: int,
        *,
        fee_limit_sun: int,
    ) -> UnsignedTx:
        """TriggerSmartContract ``transfer(to, units)`` on the TRC20 ``contract``, built
        locally from ``ref``; at most ``fee_limit_sun`` TRX burnt for energy."""
        ...

    def sign(self, tx: UnsignedTx, private_key: bytes | str) -> SignedTx:
        """Sign locally after re-checking the txID and that the key owns the transaction."""
        ...

    async def broadcast(self, tx: SignedTx) -> BroadcastResult:
        """Idempotent: "Dup transaction" counts as success."""
        ...

    async def find_transaction(self, txid: str, *, confirmations: int = 0) -> TxLookup: ...
