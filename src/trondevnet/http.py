"""The HTTP API: java-tron `/wallet/*` + `/walletsolidity/*`, TronGrid `/v1/*`, control `/devnet/*`.

A plain ASGI application (no framework) so the hot path stays short.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson

from trondevnet import errors as E
from trondevnet import usdt as usdt_mod
from trondevnet import views
from trondevnet.chain import _res_int
from trondevnet.config import ACTIVE_DEFAULT_OPERATIONS, TRX
from trondevnet.node import DevnetNode, FaultRule
from trondevnet.state import BANDWIDTH, ENERGY, Block, Permission, TxRecord
from tronproto.address import InvalidAddressError, is_valid_address, to_base58, to_raw
from tronproto.pb import DecodeError
from tronproto.tx import (
    TxFormatError,
    raw_data_from_bytes,
    raw_data_to_bytes,
    transaction_from_bytes,
    txid_bytes,
)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Params = dict[str, Any]
Handler = Callable[[DevnetNode, Params, bool], Any]

EXC = "org.tron.core.exception"


class ApiError(Exception):
    """Rendered as HTTP 200 `{"Error": "class <cls> : <message>"}` like java-tron."""

    def __init__(self, message: str, cls: str = f"{EXC}.ContractValidateException") -> None:
        super().__init__(message)
        self.cls = cls
        self.message = message


class ControlError(Exception):
    """A bad request to the /devnet/ control API (HTTP 400)."""


# ------------------------------------------------------------------ param helpers
def visible_of(params: Params) -> bool:
    v = params.get("visible", False)
    if isinstance(v, str):
        return v.lower() == "true"
    return bool(v)


def p_addr(params: Params, *names: str, required: bool = True) -> bytes:
    for name in names:
        value = params.get(name)
        if value:
            try:
                return to_raw(value)
            except InvalidAddressError as exc:
                raise ApiError(
                    f"Invalid address: {value}", "java.lang.IllegalArgumentException"
                ) from exc
    if required:
        raise ApiError(f"{names[0]} is required", "java.lang.IllegalArgumentException")
    return b""


def p_int(params: Params, name: str, default: int = 0) -> int:
    value = params.get(name, default)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(f"{name} must be a number", "java.lang.NumberFormatException") from exc


def p_bool(params: Params, name: str) -> bool:
    value = params.get(name, False)
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def p_hash(params: Params, name: str = "value") -> bytes | None:
    value = params.get(name)
    if not isinstance(value, str):
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


# ------------------------------------------------------------------ read handlers
def h_getaccount(node: DevnetNode, params: Params, solid: bool) -> Any:
    acct = node.chain.accounts.get(p_addr(params, "address"))
    return views.account_json(node.chain, acct, visible_of(params)) if acct else {}


def h_getaccountresource(node: DevnetNode, params: Params, solid: bool) -> Any:
    acct = node.chain.accounts.get(p_addr(params, "address"))
    return views.account_resource_json(node.chain, acct) if acct else {}


def h_getaccountnet(node: DevnetNode, params: Params, solid: bool) -> Any:
    acct = node.chain.accounts.get(p_addr(params, "address"))
    return views.account_net_json(node.chain, acct) if acct else {}


def _top(node: DevnetNode, solid: bool) -> int:
    return node.chain.solid.number if solid else node.chain.head.number


def h_getnowblock(node: DevnetNode, params: Params, solid: bool) -> Any:
    block = node.chain.solid if solid else node.chain.head
    return views.block_json(block, visible_of(params))


def h_getblockbynum(node: DevnetNode, params: Params, solid: bool) -> Any:
    num = p_int(params, "num", -1)
    block = node.chain.block_by_number(num)
    if block is None or num > _top(node, solid):
        return {}
    return views.block_json(block, visible_of(params))


def h_getblockbyid(node: DevnetNode, params: Params, solid: bool) -> Any:
    bid = p_hash(params)
    block = node.chain.block_by_id.get(bid) if bid else None
    if block is None or block.number > _top(node, solid):
        return {}
    return views.block_json(block, visible_of(params))


def h_getblock(node: DevnetNode, params: Params, solid: bool) -> Any:
    chain = node.chain
    key = params.get("id_or_num")
    detail = p_bool(params, "detail")
    block: Block | None
    if key is None or key == "":
        block = chain.solid if solid else chain.head
    elif isinstance(key, int) or (isinstance(key, str) and key.isdigit() and len(key) < 20):
        block = chain.block_by_number(int(key))
    else:
        bid = p_hash(params, "id_or_num")
        if bid is None:
            raise ApiError("id_or_num is invalid", "java.lang.IllegalArgumentException")
        block = chain.block_by_id.get(bid)
    if block is None or block.number > _top(node, solid):
        return {}
    return views.block_json(block, visible_of(params), detail=detail)


def h_getblockbylimitnext(node: DevnetNode, params: Params, solid: bool) -> Any:
    start, end = p_int(params, "startNum"), p_int(params, "endNum")
    if end - start > 100 or start < 0 or end <= start:
        raise ApiError("startNum/endNum invalid", "java.lang.IllegalArgumentException")
    top = _top(node, solid)
    visible = visible_of(params)
    blocks = [
        views.block_json(node.chain.blocks[n], visible) for n in range(start, min(end, top + 1))
    ]
    return {"block": blocks} if blocks else {}


def h_getblockbylatestnum(node: DevnetNode, params: Params, solid: bool) -> Any:
    num = p_int(params, "num", 1)
    if num <= 0 or num > 100:
        raise ApiError("num must be between 1 and 100", "java.lang.IllegalArgumentException")
    top = _top(node, solid)
    visible = visible_of(params)
    return {
        "block": [
            views.block_json(node.chain.blocks[n], visible)
            for n in range(max(0, top - num + 1), top + 1)
        ]
    }


def h_getnodeinfo(node: DevnetNode, params: Params, solid: bool) -> Any:
    return views.node_info_json(node.chain, node.port)


def _packed_tx(node: DevnetNode, params: Params, solid: bool) -> TxRecord | None:
    txid = p_hash(params)
    tx = node.chain.txs.get(txid) if txid else None
    if tx is None or tx.block_number < 0 or tx.block_number > _top(node, solid):
        return None
    return tx


def h_gettransactionbyid(node: DevnetNode, params: Params, solid: bool) -> Any:
    tx = _packed_tx(node, params, solid)
    return views.tx_json(tx, visible_of(params)) if tx else {}


def h_gettransactioninfobyid(node: DevnetNode, params: Params, solid: bool) -> Any:
    tx = _packed_tx(node, params, solid)
    return views.tx_info_json(tx, visible_of(params)) if tx else {}


def h_gettransactioninfobyblocknum(node: DevnetNode, params: Params, solid: bool) -> Any:
    num = p_int(params, "num", -1)
    block = node.chain.block_by_number(num)
    if block is None or num > _top(node, solid):
        return []
    visible = visible_of(params)
    return [views.tx_info_json(t, visible) for t in block.txs]


def h_getdelegatedresourcev2(node: DevnetNode, params: Params, solid: bool) -> Any:
    chain = node.chain
    frm = p_addr(params, "fromAddress")
    to = p_addr(params, "toAddress")
    visible = visible_of(params)
    out = []
    for locked in (False, True):
        rec = chain.delegation(frm, to, locked)
        if rec is None or not (rec.energy or rec.bw):
            continue
        item: dict[str, Any] = {"from": views.addr(frm, visible), "to": views.addr(to, visible)}
        if rec.bw:
            item["frozen_balance_for_bandwidth"] = rec.bw
        if rec.energy:
            item["frozen_balance_for_energy"] = rec.energy
        if locked and rec.bw and rec.expire_bw:
            item["expire_time_for_bandwidth"] = rec.expire_bw
        if locked and rec.energy and rec.expire_energy:
            item["expire_time_for_energy"] = rec.expire_energy
        out.append(item)
    return {"delegatedResource": out} if out else {}


def h_getdelegatedresourceaccountindexv2(node: DevnetNode, params: Params, solid: bool) -> Any:
    chain = node.chain
    who = p_addr(params, "value", "address")
    visible = visible_of(params)
    to = sorted(chain.deleg_to.get(who, ()))
    frm = sorted(chain.deleg_from.get(who, ()))
    if not to and not frm:
        return {}
    out: dict[str, Any] = {"account": views.addr(who, visible)}
    if frm:
        out["fromAccounts"] = [views.addr(a, visible) for a in frm]
    if to:
        out["toAccounts"] = [views.addr(a, visible) for a in to]
    return out


def h_getcandelegatedmaxsize(node: DevnetNode, params: Params, solid: bool) -> Any:
    chain = node.chain
    acct = chain.accounts.get(p_addr(params, "owner_address"))
    resource = p_int(params, "type", BANDWIDTH)
    if acct is None:
        return {}
    size = chain.can_delegate_max(acct, ENERGY if resource == ENERGY else BANDWIDTH)
    return {"max_size": size} if size >= TRX else {}


def h_getavailableunfreezecount(node: DevnetNode, params: Params, solid: bool) -> Any:
    chain = node.chain
    acct = chain.accounts.get(p_addr(params, "owner_address"))
    now = chain.now_ms()
    pending = sum(1 for u in acct.unfrozen if u[2] > now) if acct else 0
    return {"count": chain.config.max_unfreeze_pending - pending}


def h_getcanwithdrawunfreezeamount(node: DevnetNode, params: Params, solid: bool) -> Any:
    chain = node.chain
    acct = chain.accounts.get(p_addr(params, "owner_address"))
    at = p_int(params, "timestamp", chain.now_ms()) or chain.now_ms()
    amount = sum(a for _r, a, exp in acct.unfrozen if exp <= at) if acct else 0
    return {"amount": amount} if amount else {}


def h_getchainparameters(node: DevnetNode, params: Params, solid: bool) -> Any:
    return views.chain_parameters_json(node.chain)


def h_getenergyprices(node: DevnetNode, params: Params, solid: bool) -> Any:
    return {"prices": f"0:{node.chain.config.energy_fee}"}


def h_getbandwidthprices(node: DevnetNode, params: Params, solid: bool) -> Any:
    return {"prices": f"0:{node.chain.config.transaction_fee}"}


def h_getmemofee(node: DevnetNode, params: Params, solid: bool) -> Any:
    return {"prices": f"0:{node.chain.config.memo_fee}"}


def h_validateaddress(node: DevnetNode, params: Params, solid: bool) -> Any:
    value = params.get("address", "")
    if isinstance(value, str) and is_valid_address(value):
        fmt = "Base58check" if value.startswith("T") else "Hex"
        return {"result": True, "message": f"{fmt} format"}
    return {"result": False, "message": "Invalid address"}


def h_listwitnesses(node: DevnetNode, params: Params, solid: bool) -> Any:
    chain = node.chain
    return {
        "witnesses": [
            {
                "address": views.addr(chain.witness_address, visible_of(params)),
                "voteCount": 0,
                "url": "http://trondevnet.local",
                "totalProduced": chain.head.number,
                "latestBlockNum": chain.head.number,
                "latestSlotNum": chain.slot_of(chain.head.timestamp),
                "isJobs": True,
            }
        ]
    }


# ------------------------------------------------------------------ contracts
def _contract_json(node: DevnetNode, visible: bool) -> dict[str, Any]:
    chain = node.chain
    return {
        "origin_address": views.addr(chain.witness_address, visible),
        "contract_address": views.addr(chain.usdt_address, visible),
        "abi": {"entrys": usdt_mod.ABI},
        "bytecode": "",
        "consume_user_resource_percent": 100,
        "name": "TetherToken",
        "origin_energy_limit": 10_000_000,
        "code_hash": chain.usdt_address.hex().ljust(64, "0"),
    }


def h_getcontract(node: DevnetNode, params: Params, solid: bool) -> Any:
    if p_addr(params, "value") != node.chain.usdt_address:
        return {}
    return _contract_json(node, visible_of(params))


def h_getcontractinfo(node: DevnetNode, params: Params, solid: bool) -> Any:
    if p_addr(params, "value") != node.chain.usdt_address:
        return {}
    return {
        "runtimecode": "",
        "smart_contract": _contract_json(node, visible_of(params)),
        "contract_state": {"energy_factor": 0, "update_cycle": 0},
    }


def _call_data(params: Params) -> bytes:
    data = params.get("data")
    try:
        if data:
            return bytes.fromhex(str(data).removeprefix("0x"))
        selector = params.get("function_selector") or ""
        parameter = bytes.fromhex(str(params.get("parameter") or "").removeprefix("0x"))
    except ValueError as exc:
        raise ApiError("invalid hex data", "java.lang.IllegalArgumentException") from exc
    return (usdt_mod.selector(selector) if selector else b"") + parameter


def _build_tx(
    node: DevnetNode,
    contract_type: str,
    value: dict[str, Any],
    params: Params,
    fee_limit: int = 0,
) -> tuple[bytes, dict[str, Any]]:
    """A node-built unsigned transaction referencing the head block (java-tron style)."""
    raw_json = node.chain.unsigned_raw_data(
        contract_type, value, permission_id=p_int(params, "Permission_id", 0)
    )
    memo = params.get("extra_data")
    if memo:
        raw_json["data"] = memo if not visible_of(params) else str(memo).encode().hex()
    if fee_limit:
        raw_json["fee_limit"] = fee_limit
    try:
        raw = raw_data_to_bytes(raw_json)
    except TxFormatError as exc:
        raise ApiError(str(exc), "java.lang.IllegalArgumentException") from exc
    visible = visible_of(params)
    return raw, {
        "visible": visible,
        "txID": txid_bytes(raw).hex(),
        "raw_data": raw_data_from_bytes(raw, visible),
        "raw_data_hex": raw.hex(),
    }


def _trigger_value(node: DevnetNode, params: Params) -> dict[str, Any]:
    value: dict[str, Any] = {
        "owner_address": p_addr(params, "owner_address").hex(),
        "contract_address": p_addr(params, "contract_address").hex(),
    }
    data = _call_data(params)
    if data:
        value["data"] = data.hex()
    if p_int(params, "call_value"):
        value["call_value"] = p_int(params, "call_value")
    return value


def _validate_error(message: str, visible: bool) -> dict[str, Any]:
    return {"result": {"code": "CONTRACT_VALIDATE_ERROR", "message": views.text(message, visible)}}


def _constant_call(node: DevnetNode, params: Params) -> Any | None:
    """The CallResult of a read-only call of the USDT contract; None for any other contract."""
    owner = p_addr(params, "owner_address")
    contract = p_addr(params, "contract_address")
    if contract != node.chain.usdt_address:
        return None
    data = _call_data(params)
    return node.chain.call_constant(owner, contract, data, p_int(params, "call_value"))


def h_triggerconstantcontract(node: DevnetNode, params: Params, solid: bool) -> Any:
    visible = visible_of(params)
    result = _constant_call(node, params)
    if result is None:
        return _validate_error("Smart contract is not exist.", visible)
    _raw, tx = _build_tx(node, "TriggerSmartContract", _trigger_value(node, params), params)
    tx["ret"] = [{}] if result.ok else [{"ret": "FAILED"}]
    out: dict[str, Any] = {
        "result": {"result": True},
        "energy_used": result.energy,
        "constant_result": [result.output.hex()],
        "transaction": tx,
    }
    if not result.ok:
        out["result"] = {
            "code": "CONTRACT_EXE_ERROR",
            "message": views.text(result.message, visible),
        }
        out["constant_result"] = [usdt_mod.revert_data("").hex()]
    return out


def h_estimateenergy(node: DevnetNode, params: Params, solid: bool) -> Any:
    visible = visible_of(params)
    result = _constant_call(node, params)
    if result is None:
        return _validate_error("Smart contract is not exist.", visible)
    if not result.ok:
        return {
            "result": {"code": "CONTRACT_EXE_ERROR", "message": views.text(result.message, visible)}
        }
    return {"result": {"result": True}, "energy_required": result.energy}


def h_triggersmartcontract(node: DevnetNode, params: Params, solid: bool) -> Any:
    if p_addr(params, "contract_address") != node.chain.usdt_address:
        return _validate_error("No contract or not a valid smart contract", visible_of(params))
    fee_limit = p_int(params, "fee_limit")
    _raw, tx = _build_tx(
        node, "TriggerSmartContract", _trigger_value(node, params), params, fee_limit
    )
    return {"result": {"result": True}, "transaction": tx}


# --------------------------------------------------------------- node-built txs
def _node_built(
    node: DevnetNode, contract_type: str, value: dict[str, Any], params: Params
) -> dict[str, Any]:
    raw, tx = _build_tx(node, contract_type, value, params)
    try:
        node.chain.validate_only(raw)
    except E.ContractValidateError as exc:
        raise ApiError(exc.detail) from exc
    except E.TxError as exc:
        raise ApiError(exc.message) from exc
    return tx


def _resource_name(params: Params) -> str:
    res = _res_int(params.get("resource"))
    if res not in (BANDWIDTH, ENERGY, 2):
        raise ApiError("ResourceCode error, valid ResourceCode[BANDWIDTH、ENERGY]")
    return ("BANDWIDTH", "ENERGY", "TRON_POWER")[res]


def h_createaccount(node: DevnetNode, params: Params, solid: bool) -> Any:
    value = {
        "owner_address": p_addr(params, "owner_address").hex(),
        "account_address": p_addr(params, "account_address").hex(),
    }
    return _node_built(node, "AccountCreateContract", value, params)


def h_createtransaction(node: DevnetNode, params: Params, solid: bool) -> Any:
    value = {
        "owner_address": p_addr(params, "owner_address").hex(),
        "to_address": p_addr(params, "to_address").hex(),
        "amount": p_int(params, "amount"),
    }
    return _node_built(node, "TransferContract", value, params)


def _stake_handler(contract_type: str, amount_field: str) -> Handler:
    """Handler of a Freeze/Unfreeze V2 builder: owner, amount field and resource."""

    def handler(node: DevnetNode, params: Params, solid: bool) -> Any:
        value = {
            "owner_address": p_addr(params, "owner_address").hex(),
            amount_field: p_int(params, amount_field),
            "resource": _resource_name(params),
        }
        return _node_built(node, contract_type, value, params)

    return handler


def _owner_only_handler(contract_type: str) -> Handler:
    """Handler of a builder whose contract has only ``owner_address``."""

    def handler(node: DevnetNode, params: Params, solid: bool) -> Any:
        value = {"owner_address": p_addr(params, "owner_address").hex()}
        return _node_built(node, contract_type, value, params)

    return handler


h_freezebalancev2 = _stake_handler("FreezeBalanceV2Contract", "frozen_balance")
h_unfreezebalancev2 = _stake_handler("UnfreezeBalanceV2Contract", "unfreeze_balance")
h_withdrawexpireunfreeze = _owner_only_handler("WithdrawExpireUnfreezeContract")
h_cancelallunfreezev2 = _owner_only_handler("CancelAllUnfreezeV2Contract")


def _delegation_value(params: Params) -> dict[str, Any]:
    return {
        "owner_address": p_addr(params, "owner_address").hex(),
        "resource": _resource_name(params),
        "balance": p_int(params, "balance"),
        "receiver_address": p_addr(params, "receiver_address").hex(),
    }


def h_delegateresource(node: DevnetNode, params: Params, solid: bool) -> Any:
    value = _delegation_value(params)
    if p_bool(params, "lock"):
        value["lock"] = True
        value["lock_period"] = p_int(params, "lock_period")
    return _node_built(node, "DelegateResourceContract", value, params)


def h_undelegateresource(node: DevnetNode, params: Params, solid: bool) -> Any:
    return _node_built(node, "UnDelegateResourceContract", _delegation_value(params), params)


# ------------------------------------------------------------------ broadcast
def _tx_from_json(params: Params) -> tuple[bytes, list[bytes]]:
    raw_data = params.get("raw_data")
    try:
        if isinstance(raw_data, dict):
            raw = raw_data_to_bytes(raw_data)
        elif isinstance(params.get("raw_data_hex"), str):
            raw = bytes.fromhex(params["raw_data_hex"])
        else:
            raise ApiError("raw_data is required", "java.lang.IllegalArgumentException")
        sigs = [bytes.fromhex(s) for s in params.get("signature") or []]
    except (TxFormatError, ValueError, TypeError) as exc:
        raise ApiError(str(exc), "com.alibaba.fastjson.JSONException") from exc
    return raw, sigs


def _broadcast(node: DevnetNode, raw: bytes, sigs: list[bytes], visible: bool) -> Any:
    try:
        tx = node.chain.broadcast(raw, sigs)
    except E.TxError as exc:
        return {
            "code": exc.code,
            "txid": txid_bytes(raw).hex(),
            "message": views.text(exc.message, visible),
        }
    return {"result": True, "txid": tx.txid.hex()}


def h_broadcasttransaction(node: DevnetNode, params: Params, solid: bool) -> Any:
    raw, sigs = _tx_from_json(params)
    return _broadcast(node, raw, sigs, visible_of(params))


def h_broadcasthex(node: DevnetNode, params: Params, solid: bool) -> Any:
    try:
        raw, sigs = transaction_from_bytes(bytes.fromhex(str(params.get("transaction", ""))))
    except (ValueError, DecodeError) as exc:
        raise ApiError(str(exc), "java.lang.IllegalArgumentException") from exc
    out = _broadcast(node, raw, sigs, visible_of(params))
    if out.get("result"):
        out["transaction"] = orjson.dumps(
            {
                "txID": out["txid"],
                "raw_data": raw_data_from_bytes(raw),
                "raw_data_hex": raw.hex(),
                "signature": [s.hex() for s in sigs],
            }
        ).decode()
    return out


def h_getsignweight(node: DevnetNode, params: Params, solid: bool) -> Any:
    chain = node.chain
    visible = visible_of(params)
    raw, sigs = _tx_from_json(params)
    try:
        raw_json = raw_data_from_bytes(raw, visible)
    except (DecodeError, TxFormatError) as exc:
        return {"result": {"code": "OTHER_ERROR", "message": str(exc)}}
    txid = txid_bytes(raw)
    tx_part = {
        "result": {"result": True},
        "txid": txid.hex(),
        "transaction": {
            "visible": visible,
            "txID": txid.hex(),
            "raw_data": raw_json,
            "raw_data_hex": raw.hex(),
            **({"signature": [s.hex() for s in sigs]} if sigs else {}),
        },
    }
    contracts = raw_json.get("contract") or []
    if len(contracts) != 1:
        return {"result": {"code": "OTHER_ERROR", "message": "contract size should be 1"}}
    owner = to_raw(contracts[0]["parameter"]["value"]["owner_address"])
    acct = chain.accounts.get(owner)
    if acct is None:
        return {
            "result": {"code": "PERMISSION_ERROR", "message": "Account is not exist!"},
            "transaction": tx_part,
        }
    pid = int(contracts[0].get("Permission_id", 0))
    perm = chain.permission_by_id(acct, pid)
    if perm is None:
        return {
            "result": {"code": "PERMISSION_ERROR", "message": "permission isn't exit"},
            "transaction": tx_part,
        }
    out: dict[str, Any] = {"permission": views.permission_json(perm, visible)}
    weights = dict(perm.keys)
    approved: list[str] = []
    weight = 0
    from tronproto.keys import BadSignatureError, recover_address

    for sig in sigs:
        try:
            signer = recover_address(sig, txid)
        except BadSignatureError:
            return {"result": {"code": "SIGNATURE_FORMAT_ERROR", "message": "sig error"}, **out}
        if signer not in weights:
            return {
                "result": {
                    "code": "PERMISSION_ERROR",
                    "message": f"{sig.hex()} is signed by {to_base58(signer)} but it is not "
                    "contained of permission.",
                },
                **out,
                "transaction": tx_part,
            }
        weight += weights[signer]
        approved.append(views.addr(signer, visible))
    if approved:
        out["approved_list"] = approved
        out["current_weight"] = weight
    out["result"] = (
        {"code": "ENOUGH_PERMISSION"}
        if weight >= perm.threshold
        else {"code": "NOT_ENOUGH_PERMISSION"}
    )
    out["transaction"] = tx_part
    return out


WALLET: dict[str, Handler] = {
    "getaccount": h_getaccount,
    "getaccountresource": h_getaccountresource,
    "getaccountnet": h_getaccountnet,
    "getnowblock": h_getnowblock,
    "getblockbynum": h_getblockbynum,
    "getblockbyid": h_getblockbyid,
    "getblock": h_getblock,
    "getblockbylimitnext": h_getblockbylimitnext,
    "getblockbylatestnum": h_getblockbylatestnum,
    "getnodeinfo": h_getnodeinfo,
    "gettransactionbyid": h_gettransactionbyid,
    "gettransactioninfobyid": h_gettransactioninfobyid,
    "gettransactioninfobyblocknum": h_gettransactioninfobyblocknum,
    "getdelegatedresourcev2": h_getdelegatedresourcev2,
    "getdelegatedresourceaccountindexv2": h_getdelegatedresourceaccountindexv2,
    "getcandelegatedmaxsize": h_getcandelegatedmaxsize,
    "getavailableunfreezecount": h_getavailableunfreezecount,
    "getcanwithdrawunfreezeamount": h_getcanwithdrawunfreezeamount,
    "getchainparameters": h_getchainparameters,
    "getenergyprices": h_getenergyprices,
    "getbandwidthprices": h_getbandwidthprices,
    "getmemofee": h_getmemofee,
    "validateaddress": h_validateaddress,
    "listwitnesses": h_listwitnesses,
    "getcontract": h_getcontract,
    "getcontractinfo": h_getcontractinfo,
    "triggerconstantcontract": h_triggerconstantcontract,
    "triggersmartcontract": h_triggersmartcontract,
    "estimateenergy": h_estimateenergy,
    "createtransaction": h_createtransaction,
    "createaccount": h_createaccount,
    "freezebalancev2": h_freezebalancev2,
    "unfreezebalancev2": h_unfreezebalancev2,
    "withdrawexpireunfreeze": h_withdrawexpireunfreeze,
    "cancelallunfreezev2": h_cancelallunfreezev2,
    "delegateresource": h_delegateresource,
    "undelegateresource": h_undelegateresource,
    "getsignweight": h_getsignweight,
    "broadcasttransaction": h_broadcasttransaction,
    "broadcasthex": h_broadcasthex,
}
SOLIDITY = {
    name: WALLET[name]
    for name in (
        "getaccount",
        "getnowblock",
        "getblockbynum",
        "getblockbyid",
        "getblock",
        "getblockbylimitnext",
        "getblockbylatestnum",
        "gettransactionbyid",
        "gettransactioninfobyid",
        "gettransactioninfobyblocknum",
        "getdelegatedresourcev2",
        "getdelegatedresourceaccountindexv2",
        "getcandelegatedmaxsize",
        "getavailableunfreezecount",
        "getcanwithdrawunfreezeamount",
        "triggerconstantcontract",
        "estimateenergy",
        "getnodeinfo",
    )
}
ROUTES: dict[str, tuple[Handler, bool]] = {
    **{f"/wallet/{k}": (v, False) for k, v in WALLET.items()},
    **{f"/walletsolidity/{k}": (v, True) for k, v in SOLIDITY.items()},
}


# ------------------------------------------------------------------ TronGrid v1
def _page(
    items: list[Any], params: Params, ts_of: Callable[[Any], int]
) -> tuple[list[Any], str | None]:
    limit = max(1, min(200, p_int(params, "limit", 20)))
    min_ts = p_int(params, "min_timestamp", 0)
    max_ts = p_int(params, "max_timestamp", 0)
    asc = str(params.get("order_by", "block_timestamp,desc")).endswith(",asc")
    selected = [i for i in items if ts_of(i) >= min_ts and (not max_ts or ts_of(i) <= max_ts)]
    if not asc:
        selected.reverse()
    start = 0
    fp = params.get("fingerprint")
    if fp:
        try:
            start = int(base64.urlsafe_b64decode(str(fp).encode()).decode())
        except ValueError as exc:
            raise ControlError("invalid fingerprint") from exc
    page = selected[start : start + limit]
    nxt = start + limit
    fingerprint = (
        base64.urlsafe_b64encode(str(nxt).encode()).decode() if nxt < len(selected) else None
    )
    return page, fingerprint


def _meta(count: int, fingerprint: str | None, path: str, params: Params) -> dict[str, Any]:
    meta: dict[str, Any] = {"at": int(time.time() * 1000), "page_size": count}
    if fingerprint:
        meta["fingerprint"] = fingerprint
        query = "&".join(f"{k}={v}" for k, v in params.items() if k != "fingerprint")
        meta["links"] = {"next": f"{path}?{query}&fingerprint={fingerprint}".replace("?&", "?")}
    return meta


def v1_transactions(node: DevnetNode, address: bytes, params: Params, path: str) -> Any:
    chain = node.chain
    solid_num = chain.solid.number
    only_confirmed = p_bool(params, "only_confirmed")
    only_to, only_from = p_bool(params, "only_to"), p_bool(params, "only_from")
    items = [
        t
        for t in chain.tx_index.get(address, [])
        if t.block_number >= 0
        and (not only_confirmed or t.block_number <= solid_num)
        and (not only_to or (t.to == address and t.owner != address))
        and (not only_from or t.owner == address)
    ]
    page, fp = _page(items, params, lambda t: t.block_ts)
    data = []
    for t in page:
        item = views.tx_json(t, False)
        item.update(
            {
                "net_usage": t.net_usage,
                "net_fee": t.net_fee,
                "energy_usage": t.energy_usage,
                "energy_fee": t.energy_fee,
                "energy_usage_total": t.energy_usage_total,
                "blockNumber": t.block_number,
                "block_timestamp": t.block_ts,
                "internal_transactions": [],
            }
        )
        item["ret"] = [{"contractRet": t.contract_ret, "fee": t.fee}]
        data.append(item)
    return {"data": data, "success": True, "meta": _meta(len(data), fp, path, params)}


def v1_trc20(node: DevnetNode, address: bytes, params: Params, path: str) -> Any:
    chain = node.chain
    solid_num = chain.solid.number
    only_confirmed = p_bool(params, "only_confirmed")
    only_to, only_from = p_bool(params, "only_to"), p_bool(params, "only_from")
    contract = params.get("contract_address")
    if contract and to_raw(contract) != chain.usdt_address:
        return {"data": [], "success": True, "meta": _meta(0, None, path, params)}
    items = [
        e
        for e in chain.trc20_index.get(address, [])
        if e[0].block_number >= 0
        and (not only_confirmed or e[0].block_number <= solid_num)
        and (not only_to or e[2] == address)
        and (not only_from or e[1] == address)
    ]
    page, fp = _page(items, params, lambda e: e[0].block_ts)
    token = {
        "symbol": usdt_mod.SYMBOL,
        "address": to_base58(chain.usdt_address),
        "decimals": usdt_mod.DECIMALS,
        "name": usdt_mod.NAME,
    }
    data = [
        {
            "transaction_id": t.txid.hex(),
            "token_info": token,
            "block_timestamp": t.block_ts,
            "from": to_base58(frm),
            "to": to_base58(to),
            "type": "Transfer",
            "value": str(amount),
        }
        for t, frm, to, amount in page
    ]
    return {"data": data, "success": True, "meta": _meta(len(data), fp, path, params)}


# ------------------------------------------------------------------ control API
def _permission(value: Any, name: str, pid: int) -> Permission | None:
    if value is None:
        return None
    keys = [(to_raw(k["address"]), int(k.get("weight", 1))) for k in value.get("keys", [])]
    ops = value.get("operations") if name == "active" else None
    if name == "active" and not ops:
        ops = ACTIVE_DEFAULT_OPERATIONS
    return Permission(int(value.get("threshold", 1)), keys, name, pid, ops)


def control(node: DevnetNode, path: str, method: str, params: Params) -> Any:
    chain = node.chain
    action = path.removeprefix("/devnet/").strip("/")
    if action == "faucet":
        items = params.get("accounts") or [params]
        results = []
        for item in items:
            address = to_raw(item["address"])
            trx_sun = int(item.get("trx_sun") or 0)
            usdt_units = int(item.get("usdt_units") or 0)
            if trx_sun < 0 or usdt_units < 0:
                raise ControlError("amounts must be >= 0")
            acct = chain.faucet(address, trx_sun, usdt_units)
            results.append(
                {
                    "address": to_base58(address),
                    "balance": acct.balance,
                    "usdt_units": chain.usdt.balance_of(address),
                }
            )
        return results[0] if "accounts" not in params else {"accounts": len(results)}
    if action == "produce":
        node.produce(max(1, int(params.get("blocks", 1))))
        return {"head": chain.head.number, "blockID": chain.head.block_id.hex()}
    if action == "pause":
        node.paused = True
        return {"paused": True}
    if action == "resume":
        node.paused = False
        return {"paused": False}
    if action == "energy_weight":
        if method == "POST":
            chain.set_virtual_energy_weight(int(params["virtual_energy_weight"]))
        return {
            "virtual_energy_weight": chain.virtual_energy_weight,
            "TotalEnergyWeight": chain.total_energy_weight,
            "TotalEnergyLimit": chain.config.total_energy_limit,
        }
    if action == "chain_parameters":
        if method == "POST":
            values = params.get("parameters", params)
            if not isinstance(values, dict):
                raise ControlError("parameters must be an object {getXxx: int}")
            try:
                chain.set_chain_parameters({k: v for k, v in values.items() if k != "visible"})
            except ValueError as exc:
                raise ControlError(str(exc)) from exc
        return {"parameters": chain.config.chain_parameters}
    if action == "faults":
        if method == "DELETE":
            node.clear_faults()
        elif method == "POST":
            if params.get("clear"):
                node.clear_faults()
            else:
                fields = set(FaultRule.__dataclass_fields__)
                node.set_fault(FaultRule(**{k: v for k, v in params.items() if k in fields}))
        return {"faults": [f.to_json() for f in node.faults]}
    if action == "fork":
        excluded = [bytes.fromhex(t) for t in params.get("exclude", [])]
        produce = params.get("produce")
        blocks = chain.fork(
            int(params.get("blocks", 1)), excluded, None if produce is None else int(produce)
        )
        return {
            "head": chain.head.number,
            "blockID": chain.head.block_id.hex(),
            "new_blocks": [b.block_id.hex() for b in blocks],
        }
    if action == "stats":
        if method == "DELETE" or params.get("reset"):
            node.counters.clear()
        return {
            "requests": dict(node.counters),
            "head": chain.head.number,
            "solid": chain.solid.number,
            "pending": len(chain.pending),
            "accounts": len(chain.accounts),
            "transactions": len(chain.txs),
            "paused": node.paused,
        }
    if action == "permission":
        address = to_raw(params["address"])
        chain.set_permission(
            address,
            _permission(params.get("owner"), "owner", 0),
            _permission(params.get("active"), "active", 2),
        )
        acct = chain.accounts[address]
        return views.account_json(chain, acct, True)
    if action == "info":
        c = chain.config
        return {
            "block_interval_ms": c.block_interval_ms,
            "solid_lag_blocks": c.solid_lag_blocks,
            "usdt_address": to_base58(chain.usdt_address),
            "witness_address": to_base58(chain.witness_address),
            "head": chain.head.number,
            "paused": node.paused,
            "virtual_energy_weight": chain.virtual_energy_weight,
        }
    raise KeyError(path)


# ------------------------------------------------------------------ ASGI app
JSON_HEADERS = [(b"content-type", b"application/json")]


class DevnetApp:
    """ASGI application serving one DevnetNode."""

    def __init__(self, node: DevnetNode) -> None:
        self.node = node

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                while True:
                    msg = await receive()
                    if msg["type"] == "lifespan.startup":
                        await send({"type": "lifespan.startup.complete"})
                    elif msg["type"] == "lifespan.shutdown":
                        await send({"type": "lifespan.shutdown.complete"})
                        return
            return
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
        node = self.node
        node.counters[path] += 1
        body = b""
        more = True
        while more:
            msg = await receive()
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
        if not path.startswith("/devnet/") and node.faults:
            decision = node.decide(path)
            if decision is not None:
                if decision.latency_ms:
                    await asyncio.sleep(decision.latency_ms / 1000)
                if decision.status == 504:
                    await asyncio.sleep(decision.hold_seconds)
                    await self._respond(send, 504, {"Error": "injected timeout"})
                    return
                if decision.status == 500:
                    await self._respond(send, 500, {"Error": "injected server error"})
                    return
                if decision.status == 429:
                    await self._respond(
                        send,
                        429,
                        {"Error": "injected rate limit"},
                        [(b"retry-after", str(decision.retry_after).encode())],
                    )
                    return
        status, payload = self.dispatch(path, scope["method"], scope.get("query_string", b""), body)
        await self._respond(send, status, payload)

    def dispatch(self, path: str, method: str, query: bytes, body: bytes) -> tuple[int, Any]:
        """Route one request; returns (status, JSON payload)."""
        params: Params = dict(parse_qsl(query.decode())) if query else {}
        if body.strip():
            try:
                decoded = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                return 200, {"Error": f"class com.alibaba.fastjson.JSONException : {exc}"}
            if isinstance(decoded, dict):
                params.update(decoded)
        route = ROUTES.get(path)
        if route is not None:
            handler, solid = route
            try:
                return 200, handler(self.node, params, solid)
            except ApiError as exc:
                return 200, {"Error": f"class {exc.cls} : {exc.message}"}
            except (InvalidAddressError, TxFormatError, DecodeError, KeyError, ValueError) as exc:
                return 200, {"Error": f"class java.lang.IllegalArgumentException : {exc}"}
        if path.startswith("/devnet/"):
            try:
                return 200, control(self.node, path, method, params)
            except KeyError as exc:
                if str(exc).strip("'") == path:
                    return 404, {"error": f"unknown control endpoint {path}"}
                return 400, {"error": f"missing field {exc}"}
            except (ControlError, ValueError, TypeError, InvalidAddressError) as exc:
                return 400, {"error": str(exc)}
        if path.startswith("/v1/accounts/"):
            parts = path.split("/")
            # /v1/accounts/{address}/transactions[/trc20]
            if len(parts) in (5, 6) and parts[4] == "transactions":
                try:
                    address = to_raw(parts[3])
                    if len(parts) == 6 and parts[5] == "trc20":
                        return 200, v1_trc20(self.node, address, params, path)
                    if len(parts) == 5:
                        return 200, v1_transactions(self.node, address, params, path)
                except (InvalidAddressError, ControlError, ApiError) as exc:
                    return 400, {"success": False, "error": str(exc), "statusCode": 400}
        return 404, {"Error": f"no such endpoint {path}"}

    @staticmethod
    async def _respond(
        send: Send, status: int, payload: Any, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        data = orjson.dumps(payload)
        headers = JSON_HEADERS + [(b"content-length", str(len(data)).encode())] + (extra or [])
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})
