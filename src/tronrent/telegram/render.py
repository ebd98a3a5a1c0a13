"""Texts built from several parts (order cards, order lists, balances)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache

import qrcode
from qrcode.image.pure import PyPNGImage

from tronrent.kit.i18n import Html, Translator
from tronrent.kit.money import format_trx, format_usdt
from tronrent.models.balance_ledger import BalanceLedgerEntry
from tronrent.models.common import Currency
from tronrent.notification.messages import format_count, format_duration, format_time, tx_link
from tronrent.telegram.ports import (
    PACKAGE,
    TOP_UP,
    AddressBalance,
    AutoOffer,
    AutoTopUpView,
    OrderView,
    PackageOffer,
    PackageQuote,
)

PENDING = "pending"


def status_text(t: Translator, status: str) -> str:
    key = f"status.{status}"
    return t(key) if t.has(key) else status


def money(units: int | None, currency: str, *, min_decimals: int = 0) -> str:
    """Base units as TRX or USDT text (both have 6 decimals); "-" for None (not sold)."""
    if units is None:
        return "-"
    fmt = format_usdt if currency == Currency.USDT else format_trx
    return fmt(units, min_decimals=min_decimals)


def duration(t: Translator, hours: int) -> str:
    return format_duration(hours * 3600, t.language)


def what(t: Translator, view: OrderView) -> str:
    """What the order sells: the package with its energy and duration (a count package: its
    transfers), a top-up, flash."""
    if view.kind == PACKAGE and view.order_type == "transaction_package":
        return t(
            "order.what.count",
            name=view.package_name or "-",
            counts=view.count.total if view.count else view.transaction_count or 0,
        )
    if view.kind == PACKAGE:
        return t(
            "order.what.package",
            name=view.package_name or "-",
            energy=f"{view.energy or 0:,}",
            duration=duration(t, view.duration_hours or 0),
        )
    return t("order.what.top_up" if view.kind == TOP_UP else "order.what.flash")


def order_card(t: Translator, view: OrderView) -> str:
    """The order message: what it sells, status, recipient and, while unpaid by transfer, the
    exact amount, currency and deadline."""
    text = t("order.card.head", order_id=view.order_id, what=Html(what(t, view)))
    text += t("order.card.status", status=Html(status_text(t, view.status)))
    if view.recipient:
        text += t("order.card.recipient", recipient=view.recipient)
    if view.status == PENDING and view.amount_units is not None and view.payment_address:
        tail = view.amount_units % 1_000_000
        text += t(
            "order.card.pay",
            amount=money(view.amount_units, view.currency, min_decimals=6),
            currency=view.currency,
            address=view.payment_address,
            tail=f"{tail:06d}",
            deadline=format_time(view.expires_at.isoformat()) if view.expires_at else "-",
        )
        if view.activation_fee_sun:
            text += t("order.card.activation", fee=format_trx(view.activation_fee_sun))
    elif view.kind == TOP_UP:
        pass
    elif view.count is not None:
        text += count_line(t, view)
    elif view.energy and view.transaction_count:
        count = format_count("transaction_count", view.transaction_count, t.language)
        text += t("order.card.delivered", energy=f"{view.energy:,}", count=count)
    elif view.energy:
        text += t("order.card.energy", energy=f"{view.energy:,}")
    return text


def count_line(t: Translator, view: OrderView) -> str:
    """A count package's counts and state: "3 of 10 used, 7 left · energy ready"."""
    count = view.count
    assert count is not None
    if count.pending_action == "pause":
        state = "pausing"
    elif count.pending_action == "resume":
        state = "resuming"
    elif count.paused:
        state = "paused"
    elif view.status == "active":
        state = "ready"
    else:
        state = ""
    return t(
        "order.card.count",
        used=count.used,
        total=count.total,
        remaining=count.remaining,
        state=Html(t(f"count.state.{state}") if state else status_text(t, view.status)),
    )


def order_line(t: Translator, view: OrderView) -> str:
    extra = ""
    if view.count is not None:
        extra = "\n" + count_line(t, view).lstrip("\n")
    if view.payment_tx_hash:
        extra += t("orders.tx", tx=tx_link(view.payment_tx_hash))
    if view.delegate_tx_hash:
        extra += t("orders.delegate_tx", tx=tx_link(view.delegate_tx_hash))
    amount = view.paid_amount_units if view.paid_amount_units is not None else view.amount_units
    return t(
        "orders.item",
        order_id=view.order_id,
        what=Html(what(t, view)),
        status=Html(status_text(t, view.status)),
        amount=money(amount, view.currency) if amount is not None else "-",
        currency=view.currency,
        created=format_time(view.created_at.isoformat()) if view.created_at else "-",
        extra=Html(extra),
    )


def package_list(t: Translator, offers: Sequence[PackageOffer]) -> str:
    """The packages of /menu: name, energy, duration, TRX and USDT price of one unit."""
    if not offers:
        return ""
    return t("packages.title") + "".join(
        t(
            "packages.item",
            name=offer.name,
            energy=f"{offer.energy:,}",
            duration=duration(t, offer.duration_hours),
            trx=money(offer.trx_price_units, Currency.TRX),
            usdt=money(offer.usdt_price_units, Currency.USDT),
        )
        for offer in offers
    )


def count_list(t: Translator, offers: Sequence[PackageOffer]) -> str:
    """The count packages for sale: name, transfers, TRX and USDT price."""
    if not offers:
        return t("counts.empty")
    return t("counts.title") + "".join(
        t(
            "counts.item",
            name=offer.name,
            counts=offer.counts or 0,
            trx=money(offer.trx_price_units, Currency.TRX),
            usdt=money(offer.usdt_price_units, Currency.USDT),
        )
        for offer in offers
    )


def auto_card(t: Translator, view: AutoTopUpView) -> str:
    """An auto top-up: state, address, threshold, price, top-ups so far and what they cost."""
    if view.stopped_reason is not None or view.status not in ("paid", "delegating", "active"):
        state = t("auto.state.stopped")
    else:
        state = t("auto.state.active" if view.status == "active" else "auto.state.starting")
    return t(
        "auto.card",
        state=state,
        address=view.address,
        threshold=f"{view.threshold_energy:,}",
        price=money(view.price_units, view.currency),
        currency=view.currency,
        top_ups=view.top_ups,
        billed=money(view.billed_units, view.currency),
    )


def auto_status(t: Translator, offer: AutoOffer) -> str:
    """The customer's running auto top-up, else how it works and its price (or that it is
    not offered)."""
    if offer.running is not None:
        return auto_card(t, offer.running)
    if offer.price_units is None:
        return t("auto.not_offered")
    return t("auto.intro", price=money(offer.price_units, offer.currency), currency=offer.currency)


def package_quote(
    t: Translator, quotes: Sequence[PackageQuote], recipient: str, activation_fee_sun: int
) -> str:
    """The ``confirming_order`` breakdown: package, recipient, then per currency the unit price,
    quantity, discount and total (TRX total with the activation fee when there is one)."""
    offer = quotes[0].offer
    if offer.counts:
        text = t(
            "count.confirm",
            name=offer.name,
            counts=offer.counts * quotes[0].quantity,
            duration=duration(t, offer.duration_hours),
            recipient=recipient,
        )
    else:
        text = t(
            "package.confirm",
            name=offer.name,
            energy=f"{offer.energy * quotes[0].quantity:,}",
            duration=duration(t, offer.duration_hours),
            recipient=recipient,
        )
    for quote in quotes:
        fee = activation_fee_sun if quote.currency == Currency.TRX else 0
        text += t(
            "package.confirm.price",
            currency=quote.currency,
            unit=money(quote.unit_price_units, quote.currency),
            quantity=quote.quantity,
            subtotal=money(quote.price_units, quote.currency),
        )
        if quote.discount_units:
            text += t(
                "package.confirm.discount", discount=money(quote.discount_units, quote.currency)
            )
        if fee:
            text += t("package.confirm.activation", fee=format_trx(fee))
        text += t(
            "package.confirm.total",
            total=money(quote.final_price_units + fee, quote.currency),
            currency=quote.currency,
        )
    if activation_fee_sun:
        text += t("package.confirm.activation_note", fee=format_trx(activation_fee_sun))
    return text


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
