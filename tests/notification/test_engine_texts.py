"""The engine's new texts: the recipient activation, the true reasons of a failed order, the
limbo alert, and the order card's activation line - every field rendered, zh-CN and English."""

from __future__ import annotations

import pytest

from tronrent.notification.messages import render
from tronrent.telegram.context import translator_for
from tronrent.telegram.ports import OrderView
from tronrent.telegram.render import order_card

ORDER = "FLASH_1700000000000_abcdefghi"
RECIPIENT = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"


@pytest.mark.parametrize("language", ["zh", "en"])
def test_activation_and_limbo_render_every_field(language: str) -> None:
    text = render(
        "recipient_activating",
        {"order_id": ORDER, "recipient": RECIPIENT, "fee_sun": 1_110_000},
        language,
    )
    assert ORDER in text and RECIPIENT in text and "1.11" in text and "{" not in text
    text = render(
        "order_in_limbo",
        {
            "order_id": ORDER,
            "status": "paid",
            "reason": "waiting for pool capacity (insufficient_capacity, 65000 energy needed)",
            "blocks": 20,
            "recipient": RECIPIENT,
        },
        language,
    )
    for part in (ORDER, "paid", "insufficient_capacity", "20", RECIPIENT):
        assert part in text
    assert "{" not in text and " - " not in text


@pytest.mark.parametrize(
    ("code", "zh", "en"),
    [
        ("recipient_not_activated", "尚未在链上激活", "not activated"),
        ("recipient_is_contract", "合约", "contract"),
        ("activation_failed", "激活接收地址失败", "activating"),
        ("pools_refused", "拒绝", "refused"),
    ],
)
def test_a_failed_order_tells_its_true_reason(code: str, zh: str, en: str) -> None:
    for language, want in (("zh", zh), ("en", en)):
        text = render("order_failed", {"order_id": ORDER, "reason": code}, language)
        assert want in text and code not in text
        assert "busy" not in text and "能量池暂时不足" not in text


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_order_card_shows_the_activation_fee(language: str) -> None:
    view = OrderView(
        order_id=ORDER,
        status="pending",
        payment_address=RECIPIENT,
        amount_units=2_610_123,
        expires_at=None,
        recipient=RECIPIENT,
        activation_fee_sun=1_110_000,
    )
    text = order_card(translator_for(language), view)
    assert "1.11" in text and "2.610123" in text
    plain = order_card(
        translator_for(language), OrderView(ORDER, "pending", RECIPIENT, 1_500_123, None)
    )
    assert "1.11" not in plain
