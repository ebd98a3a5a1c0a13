"""The chain engine: state, broadcast validation, Stake 2.0, resources, USDT, blocks, forks.

Pure and in memory; the HTTP layer (`trondevnet.http`) only translates JSON to these calls.
Every time rule is counted in slots of one block interval (`config.block_interval_ms`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from trondevnet import errors as E
from trondevnet.config import (
    ACTIVE_DEFAULT_OPERATIONS,
    CHAIN_PARAMETER_FIELDS,
    TRX,
    DevnetConfig,
)
from trondevnet.state import (
    BANDWIDTH,
    ENERGY,
    TRON_POWER,
    Account,
    Block,
    LogEntry,
    Permission,
    TxRecord,
    recover_usage,
)
from trondevnet.usdt import Usdt
from tronproto.address import to_base58
from tronproto.block import block_header_hash, block_id, merkle_root
from tronproto.keys import BadSignatureError, PrivateKey, recover_address, sign_hash
from tronproto.pb import DecodeError, field_bytes, field_varint, varint
from tronproto.tx import (
    CONTRACT_SPECS,
    TYPE_URL_PREFIX,
    TxFormatError,
    decode_raw,
    transaction_to_bytes,
    txid_bytes,
)

RESOURCE_BY_NAME = {"BANDWIDTH": BANDWIDTH, "ENERGY": ENERGY, "TRON_POWER": TRON_POWER}
MAX_RESULT_SIZE_IN_TX = 64
PER_SIGN_LENGTH = 65
MAX_TX_SIZE = 500 * 1024
DAY_MS = 86_400_000
BLOCK_VERSION = 32
RECENT_BLOCKS = 65_536
TX_EXPIRATION_MS = 60_000  # of a transaction the node builds, after its reference block
_CANCEL_KEYS = {ENERGY: "cancel_energy", BANDWIDTH: "cancel_bandwidth"}  # else tron power


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


def _res_label(resource: int) -> str:
    return "ENERGY" if resource == ENERGY else "BANDWIDTH"


def _res_int(value: Any) -> int:
    if value is None or value == "":
        return BANDWIDTH
    if isinstance(value, str):
        return RESOURCE_BY_NAME.get(value, -1)
    return int(value)


def _addr(value: Any) -> bytes:
    if not value:
        return b""
    if isinstance(value, bytes):
        return value
    return bytes.fromhex(str(value))


@dataclass(slots=True)
class _BandwidthPlan:
    bytes_used: int
    source: str  # "staked", "free", "burn", "create_staked", "create_burn"
    fee: int


@dataclass(slots=True)
class _Journal:
    kind: str  # "tx", "faucet", "vweight", "permission", "params"
    tx: TxRecord | None = None
    args: tuple[Any, ...] = ()


class Chain:
    """One-producer TRON chain kept in memory."""

    def __init__(
        self, config: DevnetConfig | None = None, clock: Callable[[], int] | None = None
    ) -> None:
        self.config = config or DevnetConfig()
        self.clock = clock or wall_clock_ms
        self.witness_key = PrivateKey.from_hex(self.config.witness_private_key)
        self.witness_address = self.witness_key.address
        from tronproto.address import to_raw

        self.usdt_address = to_raw(self.config.usdt_address)
        self.blocks: list[Block] = []
        self.block_by_id: dict[bytes, Block] = {}
        self.recent_refs: dict[bytes, bytes] = {}
        self.journal: list[_Journal] = []
        self.virtual_energy_weight = self.config.virtual_energy_weight
        self._initial_parameters = self.config.chain_parameters
        self._dry = False
        self._reset_state()
        self._produce(self.clock(), [])
        self.genesis_ts = self.blocks[0].timestamp
        for address, balance in self.config.genesis_accounts.items():
            self.faucet(to_raw(address), balance, 0)

    # ------------------------------------------------------------------ state
    def _reset_state(self) -> None:
        c = self.config
        self.accounts: dict[bytes, Account] = {}
        # (from, to, locked) -> Delegation; one record holds both resources, like java-tron
        self.delegations: dict[tuple[bytes, bytes, bool], _Deleg] = {}
        self.deleg_to: dict[bytes, set[bytes]] = {}
        self.deleg_from: dict[bytes, set[bytes]] = {}
        self.total_energy_stake = 0  # sun staked for energy network-wide
        self.total_net_stake = 0
        self.txs: dict[bytes, TxRecord] = {}
        self.pending: list[TxRecord] = []
        self.tx_index: dict[bytes, list[TxRecord]] = {}
        self.trc20_index: dict[bytes, list[tuple[TxRecord, bytes, bytes, int]]] = {}
        self.usdt = Usdt(
            self.usdt_address,
            c.usdt_energy_existing_holder,
            c.usdt_energy_new_holder,
            c.usdt_energy_revert,
            c.usdt_energy_view,
        )
        contract = Account(self.usdt_address, 0, is_contract=True)
        self.accounts[self.usdt_address] = contract

    @property
    def head(self) -> Block:
        return self.blocks[-1]

    def unsigned_raw_data(
        self,
        contract_type: str,
        value: dict[str, Any],
        *,
        permission_id: int = 0,
        expiration_ms: int | None = None,
        timestamp_ms: int | None = None,
    ) -> dict[str, Any]:
        """JSON ``raw_data`` of one contract referencing the head block (TaPoS), as a node builds
        it: expiring ``TX_EXPIRATION_MS`` after the head block unless ``expiration_ms`` says."""
        head = self.head
        contract: dict[str, Any] = {
            "parameter": {"value": value, "type_url": TYPE_URL_PREFIX + contract_type},
            "type": contract_type,
        }
        if permission_id:
            contract["Permission_id"] = permission_id
        return {
            "contract": [contract],
            "ref_block_bytes": head.block_id[6:8].hex(),
            "ref_block_hash": head.block_id[8:16].hex(),
            "expiration": head.timestamp + TX_EXPIRATION_MS
            if expiration_ms is None
            else expiration_ms,
            "timestamp": wall_clock_ms() if timestamp_ms is None else timestamp_ms,
        }

    @property
    def solid(self) -> Block:
        return self.blocks[max(0, len(self.blocks) - 1 - self.config.solid_lag_blocks)]

    def now_ms(self) -> int:
        """Chain time: the head block's timestamp (as java-tron uses)."""
        return self.blocks[-1].timestamp

    def slot_of(self, ms: int) -> int:
        return (ms - self.genesis_ts) // self.config.block_interval_ms if self.blocks else 0

    # -------------------------------------------------------------- resources
    @property
    def total_energy_weight(self) -> int:
        return self.total_energy_stake // TRX + self.virtual_energy_weight

    @property
    def total_net_weight(self) -> int:
        return self.total_net_stake // TRX + self.config.virtual_net_weight

    def energy_limit(self, acct: Account) -> int:
        weight = self.total_energy_weight
        if weight <= 0:
            return 0
        return int((acct.energy_stake() // TRX) * (self.config.total_energy_limit / weight))

    def net_limit(self, acct: Account) -> int:
        weight = self.total_net_weight
        if weight <= 0:
            return 0
        return int((acct.net_stake() // TRX) * (self.config.total_net_limit / weight))

    def energy_used(self, acct: Account, now_ms: int | None = None) -> int:
        now = self.slot_of(self.now_ms() if now_ms is None else now_ms)
        return recover_usage(acct.energy_usage, acct.energy_slot, now, self.config.window_slots)

    def net_used(self, acct: Account, now_ms: int | None = None) -> int:
        now = self.slot_of(self.now_ms() if now_ms is None else now_ms)
        return recover_usage(acct.net_usage, acct.net_slot, now, self.config.window_slots)

    def free_net_used(self, acct: Account, now_ms: int | None = None) -> int:
        now = self.slot_of(self.now_ms() if now_ms is None else now_ms)
        return recover_usage(acct.free_net_usage, acct.free_net_slot, now, self.config.window_slots)

    def _v2_usage_sun(self, acct: Account, resource: int, now_ms: int) -> int:
        """Stake (sun) tied up by the owner's own unrecovered usage (java-tron getV2*Usage)."""
        if resource == ENERGY:
            usage = self.energy_used(acct, now_ms)
            part = int(usage * TRX * (self.total_energy_weight / self.config.total_energy_limit))
            return max(0, part - acct.acquired_energy)
        usage = self.net_used(acct, now_ms)
        part = int(usage * TRX * (self.total_net_weight / self.config.total_net_limit))
        return max(0, part - acct.acquired_bw)

    def can_delegate_max(self, acct: Account, resource: int) -> int:
        now = self.now_ms()
        frozen = acct.frozen_energy if resource == ENERGY else acct.frozen_bw
        return max(0, frozen - self._v2_usage_sun(acct, resource, now))

    def set_virtual_energy_weight(self, weight: int) -> None:
        self.virtual_energy_weight = weight
        self.journal.append(_Journal("vweight", args=(weight,)))

    def set_chain_parameters(self, values: Mapping[str, int]) -> dict[str, int]:
        """Change chain parameters (``getchainparameters`` keys of ``CHAIN_PARAMETER_FIELDS``),
        as a committee proposal would; they apply to the next transaction. Returns them all."""
        unknown = sorted(set(values) - set(CHAIN_PARAMETER_FIELDS))
        if unknown:
            raise ValueError(f"not a settable chain parameter: {', '.join(unknown)}")
        for key, value in values.items():
            if type(value) is not int or value < 0:
                raise ValueError(f"{key} must be an integer >= 0")
        changes = dict(values)
        self.journal.append(_Journal("params", args=(changes,)))
        self._apply_parameters(changes)
        return self.config.chain_parameters

    def _apply_parameters(self, values: Mapping[str, int]) -> None:
        for key, value in values.items():
            setattr(self.config, CHAIN_PARAMETER_FIELDS[key], value)

    # ------------------------------------------------------------------ faucet
    def get_or_create(self, address: bytes, now_ms: int) -> Account:
        acct = self.accounts.get(address)
        if acct is None:
            acct = Account(address, now_ms)
            self.accounts[address] = acct
        return acct

    def faucet(self, address: bytes, trx_sun: int = 0, usdt_units: int = 0) -> Account:
        """Credit TRX (sun) and/or USDT (base units), creating the account if needed."""
        if trx_sun < 0 or usdt_units < 0:
            raise ValueError("amounts must be >= 0")
        now = self.now_ms()
        self.journal.append(_Journal("faucet", args=(address, trx_sun, usdt_units, now)))
        return self._faucet(address, trx_sun, usdt_units, now)

    def _faucet(self, address: bytes, trx_sun: int, usdt_units: int, now: int) -> Account:
        acct = self.get_or_create(address, now)
        acct.balance += trx_sun
        if usdt_units:
            self.usdt.mint(address, usdt_units)
        return acct

    def faucet_many(self, items: Iterable[tuple[bytes, int, int]]) -> int:
        n = 0
        for address, trx_sun, usdt_units in items:
            self.faucet(address, trx_sun, usdt_units)
            n += 1
        return n

    def set_permission(
        self,
        address: bytes,
        owner: Permission | None,
        active: Permission | list[Permission] | None,
    ) -> None:
        self.journal.append(_Journal("permission", args=(address, owner, active)))
        self._set_permission(address, owner, active)

    def _set_permission(
        self,
        address: bytes,
        owner: Permission | None,
        active: Permission | list[Permission] | None,
    ) -> None:
        acct = self.get_or_create(address, self.now_ms())
        if owner is not None:
            acct.owner_permission = owner
        if active is not None:
            acct.active_permission = list(active) if isinstance(active, list) else [active]

    def owner_permission(self, acct: Account) -> Permission:
        return acct.owner_permission or Permission(1, [(acct.address, 1)], "owner", 0)

    def active_permissions(self, acct: Account) -> list[Permission]:
        """The account's active permissions (ids 2, 3, ...); the default one when never set."""
        return acct.active_permission or [
            Permission(1, [(acct.address, 1)], "active", 2, ACTIVE_DEFAULT_OPERATIONS)
        ]

    def active_permission(self, acct: Account) -> Permission:
        return self.active_permissions(acct)[0]

    def permission_by_id(self, acct: Account, pid: int) -> Permission | None:
        """java-tron ``AccountCapsule.getPermissionById``: 0 owner, 1 witness (none here: the
        devnet's accounts are not witnesses), else the active permission with that id."""
        if pid == 0:
            return self.owner_permission(acct)
        for perm in self.active_permissions(acct) if pid >= 2 else []:
            if perm.id == pid:
                return perm
        return None

    # --------------------------------------------------------------- broadcast
    def broadcast(self, raw: bytes, signatures: list[bytes]) -> TxRecord:
        """Validate and execute a signed transaction; it is packed into the next block."""
        if len(raw) + 67 * len(signatures) > MAX_TX_SIZE:
            raise E.TxError(E.TOO_BIG_TRANSACTION_ERROR, "Transaction size is too big.")
        txid = txid_bytes(raw)
        tx, ref_bytes, ref_hash, expiration, nsigs_ok = self._parse(txid, raw, signatures)
        # TaPoS
        if self.recent_refs.get(ref_bytes) != ref_hash or len(ref_hash) != 8:
            raise E.tapos_error()
        head_ts = self.now_ms()
        if expiration <= head_ts or expiration > head_ts + DAY_MS:
            raise E.expired_error()
        if txid in self.txs:
            raise E.dup_error()
        if not nsigs_ok:
            raise E.sig_error("miss sig or contract")
        self._check_signatures(tx, signatures)
        tx.exec_ms = head_ts
        self._execute(tx, head_ts)
        self.txs[txid] = tx
        self.pending.append(tx)
        self.journal.append(_Journal("tx", tx=tx))
        return tx

    def validate_only(self, raw: bytes) -> TxRecord:
        """Run the contract validation of an unsigned transaction without changing state."""
        tx = self._parse(txid_bytes(raw), raw, [])[0]
        handler = _HANDLERS.get(tx.contract_type)
        if handler is None:
            raise E.ContractValidateError(f"contract type {tx.contract_type} is not supported")
        self._dry = True
        try:
            handler(self, tx, self.now_ms())
        finally:
            self._dry = False
        return tx

    def _parse(
        self, txid: bytes, raw: bytes, signatures: list[bytes]
    ) -> tuple[TxRecord, bytes, bytes, int, bool]:
        try:
            decoded = decode_raw(raw)
        except (DecodeError, TxFormatError, UnicodeDecodeError) as exc:
            raise E.TxError(E.OTHER_ERROR, f"invalid transaction: {exc}") from exc
        if len(decoded.contracts) != 1:
            raise E.ContractValidateError("act size should be exactly 1, this is extend feature")
        ctype, value, pid = decoded.contracts[0]
        owner = value.get("owner_address", b"")
        if len(owner) != 21:
            raise E.ContractValidateError("Invalid address")
        tx = TxRecord(txid, raw, tuple(signatures), ctype, value, owner, decoded.timestamp)
        tx.extra["permission_id"] = pid
        if decoded.has_memo:
            tx.extra["memo"] = 1
        if decoded.fee_limit:
            tx.extra["fee_limit"] = decoded.fee_limit
        return (
            tx,
            decoded.ref_block_bytes,
            decoded.ref_block_hash,
            decoded.expiration,
            bool(signatures),
        )

    def _check_signatures(self, tx: TxRecord, signatures: list[bytes]) -> None:
        """java-tron ``TransactionCapsule.validateSignature``: the permission named by the
        contract's ``Permission_id`` (0 owner, 2+ active), an active one only for the contract
        types its operations bitmap allows, then the signers' weights against its threshold."""
        acct = self.accounts.get(tx.owner)
        pid = tx.extra.get("permission_id", 0)
        proto = acct or Account(tx.owner, 0)
        perm = self.permission_by_id(proto, pid)
        if perm is None or (acct is None and pid not in (0, 2)):
            raise E.sig_error("permission isn't exit")
        if pid != 0:
            ops = bytes.fromhex(perm.operations or "")
            if len(ops) != 32:
                raise E.sig_error(f"operations size must 32, actual: {len(ops)}")
            number = CONTRACT_SPECS[tx.contract_type][0]
            if not ops[number // 8] & (1 << (number % 8)):
                raise E.sig_error("Permission denied")
        if len(signatures) > len(perm.keys):
            raise E.sig_error(
                f"Signature count is {len(signatures)} more than key counts of permission : "
                f"{len(perm.keys)}"
            )
        weights = dict(perm.keys)
        total = 0
        seen: set[bytes] = set()
        for sig in signatures:
            if len(sig) != 65:
                raise E.sig_error(f"Signature size is {len(sig)}")
            try:
                signer = recover_address(sig, tx.txid)
            except BadSignatureError as exc:
                raise E.sig_error("sig error") from exc
            weight = weights.get(signer)
            if weight is None:
                raise E.sig_error(
                    f"{sig.hex()} is signed by {to_base58(signer)} "
                    "but it is not contained of permission."
                )
            if signer in seen:
                raise E.sig_error(f"{to_base58(signer)} has signed twice!")
            seen.add(signer)
            total += weight
        if total < perm.threshold:
            raise E.sig_error("sig error")

    # ---------------------------------------------------------------- execution
    def _tx_size(self, tx: TxRecord) -> int:
        n = len(tx.raw)
        size = 1 + len(varint(n)) + n
        for sig in tx.signatures:
            size += 1 + len(varint(len(sig))) + len(sig)
        return size + MAX_RESULT_SIZE_IN_TX

    def _plan_bandwidth(
        self, tx: TxRecord, acct: Account, creates_account: bool, now_ms: int
    ) -> _BandwidthPlan:
        size = self._tx_size(tx)
        staked_left = self.net_limit(acct) - self.net_used(acct, now_ms)
        if creates_account:
            # java-tron BandwidthProcessor.consumeForCreateNewAccount: staked bandwidth only
            # (bytes x getCreateNewAccountBandwidthRate), else burn getCreateAccountFee; the
            # free bandwidth never pays for an account creation
            self._check_create_account_size(tx)
            cost = size * self.config.create_new_account_bandwidth_rate
            if cost <= staked_left:
                return _BandwidthPlan(cost, "create_staked", 0)
            return _BandwidthPlan(0, "create_burn", self.config.create_account_fee)
        if size <= staked_left:
            return _BandwidthPlan(size, "staked", 0)
        free_left = self.config.free_net_limit - self.free_net_used(acct, now_ms)
        if size <= free_left:
            return _BandwidthPlan(size, "free", 0)
        return _BandwidthPlan(size, "burn", size * self.config.transaction_fee)

    def _check_create_account_size(self, tx: TxRecord) -> None:
        """java-tron: a transaction creating an account may not exceed
        ``getMaxCreateAccountTxSize`` bytes, counted without ``ret`` and 65 bytes per signature."""
        n = len(tx.raw)
        size = 1 + len(varint(n)) + n
        for sig in tx.signatures:
            size += 1 + len(varint(len(sig))) + len(sig) - PER_SIGN_LENGTH
        limit = self.config.max_create_account_tx_size
        if size > limit:
            raise E.TxError(
                E.TOO_BIG_TRANSACTION_ERROR,
                f"Too big new account transaction, TxId {tx.txid.hex()}, the size is {size} "
                f"bytes, maxTxSize {limit}",
            )

    def _apply_bandwidth(
        self, tx: TxRecord, acct: Account, plan: _BandwidthPlan, now_ms: int
    ) -> None:
        slot = self.slot_of(now_ms)
        if plan.source in ("staked", "create_staked"):
            acct.net_usage = self.net_used(acct, now_ms) + plan.bytes_used
            acct.net_slot = slot
            acct.latest_consume_time_net = now_ms
            tx.net_usage = plan.bytes_used
        elif plan.source == "free":
            acct.free_net_usage = self.free_net_used(acct, now_ms) + plan.bytes_used
            acct.free_net_slot = slot
            tx.net_usage = plan.bytes_used
        else:
            acct.balance -= plan.fee
            tx.net_fee = plan.fee
        tx.fee += plan.fee

    def _execute(self, tx: TxRecord, now_ms: int) -> None:
        handler = _HANDLERS.get(tx.contract_type)
        if handler is None:
            raise E.ContractValidateError(f"contract type {tx.contract_type} is not supported")
        handler(self, tx, now_ms)
        acct = self.accounts.get(tx.owner)
        if acct is not None:
            acct.latest_opration_time = now_ms
        self._index(tx.owner, tx)
        if tx.to is not None and tx.to != tx.owner:
            self._index(tx.to, tx)

    def _index(self, address: bytes, tx: TxRecord) -> None:
        lst = self.tx_index.get(address)
        if lst is None:
            self.tx_index[address] = [tx]
        else:
            lst.append(tx)

    def _owner(self, tx: TxRecord) -> Account:
        acct = self.accounts.get(tx.owner)
        if acct is None:
            raise E.ContractValidateError(f"Account[{tx.owner.hex()}] not exists")
        return acct

    def _charge_bandwidth(self, tx: TxRecord, acct: Account, now_ms: int) -> _BandwidthPlan:
        plan = self._plan_bandwidth(tx, acct, False, now_ms)
        if plan.fee > acct.balance:
            raise E.bandwidth_error()
        return plan

    # TransferContract
    def _transfer(self, tx: TxRecord, now_ms: int) -> None:
        v = tx.value
        to = _addr(v.get("to_address"))
        amount = int(v.get("amount", 0))  # type: ignore[call-overload]
        if len(to) != 21:
            raise E.ContractValidateError("Invalid toAddress!")
        if to == tx.owner:
            raise E.ContractValidateError("Cannot transfer TRX to yourself.")
        acct = self.accounts.get(tx.owner)
        if acct is None:
            raise E.ContractValidateError("Validate TransferContract error, no OwnerAccount.")
        if amount <= 0:
            raise E.ContractValidateError("Amount must be greater than 0.")
        to_acct = self.accounts.get(to)
        if to_acct is not None and to_acct.is_contract:
            raise E.ContractValidateError("Cannot transfer TRX to a smart contract.")
        creates = to_acct is None
        plan = self._plan_bandwidth(tx, acct, creates, now_ms)
        if plan.fee > acct.balance:
            raise E.bandwidth_error()
        fee = self.config.create_new_account_fee_in_system_contract if creates else 0
        memo_fee = self.config.memo_fee if tx.extra.get("memo") else 0
        if acct.balance - plan.fee - memo_fee < amount + fee:
            raise E.ContractValidateError(
                "Validate TransferContract error, balance is not sufficient."
            )
        if self._dry:
            return
        self._apply_bandwidth(tx, acct, plan, now_ms)
        acct.balance -= amount + fee + memo_fee
        tx.fee += fee + memo_fee
        if to_acct is None:
            to_acct = Account(to, now_ms)
            self.accounts[to] = to_acct
        to_acct.balance += amount
        tx.to = to

    # AccountCreateContract (java-tron CreateAccountActuator)
    def _create_account(self, tx: TxRecord, now_ms: int) -> None:
        acct = self._owner(tx)
        plan = self._plan_bandwidth(tx, acct, True, now_ms)
        if plan.fee > acct.balance:
            raise E.bandwidth_error()
        fee = self.config.create_new_account_fee_in_system_contract
        if acct.balance - plan.fee < fee:
            raise E.ContractValidateError("Validate CreateAccountActuator error, insufficient fee.")
        target = _addr(tx.value.get("account_address"))
        if len(target) != 21:
            raise E.ContractValidateError("Invalid account address")
        if target in self.accounts:
            raise E.ContractValidateError("Account has existed")
        if self._dry:
            return
        self._apply_bandwidth(tx, acct, plan, now_ms)
        acct.balance -= fee
        tx.fee += fee
        self.accounts[target] = Account(target, now_ms)
        tx.to = target

    # AccountPermissionUpdateContract (java-tron AccountPermissionUpdateActuator)
    def _permission_update(self, tx: TxRecord, now_ms: int) -> None:
        acct = self.accounts.get(tx.owner)
        if acct is None:
            raise E.ContractValidateError("ownerAddress account does not exist")
        v = tx.value
        owner = v.get("owner")
        actives = v.get("actives") or []
        if not isinstance(owner, dict):
            raise E.ContractValidateError("owner permission is missed")
        if v.get("witness") is not None:
            raise E.ContractValidateError("account isn't witness can't set witness permission")
        if not isinstance(actives, list) or not actives:
            raise E.ContractValidateError("active permission is missed")
        if len(actives) > 8:
            raise E.ContractValidateError("active permission is too many")
        if owner["type"] != 0:
            raise E.ContractValidateError("owner permission type is error")
        self._check_permission(owner)
        for perm in actives:
            if perm["type"] != 2:
                raise E.ContractValidateError("active permission type is error")
            self._check_permission(perm)
        plan = self._charge_bandwidth(tx, acct, now_ms)
        fee = self.config.update_account_permission_fee
        if acct.balance - plan.fee < fee:
            # java-tron fails this at execution (BalanceInsufficientException)
            raise E.TxError(E.CONTRACT_EXE_ERROR, "balance is not sufficient")
        if self._dry:
            return
        self._apply_bandwidth(tx, acct, plan, now_ms)
        acct.balance -= fee
        tx.fee += fee
        acct.owner_permission = _permission_of(owner, owner["permission_name"] or "owner", 0)
        acct.active_permission = [
            _permission_of(p, p["permission_name"] or "active", i + 2)
            for i, p in enumerate(actives)
        ]

    def _check_permission(self, perm: dict[str, Any]) -> None:
        """java-tron ``AccountPermissionUpdateActuator.checkPermission`` (owner or active)."""
        keys: list[tuple[bytes, int]] = perm["keys"]
        if len(keys) > self.config.total_sign_num:
            raise E.ContractValidateError(
                "number of keys in permission should not be greater than "
                f"{self.config.total_sign_num}"
            )
        if not keys:
            raise E.ContractValidateError("key's count should be greater than 0")
        if perm["threshold"] <= 0:
            raise E.ContractValidateError("permission's threshold should be greater than 0")
        if len(perm["permission_name"]) > 32:
            raise E.ContractValidateError("permission's name is too long")
        if perm["parent_id"] != 0:
            raise E.ContractValidateError("permission's parent should be owner")
        label = ("Owner", "Witness", "Active")[perm["type"]] if perm["type"] in (0, 1, 2) else ""
        if len({a for a, _w in keys}) != len(keys):
            raise E.ContractValidateError(f"address should be distinct in permission {label}")
        total = 0
        for address, weight in keys:
            if len(address) != 21 or address[0] != 0x41:
                raise E.ContractValidateError("key is not a validate address")
            if weight <= 0:
                raise E.ContractValidateError("key's weight should be greater than 0")
            total += weight
        if total < perm["threshold"]:
            raise E.ContractValidateError(
                f"sum of all key's weight should not be less than threshold in permission {label}"
            )
        ops: bytes = perm["operations"]
        if perm["type"] != 2:
            if ops:
                raise E.ContractValidateError(f"{label} permission needn't operations")
            return
        if len(ops) != 32:
            raise E.ContractValidateError("operations size must 32")
        available = bytes.fromhex(ACTIVE_DEFAULT_OPERATIONS)
        for i in range(256):
            if ops[i // 8] & (1 << (i % 8)) and not available[i // 8] & (1 << (i % 8)):
                raise E.ContractValidateError(f"{i} isn't a validate ContractType")

    # FreezeBalanceV2Contract
    def _freeze(self, tx: TxRecord, now_ms: int) -> None:
        acct = self._owner(tx)
        amount = int(tx.value.get("frozen_balance", 0))  # type: ignore[call-overload]
        resource = _res_int(tx.value.get("resource"))
        plan = self._charge_bandwidth(tx, acct, now_ms)
        if amount <= 0:
            raise E.ContractValidateError("frozenBalance must be positive")
        if amount < TRX:
            raise E.ContractValidateError("frozenBalance must be greater than or equal to 1 TRX")
        if amount > acct.balance - plan.fee:
            raise E.ContractValidateError(
                "frozenBalance must be less than or equal to accountBalance"
            )
        if resource not in (BANDWIDTH, ENERGY, TRON_POWER):
            raise E.ContractValidateError(
                "ResourceCode error, valid ResourceCode[BANDWIDTH、ENERGY]"
            )
        if self._dry:
            return
        self._apply_bandwidth(tx, acct, plan, now_ms)
        acct.balance -= amount
        self._add_frozen(acct, resource, amount)

    def _add_frozen(self, acct: Account, resource: int, amount: int) -> None:
        """Add ``amount`` (negative: remove) to the account's and the network's V2 stake."""
        if resource == ENERGY:
            acct.frozen_energy += amount
            self.total_energy_stake += amount
        elif resource == BANDWIDTH:
            acct.frozen_bw += amount
            self.total_net_stake += amount
        else:
            acct.frozen_tp += amount

    def _withdraw_expired(self, acct: Account, now_ms: int) -> int:
        expired = sum(a for _r, a, exp in acct.unfrozen if exp <= now_ms)
        if expired:
            acct.unfrozen = [u for u in acct.unfrozen if u[2] > now_ms]
            acct.balance += expired
        return expired

    def _note_withdrawn(self, tx: TxRecord, acct: Account, now_ms: int) -> None:
        """Withdraw the expired unfreezes along with this transaction, as java-tron does."""
        withdrawn = self._withdraw_expired(acct, now_ms)
        if withdrawn:
            tx.extra["withdraw_expire_amount"] = withdrawn

    # UnfreezeBalanceV2Contract
    def _unfreeze(self, tx: TxRecord, now_ms: int) -> None:
        acct = self._owner(tx)
        amount = int(tx.value.get("unfreeze_balance", 0))  # type: ignore[call-overload]
        resource = _res_int(tx.value.get("resource"))
        plan = self._charge_bandwidth(tx, acct, now_ms)
        if resource == ENERGY:
            frozen, label = acct.frozen_energy, "Energy"
        elif resource == BANDWIDTH:
            frozen, label = acct.frozen_bw, "BANDWIDTH"
        elif resource == TRON_POWER:
            frozen, label = acct.frozen_tp, "TronPower"
        else:
            raise E.ContractValidateError(
                "ResourceCode error.valid ResourceCode[BANDWIDTH、Energy]"
            )
        if frozen <= 0:
            raise E.ContractValidateError(f"no frozenBalance({label})")
        if amount <= 0 or amount > frozen:
            raise E.ContractValidateError(f"Invalid unfreeze_balance, [{amount}] is error")
        pending = sum(1 for u in acct.unfrozen if u[2] > now_ms)
        if pending >= self.config.max_unfreeze_pending:
            raise E.ContractValidateError(
                "Invalid unfreeze operation, unfreezing times is over limit"
            )
        if self._dry:
            return
        self._apply_bandwidth(tx, acct, plan, now_ms)
        self._note_withdrawn(tx, acct, now_ms)
        self._add_frozen(acct, resource, -amount)
        acct.unfrozen.append((resource, amount, now_ms + self.config.unfreeze_delay_ms))
        tx.extra["unfreeze_amount"] = amount

    # WithdrawExpireUnfreezeContract
    def _withdraw(self, tx: TxRecord, now_ms: int) -> None:
        acct = self._owner(tx)
        plan = self._charge_bandwidth(tx, acct, now_ms)
        if not any(exp <= now_ms for _r, _a, exp in acct.unfrozen):
            raise E.ContractValidateError("no unFreeze balance to withdraw ")
        if self._dry:
            return
        self._apply_bandwidth(tx, acct, plan, now_ms)
        tx.extra["withdraw_expire_amount"] = self._withdraw_expired(acct, now_ms)

    # CancelAllUnfreezeV2Contract
    def _cancel_unfreeze(self, tx: TxRecord, now_ms: int) -> None:
        acct = self._owner(tx)
        plan = self._charge_bandwidth(tx, acct, now_ms)
        if not acct.unfrozen:
            raise E.ContractValidateError("No unfreezeV2 list to cancel")
        if self._dry:
            return
        self._apply_bandwidth(tx, acct, plan, now_ms)
        self._note_withdrawn(tx, acct, now_ms)
        for resource, amount, _exp in acct.unfrozen:
            self._add_frozen(acct, resource, amount)
            key = _CANCEL_KEYS.get(resource, "cancel_tron_power")
            tx.extra[key] = tx.extra.get(key, 0) + amount
        acct.unfrozen = []

    def delegation(self, frm: bytes, to: bytes, locked: bool) -> _Deleg | None:
        return self.delegations.get((frm, to, locked))

    def _receiver_checks(self, tx: TxRecord) -> tuple[bytes, Account | None]:
        receiver = _addr(tx.value.get("receiver_address"))
        if len(receiver) != 21:
            raise E.ContractValidateError("Invalid receiverAddress")
        if receiver == tx.owner:
            raise E.ContractValidateError("receiverAddress must not be the same as ownerAddress")
        return receiver, self.accounts.get(receiver)

    # DelegateResourceContract
    def _delegate(self, tx: TxRecord, now_ms: int) -> None:
        acct = self._owner(tx)
        v = tx.value
        resource = _res_int(v.get("resource"))
        balance = int(v.get("balance", 0))  # type: ignore[call-overload]
        lock = bool(v.get("lock", False))
        lock_period = int(v.get("lock_period", 0))  # type: ignore[call-overload]
        plan = self._charge_bandwidth(tx, acct, now_ms)
        if resource not in (BANDWIDTH, ENERGY):
            raise E.ContractValidateError(
                "ResourceCode error, valid ResourceCode[BANDWIDTH、ENERGY]"
            )
        if balance < TRX:
            raise E.ContractValidateError("delegateBalance must be greater than or equal to 1 TRX")
        available = self.can_delegate_max_at(acct, resource, now_ms)
        if balance > available:
            which = "FreezeEnergyV2" if resource == ENERGY else "FreezeBandwidthV2"
            raise E.ContractValidateError(
                f"delegateBalance must be less than or equal to available {which} balance"
            )
        receiver, racct = self._receiver_checks(tx)
        if racct is None:
            raise E.ContractValidateError(f"Account[{receiver.hex()}] not exists")
        if racct.is_contract:
            raise E.ContractValidateError("Do not allow delegate resources to contract addresses")
        max_period = self.config.max_delegate_lock_period
        if lock:
            if lock_period < 0 or lock_period > max_period:
                raise E.ContractValidateError(
                    "The lock period of delegate resource cannot be less than 0 and cannot "
                    f"exceed {max_period}!"
                )
            if lock_period == 0:
                lock_period = 86_400
            existing = self.delegations.get((tx.owner, receiver, True))
            if existing is not None:
                expire = existing.expire(resource)
                remain = expire - now_ms
                if remain > 0 and lock_period * self.config.block_interval_ms < remain:
                    label = _res_label(resource)
                    raise E.ContractValidateError(
                        f"The lock period for {label} this time cannot be less than the "
                        f"remaining time[{remain}ms] of the last lock period for {label}!"
                    )
        if self._dry:
            return
        self._apply_bandwidth(tx, acct, plan, now_ms)
        self._unlock_expired(tx.owner, receiver, now_ms)
        key = (tx.owner, receiver, lock)
        rec = self.delegations.get(key)
        if rec is None:
            rec = _Deleg()
            self.delegations[key] = rec
        if resource == ENERGY:
            rec.energy += balance
            if lock:
                rec.expire_energy = now_ms + lock_period * self.config.block_interval_ms
            acct.frozen_energy -= balance
            acct.deleg_out_energy += balance
            racct.acquired_energy += balance
        else:
            rec.bw += balance
            if lock:
                rec.expire_bw = now_ms + lock_period * self.config.block_interval_ms
            acct.frozen_bw -= balance
            acct.deleg_out_bw += balance
            racct.acquired_bw += balance
        self.deleg_to.setdefault(tx.owner, set()).add(receiver)
        self.deleg_from.setdefault(receiver, set()).add(tx.owner)
        tx.to = receiver

    def can_delegate_max_at(self, acct: Account, resource: int, now_ms: int) -> int:
        frozen = acct.frozen_energy if resource == ENERGY else acct.frozen_bw
        return max(0, frozen - self._v2_usage_sun(acct, resource, now_ms))

    def _unlock_expired(self, frm: bytes, to: bytes, now_ms: int) -> None:
        """Move expired locked amounts into the unlocked record (java-tron unLockExpireResource)."""
        locked = self.delegations.get((frm, to, True))
        if locked is None:
            return
        moved_e = locked.energy if locked.energy and locked.expire_energy <= now_ms else 0
        moved_b = locked.bw if locked.bw and locked.expire_bw <= now_ms else 0
        if not (moved_e or moved_b):
            return
        unlocked = self.delegations.setdefault((frm, to, False), _Deleg())
        unlocked.energy += moved_e
        unlocked.bw += moved_b
        locked.energy -= moved_e
        locked.bw -= moved_b
        if moved_e:
            locked.expire_energy = 0
        if moved_b:
            locked.expire_bw = 0
        if not locked.energy and not locked.bw:
            del self.delegations[(frm, to, True)]

    # UnDelegateResourceContract
    def _undelegate(self, tx: TxRecord, now_ms: int) -> None:
        acct = self._owner(tx)
        v = tx.value
        resource = _res_int(v.get("resource"))
        balance = int(v.get("balance", 0))  # type: ignore[call-overload]
        plan = self._charge_bandwidth(tx, acct, now_ms)
        receiver, racct = self._receiver_checks(tx)
        if resource not in (BANDWIDTH, ENERGY):
            raise E.ContractValidateError(
                "ResourceCode error.valid ResourceCode[BANDWIDTH、Energy]"
            )
        unlocked = self.delegations.get((tx.owner, receiver, False))
        locked = self.delegations.get((tx.owner, receiver, True))
        if unlocked is None and locked is None:
            raise E.ContractValidateError("delegated Resource does not exist")
        if balance <= 0:
            raise E.ContractValidateError("unDelegateBalance must be more than 0 TRX")
        free = unlocked.amount(resource) if unlocked else 0
        if locked is not None and locked.expire(resource) <= now_ms:
            free += locked.amount(resource)
        if free < balance:
            label = "Energy" if resource == ENERGY else "BANDWIDTH"
            raise E.ContractValidateError(
                f"insufficient delegateFrozenBalance({label}), request={balance}, "
                f"unlock_balance={free}"
            )
        if self._dry:
            return
        self._apply_bandwidth(tx, acct, plan, now_ms)
        slot = self.slot_of(now_ms)
        transfer = 0
        if racct is not None:
            if resource == ENERGY:
                r_usage = self.energy_used(racct, now_ms)
                stake = racct.energy_stake()
                if stake > 0:
                    cap = int(
                        (balance // TRX)
                        * (self.config.total_energy_limit / self.total_energy_weight)
                    )
                    transfer = min(cap, int(r_usage * (balance / stake)))
                racct.energy_usage = r_usage - transfer
                racct.energy_slot = slot
                racct.acquired_energy -= balance
            else:
                r_usage = self.net_used(racct, now_ms)
                stake = racct.net_stake()
                if stake > 0:
                    cap = int(
                        (balance // TRX) * (self.config.total_net_limit / self.total_net_weight)
                    )
                    transfer = min(cap, int(r_usage * (balance / stake)))
                racct.net_usage = r_usage - transfer
                racct.net_slot = slot
                racct.acquired_bw -= balance
        if resource == ENERGY:
            acct.energy_usage = self.energy_used(acct, now_ms) + transfer
            acct.energy_slot = slot
            acct.frozen_energy += balance
            acct.deleg_out_energy -= balance
        else:
            acct.net_usage = self.net_used(acct, now_ms) + transfer
            acct.net_slot = slot
            acct.frozen_bw += balance
            acct.deleg_out_bw -= balance
        tx.extra["usage_transferred"] = transfer
        remaining = balance
        for rec, is_locked in ((unlocked, False), (locked, True)):
            if rec is None or remaining <= 0:
                continue
            if is_locked and rec.expire(resource) > now_ms:
                continue
            take = min(rec.amount(resource), remaining)
            rec.add(resource, -take)
            remaining -= take
            if not rec.energy and not rec.bw:
                del self.delegations[(tx.owner, receiver, is_locked)]
        if (tx.owner, receiver, False) not in self.delegations and (
            tx.owner,
            receiver,
            True,
        ) not in self.delegations:
            self.deleg_to.get(tx.owner, set()).discard(receiver)
            self.deleg_from.get(receiver, set()).discard(tx.owner)
        tx.to = receiver

    # TriggerSmartContract (the built-in USDT)
    def _trigger(self, tx: TxRecord, now_ms: int) -> None:
        v = tx.value
        contract = _addr(v.get("contract_address"))
        fee_limit = tx.extra.get("fee_limit", 0)
        call_value = int(v.get("call_value", 0))  # type: ignore[call-overload]
        if contract != self.usdt_address:
            raise E.ContractValidateError("No contract or not a valid smart contract")
        acct = self.accounts.get(tx.owner)
        if acct is None:
            raise E.ContractValidateError(f"Account[{tx.owner.hex()}] not exists")
        if fee_limit < 0 or fee_limit > self.config.max_fee_limit:
            raise E.ContractValidateError(
                f"feeLimit must be >= 0 and <= {self.config.max_fee_limit}"
            )
        plan = self._charge_bandwidth(tx, acct, now_ms)
        if call_value > acct.balance - plan.fee:
            raise E.ContractValidateError(
                "Validate InternalTransfer error, balance is not sufficient."
            )
        if self._dry:
            return
        self._apply_bandwidth(tx, acct, plan, now_ms)
        raw_data = v.get("data", b"")
        data = raw_data if isinstance(raw_data, bytes) else bytes.fromhex(str(raw_data))
        result = self.usdt.call(tx.owner, data, call_value)
        energy_fee_price = self.config.energy_fee
        limit_energy = self.energy_limit(acct)
        frozen_left = max(0, limit_energy - self.energy_used(acct, now_ms))
        from_balance = max(0, acct.balance - call_value) // energy_fee_price
        max_energy = min(frozen_left + from_balance, fee_limit // energy_fee_price)
        required = result.energy
        if required > max_energy:
            used = max_energy
            tx.receipt_result = "OUT_OF_ENERGY"
            tx.res_message = (
                "Not enough energy for 'SSTORE' operation executing: "
                f"curInvokeEnergyLimit[{max_energy}], curOpEnergy[{required}], usedEnergy[0]"
            )
        else:
            used = required
            tx.receipt_result = "SUCCESS" if result.ok else "REVERT"
            if not result.ok:
                tx.res_message = result.message
        from_frozen = min(frozen_left, used)
        burn = (used - from_frozen) * energy_fee_price
        if from_frozen:
            acct.energy_usage = self.energy_used(acct, now_ms) + from_frozen
            acct.energy_slot = self.slot_of(now_ms)
            acct.latest_consume_time_energy = now_ms
        acct.balance -= burn
        tx.energy_usage = from_frozen
        tx.energy_fee = burn
        tx.energy_usage_total = used
        tx.fee += burn
        tx.contract_address = contract
        if tx.receipt_result == "SUCCESS":
            tx.contract_result = result.output
            if result.transfer is not None:
                frm, to, amount = result.transfer
                self.usdt.apply_transfer(frm, to, amount)
                tx.logs = [LogEntry(contract[1:], topics, d) for topics, d in result.logs]
                self.trc20_index.setdefault(frm, []).append((tx, frm, to, amount))
                if to != frm:
                    self.trc20_index.setdefault(to, []).append((tx, frm, to, amount))
        else:
            tx.contract_result = b""
        tx.to = contract

    # ------------------------------------------------------------ constant calls
    def call_constant(self, owner: bytes, contract: bytes, data: bytes, call_value: int = 0) -> Any:
        """Run a read-only call; returns the usdt CallResult (state unchanged)."""
        if contract != self.usdt_address:
            raise E.ContractValidateError("No contract or not a valid smart contract")
        return self.usdt.call(owner, data, call_value)

    # ------------------------------------------------------------------ blocks
    def produce_block(self, timestamp: int | None = None) -> Block:
        """Pack pending transactions into a new block signed by the witness."""
        ts = timestamp if timestamp is not None else self.clock()
        ts = max(ts, self.head.timestamp + 1)
        limit = self.config.max_txs_per_block
        txs, self.pending = self.pending[:limit], self.pending[limit:]
        return self._produce(ts, txs)

    def _produce(self, ts: int, txs: list[TxRecord]) -> Block:
        number = len(self.blocks)
        parent = self.blocks[-1].block_id if self.blocks else b"\0" * 32
        leaves = [
            sha256(transaction_to_bytes(t.raw, t.signatures, t.contract_ret)).digest() for t in txs
        ]
        root = merkle_root(leaves)
        raw = (
            field_varint(1, ts)
            + field_bytes(2, root)
            + field_bytes(3, parent)
            + field_varint(7, number)
            + field_bytes(9, self.witness_address)
            + field_varint(10, BLOCK_VERSION)
        )
        bid = block_id(number, raw)
        sig = sign_hash(self.witness_key.secret, block_header_hash(raw))
        block = Block(
            number, ts, parent, root, self.witness_address, BLOCK_VERSION, raw, bid, sig, txs
        )
        for t in txs:
            t.block_number = number
            t.block_ts = ts
        self.blocks.append(block)
        self.block_by_id[bid] = block
        self.recent_refs[number.to_bytes(8, "big")[6:8]] = bid[8:16]
        return block

    def block_by_number(self, number: int) -> Block | None:
        if 0 <= number < len(self.blocks):
            return self.blocks[number]
        return None

    # -------------------------------------------------------------------- fork
    def fork(
        self, drop: int, exclude: Iterable[bytes] = (), produce: int | None = None
    ) -> list[Block]:
        """Drop the last `drop` blocks, replay state without `exclude`d txs, produce new blocks.

        Transactions of dropped blocks (and pending ones) that are not excluded and still
        valid go into the first new block. Returns the new blocks.
        """
        drop = max(0, min(drop, len(self.blocks) - 1))
        excluded = set(exclude)
        new_head = len(self.blocks) - 1 - drop
        for blk in self.blocks[new_head + 1 :]:
            self.block_by_id.pop(blk.block_id, None)
        del self.blocks[new_head + 1 :]
        self.recent_refs = {}
        for blk in self.blocks[-RECENT_BLOCKS:]:
            self.recent_refs[blk.number.to_bytes(8, "big")[6:8]] = blk.block_id[8:16]
        virtual = self.virtual_energy_weight
        self.virtual_energy_weight = self.config.virtual_energy_weight
        self._apply_parameters(self._initial_parameters)
        self._reset_state()
        journal, self.journal = self.journal, []
        for entry in journal:
            if entry.kind == "tx" and entry.tx is not None:
                tx = entry.tx
                reexec = tx.block_number < 0 or tx.block_number > new_head
                if reexec and tx.txid in excluded:
                    continue
                _reset_receipt(tx)
                try:
                    self._execute(tx, tx.exec_ms)
                except E.TxError:
                    if not reexec:
                        raise
                    continue
                self.txs[tx.txid] = tx
                if reexec:
                    tx.block_number = -1
                    tx.block_ts = 0
                    self.pending.append(tx)
            elif entry.kind == "faucet":
                address, trx_sun, usdt_units, now = entry.args
                self._faucet(address, trx_sun, usdt_units, now)
            elif entry.kind == "vweight":
                self.virtual_energy_weight = entry.args[0]
            elif entry.kind == "permission":
                self._set_permission(*entry.args)
            elif entry.kind == "params":
                self._apply_parameters(entry.args[0])
            self.journal.append(entry)
        self.virtual_energy_weight = virtual
        new_blocks = [self.produce_block() for _ in range(drop if produce is None else produce)]
        return new_blocks


class _Deleg:
    """A delegation record: both resources, amounts in sun, expiry in ms (locked records)."""

    __slots__ = ("bw", "energy", "expire_bw", "expire_energy")

    def __init__(self) -> None:
        self.bw = 0
        self.energy = 0
        self.expire_bw = 0
        self.expire_energy = 0

    def amount(self, resource: int) -> int:
        return self.energy if resource == ENERGY else self.bw

    def expire(self, resource: int) -> int:
        return self.expire_energy if resource == ENERGY else self.expire_bw

    def add(self, resource: int, delta: int) -> None:
        if resource == ENERGY:
            self.energy += delta
        else:
            self.bw += delta


def _reset_receipt(tx: TxRecord) -> None:
    tx.fee = tx.net_usage = tx.net_fee = 0
    tx.energy_usage = tx.energy_fee = tx.energy_usage_total = 0
    tx.receipt_result = ""
    tx.contract_result = None
    tx.contract_address = None
    tx.logs = []
    tx.res_message = ""
    tx.extra = {k: v for k, v in tx.extra.items() if k in ("permission_id", "memo", "fee_limit")}


def _permission_of(native: dict[str, Any], name: str, pid: int) -> Permission:
    ops: bytes = native["operations"]
    return Permission(native["threshold"], list(native["keys"]), name, pid, ops.hex() or None)


_HANDLERS: dict[str, Callable[[Chain, TxRecord, int], None]] = {
    "AccountPermissionUpdateContract": Chain._permission_update,
    "AccountCreateContract": Chain._create_account,
    "TransferContract": Chain._transfer,
    "TriggerSmartContract": Chain._trigger,
    "FreezeBalanceV2Contract": Chain._freeze,
    "UnfreezeBalanceV2Contract": Chain._unfreeze,
    "WithdrawExpireUnfreezeContract": Chain._withdraw,
    "DelegateResourceContract": Chain._delegate,
    "UnDelegateResourceContract": Chain._undelegate,
    "CancelAllUnfreezeV2Contract": Chain._cancel_unfreeze,
}

__all__ = ["Chain"]
