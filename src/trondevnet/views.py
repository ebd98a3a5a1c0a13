"""JSON renderings of chain objects, shaped like java-tron's HTTP API (defaults omitted)."""

from __future__ import annotations

from typing import Any

from trondevnet.chain import Chain
from trondevnet.config import TRX
from trondevnet.state import BANDWIDTH, ENERGY, Account, Block, Permission, TxRecord
from tronproto.address import to_base58
from tronproto.tx import raw_data_from_bytes

CODE_VERSION = "4.7.6"


def addr(raw: bytes, visible: bool) -> str:
    return to_base58(raw) if visible else raw.hex()


def text(value: str, visible: bool) -> str:
    """java-tron renders ByteString messages as hex unless visible."""
    return value if visible else value.encode().hex()


def _omit_zero(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (0, None, "", False, [])}


def permission_json(perm: Permission, visible: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if perm.id >= 2:
        out["type"] = "Active"
        out["id"] = perm.id
    out["permission_name"] = perm.name
    out["threshold"] = perm.threshold
    if perm.operations:
        out["operations"] = perm.operations
    out["keys"] = [{"address": addr(k, visible), "weight": w} for k, w in perm.keys]
    return out


def account_json(chain: Chain, acct: Account, visible: bool) -> dict[str, Any]:
    now = chain.now_ms()
    out: dict[str, Any] = {"address": addr(acct.address, visible)}
    if acct.balance:
        out["balance"] = acct.balance
    if acct.is_contract:
        out["type"] = "Contract"
    out["create_time"] = acct.create_time
    if acct.latest_opration_time:
        out["latest_opration_time"] = acct.latest_opration_time
    net_used = chain.net_used(acct, now)
    if net_used:
        out["net_usage"] = net_used
    if acct.latest_consume_time_net:
        out["latest_consume_time"] = acct.latest_consume_time_net
    free_used = chain.free_net_used(acct, now)
    if free_used:
        out["free_net_usage"] = free_used
    out["net_window_size"] = chain.config.window_slots
    out["net_window_optimized"] = True
    resource: dict[str, Any] = {}
    energy_used = chain.energy_used(acct, now)
    if energy_used:
        resource["energy_usage"] = energy_used
    if acct.latest_consume_time_energy:
        resource["latest_consume_time_for_energy"] = acct.latest_consume_time_energy
    resource["energy_window_size"] = chain.config.window_slots
    if acct.deleg_out_energy:
        resource["delegated_frozenV2_balance_for_energy"] = acct.deleg_out_energy
    if acct.acquired_energy:
        resource["acquired_delegated_frozenV2_balance_for_energy"] = acct.acquired_energy
    resource["energy_window_optimized"] = True
    out["account_resource"] = resource
    out["owner_permission"] = permission_json(chain.owner_permission(acct), visible)
    out["active_permission"] = [permission_json(p, visible) for p in chain.active_permissions(acct)]
    bw: dict[str, Any] = {"amount": acct.frozen_bw} if acct.frozen_bw else {}
    energy: dict[str, Any] = {"type": "ENERGY"}
    if acct.frozen_energy:
        energy["amount"] = acct.frozen_energy
    tp: dict[str, Any] = {"type": "TRON_POWER"}
    if acct.frozen_tp:
        tp["amount"] = acct.frozen_tp
    out["frozenV2"] = [bw, energy, tp]
    if acct.unfrozen:
        unfrozen = []
        for res, amount, expire in acct.unfrozen:
            item: dict[str, Any] = {}
            if res == ENERGY:
                item["type"] = "ENERGY"
            elif res != BANDWIDTH:
                item["type"] = "TRON_POWER"
            item["unfreeze_amount"] = amount
            item["unfreeze_expire_time"] = expire
            unfrozen.append(item)
        out["unfrozenV2"] = unfrozen
    if acct.deleg_out_bw:
        out["delegated_frozenV2_balance_for_bandwidth"] = acct.deleg_out_bw
    if acct.acquired_bw:
        out["acquired_delegated_frozenV2_balance_for_bandwidth"] = acct.acquired_bw
    return out


def account_net_json(chain: Chain, acct: Account) -> dict[str, Any]:
    now = chain.now_ms()
    return _omit_zero(
        {
            "freeNetUsed": chain.free_net_used(acct, now),
            "freeNetLimit": chain.config.free_net_limit,
            "NetUsed": chain.net_used(acct, now),
            "NetLimit": chain.net_limit(acct),
            "TotalNetLimit": chain.config.total_net_limit,
            "TotalNetWeight": chain.total_net_weight,
        }
    )


def account_resource_json(chain: Chain, acct: Account) -> dict[str, Any]:
    now = chain.now_ms()
    out = account_net_json(chain, acct)
    tron_power = (
        acct.frozen_bw
        + acct.frozen_energy
        + acct.frozen_tp
        + acct.deleg_out_bw
        + acct.deleg_out_energy
    ) // TRX
    out.update(
        _omit_zero(
            {
                "tronPowerLimit": tron_power,
                "EnergyUsed": chain.energy_used(acct, now),
                "EnergyLimit": chain.energy_limit(acct),
                "TotalEnergyLimit": chain.config.total_energy_limit,
                "TotalEnergyWeight": chain.total_energy_weight,
            }
        )
    )
    return out


def tx_json(tx: TxRecord, visible: bool, with_ret: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if with_ret:
        out["ret"] = [{"contractRet": tx.contract_ret}]
    out["signature"] = [s.hex() for s in tx.signatures]
    out["txID"] = tx.txid.hex()
    out["raw_data"] = raw_data_from_bytes(tx.raw, visible)
    out["raw_data_hex"] = tx.raw.hex()
    return out


def tx_info_json(tx: TxRecord, visible: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": tx.txid.hex()}
    if tx.fee:
        out["fee"] = tx.fee
    out["blockNumber"] = tx.block_number
    out["blockTimeStamp"] = tx.block_ts
    out["contractResult"] = [tx.contract_result.hex() if tx.contract_result else ""]
    if tx.contract_address is not None:
        out["contract_address"] = addr(tx.contract_address, visible)
    receipt: dict[str, Any] = _omit_zero(
        {
            "energy_usage": tx.energy_usage,
            "energy_fee": tx.energy_fee,
            "origin_energy_usage": 0,
            "energy_usage_total": tx.energy_usage_total,
            "net_usage": tx.net_usage,
            "net_fee": tx.net_fee,
        }
    )
    if tx.receipt_result:
        receipt["result"] = tx.receipt_result
        if tx.energy_usage_total > 20_000 and tx.receipt_result == "SUCCESS":
            receipt["energy_penalty_total"] = (
                tx.energy_usage_total - tx.energy_usage_total * 46 // 100
            )
    out["receipt"] = receipt
    if tx.logs:
        out["log"] = [
            {
                "address": log.address.hex(),
                "topics": [t.hex() for t in log.topics],
                "data": log.data.hex(),
            }
            for log in tx.logs
        ]
    if tx.failed:
        out["result"] = "FAILED"
        if tx.res_message:
            out["resMessage"] = text(tx.res_message, visible)
    for key in ("withdraw_expire_amount", "unfreeze_amount"):
        if tx.extra.get(key):
            out[key] = tx.extra[key]
    cancel = [
        {"key": name, "value": tx.extra[k]}
        for name, k in (
            ("BANDWIDTH", "cancel_bandwidth"),
            ("ENERGY", "cancel_energy"),
            ("TRON_POWER", "cancel_tron_power"),
        )
        if tx.extra.get(k)
    ]
    if cancel:
        out["cancel_unfreezeV2_amount"] = cancel
    return out


def block_header_json(block: Block, visible: bool) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    if block.number:
        raw["number"] = block.number
    raw["txTrieRoot"] = block.tx_trie_root.hex()
    raw["witness_address"] = addr(block.witness_address, visible)
    raw["parentHash"] = block.parent_hash.hex()
    raw["version"] = block.version
    raw["timestamp"] = block.timestamp
    return {"raw_data": raw, "witness_signature": block.witness_signature.hex()}


def block_json(block: Block, visible: bool, detail: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "blockID": block.block_id.hex(),
        "block_header": block_header_json(block, visible),
    }
    if detail and block.txs:
        out["transactions"] = [tx_json(t, visible) for t in block.txs]
    return out


def node_info_json(chain: Chain, port: int) -> dict[str, Any]:
    head, solid = chain.head, chain.solid
    return {
        "beginSyncNum": head.number,
        "block": f"Num:{head.number},ID:{head.block_id.hex()}",
        "solidityBlock": f"Num:{solid.number},ID:{solid.block_id.hex()}",
        "currentConnectCount": 0,
        "activeConnectCount": 0,
        "passiveConnectCount": 0,
        "totalFlow": 0,
        "peerInfoList": [],
        "configNodeInfo": {
            "codeVersion": CODE_VERSION,
            "p2pVersion": "trondevnet",
            "listenPort": port,
            "discoverEnable": False,
            "activeNodeSize": 0,
            "passiveNodeSize": 0,
            "sendNodeSize": 0,
            "maxConnectCount": 0,
            "sameIpMaxConnectCount": 0,
            "backupListenPort": 0,
            "backupMemberSize": 0,
            "backupPriority": 0,
            "dbVersion": 2,
            "minParticipationRate": 0,
            "supportConstant": True,
            "minTimeRatio": 0.0,
            "maxTimeRatio": 5.0,
            "allowCreationOfContracts": 1,
            "allowAdaptiveEnergy": 0,
        },
        "machineInfo": {"threadCount": 1, "cpuCount": 1},
        "cheatWitnessInfoMap": {},
    }


def chain_parameters_json(chain: Chain) -> dict[str, Any]:
    c = chain.config
    params: list[tuple[str, int]] = [
        ("getMaintenanceTimeInterval", 21_600_000),
        ("getAccountUpgradeCost", 9_999_000_000),
        ("getCreateAccountFee", c.create_account_fee),
        ("getTransactionFee", c.transaction_fee),
        ("getAssetIssueFee", 1_024_000_000),
        ("getWitnessPayPerBlock", 8_000_000),
        ("getWitnessStandbyAllowance", 115_200_000_000),
        ("getCreateNewAccountFeeInSystemContract", c.create_new_account_fee_in_system_contract),
        ("getCreateNewAccountBandwidthRate", c.create_new_account_bandwidth_rate),
        ("getAllowCreationOfContracts", 1),
        ("getRemoveThePowerOfTheGr", 1),
        ("getEnergyFee", c.energy_fee),
        ("getExchangeCreateFee", 1_024_000_000),
        ("getMaxCpuTimeOfOneTx", 80),
        ("getAllowUpdateAccountName", 0),
        ("getAllowSameTokenName", 1),
        ("getAllowDelegateResource", 1),
        ("getTotalEnergyLimit", c.total_energy_limit),
        ("getAllowTvmTransferTrc10", 1),
        ("getTotalEnergyCurrentLimit", c.total_energy_limit),
        ("getAllowMultiSign", 1),
        ("getAllowAdaptiveEnergy", 0),
        ("getUpdateAccountPermissionFee", 100_000_000),
        ("getMultiSignFee", 1_000_000),
        ("getAllowAccountStateRoot", 0),
        ("getAllowProtoFilterNum", 0),
        ("getAllowTvmConstantinople", 1),
        ("getAllowTvmSolidity059", 1),
        ("getAllowTvmIstanbul", 1),
        ("getAllowShieldedTRC20Transaction", 1),
        ("getForbidTransferToContract", 0),
        ("getAdaptiveResourceLimitTargetRatio", 10),
        ("getAdaptiveResourceLimitMultiplier", 1000),
        ("getChangeDelegation", 1),
        ("getWitness127PayPerBlock", 128_000_000),
        ("getAllowMarketTransaction", 0),
        ("getAllowPBFT", 0),
        ("getAllowTransactionFeePool", 0),
        ("getMaxFeeLimit", c.max_fee_limit),
        ("getAllowOptimizeBlackHole", 1),
        ("getAllowNewResourceModel", 1),
        ("getAllowTvmFreeze", 1),
        ("getAllowTvmVote", 1),
        ("getAllowTvmLondon", 1),
        ("getAllowTvmCompatibleEvm", 1),
        ("getAllowAccountAssetOptimization", 0),
        ("getFreeNetLimit", c.free_net_limit),
        ("getTotalNetLimit", c.total_net_limit),
        ("getAllowHigherLimitForMaxCpuTimeOfOneTx", 1),
        ("getAllowAssetOptimization", 1),
        ("getAllowNewReward", 1),
        ("getMemoFee", c.memo_fee),
        ("getAllowDelegateOptimization", 1),
        ("getUnfreezeDelayDays", c.unfreeze_delay_days),
        ("getAllowOptimizedReturnValueOfChainId", 1),
        ("getAllowDynamicEnergy", 1),
        ("getDynamicEnergyThreshold", 5_000_000_000),
        ("getDynamicEnergyIncreaseFactor", 2000),
        ("getDynamicEnergyMaxFactor", 34_000),
        ("getAllowTvmShangHai", 1),
        ("getAllowCancelAllUnfreezeV2", 1),
        ("getMaxDelegateLockPeriod", c.max_delegate_lock_period),
        ("getAllowEnergyAdjustment", 1),
        ("getMaxCreateAccountTxSize", c.max_create_account_tx_size),
    ]
    return {"chainParameter": [{"key": k, "value": v} if v else {"key": k} for k, v in params]}
