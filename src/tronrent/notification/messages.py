"""Localized texts of the outbox events (Telegram HTML; every payload value escaped)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from tronrent.kit.i18n import Catalog, Html, Translator, escape
from tronrent.kit.money import format_trx
from tronrent.notification.events import NotificationEvent as E
from tronrent.notification.events import canonical

TRONSCAN_TX_URL = "https://tronscan.org/#/transaction/{tx_hash}"
_TX_HASH = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")

CATALOG: Catalog = {
    "zh": {
        E.ORDER_CREATED: (
            "🧾 订单已创建 <code>{order_id}</code>\n"
            "请向 <code>{payment_address}</code> 转账 <b>{amount} TRX</b>（金额须完全一致）\n"
            "接收地址：<code>{recipient}</code>\n截止时间：{expires_at}"
        ),
        E.PAYMENT_RECEIVED: (
            "💰 已收到付款 <b>{amount} TRX</b>（订单 <code>{order_id}</code>）\n"
            "交易：{tx}\n正在为您委托能量…"
        ),
        E.PAYMENT_UNDERPAID: (
            "⚠️ 收到 <b>{amount} TRX</b>，不足一笔的价格（订单 <code>{order_id}</code>）。\n"
            "交易：{tx}"
        ),
        E.WAITING_FOR_ENERGY: (
            "⏳ 能量池暂时不足，订单 <code>{order_id}</code> 排队中，补足后立即为您委托。"
        ),
        E.ENERGY_DELIVERED: (
            "⚡ 能量已到账！\n地址：<code>{recipient}</code>\n"
            "能量：<b>{energy}</b>（{transaction_count} 笔转账）\n交易：{tx}\n到期时间：{ends_at}"
        ),
        E.RENTAL_ENDING: (
            "⏰ 租用即将到期：<code>{recipient}</code> 的能量将在 {minutes_left} 分钟后回收"
            "（{ends_at}）"
        ),
        E.RENTAL_ENDED: (
            "✅ 租用已结束，能量已回收（订单 <code>{order_id}</code>）。\n"
            "交易：{tx}\n欢迎再次使用！"
        ),
        E.REFUND: (
            "↩️ 已退款 <b>{amount} TRX</b>（订单 <code>{order_id}</code>）\n原因：{reason}\n"
            "交易：{tx}"
        ),
        "refund.no_reason": (
            "↩️ 已退款 <b>{amount} TRX</b>（订单 <code>{order_id}</code>）\n交易：{tx}"
        ),
        E.PAYMENT_PROBLEM: (
            "⚠️ 收到的付款 <b>{amount} TRX</b> 无法按订单处理：{reason}\n"
            "订单：<code>{order_id}</code>\n交易：{tx}"
        ),
        E.ORDER_EXPIRED: "⌛ 订单 <code>{order_id}</code> 已超时未付款，已关闭。",
        E.ORDER_FAILED: "❌ 订单 <code>{order_id}</code> 处理失败：{reason}\n请联系客服。",
        E.POOL_LOW: (
            "🚨 能量池余量不足：{pool_name} <code>{pool_address}</code>\n"
            "可用能量 {available_energy}，阈值 {threshold}"
        ),
        E.POOL_UNUSABLE: (
            "🚨 能量池不可用，已暂停使用：{pool_name} <code>{pool_address}</code>\n原因：{reason}"
        ),
        E.DELEGATION_FAILING: (
            "🚨 能量委托失败（第 {attempts} 次）：订单 <code>{order_id}</code>，"
            "池 <code>{pool_address}</code>\n错误：{error}"
        ),
        E.JOB_DEAD_LETTERED: "🚨 任务进入死信：{job_name}（{job_id}）\n错误：{error}",
        E.RECIPIENT_ACTIVATING: (
            "🆕 接收地址 <code>{recipient}</code> 尚未激活，正在为您激活（订单 "
            "<code>{order_id}</code>，激活费 {fee} TRX），激活后立即委托能量。"
        ),
        E.ORDER_IN_LIMBO: (
            "🚨 已付款订单 <code>{order_id}</code> 在 {blocks} 个区块后仍未完成（状态 {status}）\n"
            "接收地址：<code>{recipient}</code>\n原因：{reason}"
        ),
        "reason.recipient_not_activated": "接收地址尚未在链上激活",
        "reason.recipient_is_contract": "接收地址是合约地址，不能接收能量",
        "reason.recipient_is_owner": "接收地址与能量池地址相同",
        "reason.recipient_invalid": "接收地址无效",
        "reason.activation_failed": "激活接收地址失败",
        "reason.pools_refused": "所有能量池均拒绝了委托",
        "reason.dust": "金额过小（视为粉尘）",
        "reason.underpaid": "金额不足一笔的价格",
        "reason.excess": "金额超出上限",
        "reason.account_missing": "账户在链上不存在",
        "reason.no_stake": "账户没有为能量质押 TRX",
        "reason.key_mismatch": "私钥无权代表该账户签名（owner 权限已更改）",
        "reason.unchecked": "添加时无法连接节点，未经链上检查",
        "unknown": "通知：{event}",
    },
    "en": {
        E.ORDER_CREATED: (
            "🧾 Order <code>{order_id}</code> created\n"
            "Send exactly <b>{amount} TRX</b> to <code>{payment_address}</code>\n"
            "Energy goes to <code>{recipient}</code>\nPay before {expires_at}"
        ),
        E.PAYMENT_RECEIVED: (
            "💰 Payment of <b>{amount} TRX</b> received (order <code>{order_id}</code>)\n"
            "Transaction: {tx}\nDelegating your energy…"
        ),
        E.PAYMENT_UNDERPAID: (
            "⚠️ Received <b>{amount} TRX</b>, less than one transfer costs "
            "(order <code>{order_id}</code>).\nTransaction: {tx}"
        ),
        E.WAITING_FOR_ENERGY: (
            "⏳ The energy pools are busy; order <code>{order_id}</code> waits and is delegated "
            "as soon as energy is free."
        ),
        E.ENERGY_DELIVERED: (
            "⚡ Energy delivered!\nAddress: <code>{recipient}</code>\n"
            "Energy: <b>{energy}</b> ({transaction_count} transfers)\nTransaction: {tx}\n"
            "Until: {ends_at}"
        ),
        E.RENTAL_ENDING: (
            "⏰ Your rental ends soon: the energy of <code>{recipient}</code> is reclaimed in "
            "{minutes_left} min ({ends_at})"
        ),
        E.RENTAL_ENDED: (
            "✅ Rental ended, energy reclaimed (order <code>{order_id}</code>).\n"
            "Transaction: {tx}\nSee you again!"
        ),
        E.REFUND: (
            "↩️ Refunded <b>{amount} TRX</b> (order <code>{order_id}</code>)\nReason: {reason}\n"
            "Transaction: {tx}"
        ),
        "refund.no_reason": (
            "↩️ Refunded <b>{amount} TRX</b> (order <code>{order_id}</code>)\nTransaction: {tx}"
        ),
        E.PAYMENT_PROBLEM: (
            "⚠️ Your payment of <b>{amount} TRX</b> could not be used as ordered: {reason}\n"
            "Order: <code>{order_id}</code>\nTransaction: {tx}"
        ),
        E.ORDER_EXPIRED: "⌛ Order <code>{order_id}</code> was not paid in time and is closed.",
        E.ORDER_FAILED: (
            "❌ Order <code>{order_id}</code> failed: {reason}\nPlease contact support."
        ),
        E.POOL_LOW: (
            "🚨 Energy pool low: {pool_name} <code>{pool_address}</code>\n"
            "available energy {available_energy}, threshold {threshold}"
        ),
        E.POOL_UNUSABLE: (
            "🚨 Energy pool unusable, taken out of service: {pool_name} "
            "<code>{pool_address}</code>\nReason: {reason}"
        ),
        E.DELEGATION_FAILING: (
            "🚨 Delegation failing (attempt {attempts}): order <code>{order_id}</code>, "
            "pool <code>{pool_address}</code>\nError: {error}"
        ),
        E.JOB_DEAD_LETTERED: "🚨 Job dead-lettered: {job_name} ({job_id})\nError: {error}",
        E.RECIPIENT_ACTIVATING: (
            "🆕 The address <code>{recipient}</code> is not activated yet: activating it for you "
            "(order <code>{order_id}</code>, activation fee {fee} TRX); the energy follows."
        ),
        E.ORDER_IN_LIMBO: (
            "🚨 Paid order <code>{order_id}</code> still has no outcome after {blocks} blocks "
            "(status {status})\nRecipient: <code>{recipient}</code>\nReason: {reason}"
        ),
        "reason.recipient_not_activated": "the receiving address is not activated on chain",
        "reason.recipient_is_contract": "the receiving address is a contract and cannot receive "
        "energy",
        "reason.recipient_is_owner": "the receiving address is the pool's own address",
        "reason.recipient_invalid": "the receiving address is not valid",
        "reason.activation_failed": "activating the receiving address failed",
        "reason.pools_refused": "every energy pool refused the delegation",
        "reason.dust": "amount too small (dust)",
        "reason.underpaid": "less than the price of one transfer",
        "reason.excess": "more than the maximum",
        "reason.account_missing": "the account does not exist on chain",
        "reason.no_stake": "the account has no TRX staked for energy",
        "reason.key_mismatch": "the key cannot sign for the account (owner permission changed)",
        "reason.unchecked": "not checked on chain (no node answered when it was added)",
        "unknown": "Notification: {event}",
    },
}


def tx_link(tx_hash: Any, url_template: str = TRONSCAN_TX_URL) -> Html:
    """A tronscan link for a transaction hash (plain escaped text when it is not a hash)."""
    if not isinstance(tx_hash, str) or not tx_hash:
        return Html("-")
    if not _TX_HASH.match(tx_hash):
        return Html(escape(tx_hash))
    tx_hash = tx_hash.removeprefix("0x").lower()
    url = url_template.format(tx_hash=tx_hash)
    return Html(f'<a href="{escape(url)}">{tx_hash[:10]}…{tx_hash[-6:]}</a>')


def format_time(value: Any) -> str:
    """ISO time -> ``2024-01-01 12:00 UTC``; anything else is shown as given."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return "-" if value is None else str(value)


def _first_int(payload: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = payload.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _integer(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "-" if value is None else str(value)


def render(
    event: str, payload: dict[str, Any], language: str, *, tx_url: str = TRONSCAN_TX_URL
) -> str:
    """The message text of an outbox row."""
    t = Translator(CATALOG, language)
    event = canonical(event)
    params: dict[str, Any] = {k: v for k, v in payload.items() if isinstance(k, str)}
    params.setdefault("recipient", payload.get("recipient_address"))
    amount = _first_int(payload, "amount_sun", "paid_sun")
    if event == E.REFUND:
        amount = _first_int(payload, "amount_sun", "refund_sun")
    if amount is None and event == E.ORDER_CREATED:
        price, tail = _first_int(payload, "single_price_sun"), _first_int(payload, "tail_sun")
        if price is not None:
            amount = price + (tail or 0)
    if amount is not None:
        params["amount"] = format_trx(amount, min_decimals=6 if event == E.ORDER_CREATED else 0)
    fee = _first_int(payload, "fee_sun")
    if fee is not None:
        params["fee"] = format_trx(fee)
    for key in ("energy", "available_energy", "threshold"):
        if key in payload:
            params[key] = _integer(payload[key])
    if event == E.ENERGY_DELIVERED and "ends_at" not in payload:
        params["ends_at"] = payload.get("expires_at")
    for key in ("expires_at", "ends_at"):
        if key in params:
            params[key] = format_time(params[key])
    hashes = payload.get("tx_hashes")
    if isinstance(hashes, list) and hashes:
        params["tx"] = Html(", ".join(tx_link(h, tx_url) for h in hashes[:5]))
    else:
        params["tx"] = tx_link(payload.get("tx_hash"), tx_url)
    reason = payload.get("reason")
    if isinstance(reason, str) and t.has(f"reason.{reason}"):
        params["reason"] = Html(t(f"reason.{reason}"))
    if not t.has(event):
        return t("unknown", event=event)
    if event == E.REFUND and not reason:
        return t("refund.no_reason", **params)
    return t(event, **params)
