"""Built-in USDT (TRC20): ABI, selectors, calls against an in-memory balance table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tronproto.keys import keccak256

NAME = "Tether USD"
SYMBOL = "USDT"
DECIMALS = 6
TRANSFER_TOPIC = keccak256(b"Transfer(address,address,uint256)")
SEL_TRANSFER = bytes.fromhex("a9059cbb")
SEL_BALANCE_OF = bytes.fromhex("70a08231")
SEL_DECIMALS = bytes.fromhex("313ce567")
SEL_SYMBOL = bytes.fromhex("95d89b41")
SEL_NAME = bytes.fromhex("06fdde03")
SEL_TOTAL_SUPPLY = bytes.fromhex("18160ddd")
REVERT_SELECTOR = bytes.fromhex("08c379a0")


def selector(signature: str) -> bytes:
    """4-byte function selector of e.g. 'transfer(address,uint256)'."""
    return keccak256(signature.replace(" ", "").encode())[:4]


def _entry(
    name: str, inputs: list[tuple[str, str]], outputs: list[str], mutability: str
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": "Function", "stateMutability": mutability}
    if mutability in ("View", "Pure"):
        out["constant"] = True
    if inputs:
        out["inputs"] = [{"name": n, "type": t} for n, t in inputs]
    if outputs:
        out["outputs"] = [{"type": t} for t in outputs]
    return out


ABI: list[dict[str, Any]] = [
    _entry("name", [], ["string"], "View"),
    _entry("symbol", [], ["string"], "View"),
    _entry("decimals", [], ["uint8"], "View"),
    _entry("totalSupply", [], ["uint256"], "View"),
    _entry("balanceOf", [("who", "address")], ["uint256"], "View"),
    _entry("transfer", [("_to", "address"), ("_value", "uint256")], ["bool"], "Nonpayable"),
    {
        "anonymous": False,
        "name": "Transfer",
        "type": "Event",
        "inputs": [
            {"indexed": True, "name": "from", "type": "address"},
            {"indexed": True, "name": "to", "type": "address"},
            {"name": "value", "type": "uint256"},
        ],
    },
]


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def encode_string(text: str) -> bytes:
    data = text.encode()
    padded = data + b"\0" * (-len(data) % 32)
    return word(32) + word(len(data)) + padded


def revert_data(message: str) -> bytes:
    return REVERT_SELECTOR + encode_string(message)


@dataclass(slots=True)
class CallResult:
    """Outcome of one TRC20 call (before energy accounting)."""

    ok: bool
    output: bytes
    energy: int
    transfer: tuple[bytes, bytes, int] | None = None  # (from21, to21, amount)
    message: str = ""
    logs: list[tuple[list[bytes], bytes]] = field(default_factory=list)


def _arg_address(data: bytes, index: int) -> bytes | None:
    chunk = data[4 + 32 * index : 4 + 32 * (index + 1)]
    if len(chunk) != 32:
        return None
    return b"\x41" + chunk[12:]


def _arg_uint(data: bytes, index: int) -> int | None:
    chunk = data[4 + 32 * index : 4 + 32 * (index + 1)]
    if len(chunk) != 32:
        return None
    return int.from_bytes(chunk, "big")


class Usdt:
    """Token state and call semantics; energy costs come from the caller's config."""

    __slots__ = (
        "address",
        "balances",
        "energy_existing",
        "energy_new",
        "energy_revert",
        "energy_view",
    )

    def __init__(
        self,
        address: bytes,
        energy_existing: int,
        energy_new: int,
        energy_revert: int,
        energy_view: int,
    ) -> None:
        self.address = address
        self.balances: dict[bytes, int] = {}
        self.energy_existing = energy_existing
        self.energy_new = energy_new
        self.energy_revert = energy_revert
        self.energy_view = energy_view

    @property
    def total_supply(self) -> int:
        return sum(self.balances.values())

    def balance_of(self, holder: bytes) -> int:
        return self.balances.get(holder, 0)

    def mint(self, holder: bytes, amount: int) -> None:
        self.balances[holder] = self.balances.get(holder, 0) + amount

    def call(self, caller: bytes, data: bytes, call_value: int) -> CallResult:
        """Simulate a call; state is NOT changed (see apply_transfer)."""
        sel = data[:4]
        if sel == SEL_TRANSFER:
            if call_value:
                return CallResult(False, b"", self.energy_revert, message="REVERT opcode executed")
            to = _arg_address(data, 0)
            amount = _arg_uint(data, 1)
            if to is None or amount is None:
                return CallResult(False, b"", self.energy_revert, message="REVERT opcode executed")
            if self.balances.get(caller, 0) < amount or amount >= 1 << 63:
                return CallResult(False, b"", self.energy_revert, message="REVERT opcode executed")
            energy = self.energy_existing if self.balances.get(to, 0) > 0 else self.energy_new
            log_topics = [TRANSFER_TOPIC, b"\0" * 12 + caller[1:], b"\0" * 12 + to[1:]]
            return CallResult(
                True,
                word(1),
                energy,
                transfer=(caller, to, amount),
                logs=[(log_topics, word(amount))],
            )
        if call_value:
            return CallResult(False, b"", self.energy_revert, message="REVERT opcode executed")
        if sel == SEL_BALANCE_OF:
            who = _arg_address(data, 0)
            if who is None:
                return CallResult(False, b"", self.energy_view, message="REVERT opcode executed")
            return CallResult(True, word(self.balances.get(who, 0)), self.energy_view)
        if sel == SEL_DECIMALS:
            return CallResult(True, word(DECIMALS), self.energy_view // 4)
        if sel == SEL_SYMBOL:
            return CallResult(True, encode_string(SYMBOL), self.energy_view)
        if sel == SEL_NAME:
            return CallResult(True, encode_string(NAME), self.energy_view)
        if sel == SEL_TOTAL_SUPPLY:
            return CallResult(True, word(self.total_supply), self.energy_view // 2)
        return CallResult(False, b"", self.energy_revert // 10, message="REVERT opcode executed")

    def apply_transfer(self, frm: bytes, to: bytes, amount: int) -> None:
        self.balances[frm] -= amount
        if not self.balances[frm]:
            del self.balances[frm]
        self.balances[to] = self.balances.get(to, 0) + amount
