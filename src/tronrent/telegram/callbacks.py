"""Typed callback data (never hand-built strings). Prefixes follow seed 001's callbacks."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class MenuCb(CallbackData, prefix="menu"):
    """Main menu buttons: flash, orders, balance, help, lang, home."""

    action: str


class FlashCb(CallbackData, prefix="flash"):
    """Flash rental page buttons: ``rent`` (for an address), ``abort`` (drop the draft)."""

    action: str


class EnergyPackageCb(CallbackData, prefix="energy_package"):
    package_id: str


class CountCb(CallbackData, prefix="count"):
    """Count packages (笔数套餐): ``list`` (the catalogue), ``pause`` / ``resume`` the package
    of ``order_id``."""

    action: str
    order_id: str = ""


class AutoCb(CallbackData, prefix="auto"):
    """Auto top-up: ``show`` (status, or how it works), ``new`` (ask the address),
    ``threshold`` (set it up with ``energy``), ``stop`` the auto top-up of ``order_id``."""

    action: str
    energy: int = 0
    order_id: str = ""


class PackageQtyCb(CallbackData, prefix="package_qty"):
    """A quantity in ``selecting_package`` (0: the customer types one)."""

    quantity: int


class PackageCb(CallbackData, prefix="package"):
    """Package draft buttons: ``last_address`` (use the bound TRON address)."""

    action: str


class ConfirmOrderCb(CallbackData, prefix="confirm_order"):
    """Confirm the draft in ``confirming_order`` (``kind``: flash, package). A package is paid
    by ``method`` transfer or balance in ``currency`` TRX or USDT."""

    kind: str
    currency: str = ""
    method: str = ""


class TopUpCb(CallbackData, prefix="top_up"):
    """Balance top-up: no currency yet -> choose it; ``custom`` -> type the amount; no amount yet
    -> choose it; else create (``amount`` in whole TRX / USDT)."""

    currency: str = ""
    amount: int = 0
    custom: bool = False


class CheckPaymentCb(CallbackData, prefix="check_payment"):
    order_id: str


class CancelCb(CallbackData, prefix="cancel"):
    order_id: str


class MyOrderCb(CallbackData, prefix="my_order"):
    order_id: str


class OrdersPageCb(CallbackData, prefix="orders"):
    page: int


class LangCb(CallbackData, prefix="lang"):
    code: str
