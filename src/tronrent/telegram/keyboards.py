"""Inline keyboards, built from a translator and typed callback data."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from tronrent.kit.i18n import Translator
from tronrent.telegram.callbacks import (
    CancelCb,
    CheckPaymentCb,
    ConfirmOrderCb,
    FlashCb,
    LangCb,
    MenuCb,
    MyOrderCb,
    OrdersPageCb,
)


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data)


def main_menu(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
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


def order_card(t: Translator, order_id: str, *, pending: bool) -> InlineKeyboardMarkup:
    rows = []
    if pending:
        rows.append(
            [
                _button(t("btn.check_payment"), CheckPaymentCb(order_id=order_id).pack()),
                _button(t("btn.cancel_order"), CancelCb(order_id=order_id).pack()),
            ]
        )
    rows.append([_button(t("btn.my_order"), MyOrderCb(order_id=order_id).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


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
