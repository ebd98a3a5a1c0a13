"""The texts of package orders: the variant of an event for ``order_type`` energy_rental, amounts
in the order's currency, the package's energy and rental length (no transfer count)."""

from __future__ import annotations

from typing import Any

import pytest

from tronrent.kit.i18n import LANGUAGES
from tronrent.notification.events import PACKAGE_PAYLOADS, PAYLOADS
from tronrent.notification.events import NotificationEvent as E
from tronrent.notification.messages import CATALOG, PACKAGE, MissingField, placeholders, render

ORDER = "PKG_1764842400000_abcdef0123"
RECIPIENT = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
POOL = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"
TX = "ab" * 32
BASE = {
    "order_id": ORDER,
    "status": "paid",
    "recipient_address": RECIPIENT,
    "order_type": "energy_rental",
    "currency": "USDT",
}
#: what a package order's emitters may write (amounts as *_units or, like flash, *_sun)
SAMPLES: dict[E, dict[str, Any]] = {
    E.ORDER_CREATED: {
        **BASE,
        "payment_address": POOL,
        "amount_units": 1_500_017,
        "package_name": "65k × 1 h",
        "expires_at": "2026-12-04T10:30:00+00:00",
    },
    E.PAYMENT_RECEIVED: {
        **BASE,
        "paid_sun": 3_250_000,
        "energy": 132_600,
        "duration_hours": 24,
        "package_name": "65k × 1 day",
        "tx_hash": TX,
    },
    E.PAYMENT_UNDERPAID: {**BASE, "paid_units": 1_000_000, "refund_units": 1_000_000},
    E.ENERGY_DELIVERED: {
        **BASE,
        "energy": 66_300,
        "ends_at": "2026-12-05T10:00:00+00:00",
        "duration_s": 86_400,
        "tx_hashes": [TX],
    },
    E.REFUND: {**BASE, "amount_units": 2_500_000, "reason": "recipient_not_activated"},
    E.PAYMENT_PROBLEM: {**BASE, "amount_units": 100, "reason": "dust", "tx_hash": TX},
}


@pytest.mark.parametrize("event", list(PACKAGE_PAYLOADS))
def test_placeholders_are_payload_keys(event: E) -> None:
    spec = PACKAGE_PAYLOADS[event]
    for language in LANGUAGES:
        names = set(placeholders(CATALOG[language][f"{event}{PACKAGE}"]))
        assert names == set(spec.required) | set(spec.optional), (language, names)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("event", list(PACKAGE_PAYLOADS))
def test_renders_in_the_order_currency(event: E, language: str) -> None:
    text = render(event, SAMPLES[event], language, strict=True)
    assert "{" not in text and "None" not in text and ORDER in text
    assert "transfer" not in text and "笔" not in text
    if "currency" in PACKAGE_PAYLOADS[event].optional:  # an amount is shown
        assert "USDT" in text
        trx = render(event, {**SAMPLES[event], "currency": "TRX"}, language, strict=True)
        assert "TRX" in trx and "USDT" not in trx


class TestTexts:
    def test_payment_received_shows_energy_and_duration(self) -> None:
        text = render(E.PAYMENT_RECEIVED, SAMPLES[E.PAYMENT_RECEIVED], "en", strict=True)
        assert "Payment of <b>3.25 USDT</b> received" in text
        assert "📦 65k × 1 day\nEnergy: 132,600\nRental: 1 d" in text

    def test_order_created_exact_amount(self) -> None:
        text = render(E.ORDER_CREATED, SAMPLES[E.ORDER_CREATED], "zh", strict=True)
        assert "转账 <b>1.500017 USDT</b>" in text and "📦 65k × 1 h" in text

    def test_missing_required_key_is_an_error(self) -> None:
        payload = {k: v for k, v in SAMPLES[E.ENERGY_DELIVERED].items() if k != "energy"}
        with pytest.raises(MissingField):
            render(E.ENERGY_DELIVERED, payload, "en", strict=True)

    def test_flash_orders_keep_their_texts(self) -> None:
        flash = {**BASE, "order_type": "energy_flash", "currency": "TRX"}
        text = render(
            E.PAYMENT_RECEIVED,
            {**flash, "paid_sun": 3_000_000, "transaction_count": 2, "energy": 132_600},
            "en",
            strict=True,
        )
        assert "For 2 transfers: 132,600 energy" in text
        assert set(PAYLOADS) > set(PACKAGE_PAYLOADS)

    def test_an_event_without_a_variant_uses_the_flash_text(self) -> None:
        text = render(E.ORDER_EXPIRED, BASE, "en", strict=True)
        assert text == f"⌛ Order <code>{ORDER}</code> was not paid in time and is closed."

    @pytest.mark.parametrize(
        ("language", "paid", "refunded"),
        [
            ("en", "Payment of <b>3.25 USDT</b> received", "Refunded <b>3.25 USDT</b>"),
            ("zh", "已收到付款 <b>3.25 USDT</b>", "已退款 <b>3.25 USDT</b>"),
        ],
    )
    def test_balance_payment_and_refund_of_a_usdt_order(
        self, language: str, paid: str, refunded: str
    ) -> None:
        """What payment.balance_pay writes for a USDT package order (``*_units``, no tx)."""
        package = {**BASE, "package_name": "65k × 1 day"}
        payment = {
            **package,
            "paid_units": 3_250_000,
            "payment_method": "balance",
            "transaction_count": 2,
            "energy": 132_600,
        }
        text = render(E.PAYMENT_RECEIVED, payment, language, strict=True)
        assert paid in text and "65k × 1 day" in text and "132,600" in text
        refund = {**package, "amount_units": 3_250_000, "reason": "refunded_to_balance"}
        text = render(E.REFUND, refund, language, strict=True)
        assert refunded in text and "TRX" not in text

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_chain_payment_names_the_package(self, language: str) -> None:
        payload = {
            **BASE,
            "package_name": "65k × 1 day",
            "paid": "3.25 USDT",
            "energy": 132_600,
            "duration_s": 86_400,
            "tx_hash": TX,
        }
        text = render(E.PACKAGE_PAYMENT_RECEIVED, payload, language, strict=True)
        assert "<b>3.25 USDT</b>" in text and "📦 65k × 1 day\n" in text
