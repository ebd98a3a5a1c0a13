"""Localized texts of the outbox events (Telegram HTML; every payload value escaped).

A template's placeholders are the payload keys of its event (``events.PAYLOADS``), shown by key:
``*_sun`` as TRX, ``*_at`` as a UTC time, ``duration_s``/``seconds_left`` as a duration
(:func:`format_duration`), ``transaction_count``/``blocks`` with their noun (English plural),
``tx_hash``/``tx_hashes`` as tronscan links, ``reason`` as its text when it is a known code.
A line whose *optional* key is missing (or empty, or 0) is left out; a missing *required* key
raises :class:`MissingField` with ``strict=True`` (the tests) and otherwise leaves its line out
with a warning log - a text never shows a placeholder, "-" or "None".
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tronrent.kit.i18n import DEFAULT_LANGUAGE, Catalog, Html, escape
from tronrent.kit.money import format_trx, format_usdt
from tronrent.models.common import Currency
from tronrent.notification.events import (
    PACKAGE_ORDER_TYPE,
    PACKAGE_PAYLOADS,
    PAYLOADS,
    Payload,
    canonical,
)
from tronrent.notification.events import NotificationEvent as E

_log = logging.getLogger("tronrent.notification")

_TX_HASH = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_FORMATTER = string.Formatter()
_MAX_LINKS = 5


class MissingField(KeyError):
    """A template needs a payload key the event does not carry."""

    def __init__(self, event: str, key: str) -> None:
        super().__init__(f"{event}: payload has no {key!r}")
        self.event = event
        self.key = key


#: the suffix of a package order's variant of an event's text (see ``events.PACKAGE_PAYLOADS``)
PACKAGE = ":package"
_PACKAGE_ZH: dict[str, str] = {
    E.ORDER_CREATED: (
        "🧾 订单已创建 <code>{order_id}</code>\n📦 {package_name}\n"
        "请向 <code>{payment_address}</code> 转账 <b>{amount_units} {currency}</b>"
        "（金额须完全一致）\n"
        "其中含接收地址激活费 {activation_fee_sun} TRX\n"
        "接收地址：<code>{recipient_address}</code>\n截止时间：{expires_at}"
    ),
    E.PAYMENT_RECEIVED: (
        "💰 已收到付款 <b>{paid_units} {currency}</b>（订单 <code>{order_id}</code>）\n"
        "📦 {package_name}\n能量：{energy}\n租用时长：{duration_s}\n交易：{tx_hash}\n"
        "正在为您委托能量…"
    ),
    E.PAYMENT_UNDERPAID: (
        "⚠️ 收到 <b>{paid_units} {currency}</b>，不足订单金额（订单 <code>{order_id}</code>）。\n"
        "{refund_units} {currency} 将退回付款地址\n交易：{tx_hash}"
    ),
    E.ENERGY_DELIVERED: (
        "⚡ 能量已到账！（订单 <code>{order_id}</code>）\n📦 {package_name}\n"
        "地址：<code>{recipient_address}</code>\n能量：<b>{energy}</b>\n租用时长：{duration_s}\n"
        "到期时间：{ends_at}\n交易：{tx_hashes}"
    ),
    E.REFUND: (
        "↩️ 已退款 <b>{amount_units} {currency}</b>（订单 <code>{order_id}</code>）\n"
        "原因：{reason}\n交易：{tx_hash}"
    ),
    E.PAYMENT_PROBLEM: (
        "⚠️ 收到的付款 <b>{amount_units} {currency}</b> 无法按订单处理：{reason}\n"
        "订单：<code>{order_id}</code>\n交易：{tx_hash}"
    ),
}
_PACKAGE_EN: dict[str, str] = {
    E.ORDER_CREATED: (
        "🧾 Order <code>{order_id}</code> created\n📦 {package_name}\n"
        "Send exactly <b>{amount_units} {currency}</b> to <code>{payment_address}</code>\n"
        "This includes {activation_fee_sun} TRX to activate the receiving address\n"
        "Energy goes to <code>{recipient_address}</code>\nPay before {expires_at}"
    ),
    E.PAYMENT_RECEIVED: (
        "💰 Payment of <b>{paid_units} {currency}</b> received (order <code>{order_id}</code>)\n"
        "📦 {package_name}\nEnergy: {energy}\nRental: {duration_s}\nTransaction: {tx_hash}\n"
        "Delegating your energy…"
    ),
    E.PAYMENT_UNDERPAID: (
        "⚠️ Received <b>{paid_units} {currency}</b>, less than the order's price "
        "(order <code>{order_id}</code>).\n"
        "{refund_units} {currency} goes back to the paying address\nTransaction: {tx_hash}"
    ),
    E.ENERGY_DELIVERED: (
        "⚡ Energy delivered! (order <code>{order_id}</code>)\n📦 {package_name}\n"
        "Address: <code>{recipient_address}</code>\nEnergy: <b>{energy}</b>\n"
        "Rental: {duration_s}\nUntil: {ends_at}\nTransaction: {tx_hashes}"
    ),
    E.REFUND: (
        "↩️ Refunded <b>{amount_units} {currency}</b> (order <code>{order_id}</code>)\n"
        "Reason: {reason}\nTransaction: {tx_hash}"
    ),
    E.PAYMENT_PROBLEM: (
        "⚠️ Your payment of <b>{amount_units} {currency}</b> could not be used as ordered: "
        "{reason}\nOrder: <code>{order_id}</code>\nTransaction: {tx_hash}"
    ),
}

CATALOG: Catalog = {
    "zh": {
        E.ORDER_CREATED: (
            "🧾 订单已创建 <code>{order_id}</code>\n"
            "请向 <code>{payment_address}</code> 转账 <b>{amount_sun} TRX</b>（金额须完全一致）\n"
            "其中含接收地址激活费 {activation_fee_sun} TRX\n"
            "接收地址：<code>{recipient_address}</code>\n截止时间：{expires_at}"
        ),
        E.PAYMENT_RECEIVED: (
            "💰 已收到付款 <b>{paid_sun} TRX</b>（订单 <code>{order_id}</code>）\n"
            "可用 {transaction_count}转账：{energy} 能量\n"
            "超出上限的 {refund_sun} TRX 将退回付款地址\n"
            "交易：{tx_hash}\n正在为您委托能量…"
        ),
        E.PAYMENT_UNDERPAID: (
            "⚠️ 收到 <b>{paid_sun} TRX</b>，不足一笔的价格（订单 <code>{order_id}</code>）。\n"
            "{refund_sun} TRX 将退回付款地址\n"
            "交易：{tx_hash}"
        ),
        E.WAITING_FOR_ENERGY: (
            "⏳ 能量池暂时不足，订单 <code>{order_id}</code> 排队中，补足后立即为您委托。\n"
            "所需能量：{energy}"
        ),
        E.ENERGY_DELIVERED: (
            "⚡ 能量已到账！（订单 <code>{order_id}</code>）\n"
            "地址：<code>{recipient_address}</code>\n"
            "能量：<b>{energy}</b>（{transaction_count}转账）\n租用时长：{duration_s}\n"
            "到期时间：{ends_at}\n交易：{tx_hashes}"
        ),
        E.RENTAL_ENDING: (
            "⏰ 租用即将到期：<code>{recipient_address}</code> 的能量将在 {seconds_left}后回收"
            "（{ends_at}，订单 <code>{order_id}</code>）"
        ),
        E.RENTAL_ENDED: (
            "✅ 租用已结束，能量已回收（订单 <code>{order_id}</code>）。\n"
            "地址：<code>{recipient_address}</code>\n租用时长：{duration_s}\n"
            "回收交易：{tx_hashes}\n欢迎再次使用！"
        ),
        E.REFUND: (
            "↩️ 已退款 <b>{amount_sun} TRX</b>（订单 <code>{order_id}</code>）\n原因：{reason}\n"
            "交易：{tx_hash}"
        ),
        E.PAYMENT_PROBLEM: (
            "⚠️ 收到的付款 <b>{amount_sun} TRX</b> 无法按订单处理：{reason}\n"
            "订单：<code>{order_id}</code>\n交易：{tx_hash}"
        ),
        E.ORDER_EXPIRED: "⌛ 订单 <code>{order_id}</code> 已超时未付款，已关闭。",
        E.ORDER_FAILED: "❌ 订单 <code>{order_id}</code> 处理失败：{reason}\n请联系客服。",
        E.RECIPIENT_ACTIVATING: (
            "🆕 接收地址 <code>{recipient_address}</code> 尚未激活，正在为您激活（订单 "
            "<code>{order_id}</code>，激活费 {fee_sun} TRX），激活后立即委托能量。"
        ),
        E.POOL_LOW: (
            "🚨 能量池余量不足：{pool_name} <code>{pool_address}</code>\n"
            "可用能量 {available_energy}，阈值 {threshold}"
        ),
        E.POOL_UNUSABLE: (
            "🚨 能量池不可用，已暂停使用：{pool_name} <code>{pool_address}</code>\n原因：{reason}\n"
            "详情：{detail}"
        ),
        E.DELEGATION_FAILING: (
            "🚨 能量委托失败：订单 <code>{order_id}</code>\n"
            "能量池：<code>{pool_address}</code>\n已失败次数：{attempts}\n错误：{error}"
        ),
        E.JOB_DEAD_LETTERED: "🚨 任务进入死信：{job_name}（{job_id}）\n错误：{error}",
        E.ORDER_IN_LIMBO: (
            "🚨 已付款订单 <code>{order_id}</code> 在 {blocks}后仍未完成（状态 {status}）\n"
            "接收地址：<code>{recipient_address}</code>\n原因：{reason}"
        ),
        E.PACKAGE_ORDER_CREATED: (
            "🧾 套餐订单已创建 <code>{order_id}</code>：{package_name} × {quantity}\n"
            "能量 <b>{energy}</b>，租用时长 {duration_s}\n"
            "接收地址：<code>{recipient_address}</code>\n价格：{price}\n"
            "请向 <code>{payment_address}</code> 转账 <b>{amount}</b>（金额须完全一致）\n"
            "截止时间：{expires_at}"
        ),
        E.PACKAGE_PAYMENT_RECEIVED: (
            "💰 已收到付款 <b>{paid}</b>（订单 <code>{order_id}</code>）\n📦 {package_name}\n"
            "能量 {energy}，租用时长 {duration_s}\n"
            "多付的 {refund} 将退回\n交易：{tx_hash}\n正在为您委托能量…"
        ),
        E.PACKAGE_PAYMENT_UNDERPAID: (
            "⚠️ 收到 <b>{paid}</b>，不足订单价格 {price}（订单 <code>{order_id}</code>）。\n"
            "{refund} 将退回\n交易：{tx_hash}"
        ),
        E.TOP_UP_CREATED: (
            "🧾 充值订单 <code>{order_id}</code>：请向 <code>{payment_address}</code> 转账 "
            "<b>{amount}</b>（金额须完全一致），截止时间 {expires_at}"
        ),
        E.USDT_REFUND: "↩️ 已退款 <b>{amount}</b>（订单 <code>{order_id}</code>）\n交易：{tx_hash}",
        E.TOP_UP_CREDITED: (
            "💰 充值到账：<b>{amount}</b> 已存入您的余额（订单 <code>{order_id}</code>）\n"
            "交易：{tx_hash}"
        ),
        E.COUNT_PACKAGE_USED: (
            "🔁 笔数套餐 <code>{order_id}</code>：已用 <b>{used}</b> / {total}，剩余 {remaining}\n"
            "交易：{tx_hash}"
        ),
        E.AUTO_TOP_UP_CHARGED: (
            "⚡ 自动补能 <code>{order_id}</code>：已为您的地址补充能量（第 {top_ups} 次），"
            "{transfers} 笔，从余额扣除 <b>{price}</b>\n交易：{tx_hash}"
        ),
        E.AUTO_TOP_UP_STOPPED: (
            "⛔ 自动补能 <code>{order_id}</code> 已停止：{reason}\n下一次补能需要：{price}\n"
            "交易：{tx_hash}"
        ),
        "reason.balance": "余额不足，请充值后重新开通",
        "reason.operator": "已由管理员停止",
        "reason.customer": "已按您的要求停止，剩余能量已收回",
        E.COUNT_PACKAGE_IDLE_FEE: (
            "⏳ 笔数套餐 <code>{order_id}</code> 闲置一天未使用，扣除闲置费 <b>{counts}</b> 笔"
            "（已用 {used} / {total}，剩余 {remaining}）。不用时可暂停套餐，暂停期间不收闲置费。"
        ),
        E.COUNT_PACKAGE_ENDED: (
            "🏁 笔数套餐 <code>{order_id}</code> 已结束：{reason}。未使用 {unused} / {total} 笔。\n"
            "已退回余额：<b>{refund}</b>"
        ),
        "reason.idle": "长期未使用",
        "reason.idle_fee": "闲置费已扣完剩余笔数",
        "reason.lifetime": "套餐有效期已满",
        "reason.recipient_not_activated": "接收地址尚未在链上激活",
        "reason.recipient_is_contract": "接收地址是合约地址，不能接收能量",
        "reason.recipient_is_owner": "接收地址与能量池地址相同",
        "reason.recipient_invalid": "接收地址无效",
        "reason.activation_failed": "激活接收地址失败",
        "reason.pools_refused": "所有能量池均拒绝了委托",
        "reason.refunded_to_balance": "已退回您的账户余额",
        "reason.dust": "金额过小（视为粉尘）",
        "reason.underpaid": "金额不足一笔的价格",
        "reason.excess": "金额超出上限",
        "reason.account_missing": "账户在链上不存在",
        "reason.no_stake": "账户没有为能量质押 TRX",
        "reason.key_mismatch": "私钥无权代表该账户签名（owner 权限已更改）",
        "reason.unchecked": "添加时无法连接节点，未经链上检查",
        "unknown": "通知：{event}",
        **{f"{event}{PACKAGE}": text for event, text in _PACKAGE_ZH.items()},
    },
    "en": {
        E.ORDER_CREATED: (
            "🧾 Order <code>{order_id}</code> created\n"
            "Send exactly <b>{amount_sun} TRX</b> to <code>{payment_address}</code>\n"
            "This includes {activation_fee_sun} TRX to activate the receiving address\n"
            "Energy goes to <code>{recipient_address}</code>\nPay before {expires_at}"
        ),
        E.PAYMENT_RECEIVED: (
            "💰 Payment of <b>{paid_sun} TRX</b> received (order <code>{order_id}</code>)\n"
            "For {transaction_count}: {energy} energy\n"
            "{refund_sun} TRX over the maximum goes back to the paying address\n"
            "Transaction: {tx_hash}\nDelegating your energy…"
        ),
        E.PAYMENT_UNDERPAID: (
            "⚠️ Received <b>{paid_sun} TRX</b>, less than one transfer costs "
            "(order <code>{order_id}</code>).\n"
            "{refund_sun} TRX goes back to the paying address\n"
            "Transaction: {tx_hash}"
        ),
        E.WAITING_FOR_ENERGY: (
            "⏳ The energy pools are busy; order <code>{order_id}</code> waits and is delegated "
            "as soon as energy is free.\nEnergy needed: {energy}"
        ),
        E.ENERGY_DELIVERED: (
            "⚡ Energy delivered! (order <code>{order_id}</code>)\n"
            "Address: <code>{recipient_address}</code>\n"
            "Energy: <b>{energy}</b> ({transaction_count})\nRental: {duration_s}\n"
            "Until: {ends_at}\nTransaction: {tx_hashes}"
        ),
        E.RENTAL_ENDING: (
            "⏰ Your rental ends soon: the energy of <code>{recipient_address}</code> is reclaimed "
            "in {seconds_left} ({ends_at}, order <code>{order_id}</code>)"
        ),
        E.RENTAL_ENDED: (
            "✅ Rental ended, energy reclaimed (order <code>{order_id}</code>).\n"
            "Address: <code>{recipient_address}</code>\nRental: {duration_s}\n"
            "Reclaim transaction: {tx_hashes}\nSee you again!"
        ),
        E.REFUND: (
            "↩️ Refunded <b>{amount_sun} TRX</b> (order <code>{order_id}</code>)\n"
            "Reason: {reason}\nTransaction: {tx_hash}"
        ),
        E.PAYMENT_PROBLEM: (
            "⚠️ Your payment of <b>{amount_sun} TRX</b> could not be used as ordered: {reason}\n"
            "Order: <code>{order_id}</code>\nTransaction: {tx_hash}"
        ),
        E.ORDER_EXPIRED: "⌛ Order <code>{order_id}</code> was not paid in time and is closed.",
        E.ORDER_FAILED: (
            "❌ Order <code>{order_id}</code> failed: {reason}\nPlease contact support."
        ),
        E.RECIPIENT_ACTIVATING: (
            "🆕 The address <code>{recipient_address}</code> is not activated yet: activating it "
            "for you (order <code>{order_id}</code>, activation fee {fee_sun} TRX); the energy "
            "follows."
        ),
        E.POOL_LOW: (
            "🚨 Energy pool low: {pool_name} <code>{pool_address}</code>\n"
            "available energy {available_energy}, threshold {threshold}"
        ),
        E.POOL_UNUSABLE: (
            "🚨 Energy pool unusable, taken out of service: {pool_name} "
            "<code>{pool_address}</code>\nReason: {reason}\nDetail: {detail}"
        ),
        E.DELEGATION_FAILING: (
            "🚨 Delegation failing: order <code>{order_id}</code>\n"
            "Pool: <code>{pool_address}</code>\nFailed attempts: {attempts}\nError: {error}"
        ),
        E.JOB_DEAD_LETTERED: "🚨 Job dead-lettered: {job_name} ({job_id})\nError: {error}",
        E.ORDER_IN_LIMBO: (
            "🚨 Paid order <code>{order_id}</code> still has no outcome after {blocks} "
            "(status {status})\nRecipient: <code>{recipient_address}</code>\nReason: {reason}"
        ),
        E.PACKAGE_ORDER_CREATED: (
            "🧾 Package order <code>{order_id}</code>: {package_name} × {quantity}\n"
            "Energy <b>{energy}</b> for {duration_s}\n"
            "Energy goes to <code>{recipient_address}</code>\nPrice: {price}\n"
            "Send exactly <b>{amount}</b> to <code>{payment_address}</code>\n"
            "Pay before {expires_at}"
        ),
        E.PACKAGE_PAYMENT_RECEIVED: (
            "💰 Payment of <b>{paid}</b> received (order <code>{order_id}</code>)\n"
            "📦 {package_name}\nEnergy {energy} for {duration_s}\n"
            "{refund} paid too much goes back to you\nTransaction: {tx_hash}\n"
            "Delegating your energy…"
        ),
        E.PACKAGE_PAYMENT_UNDERPAID: (
            "⚠️ Received <b>{paid}</b>, less than the order's price of {price} "
            "(order <code>{order_id}</code>).\n{refund} goes back to you\nTransaction: {tx_hash}"
        ),
        E.TOP_UP_CREATED: (
            "🧾 Top-up <code>{order_id}</code>: send exactly <b>{amount}</b> to "
            "<code>{payment_address}</code> before {expires_at}"
        ),
        E.USDT_REFUND: (
            "↩️ Refunded <b>{amount}</b> (order <code>{order_id}</code>)\nTransaction: {tx_hash}"
        ),
        E.TOP_UP_CREDITED: (
            "💰 Top-up received: <b>{amount}</b> added to your balance (order "
            "<code>{order_id}</code>)\nTransaction: {tx_hash}"
        ),
        E.COUNT_PACKAGE_USED: (
            "🔁 Count package <code>{order_id}</code>: <b>{used}</b> of {total} used, "
            "{remaining} left\nTransaction: {tx_hash}"
        ),
        E.AUTO_TOP_UP_CHARGED: (
            "⚡ Auto top-up <code>{order_id}</code>: your address was topped up (top-up "
            "{top_ups}), {transfers} transfer(s), <b>{price}</b> taken from your balance\n"
            "Transaction: {tx_hash}"
        ),
        E.AUTO_TOP_UP_STOPPED: (
            "⛔ Auto top-up <code>{order_id}</code> stopped: {reason}\nThe next top-up needs: "
            "{price}\nTransaction: {tx_hash}"
        ),
        "reason.balance": "your balance does not cover the next top-up; top it up and ask "
        "for auto top-up again",
        "reason.operator": "stopped by the operator",
        "reason.customer": "stopped as you asked; our energy was taken back",
        E.COUNT_PACKAGE_IDLE_FEE: (
            "⏳ Count package <code>{order_id}</code> was not used for a day: an idle fee of "
            "<b>{counts}</b> transfer(s) was deducted ({used} of {total} used, {remaining} "
            "left). Pause the package when you do not need it: no idle fee while paused."
        ),
        E.COUNT_PACKAGE_ENDED: (
            "🏁 Count package <code>{order_id}</code> has ended: {reason}. {unused} of {total} "
            "transfers were unused.\nRefunded to your balance: <b>{refund}</b>"
        ),
        "reason.idle": "not used for too long",
        "reason.idle_fee": "the idle fees used the last transfers",
        "reason.lifetime": "its lifetime is over",
        "reason.recipient_not_activated": "the receiving address is not activated on chain",
        "reason.recipient_is_contract": "the receiving address is a contract and cannot receive "
        "energy",
        "reason.recipient_is_owner": "the receiving address is the pool's own address",
        "reason.recipient_invalid": "the receiving address is not valid",
        "reason.activation_failed": "activating the receiving address failed",
        "reason.pools_refused": "every energy pool refused the delegation",
        "reason.refunded_to_balance": "returned to your balance",
        "reason.dust": "amount too small (dust)",
        "reason.underpaid": "less than the price of one transfer",
        "reason.excess": "more than the maximum",
        "reason.account_missing": "the account does not exist on chain",
        "reason.no_stake": "the account has no TRX staked for energy",
        "reason.key_mismatch": "the key cannot sign for the account (owner permission changed)",
        "reason.unchecked": "not checked on chain (no node answered when it was added)",
        "unknown": "Notification: {event}",
        **{f"{event}{PACKAGE}": text for event, text in _PACKAGE_EN.items()},
    },
}

#: the noun shown with a count: English (singular, plural); Chinese has one form (a measure word)
NOUNS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {"transaction_count": ("transfer", "transfers"), "blocks": ("block", "blocks")},
    "zh": {"transaction_count": ("笔", "笔"), "blocks": ("个区块", "个区块")},
}
_DURATION_UNITS: tuple[tuple[int, str, str], ...] = (
    (86_400, " d", "天"),
    (3_600, " h", "小时"),
    (60, " min", "分钟"),
    (1, " s", "秒"),
)


def _lang(language: str) -> str:
    return language if language in CATALOG else DEFAULT_LANGUAGE


def plural(count: int, singular: str, plural_form: str) -> str:
    """``1 transfer``, ``2 transfers``, ``0 transfers`` (thousands separated)."""
    return f"{count:,} {singular if count == 1 else plural_form}"


def format_count(key: str, count: int, language: str) -> str:
    """A count with its noun: ``transaction_count`` 2 -> "2 transfers" / "2 笔"."""
    one, many = NOUNS[_lang(language)][key]
    if _lang(language) == "en":
        return plural(count, one, many)
    return f"{count:,} {one}"


def format_duration(seconds: float, language: str) -> str:
    """A duration to the second, in its two largest units: 20 -> "20 s" / "20秒";
    3900 -> "1 h 5 min" / "1小时5分钟"; 90061 -> "1 d 1 h"; 0 (or less) -> "0 s" / "0秒".
    The second unit is left out when it is 0 (3600 -> "1 h"); what is shown never exceeds the
    duration and falls short of it by less than the smaller unit shown."""
    total = max(0, int(seconds + 0.5))
    zh = _lang(language) == "zh"
    index = next((i for i, (size, _, _) in enumerate(_DURATION_UNITS) if total >= size), 3)
    parts: list[str] = []
    rest = total
    for size, en_unit, zh_unit in _DURATION_UNITS[index : index + 2]:
        amount, rest = divmod(rest, size)
        if amount or not parts:
            parts.append(f"{amount}{zh_unit}" if zh else f"{amount}{en_unit}")
    return "".join(parts) if zh else " ".join(parts)


def tx_link(tx_hash: Any, url_template: str | None = None) -> Html:
    """An explorer link for a transaction hash (``url_template`` with ``{tx_hash}``: the
    network's, see ``Settings.tx_url``); the short hash as code with no explorer; plain escaped
    text when it is not a hash."""
    if not isinstance(tx_hash, str) or not tx_hash:
        return Html("")
    if not _TX_HASH.match(tx_hash):
        return Html(escape(tx_hash))
    tx_hash = tx_hash.removeprefix("0x").lower()
    if url_template is None:
        return Html(f"<code>{tx_hash}</code>")
    url = url_template.format(tx_hash=tx_hash)
    return Html(f'<a href="{escape(url)}">{tx_hash[:10]}…{tx_hash[-6:]}</a>')


def format_time(value: Any) -> str:
    """ISO time -> ``2024-01-01 12:00 UTC`` (seconds shown when not 0); else as given."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC" if moment.second else "%Y-%m-%d %H:%M UTC")
    return "" if value is None else str(value)


def _normalized(event: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload under the keys the templates use (older spellings of a few keys)."""
    data: dict[str, Any] = {k: v for k, v in payload.items() if isinstance(k, str)}
    if data.get("recipient_address") is None and data.get("recipient") is not None:
        data["recipient_address"] = data["recipient"]
    if event == E.ENERGY_DELIVERED and data.get("ends_at") is None:
        data["ends_at"] = data.get("expires_at")
    if event == E.REFUND and data.get("amount_sun") is None:
        data["amount_sun"] = data.get("refund_sun")
    if event in (E.PAYMENT_PROBLEM,) and data.get("amount_sun") is None:
        data["amount_sun"] = data.get("paid_sun")
    if event == E.ORDER_CREATED and data.get("amount_sun") is None:
        price, tail = data.get("single_price_sun"), data.get("tail_sun")
        if isinstance(price, int):
            data["amount_sun"] = price + (tail if isinstance(tail, int) else 0)
    if data.get("currency") not in (Currency.TRX, Currency.USDT):
        data["currency"] = Currency.TRX.value
    for key in ("amount", "paid", "refund"):
        if data.get(f"{key}_units") is None and data.get(f"{key}_sun") is not None:
            data[f"{key}_units"] = data[f"{key}_sun"]
    if data.get("duration_s") is None and isinstance(data.get("duration_hours"), int):
        data["duration_s"] = data["duration_hours"] * 3600
    hashes = data.get("tx_hashes")
    if not hashes and data.get("tx_hash"):
        data["tx_hashes"] = [data["tx_hash"]]
    if not data.get("tx_hash") and isinstance(hashes, list) and hashes:
        data["tx_hash"] = hashes[0]
    return data


def _absent(value: Any, optional: bool) -> bool:
    if value is None or value == "" or value == [] or value == "-":
        return True
    return optional and isinstance(value, int) and not isinstance(value, bool) and value == 0


def _show(
    event: str, key: str, value: Any, language: str, tx_url: str | None, currency: str = "TRX"
) -> str:
    """One payload value as safe HTML (``*_units``: base units of ``currency``)."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if key.endswith("_units") and is_int:
        decimals = 6 if event == E.ORDER_CREATED and key == "amount_units" else 0
        fmt = format_usdt if currency == Currency.USDT else format_trx
        return fmt(value, min_decimals=decimals)
    if key.endswith("_sun") and is_int:
        decimals = 6 if event == E.ORDER_CREATED and key == "amount_sun" else 0
        return format_trx(value, min_decimals=decimals)
    if key in NOUNS["en"] and is_int:
        return escape(format_count(key, value, language))
    if key in ("duration_s", "seconds_left") and isinstance(value, int | float):
        return escape(format_duration(value, language))
    if key.endswith("_at"):
        return escape(format_time(value))
    if key == "tx_hash":
        return tx_link(value, tx_url)
    if key == "tx_hashes":
        hashes = value if isinstance(value, list) else [value]
        return ", ".join(tx_link(h, tx_url) for h in hashes[:_MAX_LINKS])
    if key == "reason" and isinstance(value, str):
        text = CATALOG[_lang(language)].get(f"reason.{value}")
        return escape(text if text is not None else value)
    if is_int:
        return f"{value:,}" if key in ("energy", "available_energy", "threshold") else str(value)
    return escape(value)


_EVENTS = frozenset(E)


def _variant(event: str, data: Mapping[str, Any]) -> tuple[str, Payload | None]:
    """The catalog key and payload spec of the text: a package order's variant when there is
    one, else the event's own."""
    if event in _EVENTS and data.get("order_type") == PACKAGE_ORDER_TYPE:
        spec = PACKAGE_PAYLOADS.get(E(event))
        if spec is not None:
            return f"{event}{PACKAGE}", spec
    return event, PAYLOADS.get(E(event)) if event in _EVENTS else None


def placeholders(template: str) -> list[str]:
    """The placeholder names of a template, in order."""
    return [name for _, name, _, _ in _FORMATTER.parse(template) if name]


def render(
    event: str,
    payload: Mapping[str, Any],
    language: str,
    *,
    tx_url: str | None = None,
    strict: bool = False,
) -> str:
    """The message text of an outbox row (see the module docstring for missing keys)."""
    language = _lang(language)
    event = canonical(event)
    data = _normalized(event, payload)
    text_key, spec = _variant(event, data)
    template = CATALOG[language].get(text_key) or CATALOG[DEFAULT_LANGUAGE].get(text_key)
    if template is None or event not in _EVENTS:
        return CATALOG[language]["unknown"].format(event=escape(event))
    optional = set(spec.optional) if spec else set()
    lines: list[str] = []
    for number, line in enumerate(template.split("\n")):
        values: dict[str, str] = {}
        for key in placeholders(line):
            value = data.get(key)
            if not _absent(value, key in optional):
                values[key] = _show(event, key, value, language, tx_url, data["currency"])
                continue
            if key not in optional:
                if strict:
                    raise MissingField(event, key)
                _log.warning("notification.missing_field event=%s key=%s", event, key)
                if number == 0:  # the headline stays, with the value left out
                    values[key] = ""
                    continue
            break
        else:
            lines.append(line.format_map(values))
    return "\n".join(lines)
