"""The chain gateway: the only code that talks to TRON nodes (tronpy ``AsyncTron`` underneath).

- Several node URLs, tried in order; the last node that answered is preferred. A node that fails
  (connection error, timeout, HTTP 5xx, 429, unparsable answer, ``SERVER_BUSY``) cools down -
  for ``Retry-After`` seconds on a 429, else an exponential backoff - and the call moves on to
  the next node; when every node is cooling down the call waits for the first to come back.
  After ``max_attempts`` failed attempts: ``ChainUnavailable``.
- Broadcasts (one per delegation, the engine's hottest call) go over aiohttp's kept-alive
  connections (`keepalive`: ~4x less CPU per POST than httpx), unless the gateway was given a
  client; the rest goes through tronpy.
- One shared ``httpx.AsyncClient`` carries our own ``TRON-PRO-API-KEY`` header (so does the
  broadcast client). tronpy's own key
  handling is switched off: it drops keys for non-TronGrid URLs and, for TronGrid URLs, sends
  shared public keys of its own that would override ours.
- Transactions are built by tronpy (which asks the node for the txID via ``getsignweight``); the
  txID is recomputed locally from ``raw_data`` with ``tronproto`` and anything that does not
  match is refused before signing (``TxidMismatch``).
- The engine's hot path builds locally instead (``build_*_local``): raw_data in tronpy's shape,
  TaPoS from a reference block read at most once per block (``reference_block``), expiration =
  that block's time + ``tx_expiration_ms`` (the chain's clock, which is what decides expiry),
  txID computed with ``tronproto`` - no node round trip per transaction.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
from tronpy import AsyncTron
from tronpy import exceptions as tronpy_errors
from tronpy.async_tron import AsyncTransactionBuilder
from tronpy.providers.async_http import AsyncHTTPProvider

from tronproto.address import InvalidAddressError, to_base58, to_hex
from tronproto.permission import operations_hex, operations_of
from tronproto.tx import TYPE_URL_PREFIX
from tronrent.adapters.tron import keepalive
from tronrent.adapters.tron.errors import ChainUnavailable, InvalidChainInput, TransactionRejected
from tronrent.adapters.tron.keepalive import KeepAlivePoster
from tronrent.adapters.tron.port import (
    DELEGATE_RESOURCE,
    UNDELEGATE_RESOURCE,
    Account,
    AccountResource,
    ActivePermission,
    BlockHeader,
    BroadcastResult,
    ChainParameters,
    ChainTransaction,
    DelegatedResource,
    SignedTx,
    TransactionInfo,
    TxLookup,
    TxState,
    Unfreezing,
    UnsignedTx,
)
from tronrent.adapters.tron.signer import compute_txid, sign_transaction, verified_unsigned

log = logging.getLogger("tronrent.chain")

T = TypeVar("T")

API_KEY_HEADER: Final = "TRON-PRO-API-KEY"
MAX_BLOCKS_PER_REQUEST: Final = 100
DEFAULT_TX_EXPIRATION_MS: Final = 60_000
# java-tron broadcast codes that mean "this node cannot take it now", not "the tx is bad".
RETRYABLE_BROADCAST_CODES: Final = frozenset(
    {"SERVER_BUSY", "NO_CONNECTION", "NOT_ENOUGH_EFFECTIVE_CONNECTION", "BLOCK_UNSOLIDIFIED"}
)
_TRONPY_REJECTIONS: Final = (
    tronpy_errors.ValidationError,
    tronpy_errors.TransactionError,
    tronpy_errors.UnknownError,
    tronpy_errors.ApiError,
    tronpy_errors.TaposError,
    tronpy_errors.BadSignature,
)


class _NodeFailure(Exception):
    """An answer that shows the node, not the request, is at fault (try another node)."""


@dataclass
class _Node:
    url: str
    tron: AsyncTron
    cooldown_until: float = 0.0
    failures: int = 0


def normalize_node_url(url: str) -> str:
    """Strip blanks, require http(s) and a host, end with ``/`` (tronpy joins paths onto it)."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) node URL: {_safe_url(text)!r}")
    return text if text.endswith("/") else text + "/"


def _safe_url(url: str) -> str:
    """The URL without credentials or query (for logs)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def retry_after_seconds(response: httpx.Response, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), ``None`` when absent/invalid."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _address(value: str, what: str = "address") -> str:
    try:
        return to_base58(value)
    except (InvalidAddressError, ValueError, TypeError):
        raise InvalidChainInput(f"invalid TRON {what}: {value!r}") from None


def _hex_address(value: str, what: str = "address") -> str:
    """The ``41...`` hex form (what tronpy puts in raw_data), validated."""
    return to_hex(_address(value, what))


def _txid(value: str) -> str:
    text = value.strip().lower().removeprefix("0x")
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise InvalidChainInput("a transaction hash is 64 hex characters")
    return text


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | str) and not isinstance(value, bool) else 0


def _decode_message(message: Any) -> str:
    """java-tron hex-encodes ``message`` when ``visible`` is false."""
    if not isinstance(message, str):
        return "" if message is None else str(message)
    try:
        return bytes.fromhex(message).decode()
    except (ValueError, UnicodeDecodeError):
        return message


def _keys(permission: Mapping[str, Any]) -> tuple[tuple[str, int], ...]:
    """(base58 address, weight) of a permission's keys (``visible`` answers)."""
    return tuple(
        (str(k.get("address", "")), _int(k.get("weight")))
        for k in permission.get("keys") or []
        if isinstance(k, dict)
    )


def _check_error(payload: Any) -> None:
    """``{"Error": "..."}`` (HTTP 200) -> ``TransactionRejected``."""
    if isinstance(payload, Mapping) and "Error" in payload:
        raise TransactionRejected("ERROR", str(payload["Error"]))


class TronGateway:
    """``ChainPort`` over tronpy ``AsyncTron`` with failover, backoff and local txID checks.

    Use as an async context manager, or call ``aclose()``.
    """

    def __init__(
        self,
        node_urls: Sequence[str],
        *,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        max_attempts: int = 6,
        backoff_base_s: float = 0.2,
        backoff_max_s: float = 5.0,
        max_wait_s: float = 30.0,
        tx_expiration_ms: int = DEFAULT_TX_EXPIRATION_MS,
        client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not node_urls:
            raise ValueError("at least one TRON node URL is required")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 1_000 <= tx_expiration_ms <= 24 * 3_600_000:
            raise ValueError("tx expiration must be between 1 s and 24 h")
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout_s))
        if api_key:
            self._client.headers[API_KEY_HEADER] = api_key
        # broadcasts (one per delegation) over the lean client, unless a client was given
        self._poster = (
            KeepAlivePoster(
                timeout_s=timeout_s,
                headers={API_KEY_HEADER: api_key} if api_key else None,
            )
            if client is None
            else None
        )
        self._nodes = [self._make_node(normalize_node_url(url)) for url in node_urls]
        self._preferred = 0
        self._max_attempts = max_attempts
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._max_wait_s = max_wait_s
        self._tx_expiration_ms = tx_expiration_ms
        self._sleep = sleep
        # per-block caches (reference block for TaPoS, energy totals): (monotonic time, value)
        self._ref: tuple[float, BlockHeader] | None = None
        self._ref_lock = asyncio.Lock()
        self._totals: tuple[float, tuple[int, int]] | None = None
        self._totals_lock = asyncio.Lock()
        self._last_timestamp_ms = 0

    def _make_node(self, url: str) -> _Node:
        provider = AsyncHTTPProvider(url, client=self._client)
        # Never let tronpy pick an API key: ours is a client header (see the module docstring).
        provider.use_api_key = False
        return _Node(url=url, tron=AsyncTron(provider=provider))

    @property
    def node_urls(self) -> list[str]:
        return [n.url for n in self._nodes]

    async def aclose(self) -> None:
        if self._poster is not None:
            await self._poster.aclose()
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> TronGateway:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ---------------------------------------------------------------------------------------
    # Failover and backoff
    # ---------------------------------------------------------------------------------------

    async def _acquire_node(self, what: str) -> _Node:
        count = len(self._nodes)
        now = time.monotonic()
        for i in range(count):
            node = self._nodes[(self._preferred + i) % count]
            if node.cooldown_until <= now:
                return node
        node = min(self._nodes, key=lambda n: n.cooldown_until)
        wait = node.cooldown_until - now
        if wait > self._max_wait_s:
            raise ChainUnavailable(
                f"{what}: every TRON node asked us to wait ({wait:.0f} s)", retry_after=wait
            )
        await self._sleep(wait)
        return node

    def _penalize(self, node: _Node, retry_after: float | None, reason: str) -> None:
        backoff = min(self._backoff_max_s, self._backoff_base_s * (2**node.failures))
        delay = backoff if retry_after is None else max(retry_after, 0.0)
        node.failures += 1
        node.cooldown_until = time.monotonic() + delay
        index = self._nodes.index(node)
        if index == self._preferred:
            self._preferred = (index + 1) % len(self._nodes)
        log.warning(
            "tron node failed",
            extra={"node": _safe_url(node.url), "reason": reason, "cooldown_s": round(delay, 3)},
        )

    async def _call(self, what: str, op: Callable[[AsyncTron], Awaitable[T]]) -> T:
        """Run ``op`` on a healthy node, failing over and backing off (see the module docstring)."""
        reason = "no attempt"
        retry_after: float | None = None
        for _ in range(self._max_attempts):
            node = await self._acquire_node(what)
            retry_after = None
            try:
                result = await op(node.tron)
            except httpx.HTTPStatusError as exc:
                status = exc.response.status_code
                retry_after = retry_after_seconds(exc.response) if status in (429, 503) else None
                reason = f"HTTP {status}"
            except httpx.TimeoutException:
                reason = "timeout"
            except httpx.TransportError as exc:
                reason = type(exc).__name__
            except (json.JSONDecodeError, _NodeFailure) as exc:
                reason = f"bad answer: {exc}"[:200]
            else:
                node.failures = 0
                self._preferred = self._nodes.index(node)
                return result
            self._penalize(node, retry_after, reason)
        raise ChainUnavailable(
            f"{what}: no TRON node answered after {self._max_attempts} attempts ({reason})",
            retry_after=retry_after,
        )

    async def _request(
        self, path: str, body: Mapping[str, Any] | None = None, *, list_ok: bool = False
    ) -> Any:
        """POST ``path``; an answer that is not a JSON object (or list, if ``list_ok``) is the
        node's fault and fails over like an HTTP error."""

        async def op(tron: AsyncTron) -> Any:
            data = await tron.provider.make_request(path, dict(body or {}))
            if not isinstance(data, dict) and not (list_ok and isinstance(data, list)):
                raise _NodeFailure(f"{path}: unexpected {type(data).__name__} answer")
            return data

        return await self._call(path, op)

    # ---------------------------------------------------------------------------------------
    # Reads
    # ---------------------------------------------------------------------------------------

    async def get_account(self, address: str) -> Account | None:
        """``getaccount``; ``None`` when the account does not exist on chain."""
        addr = _address(address)
        data = await self._request("wallet/getaccount", {"address": addr, "visible": True})
        _check_error(data)
        if not data:
            return None
        frozen = {"BANDWIDTH": 0, "ENERGY": 0}
        for entry in data.get("frozenV2") or []:
            kind = entry.get("type", "BANDWIDTH")
            if kind in frozen:
                frozen[kind] += _int(entry.get("amount"))
        resource = data.get("account_resource") or {}
        owner = data.get("owner_permission") or {}
        return Account(
            address=addr,
            balance_sun=_int(data.get("balance")),
            frozen_energy_sun=frozen["ENERGY"],
            frozen_bandwidth_sun=frozen["BANDWIDTH"],
            delegated_energy_sun=_int(resource.get("delegated_frozenV2_balance_for_energy")),
            acquired_energy_sun=_int(
                resource.get("acquired_delegated_frozenV2_balance_for_energy")
            ),
            energy_usage=_int(resource.get("energy_usage")),
            create_time_ms=_int(data.get("create_time")),
            unfreezing_sun=sum(
                _int(u.get("unfreeze_amount")) for u in data.get("unfrozenV2") or []
            ),
            owner_threshold=_int(owner.get("threshold")) or 1,
            owner_keys=_keys(owner),
            active_permissions=tuple(
                ActivePermission(
                    id=_int(p.get("id")),
                    name=str(p.get("permission_name", "")),
                    threshold=_int(p.get("threshold")) or 1,
                    keys=_keys(p),
                    operations=operations_of(str(p.get("operations", ""))),
                )
                for p in data.get("active_permission") or []
                if isinstance(p, dict)
            ),
            unfreezing=tuple(
                Unfreezing(
                    resource=str(u.get("type", "BANDWIDTH")),
                    amount_sun=_int(u.get("unfreeze_amount")),
                    expire_time_ms=_int(u.get("unfreeze_expire_time")),
                )
                for u in data.get("unfrozenV2") or []
                if isinstance(u, dict)
            ),
        )

    async def get_account_resource(self, address: str) -> AccountResource:
        """``getaccountresource``: limits and network totals (the energy ratio).

        java-tron answers ``{}`` for an account that does not exist: ``TransactionRejected``
        with code ``ACCOUNT_NOT_FOUND``.
        """
        addr = _address(address)
        data = await self._request("wallet/getaccountresource", {"address": addr, "visible": True})
        _check_error(data)
        if not data:
            raise TransactionRejected("ACCOUNT_NOT_FOUND", f"account {addr} does not exist")
        return AccountResource(
            energy_limit=_int(data.get("EnergyLimit")),
            energy_used=_int(data.get("EnergyUsed")),
            net_limit=_int(data.get("NetLimit")),
            net_used=_int(data.get("NetUsed")),
            free_net_limit=_int(data.get("freeNetLimit")),
            free_net_used=_int(data.get("freeNetUsed")),
            total_energy_limit=_int(data.get("TotalEnergyLimit")),
            total_energy_weight=_int(data.get("TotalEnergyWeight")),
            total_net_limit=_int(data.get("TotalNetLimit")),
            total_net_weight=_int(data.get("TotalNetWeight")),
        )

    async def trc20_balance(self, contract: str, holder: str) -> int | None:
        """``balanceOf(holder)`` via ``triggerconstantcontract`` (a read, nothing broadcast)."""
        token = _address(contract, "contract address")
        owner = _address(holder)
        data = await self._request(
            "wallet/triggerconstantcontract",
            {
                "owner_address": owner,
                "contract_address": token,
                "function_selector": "balanceOf(address)",
                "parameter": to_hex(owner)[2:].rjust(64, "0"),
                "visible": True,
            },
        )
        _check_error(data)
        result = data.get("result") or {}
        if result.get("code") == "CONTRACT_VALIDATE_ERROR":
            return None
        if not result.get("result"):
            raise TransactionRejected(
                str(result.get("code") or "CONTRACT_EXE_ERROR"),
                _decode_message(result.get("message")) or "balanceOf failed",
            )
        outputs = data.get("constant_result") or []
        try:
            return int(str(outputs[0]) or "0", 16)
        except (IndexError, ValueError):
            raise ChainUnavailable("triggerconstantcontract: no usable constant_result") from None

    async def get_chain_parameters(self) -> ChainParameters:
        data = await self._request("wallet/getchainparameters", {"visible": True})
        _check_error(data)
        values = {
            str(p["key"]): _int(p.get("value", 0))
            for p in (data or {}).get("chainParameter", [])
            if "key" in p
        }
        return ChainParameters(values)

    async def get_head_block(self) -> BlockHeader:
        """The latest block's header (``getnowblock``)."""
        data = await self._request("wallet/getnowblock", {"visible": True})
        _check_error(data)
        header = _parse_header(data)
        if header is None:
            raise ChainUnavailable("getnowblock: the node returned no block")
        return header

    async def get_head_block_number(self) -> int:
        """Number of the latest block (``getnodeinfo``, cheaper than a whole block)."""
        data = await self._request("wallet/getnodeinfo")
        _check_error(data)
        block = str((data or {}).get("block", ""))
        try:
            return int(block.split(",", 1)[0].removeprefix("Num:"))
        except ValueError:
            raise ChainUnavailable(f"getnodeinfo: unparsable block {block[:80]!r}") from None

    async def get_blocks(self, start: int, end: int) -> list[Mapping[str, Any]]:
        """Blocks ``[start, end)`` that exist, at most 100 (``getblockbylimitnext``)."""
        if start < 0 or end <= start or end - start > MAX_BLOCKS_PER_REQUEST:
            raise InvalidChainInput("block range must be [start, end) with 1..100 blocks")
        data = await self._request("wallet/getblockbylimitnext", {"startNum": start, "endNum": end})
        _check_error(data)
        blocks = (data or {}).get("block", [])
        return sorted(blocks, key=lambda b: _int(b["block_header"]["raw_data"].get("number")))

    async def get_transaction_infos(self, block_number: int) -> list[Mapping[str, Any]]:
        """All transaction infos of one block, with logs (``gettransactioninfobyblocknum``)."""
        if block_number < 0:
            raise InvalidChainInput("block number must not be negative")
        data = await self._request(
            "wallet/gettransactioninfobyblocknum", {"num": block_number}, list_ok=True
        )
        _check_error(data)
        if isinstance(data, list):
            return data
        return list((data or {}).get("transactionInfo", []))

    async def get_transaction(self, txid: str) -> ChainTransaction | None:
        """``gettransactionbyid``; ``None`` until the transaction is in a block."""
        tid = _txid(txid)
        data = await self._request("wallet/gettransactionbyid", {"value": tid, "visible": True})
        _check_error(data)
        if not data or "raw_data" not in data:
            return None
        raw = data["raw_data"]
        contract = (raw.get("contract") or [{}])[0]
        ret = (data.get("ret") or [{}])[0]
        return ChainTransaction(
            txid=str(data.get("txID", tid)),
            contract_type=str(contract.get("type", "")),
            parameter=(contract.get("parameter") or {}).get("value") or {},
            contract_ret=str(ret.get("contractRet", "SUCCESS")),
            raw_data=raw,
        )

    async def get_transaction_info(self, txid: str) -> TransactionInfo | None:
        """``gettransactioninfobyid``; ``None`` until the transaction is in a block."""
        tid = _txid(txid)
        data = await self._request("wallet/gettransactioninfobyid", {"value": tid, "visible": True})
        _check_error(data)
        if not data or "blockNumber" not in data:
            return None
        receipt = data.get("receipt") or {}
        failed = data.get("result") == "FAILED" or receipt.get("result") not in (None, "SUCCESS")
        return TransactionInfo(
            txid=str(data.get("id", tid)),
            block_number=_int(data.get("blockNumber")),
            block_timestamp_ms=_int(data.get("blockTimeStamp")),
            fee_sun=_int(data.get("fee")),
            failed=failed,
            message=_decode_message(data.get("resMessage")),
            receipt=receipt,
            logs=list(data.get("log") or []),
        )

    async def find_transaction(self, txid: str, *, confirmations: int = 0) -> TxLookup:
        """Where ``txid`` stands: absent / pending (too few confirmations) / confirmed / failed."""
        info = await self.get_transaction_info(txid)
        if info is None:
            return TxLookup(_txid(txid), TxState.ABSENT)
        if info.failed:
            return TxLookup(
                info.txid, TxState.FAILED, info.block_number, 0, info.fee_sun, info.message
            )
        depth = 0
        if confirmations > 0:
            depth = max(0, await self.get_head_block_number() - info.block_number)
        state = TxState.CONFIRMED if depth >= confirmations else TxState.PENDING
        return TxLookup(info.txid, state, info.block_number, depth, info.fee_sun)

    async def can_delegate_max_size(self, owner: str) -> int:
        """Energy stake (sun) ``owner`` can delegate now; 0 below 1 TRX."""
        addr = _address(owner, "owner address")
        data = await self._request(
            "wallet/getcandelegatedmaxsize", {"owner_address": addr, "type": 1, "visible": True}
        )
        _check_error(data)
        return _int((data or {}).get("max_size"))

    async def get_delegated_resource(self, owner: str, receiver: str) -> list[DelegatedResource]:
        """Delegations from ``owner`` to ``receiver`` (unlocked record first, then locked)."""
        body = {
            "fromAddress": _address(owner, "owner address"),
            "toAddress": _address(receiver, "receiver address"),
            "visible": True,
        }
        data = await self._request("wallet/getdelegatedresourcev2", body)
        _check_error(data)
        return [
            DelegatedResource(
                from_address=_address(str(r.get("from", body["fromAddress"]))),
                to_address=_address(str(r.get("to", body["toAddress"]))),
                energy_sun=_int(r.get("frozen_balance_for_energy")),
                energy_expire_time_ms=_int(r.get("expire_time_for_energy")),
                bandwidth_sun=_int(r.get("frozen_balance_for_bandwidth")),
                bandwidth_expire_time_ms=_int(r.get("expire_time_for_bandwidth")),
            )
            for r in (data or {}).get("delegatedResource", [])
        ]

    # ---------------------------------------------------------------------------------------
    # Transactions
    # ---------------------------------------------------------------------------------------

    async def _build(
        self, what: str, make: Callable[[AsyncTron], AsyncTransactionBuilder]
    ) -> UnsignedTx:
        async def op(tron: AsyncTron) -> UnsignedTx:
            builder = make(tron).expiration(self._tx_expiration_ms)
            try:
                txn = await builder.build()
            except _TRONPY_REJECTIONS as exc:
                code = str(exc.args[1]) if len(exc.args) > 1 else type(exc).__name__
                raise TransactionRejected(code, str(exc.args[0]) if exc.args else "") from None
            except (KeyError, TypeError, AttributeError, IndexError) as exc:
                # tronpy choked on the shape of getnodeinfo/getsignweight: the node's fault
                raise _NodeFailure(f"malformed build answer: {exc!r}") from None
            data = txn.to_json()
            # The node told us the txID: trust it only if it is the hash of our raw_data.
            return verified_unsigned(data["raw_data"], str(data["txID"] or ""))

        return await self._call(what, op)

    async def build_delegate(
        self, owner: str, receiver: str, balance_sun: int, *, lock: bool, lock_period: int
    ) -> UnsignedTx:
        """DelegateResourceContract for ENERGY; ``lock_period`` in blocks (used when ``lock``)."""
        frm, to = _address(owner, "owner address"), _address(receiver, "receiver address")
        if balance_sun < 1:
            raise InvalidChainInput("delegated balance must be positive")
        if lock and lock_period < 1:
            raise InvalidChainInput("lock_period must be at least 1 block")
        return await self._build(
            "delegate",
            lambda tron: tron.trx.delegate_resource(
                frm, to, balance_sun, "ENERGY", lock=lock, lock_period=lock_period if lock else None
            ),
        )

    async def build_undelegate(self, owner: str, receiver: str, balance_sun: int) -> UnsignedTx:
        """UnDelegateResourceContract for ENERGY."""
        frm, to = _address(owner, "owner address"), _address(receiver, "receiver address")
        if balance_sun < 1:
            raise InvalidChainInput("undelegated balance must be positive")
        return await self._build(
            "undelegate", lambda tron: tron.trx.undelegate_resource(frm, to, balance_sun, "ENERGY")
        )

    async def build_transfer(
        self, owner: str, to: str, amount_sun: int, memo: str | None = None
    ) -> UnsignedTx:
        """TransferContract of ``amount_sun``, with an optional memo."""
        frm, dst = _address(owner, "owner address"), _address(to, "recipient address")
        if amount_sun < 1:
            raise InvalidChainInput("amount must be positive")

        def make(tron: AsyncTron) -> AsyncTransactionBuilder:
            builder = tron.trx.transfer(frm, dst, amount_sun)
            return builder.memo(memo) if memo else builder

        return await self._build("transfer", make)

    async def build_create_account(self, owner: str, account: str) -> UnsignedTx:
        """AccountCreateContract: ``owner`` creates ``account`` (see ``port.activation_cost``)."""
        value = self._create_account_value(owner, account)
        return await self._build(
            "create account",
            lambda tron: tron.trx._build_transaction("AccountCreateContract", value),
        )

    @staticmethod
    def _create_account_value(owner: str, account: str) -> dict[str, Any]:
        frm = _hex_address(owner, "owner address")
        new = _hex_address(account, "account address")
        if frm == new:
            raise InvalidChainInput("an account cannot create itself")
        return {"owner_address": frm, "account_address": new}

    async def build_freeze(self, owner: str, amount_sun: int) -> UnsignedTx:
        """FreezeBalanceV2Contract: stake ``amount_sun`` for ENERGY."""
        frm = _address(owner, "owner address")
        if amount_sun < 1:
            raise InvalidChainInput("amount must be positive")
        return await self._build(
            "freeze", lambda tron: tron.trx.freeze_balance(frm, amount_sun, "ENERGY")
        )

    async def build_unfreeze(self, owner: str, amount_sun: int) -> UnsignedTx:
        """UnfreezeBalanceV2Contract: start unstaking ``amount_sun`` of ENERGY stake."""
        frm = _address(owner, "owner address")
        if amount_sun < 1:
            raise InvalidChainInput("amount must be positive")
        return await self._build(
            "unfreeze",
            lambda tron: tron.trx.unfreeze_balance(frm, "ENERGY", unfreeze_balance=amount_sun),
        )

    async def build_withdraw_unfrozen(self, owner: str) -> UnsignedTx:
        """WithdrawExpireUnfreezeContract: take back unstaked TRX whose wait has passed."""
        frm = _address(owner, "owner address")
        return await self._build("withdraw", lambda tron: tron.trx.withdraw_stake_balance(frm))

    async def build_cancel_unfreeze(self, owner: str) -> UnsignedTx:
        """CancelAllUnfreezeV2Contract: re-stake every pending unstake."""
        value = {"owner_address": _hex_address(owner, "owner address")}
        return await self._build(
            "cancel unfreeze",
            lambda tron: tron.trx._build_transaction("CancelAllUnfreezeV2Contract", value),
        )

    async def build_delegate_only_permission(
        self, owner: str, signer: str, *, name: str = "delegate"
    ) -> UnsignedTx:
        """AccountPermissionUpdateContract keeping ``owner``'s owner permission and making its
        active permissions: the current ones, plus ``name`` - ``signer``'s key alone, allowed
        DelegateResource and UnDelegateResource only (the new one's id is the last: 2 + the
        number of current ones; at most 8 in all). Signed by the owner key (the update costs
        ``getUpdateAccountPermissionFee``, 100 TRX on mainnet)."""
        account = await self.get_account(owner)
        if account is None:
            raise InvalidChainInput(f"account {owner} does not exist on chain")
        hot = _address(signer, "signer address")
        owner_keys = account.owner_keys or ((account.address, 1),)
        actives = [
            {
                "type": "Active",
                "permission_name": p.name or "active",
                "threshold": p.threshold,
                "operations": operations_hex(p.operations),
                "keys": [{"address": to_hex(a), "weight": w} for a, w in p.keys],
            }
            for p in account.active_permissions
        ]
        if len(actives) >= 8:
            raise InvalidChainInput("the account already has 8 active permissions (the most)")
        actives.append(
            {
                "type": "Active",
                "permission_name": name[:32],
                "threshold": 1,
                "operations": operations_hex((DELEGATE_RESOURCE, UNDELEGATE_RESOURCE)),
                "keys": [{"address": to_hex(hot), "weight": 1}],
            }
        )
        value = {
            "owner_address": to_hex(account.address),
            "owner": {
                "type": "Owner",
                "permission_name": "owner",
                "threshold": account.owner_threshold,
                "keys": [{"address": to_hex(a), "weight": w} for a, w in owner_keys],
            },
            "actives": actives,
        }
        return await self._build(
            "permission update",
            lambda tron: tron.trx._build_transaction("AccountPermissionUpdateContract", value),
        )

    # --- local building (no node round trip per transaction) -----------------------------------

    async def reference_block(self, max_age_s: float) -> BlockHeader:
        """The head block, read at most once per ``max_age_s`` (one ``getnowblock`` per block)."""
        cached = self._ref
        if cached is not None and time.monotonic() - cached[0] < max_age_s:
            return cached[1]
        async with self._ref_lock:
            cached = self._ref
            if cached is not None and time.monotonic() - cached[0] < max_age_s:
                return cached[1]
            head = await self.get_head_block()
            if len(head.block_id) != 64:
                raise ChainUnavailable("getnowblock: the node returned no block id")
            self._ref = (time.monotonic(), head)
            return head

    async def energy_totals(self, address: str, max_age_s: float) -> tuple[int, int]:
        """``(TotalEnergyLimit, TotalEnergyWeight)``, read at most once per ``max_age_s``."""
        cached = self._totals
        if cached is not None and time.monotonic() - cached[0] < max_age_s:
            return cached[1]
        async with self._totals_lock:
            cached = self._totals
            if cached is not None and time.monotonic() - cached[0] < max_age_s:
                return cached[1]
            res = await self.get_account_resource(address)
            totals = (res.total_energy_limit, res.total_energy_weight)
            self._totals = (time.monotonic(), totals)
            return totals

    def _build_local(
        self,
        ref: BlockHeader,
        contract_type: str,
        value: dict[str, Any],
        memo: str | None = None,
        fee_limit_sun: int | None = None,
        permission_id: int = 0,
    ) -> UnsignedTx:
        # tronpy's raw_data shape; the timestamp is the local clock, strictly increasing in this
        # process so two identical contracts built in the same millisecond get distinct txIDs
        now = max(int(time.time() * 1000), self._last_timestamp_ms + 1)
        self._last_timestamp_ms = now
        contract: dict[str, Any] = {
            "parameter": {"value": value, "type_url": TYPE_URL_PREFIX + contract_type},
            "type": contract_type,
        }
        if permission_id:
            contract["Permission_id"] = permission_id
        raw: dict[str, Any] = {
            "contract": [contract],
            "timestamp": now,
            "expiration": ref.timestamp_ms + self._tx_expiration_ms,
            "ref_block_bytes": ref.block_id[12:16],
            "ref_block_hash": ref.block_id[16:32],
        }
        if memo:
            raw["data"] = memo.encode().hex()
        if fee_limit_sun is not None:
            raw["fee_limit"] = fee_limit_sun
        txid, _ = compute_txid(raw)
        return verified_unsigned(raw, txid)

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
        """DelegateResourceContract for ENERGY, built locally from ``ref``."""
        frm, to = _hex_address(owner, "owner address"), _hex_address(receiver, "receiver address")
        if balance_sun < 1:
            raise InvalidChainInput("delegated balance must be positive")
        if lock and lock_period < 1:
            raise InvalidChainInput("lock_period must be at least 1 block")
        value: dict[str, Any] = {
            "owner_address": frm,
            "receiver_address": to,
            "balance": balance_sun,
            "resource": "ENERGY",
            "lock": lock,
        }
        if lock:
            value["lock_period"] = lock_period
        return self._build_local(
            ref, "DelegateResourceContract", value, permission_id=permission_id
        )

    def build_undelegate_local(
        self,
        ref: BlockHeader,
        owner: str,
        receiver: str,
        balance_sun: int,
        *,
        permission_id: int = 0,
    ) -> UnsignedTx:
        """UnDelegateResourceContract for ENERGY, built locally from ``ref``."""
        frm, to = _hex_address(owner, "owner address"), _hex_address(receiver, "receiver address")
        if balance_sun < 1:
            raise InvalidChainInput("undelegated balance must be positive")
        value = {
            "owner_address": frm,
            "receiver_address": to,
            "balance": balance_sun,
            "resource": "ENERGY",
        }
        return self._build_local(
            ref, "UnDelegateResourceContract", value, permission_id=permission_id
        )

    def build_transfer_local(
        self, ref: BlockHeader, owner: str, to: str, amount_sun: int, memo: str | None = None
    ) -> UnsignedTx:
        """TransferContract of ``amount_sun``, built locally from ``ref``."""
        frm, dst = _hex_address(owner, "owner address"), _hex_address(to, "recipient address")
        if amount_sun < 1:
            raise InvalidChainInput("amount must be positive")
        value = {"owner_address": frm, "to_address": dst, "amount": amount_sun}
        return self._build_local(ref, "TransferContract", value, memo)

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
        """TriggerSmartContract ``transfer(to, units)`` (selector a9059cbb) on the TRC20
        ``contract``, built locally from ``ref``."""
        frm = _hex_address(owner, "owner address")
        token = _hex_address(contract, "contract address")
        dst = _hex_address(to, "recipient address")
        if units < 1:
            raise InvalidChainInput("amount must be positive")
        if fee_limit_sun < 1:
            raise InvalidChainInput("fee limit must be positive")
        data = "a9059cbb" + dst[2:].rjust(64, "0") + f"{units:064x}"
        value = {"owner_address": frm, "contract_address": token, "data": data}
        return self._build_local(ref, "TriggerSmartContract", value, fee_limit_sun=fee_limit_sun)

    def build_create_account_local(self, ref: BlockHeader, owner: str, account: str) -> UnsignedTx:
        """AccountCreateContract, built locally from ``ref``."""
        value = self._create_account_value(owner, account)
        return self._build_local(ref, "AccountCreateContract", value)

    def sign(self, tx: UnsignedTx, private_key: bytes | str) -> SignedTx:
        """Sign locally (txID re-checked, key must own the transaction); no network."""
        return sign_transaction(tx, private_key)

    async def broadcast(self, tx: SignedTx) -> BroadcastResult:
        """``broadcasttransaction``; idempotent: "Dup transaction" is a success."""
        txid, raw_hex = compute_txid(tx.raw_data)
        if txid != tx.txid or not tx.signature:
            raise InvalidChainInput("refusing to broadcast: unsigned or txID does not match")
        body = {
            "txID": txid,
            "raw_data": dict(tx.raw_data),
            "raw_data_hex": raw_hex,
            "signature": list(tx.signature),
            "visible": False,
        }

        async def op(tron: AsyncTron) -> BroadcastResult:
            provider = tron.provider
            if self._poster is not None and keepalive.usable(provider.endpoint_uri):
                url = provider.endpoint_uri + "wallet/broadcasttransaction"
                data = await self._poster.post(url, body)
            else:
                data = await provider.make_request("wallet/broadcasttransaction", body)
            if not isinstance(data, dict):
                raise _NodeFailure(f"broadcast: unexpected {type(data).__name__} answer")
            _check_error(data)
            if data.get("result") is True:
                return BroadcastResult(txid)
            code = str(data.get("code", "OTHER_ERROR"))
            message = _decode_message(data.get("message"))
            if code == "DUP_TRANSACTION_ERROR":
                return BroadcastResult(txid, duplicate=True)
            if code in RETRYABLE_BROADCAST_CODES:
                raise _NodeFailure(f"{code}: {message}")
            raise TransactionRejected(code, message, txid=txid)

        return await self._call("broadcast", op)


def _parse_header(block: Any) -> BlockHeader | None:
    if not isinstance(block, Mapping) or "block_header" not in block:
        return None
    raw = block["block_header"].get("raw_data") or {}
    return BlockHeader(
        number=_int(raw.get("number")),
        block_id=str(block.get("blockID", "")),
        parent_hash=str(raw.get("parentHash", "")),
        timestamp_ms=_int(raw.get("timestamp")),
    )
