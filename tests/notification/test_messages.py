"""Every notification renders every field, in zh-CN and English.

The events registry (``NotificationEvent`` / ``PAYLOADS``) is enumerated: a new event without
templates, payload keys or a realistic payload here fails. Payloads are the ones the emitters
write (order events get ``order_id``/``status``/``recipient_address`` from order.notify).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tronrent.config import NETWORKS
from tronrent.kit.i18n import LANGUAGES
from tronrent.notification.events import (
    CUSTOMER_EVENTS,
    OPERATOR_EVENTS,
    PAYLOADS,
    NotificationEvent,
)
from tronrent.notification.messages import (
    CATALOG,
    MissingField,
    format_count,
    format_duration,
    placeholders,
    plural,
    render,
)

TX_URL = NETWORKS["mainnet"].explorer_tx_url
ORDER = "FLASH_1700000000000_abcdefghi"
RECIPIENT = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"
POOL = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
TX = "ab" * 32
TX2 = "cd" * 32
ORDER_BASE = {"order_id": ORDER, "status": "active", "recipient_address": RECIPIENT}

#: what each event's emitter writes (see delegation.flows, payment.service, order.service,
#: payment.refund, notification.alerts, notification.reminders)
PAYLOADS_SEEN: dict[NotificationEvent, dict[str, Any]] = {
    NotificationEvent.ORDER_CREATED: {
        **ORDER_BASE,
        "status": "pending",
        "payment_address": POOL,
        "amount_sun": 1_500_017,
        "activation_fee_sun": None,
        "single_price_sun": 1_500_000,
        "max_transactions": 10,
        "tail_sun": 17,
        "expires_at": "2026-12-04T10:30:00+00:00",
    },
    NotificationEvent.PAYMENT_RECEIVED: {
        **ORDER_BASE,
        "status": "paid",
        "tx_hash": TX,
        "paid_sun": 3_000_017,
        "kind": "exact",
        "refund_sun": 0,
        "transaction_count": 2,
        "energy": 132_600,
    },
    NotificationEvent.PAYMENT_UNDERPAID: {
        **ORDER_BASE,
        "status": "underpaid",
        "tx_hash": TX,
        "paid_sun": 1_200_017,
        "kind": "underpaid",
        "refund_sun": 1_200_017,
    },
    NotificationEvent.WAITING_FOR_ENERGY: {**ORDER_BASE, "status": "paid", "energy": 66_300},
    NotificationEvent.ENERGY_DELIVERED: {
        **ORDER_BASE,
        "energy": 66_300,
        "transaction_count": 1,
        "tx_hashes": [TX],
        "ends_at": "2026-12-04T11:00:20+00:00",
        "duration_s": 20,
    },
    NotificationEvent.RENTAL_ENDING: {
        **ORDER_BASE,
        "ends_at": "2026-12-04T11:00:00+00:00",
        "seconds_left": 598,
    },
    NotificationEvent.RENTAL_ENDED: {
        **ORDER_BASE,
        "status": "completed",
        "duration_s": 3_600,
        "tx_hashes": [TX2],
    },
    NotificationEvent.REFUND: {
        **ORDER_BASE,
        "status": "refunded",
        "amount_sun": 5_000_000,
        "tx_hash": TX,
        "to_address": RECIPIENT,
    },
    NotificationEvent.PAYMENT_PROBLEM: {
        **ORDER_BASE,
        "amount_sun": 100_000,
        "tx_hash": TX,
        "reason": "dust",
        "policy": "keep",
    },
    NotificationEvent.ORDER_EXPIRED: {**ORDER_BASE, "status": "expired"},
    NotificationEvent.ORDER_FAILED: {
        **ORDER_BASE,
        "status": "failed",
        "reason": "recipient_not_activated",
    },
    NotificationEvent.RECIPIENT_ACTIVATING: {
        **ORDER_BASE,
        "status": "delegating",
        "recipient": RECIPIENT,
        "fee_sun": 1_100_000,
    },
    NotificationEvent.PACKAGE_ORDER_CREATED: {
        **ORDER_BASE,
        "package_name": "65k x 1 h",
        "quantity": 2,
        "energy": 132_600,
        "duration_s": 3600,
        "currency": "USDT",
        "price": "3 USDT",
        "amount": "3.004217 USDT",
        "payment_address": POOL,
        "recipient_address": RECIPIENT,
        "expires_at": "2026-01-01T00:30:00+00:00",
    },
    NotificationEvent.PACKAGE_PAYMENT_RECEIVED: {
        **ORDER_BASE,
        "status": "paid",
        "paid": "3.5 USDT",
        "refund": "0.5 USDT",
        "energy": 132_600,
        "duration_s": 3600,
        "tx_hash": TX,
    },
    NotificationEvent.PACKAGE_PAYMENT_UNDERPAID: {
        **ORDER_BASE,
        "status": "underpaid",
        "paid": "1 USDT",
        "price": "3 USDT",
        "refund": "1 USDT",
        "tx_hash": TX,
    },
    NotificationEvent.TOP_UP_CREATED: {
        **ORDER_BASE,
        "amount": "10.004217 USDT",
        "payment_address": POOL,
        "expires_at": "2026-01-01T00:30:00+00:00",
    },
    NotificationEvent.TOP_UP_CREDITED: {
        **ORDER_BASE,
        "status": "completed",
        "amount": "10.004217 USDT",
        "tx_hash": TX,
    },
    NotificationEvent.COUNT_PACKAGE_USED: {
        **ORDER_BASE,
        "status": "active",
        "used": 3,
        "total": 10,
        "remaining": 7,
        "tx_hash": TX,
    },
    NotificationEvent.AUTO_TOP_UP_CHARGED: {
        **ORDER_BASE,
        "status": "active",
        "price": "1.5 TRX",
        "transfers": 1,
        "top_ups": 2,
        "tx_hash": TX,
    },
    NotificationEvent.AUTO_TOP_UP_STOPPED: {
        **ORDER_BASE,
        "status": "active",
        "reason": "balance",
        "price": "1.5 TRX",
        "tx_hash": TX,
    },
    NotificationEvent.COUNT_PACKAGE_IDLE_FEE: {
        **ORDER_BASE,
        "status": "active",
        "counts": 1,
        "used": 4,
        "total": 10,
        "remaining": 6,
        "period": 1,
    },
    NotificationEvent.COUNT_PACKAGE_ENDED: {
        **ORDER_BASE,
        "status": "completed",
        "reason": "idle",
        "unused": 6,
        "used": 4,
        "total": 10,
        "refund": "16.8 TRX",
    },
    NotificationEvent.USDT_REFUND: {
        **ORDER_BASE,
        "status": "underpaid",
        "amount": "1 USDT",
        "tx_hash": TX,
    },
    NotificationEvent.POOL_LOW: {
        "pool_name": "main",
        "pool_address": POOL,
        "available_energy": 12_000,
        "threshold": 700_000,
    },
    NotificationEvent.POOL_UNUSABLE: {
        "pool_name": "main",
        "pool_address": POOL,
        "reason": "account_missing",
        "detail": f"Account[{POOL}] not exists",
    },
    NotificationEvent.DELEGATION_FAILING: {
        "order_id": ORDER,
        "pool_address": POOL,
        "error": "CONTRACT_VALIDATE_ERROR: delegateBalance must be less than available",
        "attempts": 2,
    },
    NotificationEvent.JOB_DEAD_LETTERED: {
        "job_name": "pool.sync_pools",
        "job_id": "42",
        "error": "TimeoutError",
    },
    NotificationEvent.ORDER_IN_LIMBO: {
        "order_id": ORDER,
        "status": "paid",
        "reason": "waiting for pool capacity",
        "blocks": 20,
        "recipient": RECIPIENT,
    },
}

EVENTS = list(NotificationEvent)
PLACEHOLDER_LEFT = re.compile(r"[{}]|None|(^|\s|：|:|\(|（)-(\s|$|）|\))")


def test_the_registry_is_complete() -> None:
    assert set(EVENTS) == CUSTOMER_EVENTS | OPERATOR_EVENTS
    assert set(PAYLOADS) == set(EVENTS)
    assert set(PAYLOADS_SEEN) == set(EVENTS)
    for language in LANGUAGES:
        assert set(EVENTS) <= set(CATALOG[language]), language


@pytest.mark.parametrize("event", EVENTS)
def test_placeholders_are_payload_keys(event: NotificationEvent) -> None:
    spec = PAYLOADS[event]
    for language in LANGUAGES:
        names = set(placeholders(CATALOG[language][event]))
        assert names == set(spec.required) | set(spec.optional), (language, names)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("event", EVENTS)
def test_every_field_renders(event: NotificationEvent, language: str) -> None:
    payload = PAYLOADS_SEEN[event]
    text = render(event, payload, language, strict=True, tx_url=TX_URL)
    assert not PLACEHOLDER_LEFT.search(text), text
    spec = PAYLOADS[event]
    shown = [k for k in (*spec.required, *spec.optional) if payload.get(k) or k in spec.required]
    for key in shown:
        value = payload.get(key, payload.get("recipient"))
        if key in ("order_id", "recipient_address", "payment_address", "pool_address"):
            assert value in text, (key, text)
    if "tx_hash" in payload or "tx_hashes" in payload:
        assert "tronscan.org/#/transaction/" in text


@pytest.mark.parametrize("event", EVENTS)
def test_a_missing_required_key_is_an_error_not_a_dash(event: NotificationEvent) -> None:
    payload = PAYLOADS_SEEN[event]
    for key in PAYLOADS[event].required:
        broken = {k: v for k, v in payload.items() if k != key}
        if key == "recipient_address":
            broken.pop("recipient", None)
        if key == "amount_sun":
            broken.pop("single_price_sun", None)
        with pytest.raises(MissingField) as caught:
            render(event, broken, "en", strict=True)
        assert caught.value.key == key
        # outside the tests: the line is left out (the headline stays), never a "-"
        assert not PLACEHOLDER_LEFT.search(render(event, broken, "en")), key


@pytest.mark.parametrize("event", EVENTS)
def test_a_missing_optional_key_leaves_its_line_out(event: NotificationEvent) -> None:
    payload = PAYLOADS_SEEN[event]
    for key in PAYLOADS[event].optional:
        bare = {k: v for k, v in payload.items() if k not in (key, "tx_hash", "tx_hashes")}
        for language in LANGUAGES:
            text = render(event, bare, language, strict=True)
            assert not PLACEHOLDER_LEFT.search(text), text
            assert "tronscan" not in text or key not in ("tx_hash", "tx_hashes")


class TestTheReportedTexts:
    """The texts of the issue: "reclaimed in - min (-)", "Transaction: -", "(1 transfers)",
    "reclaimed after 1 h" for a 20 s rental."""

    def test_rental_ending_shows_the_time_left_and_the_end(self) -> None:
        payload = PAYLOADS_SEEN[NotificationEvent.RENTAL_ENDING]
        en = render("rental_ending", payload, "en", strict=True)
        assert "reclaimed in 9 min 58 s (2026-12-04 11:00 UTC" in en
        zh = render("rental_ending", payload, "zh", strict=True)
        assert "9分钟58秒后回收（2026-12-04 11:00 UTC" in zh

    def test_a_20_s_rental_says_20_s_and_its_transactions(self) -> None:
        delivered = render(
            "energy_delivered",
            PAYLOADS_SEEN[NotificationEvent.ENERGY_DELIVERED],
            "en",
            tx_url=TX_URL,
        )
        assert "(1 transfer)" in delivered and "Rental: 20 s\n" in delivered
        assert f"transaction/{TX}" in delivered
        assert "Until: 2026-12-04 11:00:20 UTC" in delivered
        zh = render("energy_delivered", PAYLOADS_SEEN[NotificationEvent.ENERGY_DELIVERED], "zh")
        assert "（1 笔转账）" in zh and "租用时长：20秒" in zh
        ended = {**PAYLOADS_SEEN[NotificationEvent.RENTAL_ENDED], "duration_s": 20}
        for language, want in (("en", "Rental: 20 s"), ("zh", "租用时长：20秒")):
            text = render("rental_ended", ended, language, strict=True)
            assert want in text and TX2 in text

    def test_no_transaction_means_no_transaction_line(self) -> None:
        ended = {**PAYLOADS_SEEN[NotificationEvent.RENTAL_ENDED], "tx_hashes": []}
        en = render("rental_ended", ended, "en", strict=True)
        assert "Transaction" not in en and "transaction" not in en and "Rental ended" in en
        zh = render("rental_ended", ended, "zh", strict=True)
        assert "交易" not in zh and "租用已结束" in zh

    def test_plurals(self) -> None:
        payload = {**PAYLOADS_SEEN[NotificationEvent.PAYMENT_RECEIVED]}
        assert "For 2 transfers:" in render("payment_received", payload, "en")
        payload["transaction_count"] = 1
        assert "For 1 transfer:" in render("payment_received", payload, "en")
        limbo = {**PAYLOADS_SEEN[NotificationEvent.ORDER_IN_LIMBO], "blocks": 1}
        assert "after 1 block (" in render("order_in_limbo", limbo, "en")
        assert "在 1 个区块后" in render("order_in_limbo", limbo, "zh")

    def test_the_order_card_counts_transfers(self) -> None:
        from tronrent.telegram.context import translator_for
        from tronrent.telegram.ports import OrderView
        from tronrent.telegram.render import order_card

        def card(count: int | None, language: str) -> str:
            view = OrderView(
                ORDER, "active", POOL, None, None, RECIPIENT, transaction_count=count, energy=66_300
            )
            return order_card(translator_for(language), view)

        assert "Energy: 66,300 (1 transfer)" in card(1, "en")
        assert "Energy: 66,300 (2 transfers)" in card(2, "en")
        assert "能量：66,300（1 笔）" in card(1, "zh")
        for language in LANGUAGES:  # no count known: no "(- transfers)"
            text = card(None, language)
            assert "66,300" in text and not PLACEHOLDER_LEFT.search(text), text

    def test_the_flash_intro_tells_the_true_rental_length(self) -> None:
        from tronrent.telegram.context import translator_for

        for language, want in (("en", "reclaimed after 20 s)"), ("zh", "20秒后自动回收")):
            t = translator_for(language)
            text = t(
                "flash.intro",
                price="1.5",
                price2="3",
                energy="65,000",
                duration=format_duration(20, language),
                max=10,
                min="1",
                address=POOL,
            )
            assert want in text and "1 h" not in text


UNITS_EN = {"d": 86_400, "h": 3_600, "min": 60, "s": 1}
UNITS_ZH = {"天": 86_400, "小时": 3_600, "分钟": 60, "秒": 1}


def _parse_en(text: str) -> list[tuple[int, int]]:
    parts = text.split(" ")
    return [(int(parts[i]), UNITS_EN[parts[i + 1]]) for i in range(0, len(parts), 2)]


def _parse_zh(text: str) -> list[tuple[int, int]]:
    return [(int(n), UNITS_ZH[u]) for n, u in re.findall(r"(\d+)(天|小时|分钟|秒)", text)]


@given(st.integers(min_value=0, max_value=10 * 365 * 86_400))
def test_format_duration_is_never_more_and_close(seconds: int) -> None:
    en, zh = format_duration(seconds, "en"), format_duration(seconds, "zh")
    parsed = _parse_en(en)
    assert parsed == _parse_zh(zh)
    assert "".join(f"{n}{u}" for n, u in re.findall(r"(\d+)(天|小时|分钟|秒)", zh)) == zh
    assert 1 <= len(parsed) <= 2
    shown = sum(n * unit for n, unit in parsed)
    smallest = min(unit for _, unit in parsed)
    if len(parsed) == 1 and seconds >= 60:  # "1 h": the next unit was 0
        smallest = {86_400: 3_600, 3_600: 60, 60: 1}[parsed[0][1]]
    assert shown <= seconds < shown + smallest
    units = [unit for _, unit in parsed]
    assert units == sorted(units, reverse=True) and len(set(units)) == len(units)
    assert all(n > 0 for n, _ in parsed) or seconds == 0
    # the leading amount never overflows into the next larger unit
    bigger = {1: 60, 60: 60, 3_600: 24, 86_400: 10**9}
    assert all(n < bigger[unit] for n, unit in parsed[1:])


@pytest.mark.parametrize(
    ("seconds", "en", "zh"),
    [
        (0, "0 s", "0秒"),
        (20, "20 s", "20秒"),
        (20.4, "20 s", "20秒"),
        (60, "1 min", "1分钟"),
        (90, "1 min 30 s", "1分钟30秒"),
        (600, "10 min", "10分钟"),
        (3_600, "1 h", "1小时"),
        (3_900, "1 h 5 min", "1小时5分钟"),
        (3_905, "1 h 5 min", "1小时5分钟"),
        (90_000, "1 d 1 h", "1天1小时"),
        (-5, "0 s", "0秒"),
    ],
)
def test_format_duration_examples(seconds: float, en: str, zh: str) -> None:
    assert format_duration(seconds, "en") == en
    assert format_duration(seconds, "zh") == zh


@given(st.integers(min_value=0, max_value=10**12))
def test_plural_agrees_with_the_count(count: int) -> None:
    text = plural(count, "transfer", "transfers")
    assert text == f"{count:,} transfer" + ("" if count == 1 else "s")
    assert format_count("transaction_count", count, "en") == text
    assert format_count("blocks", count, "en").endswith("block" if count == 1 else "blocks")
    assert format_count("transaction_count", count, "zh") == f"{count:,} 笔"


@given(
    st.integers(min_value=1, max_value=10),
    st.integers(min_value=1, max_value=10**7),
    st.integers(min_value=1, max_value=30 * 86_400),
)
def test_energy_delivered_renders_any_order(count: int, energy: int, duration: int) -> None:
    payload = {
        **PAYLOADS_SEEN[NotificationEvent.ENERGY_DELIVERED],
        "transaction_count": count,
        "energy": energy,
        "duration_s": duration,
    }
    en = render("energy_delivered", payload, "en", strict=True)
    assert f"({plural(count, 'transfer', 'transfers')})" in en
    assert f"Rental: {format_duration(duration, 'en')}\n" in en and f"{energy:,}" in en
    zh = render("energy_delivered", payload, "zh", strict=True)
    assert f"（{count} 笔转账）" in zh and f"租用时长：{format_duration(duration, 'zh')}" in zh
