"""Texts built from several parts (order cards, order lists, balances)."""

from __future__ import annotations

import io
from functools import lru_cache

import qrcode
from qrcode.image.pure import PyPNGImage

from tronrent.kit.i18n import Html, Translator
from tronrent.kit.money import format_trx, format_usdt
from tronrent.models.balance_ledger import BalanceLedgerEntry
from tronrent.models.common import Currency
from tronrent.notification.messages import format_count, format_time, tx_link
from tronrent.telegram.ports import AddressBalance, OrderView

PENDING = "pending"


def status_text(t: Translator, status: str) -> str:
    key = f"status.{status}"
    return t(key) if t.has(key) else status


def order_card(t: Translator, view: OrderView) -> str:
    """The order message: status, recipient and, while unpaid, the exact amount and deadline."""
    text = t(
        "order.card",
        order_id=view.order_id,
        status=Html(status_text(t, view.status)),
        recipient=view.recipient or "-",
    )
    if view.status == PENDING and view.amount_sun is not None:
        tail = view.amount_sun % 1_000_000
        text += t(
            "order.card.pay",
            amount=format_trx(view.amount_sun, min_decimals=6),
            address=view.payment_address or "-",
            tail=f"{tail:06d}",
            deadline=format_time(view.expires_at.isoformat()) if view.expires_at else "-",
        )
        if view.activation_fee_sun:
            text += t("order.card.activation", fee=format_trx(view.activation_fee_sun))
    elif view.energy and view.transaction_count:
        count = format_count("transaction_count", view.transaction_count, t.language)
        text += t("order.card.delivered", energy=f"{view.energy:,}", count=count)
    elif view.energy:
        text += t("order.card.energy", energy=f"{view.energy:,}")
    return text


def order_line(t: Translator, view: OrderView) -> str:
    extra = ""
    if view.payment_tx_hash:
        extra += t("orders.tx", tx=tx_link(view.payment_tx_hash))
    if view.delegate_tx_hash:
        extra += t("orders.delegate_tx", tx=tx_link(view.delegate_tx_hash))
    amount = view.paid_amount_sun if view.paid_amount_sun is not None else view.amount_sun
    return t(
        "orders.item",
        order_id=view.order_id,
        status=Html(status_text(t, view.status)),
        amount=format_trx(amount) if amount is not None else "-",
        created=format_time(view.created_at.isoformat()) if view.created_at else "-",
        extra=Html(extra),
    )


def address_balance(t: Translator, address: str, balance: AddressBalance) -> str:
    return t(
        "balance.address",
        address=address,
        trx=format_trx(balance.trx_sun),
        usdt=format_usdt(balance.usdt_units) if balance.usdt_units is not None else "-",
        energy=f"{balance.energy_available:,}",
    )


@lru_cache(maxsize=64)
def qr_png(text: str) -> bytes:
    """A QR code of ``text`` as PNG bytes (pure Python, cached: one per payment address)."""
    buffer = io.BytesIO()
    qrcode.make(text, image_factory=PyPNGImage, box_size=8, border=2).save(buffer)
    return buffer.getvalue()


def ledger_lines(t: Translator, entries: list[BalanceLedgerEntry]) -> str:
    """The latest balance changes, newest first: signed amount, currency, cause, time."""
    if not entries:
        return t("balance.ledger.empty")
    text = t("balance.ledger.title")
    for entry in entries:
        fmt = format_trx if entry.currency == Currency.TRX else format_usdt
        sign = "+" if entry.delta_units > 0 else "-"
        key = f"ledger.cause.{entry.cause_type.value}"
        text += t(
            "balance.ledger.item",
            amount=sign + fmt(abs(entry.delta_units)),
            currency=entry.currency.value,
            cause=t(key) if t.has(key) else entry.cause_type.value,
            created=format_time(entry.created_at.isoformat()) if entry.created_at else "-",
        )
    return text
