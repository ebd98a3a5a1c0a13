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


class ConfirmOrderCb(CallbackData, prefix="confirm_order"):
    """Confirm the draft in ``confirming_order`` (``kind``: flash)."""

    kind: str


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
