"""Block JSON (java-tron `getblockbylimitnext`) -> the transfers the platform cares about.

Pure: no I/O. One pass over a block finds every TRX transfer and every TRC20 `transfer(...)` call
whose recipient is in the watched set, so the cost of a block does not depend on how many orders
or addresses are watched (a set lookup per transfer).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tronproto.address import InvalidAddressError, to_base58

TRC20_TRANSFER_SELECTOR = "a9059cbb"  # transfer(address,uint256)
TRC20_TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


class TransferAsset(StrEnum):
    TRX = "TRX"
    TRC20 = "TRC20"


@dataclass(frozen=True, slots=True)
class Transfer:
    """A successful transfer to a watched address seen in a block."""

    tx_hash: str
    asset: TransferAsset
    token_contract: str | None  # base58 contract address for TRC20, None for TRX
    from_address: str
    to_address: str
    amount: int  # sun, or token base units
    block_number: int
    block_hash: str
    block_timestamp_ms: int


@dataclass(frozen=True, slots=True)
class ContractAction:
    """A stake/delegation transaction seen in a block (lets callers confirm their own txs)."""

    tx_hash: str
    contract_type: str
    success: bool


@dataclass(frozen=True, slots=True)
class CountCall:
    """A TRC20 ``transfer`` call sent by a followed address (a count package's): counted from
    its transaction info (energy drawn), whether it succeeded or not."""

    tx_hash: str
    from_address: str
    to_address: str | None
    succeeded: bool


@dataclass(frozen=True, slots=True)
class CountUseSeen:
    """A `CountCall` with what the chain charged it (``receipt`` of its transaction info)."""

    tx_hash: str
    from_address: str
    to_address: str | None
    succeeded: bool
    energy_used: int  # drawn from the address's energy (its stake and what is delegated to it)
    energy_total: int
    energy_fee_sun: int  # TRX burnt for the energy the address lacked
    block_number: int


@dataclass(frozen=True, slots=True)
class ScannedBlock:
    number: int
    block_hash: str
    parent_hash: str
    timestamp_ms: int
    transfers: tuple[Transfer, ...]
    tx_hashes: frozenset[str]
    pending_trc20: tuple[str, ...]  # tx hashes of watched TRC20 calls whose logs must be read
    delegations: frozenset[str] = frozenset()
    """Hashes of the block's successful DelegateResourceContract transactions (ours among them
    are confirmed by the scanner: no per-transaction polling)."""
    undelegations: frozenset[str] = frozenset()
    """Hashes of its successful UnDelegateResourceContract transactions (likewise: our reclaims)."""
    own_transfers: frozenset[str] = frozenset()
    """Hashes of its successful TransferContract transactions sent by one of ``own`` (our
    refunds among them are confirmed by the scanner likewise)."""
    count_calls: tuple[CountCall, ...] = ()
    """TRC20 ``transfer`` calls sent by a followed address (``senders``): their infos are read
    with the block's (the same one request as for payments)."""

    @property
    def needs_infos(self) -> bool:
        return bool(self.pending_trc20 or self.count_calls)

    def missing_infos(self, infos: Iterable[Mapping[str, Any]]) -> set[str]:
        """Hashes of the block's watched TRC20 calls and count calls that have no info among
        ``infos`` (its ``gettransactioninfobyblocknum``); empty when the infos are complete. A
        node answers ``{}`` or part of the infos for a block it does not fully have yet (the
        gateway's block and infos requests reached nodes at different heights): such a block
        must not be committed, or its payments and uses would be lost."""
        needed = set(self.pending_trc20)
        needed.update(call.tx_hash for call in self.count_calls)
        if not needed:
            return set()
        return needed - {str(info.get("id", "")) for info in infos}


def _addr(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return to_base58(value)
    except (InvalidAddressError, ValueError):
        return None


def _succeeded(tx: Mapping[str, Any]) -> bool:
    ret = tx.get("ret") or [{}]
    first = ret[0] if isinstance(ret, list) and ret else {}
    # java-tron omits contractRet only for system contracts that cannot fail after validation
    return bool(first.get("contractRet", "SUCCESS") == "SUCCESS")


def decode_trc20_transfer(data_hex: str) -> tuple[str, int] | None:
    """`transfer(address,uint256)` call data -> (recipient base58, amount), or None."""
    data = data_hex.lower().removeprefix("0x")
    if not data.startswith(TRC20_TRANSFER_SELECTOR) or len(data) < 8 + 128:
        return None
    to_word, amount_word = data[8:72], data[72:136]
    try:
        to = to_base58("41" + to_word[-40:])
        amount = int(amount_word, 16)
    except (InvalidAddressError, ValueError):
        return None
    return to, amount


def parse_block(
    block: Mapping[str, Any],
    watched: frozenset[str] | set[str],
    trc20_contracts: frozenset[str] | set[str] = frozenset(),
    own: frozenset[str] | set[str] = frozenset(),
    senders: frozenset[str] | set[str] = frozenset(),
) -> ScannedBlock:
    """Extract transfers to `watched` addresses (base58) from one block's JSON, the hashes
    of the TRX transfers sent by `own` addresses (base58), and the TRC20 ``transfer`` calls
    sent by `senders` (count packages' addresses)."""
    header = block.get("block_header", {}).get("raw_data", {})
    number = int(header.get("number", 0))
    block_hash = str(block.get("blockID", ""))
    parent = str(header.get("parentHash", ""))
    ts = int(header.get("timestamp", 0))
    transfers: list[Transfer] = []
    pending: list[str] = []
    hashes: set[str] = set()
    delegations: set[str] = set()
    undelegations: set[str] = set()
    own_transfers: set[str] = set()
    count_calls: list[CountCall] = []
    for tx in block.get("transactions") or ():
        txid = str(tx.get("txID", ""))
        hashes.add(txid)
        contracts = tx.get("raw_data", {}).get("contract") or []
        if len(contracts) != 1:
            continue
        contract = contracts[0]
        ctype = contract.get("type")
        value = contract.get("parameter", {}).get("value", {})
        if ctype == "TransferContract":
            if own and _addr(value.get("owner_address")) in own and _succeeded(tx):
                own_transfers.add(txid)
            to = _addr(value.get("to_address"))
            if to is None or to not in watched or not _succeeded(tx):
                continue
            sender = _addr(value.get("owner_address"))
            amount = value.get("amount", 0)
            if sender is None or not isinstance(amount, int) or amount <= 0:
                continue
            transfers.append(
                Transfer(txid, TransferAsset.TRX, None, sender, to, amount, number, block_hash, ts)
            )
        elif ctype == "DelegateResourceContract":
            if _succeeded(tx):
                delegations.add(txid)
        elif ctype == "UnDelegateResourceContract":
            if _succeeded(tx):
                undelegations.add(txid)
        elif ctype == "TriggerSmartContract" and trc20_contracts:
            token = _addr(value.get("contract_address"))
            if token is None or token not in trc20_contracts:
                continue
            if own and _addr(value.get("owner_address")) in own and _succeeded(tx):
                own_transfers.add(txid)  # our TRC20 transfers (USDT refunds)
            decoded = decode_trc20_transfer(str(value.get("data", "")))
            if decoded is not None and decoded[0] in watched and _succeeded(tx):
                pending.append(txid)
            if senders and decoded is not None:
                sender = _addr(value.get("owner_address"))
                if sender is not None and sender in senders:
                    count_calls.append(CountCall(txid, sender, decoded[0], _succeeded(tx)))
    return ScannedBlock(
        number,
        block_hash,
        parent,
        ts,
        tuple(transfers),
        frozenset(hashes),
        tuple(pending),
        frozenset(delegations),
        frozenset(undelegations),
        frozenset(own_transfers),
        tuple(count_calls),
    )


def count_uses_from_infos(
    block: ScannedBlock, infos: Iterable[Mapping[str, Any]]
) -> list[CountUseSeen]:
    """The block's `CountCall`s with their receipts (``gettransactioninfobyblocknum``). A call
    with no info would be reported with zero energy: callers check `ScannedBlock.missing_infos`
    first (the scanner does not commit a block whose infos are incomplete)."""
    if not block.count_calls:
        return []
    by_id = {str(i.get("id", "")): i for i in infos}
    out: list[CountUseSeen] = []
    for call in block.count_calls:
        receipt = (by_id.get(call.tx_hash) or {}).get("receipt") or {}
        out.append(
            CountUseSeen(
                call.tx_hash,
                call.from_address,
                call.to_address,
                call.succeeded,
                _int(receipt.get("energy_usage")),
                _int(receipt.get("energy_usage_total")),
                _int(receipt.get("energy_fee")),
                block.number,
            )
        )
    return out


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def trc20_transfers_from_infos(
    block: ScannedBlock,
    infos: Iterable[Mapping[str, Any]],
    watched: frozenset[str] | set[str],
    trc20_contracts: frozenset[str] | set[str],
) -> list[Transfer]:
    """TRC20 `Transfer` events to watched addresses from `gettransactioninfobyblocknum`. A call
    with no info is skipped: callers check `ScannedBlock.missing_infos` first."""
    wanted = set(block.pending_trc20)
    out: list[Transfer] = []
    for info in infos:
        txid = str(info.get("id", ""))
        if txid not in wanted or info.get("result") == "FAILED":
            continue
        receipt = info.get("receipt") or {}
        if receipt.get("result", "SUCCESS") != "SUCCESS":
            continue
        for log in info.get("log") or ():
            token = _addr("41" + str(log.get("address", ""))[-40:])
            topics: Sequence[str] = log.get("topics") or ()
            if token not in trc20_contracts or len(topics) < 3:
                continue
            if topics[0].lower() != TRC20_TRANSFER_TOPIC:
                continue
            sender = _addr("41" + topics[1][-40:])
            to = _addr("41" + topics[2][-40:])
            if sender is None or to is None or to not in watched:
                continue
            try:
                amount = int(str(log.get("data", "0")) or "0", 16)
            except ValueError:
                continue
            if amount <= 0:
                continue
            out.append(
                Transfer(
                    txid,
                    TransferAsset.TRC20,
                    token,
                    sender,
                    to,
                    amount,
                    block.number,
                    block.block_hash,
                    block.timestamp_ms,
                )
            )
    return out
