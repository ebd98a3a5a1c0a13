"""In-memory records: accounts, delegations, transactions and blocks."""

from __future__ import annotations

from dataclasses import dataclass, field

BANDWIDTH, ENERGY, TRON_POWER = 0, 1, 2


def recover_usage(usage: int, last_slot: int, now_slot: int, window: int) -> int:
    """Usage after linear recovery from last_slot to now_slot over `window` slots."""
    if usage <= 0:
        return 0
    delta = now_slot - last_slot
    if delta <= 0:
        return usage
    if delta >= window:
        return 0
    return usage * (window - delta) // window


class Account:
    """One account; Stake 2.0 balances in sun, usage in bandwidth/energy units."""

    __slots__ = (
        "acquired_bw",
        "acquired_energy",
        "active_permission",
        "address",
        "balance",
        "create_time",
        "deleg_out_bw",
        "deleg_out_energy",
        "energy_slot",
        "energy_usage",
        "free_net_slot",
        "free_net_usage",
        "frozen_bw",
        "frozen_energy",
        "frozen_tp",
        "is_contract",
        "latest_consume_time_energy",
        "latest_consume_time_net",
        "latest_opration_time",
        "net_slot",
        "net_usage",
        "owner_permission",
        "unfrozen",
    )

    def __init__(self, address: bytes, create_time: int, is_contract: bool = False) -> None:
        self.address = address
        self.balance = 0
        self.create_time = create_time
        self.latest_opration_time = 0
        self.frozen_bw = 0
        self.frozen_energy = 0
        self.frozen_tp = 0
        self.unfrozen: list[tuple[int, int, int]] = []  # (resource, amount, expire_ms)
        self.deleg_out_bw = 0
        self.deleg_out_energy = 0
        self.acquired_bw = 0
        self.acquired_energy = 0
        self.net_usage = 0
        self.net_slot = 0
        self.free_net_usage = 0
        self.free_net_slot = 0
        self.energy_usage = 0
        self.energy_slot = 0
        self.latest_consume_time_energy = 0
        self.latest_consume_time_net = 0
        self.is_contract = is_contract
        # None = default (the account's own key, threshold 1)
        self.owner_permission: Permission | None = None
        self.active_permission: list[Permission] | None = None  # ids 2, 3, ... (at most 8)

    def energy_stake(self) -> int:
        """Sun counted for the energy limit: own (not delegated out) + delegated in."""
        return self.frozen_energy + self.acquired_energy

    def net_stake(self) -> int:
        return self.frozen_bw + self.acquired_bw


@dataclass(slots=True)
class Permission:
    """An owner or active permission: keys with weights and a threshold."""

    threshold: int
    keys: list[tuple[bytes, int]]
    name: str = "owner"
    id: int = 0
    operations: str | None = None


@dataclass(slots=True)
class LogEntry:
    address: bytes  # 20 bytes
    topics: list[bytes]
    data: bytes


class TxRecord:
    """An accepted transaction and, once executed, its receipt."""

    __slots__ = (
        "block_number",
        "block_ts",
        "contract_address",
        "contract_result",
        "contract_type",
        "energy_fee",
        "energy_usage",
        "energy_usage_total",
        "exec_ms",
        "extra",
        "fee",
        "logs",
        "net_fee",
        "net_usage",
        "owner",
        "raw",
        "receipt_result",
        "res_message",
        "signatures",
        "timestamp",
        "to",
        "txid",
        "value",
    )

    def __init__(
        self,
        txid: bytes,
        raw: bytes,
        signatures: tuple[bytes, ...],
        contract_type: str,
        value: dict[str, object],
        owner: bytes,
        timestamp: int,
    ) -> None:
        self.txid = txid
        self.raw = raw
        self.signatures = signatures
        self.contract_type = contract_type
        self.value = value
        self.owner = owner
        self.to: bytes | None = None
        self.timestamp = timestamp
        self.block_number = -1
        self.block_ts = 0
        self.exec_ms = 0
        self.fee = 0
        self.net_usage = 0
        self.net_fee = 0
        self.energy_usage = 0
        self.energy_fee = 0
        self.energy_usage_total = 0
        self.receipt_result = ""  # "" for system contracts, else SUCCESS / REVERT / OUT_OF_ENERGY
        self.contract_result: bytes | None = None
        self.contract_address: bytes | None = None
        self.logs: list[LogEntry] = []
        self.res_message = ""
        self.extra: dict[str, int] = {}

    @property
    def contract_ret(self) -> str:
        return self.receipt_result or "SUCCESS"

    @property
    def failed(self) -> bool:
        return self.receipt_result not in ("", "SUCCESS")


@dataclass(slots=True)
class Block:
    number: int
    timestamp: int
    parent_hash: bytes
    tx_trie_root: bytes
    witness_address: bytes
    version: int
    header_raw: bytes
    block_id: bytes
    witness_signature: bytes
    txs: list[TxRecord] = field(default_factory=list)
