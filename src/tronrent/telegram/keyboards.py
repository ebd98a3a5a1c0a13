"""Inline keyboards, built from a translator and typed callback data."""

from __future__ import annotations

from collections.abc import Sequence
from html import unescape

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from tronrent.kit.i18n import Translator
from tronrent.telegram.callbacks import (
    AutoCb,
    CancelCb,
    CheckPaymentCb,
    ConfirmOrderCb,
    CountCb,
    EnergyPackageCb,
    FlashCb,
    LangCb,
    MenuCb,
    MyOrderCb,
    OrdersPageCb,
    PackageCb,
    PackageQtyCb,
    TopUpCb,
)
from tronrent.telegram.ports import AutoOffer, CountState, OrderView, PackageOffer


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data)


def main_menu(
    t: Translator, offers: Sequence[PackageOffer] = (), *, counts: bool = False
) -> InlineKeyboardMarkup:
    """The main menu; with ``offers``, one button per energy package above it; ``counts``: the
    count packages' button (some are for sale)."""
    packages = [
        [
            _button(
                # button texts are not HTML: the operator's package name as written
                unescape(t("btn.package", name=offer.name)),
                EnergyPackageCb(package_id=offer.package_id).pack(),
            )
        ]
        for offer in offers
    ]
    if counts:
        packages.append([_button(t("btn.counts"), CountCb(action="list").pack())])
    return InlineKeyboardMarkup(
        inline_keyboard=[
            *packages,
            [_button(t("btn.flash"), MenuCb(action="flash").pack())],
            [
                _button(t("btn.orders"), MenuCb(action="orders").pack()),
                _button(t("btn.balance"), MenuCb(action="balance").pack()),
            ],
            [
                _button(t("btn.help"), MenuCb(action="help").pack()),
                _button(t("btn.language"), MenuCb(action="lang").pack()),
            ],
        ]
    )


def flash_menu(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(t("btn.rent_for_address"), FlashCb(action="rent").pack())],
            [_button(t("btn.menu"), MenuCb(action="home").pack())],
        ]
    )


def confirm_order(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(t("btn.confirm"), ConfirmOrderCb(kind="flash").pack()),
                _button(t("btn.abort"), FlashCb(action="abort").pack()),
            ]
        ]
    )


def order_card(
    t: Translator, order_id: str, *, pending: bool, count: CountState | None = None
) -> InlineKeyboardMarkup:
    """The order card's buttons; ``count``: an active count package's pause / resume."""
    rows = []
    if count is not None:
        action = "resume" if count.paused else "pause"
        rows.append(
            [_button(t(f"btn.count_{action}"), CountCb(action=action, order_id=order_id).pack())]
        )
    if pending:
        rows.append(
            [
                _button(t("btn.check_payment"), CheckPaymentCb(order_id=order_id).pack()),
                _button(t("btn.cancel_order"), CancelCb(order_id=order_id).pack()),
            ]
        )
    rows.append([_button(t("btn.my_order"), MyOrderCb(order_id=order_id).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def card_buttons(t: Translator, view: OrderView) -> InlineKeyboardMarkup:
    """`order_card` for a view: pause / resume while a count package is active."""
    active = view.count is not None and view.status == "active"
    return order_card(
        t,
        view.order_id,
        pending=view.status == "pending",
        count=view.count if active else None,
    )


def count_packages(t: Translator, offers: Sequence[PackageOffer]) -> InlineKeyboardMarkup:
    """One button per count package, then the menu."""
    rows = [
        [
            _button(
                unescape(t("btn.package", name=offer.name)),
                EnergyPackageCb(package_id=offer.package_id).pack(),
            )
        ]
        for offer in offers
    ]
    auto = [_button(t("btn.auto"), AutoCb(action="show").pack())]
    return InlineKeyboardMarkup(inline_keyboard=[*rows, auto, _home_row(t)])


#: the thresholds the bot offers: one transfer to a holder, one to a new holder, three
AUTO_THRESHOLDS = (65_000, 131_000, 200_000)


def auto_menu(t: Translator, offer: AutoOffer) -> InlineKeyboardMarkup:
    """Stop the running auto top-up, or set one up (when offered); then the menu."""
    rows = []
    if offer.running is not None:
        stop = AutoCb(action="stop", order_id=offer.running.order_id).pack()
        rows.append([_button(t("btn.auto_stop"), stop)])
    elif offer.price_units is not None:
        rows.append([_button(t("btn.auto_start"), AutoCb(action="new").pack())])
    return InlineKeyboardMarkup(inline_keyboard=[*rows, _home_row(t)])


def auto_thresholds(t: Translator) -> InlineKeyboardMarkup:
    rows = [
        [
            _button(
                t("btn.auto_threshold", energy=f"{energy:,}"),
                AutoCb(action="threshold", energy=energy).pack(),
            )
        ]
        for energy in AUTO_THRESHOLDS
    ]
    return InlineKeyboardMarkup(inline_keyboard=[*rows, _home_row(t)])


def orders_pager(t: Translator, page: int, pages: int) -> InlineKeyboardMarkup | None:
    row = []
    if page > 0:
        row.append(_button(t("btn.prev"), OrdersPageCb(page=page - 1).pack()))
    if page + 1 < pages:
        row.append(_button(t("btn.next"), OrdersPageCb(page=page + 1).pack()))
    return InlineKeyboardMarkup(inline_keyboard=[row]) if row else None


def languages() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button("中文", LangCb(code="zh").pack()),
                _button("English", LangCb(code="en").pack()),
            ]
        ]
    )


def _home_row(t: Translator) -> list[InlineKeyboardButton]:
    return [_button(t("btn.menu"), MenuCb(action="home").pack())]


#: quantity buttons offered (those within the package's bounds; its min and max always)
QUANTITY_CHOICES = (1, 2, 3, 5, 10, 20, 50, 100)


def quantities(t: Translator, low: int, high: int) -> InlineKeyboardMarkup:
    values = sorted({low, high, *(q for q in QUANTITY_CHOICES if low <= q <= high)})[:8]
    buttons = [_button(str(q), PackageQtyCb(quantity=q).pack()) for q in values]
    rows = [buttons[i : i + 4] for i in range(0, len(buttons), 4)]
    rows.append([_button(t("btn.custom_quantity"), PackageQtyCb(quantity=0).pack())])
    return InlineKeyboardMarkup(inline_keyboard=[*rows, _home_row(t)])


def recipient_choice(t: Translator, last_address: str | None) -> InlineKeyboardMarkup:
    rows = []
    if last_address:
        rows.append(
            [
                _button(
                    t("btn.last_address", address=last_address[:6] + "…" + last_address[-4:]),
                    PackageCb(action="last_address").pack(),
                )
            ]
        )
    return InlineKeyboardMarkup(inline_keyboard=[*rows, _home_row(t)])


def package_payment(
    t: Translator, balances: Sequence[tuple[str, str]], currencies: Sequence[str] = ("TRX", "USDT")
) -> InlineKeyboardMarkup:
    """Pay by transfer in each of ``currencies`` (those the package is sold in), or from the
    balance (``balances``: currency, shown amount)."""
    rows = [
        [
            _button(t("btn.pay_transfer", currency=currency), _pay(currency, "transfer"))
            for currency in currencies
        ]
    ]
    rows += [
        [
            _button(
                t("btn.pay_balance", currency=currency, balance=shown),
                _pay(currency, "balance"),
            )
        ]
        for currency, shown in balances
    ]
    return InlineKeyboardMarkup(inline_keyboard=[*rows, _home_row(t)])


def _pay(currency: str, method: str) -> str:
    return ConfirmOrderCb(kind="package", currency=currency, method=method).pack()


def balance_menu(t: Translator) -> InlineKeyboardMarkup:
    top_up = [[_button(t("btn.top_up"), TopUpCb().pack())]]
    return InlineKeyboardMarkup(inline_keyboard=top_up + main_menu(t).inline_keyboard)


#: top-up amounts offered, in whole TRX / USDT
TOP_UP_AMOUNTS = (10, 50, 100, 500)


def top_up_currencies(t: Translator) -> InlineKeyboardMarkup:
    row = [_button(c, TopUpCb(currency=c).pack()) for c in ("TRX", "USDT")]
    return InlineKeyboardMarkup(inline_keyboard=[row, _home_row(t)])


def top_up_amounts(t: Translator, currency: str) -> InlineKeyboardMarkup:
    row = [
        _button(f"{amount} {currency}", TopUpCb(currency=currency, amount=amount).pack())
        for amount in TOP_UP_AMOUNTS
    ]
    custom = [_button(t("btn.custom_amount"), TopUpCb(currency=currency, custom=True).pack())]
    return InlineKeyboardMarkup(inline_keyboard=[row, custom, _home_row(t)])
