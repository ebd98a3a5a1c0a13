"""Pure keyboard and text builders of the package flow (no bot, no database)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tronrent.telegram.callbacks import ConfirmOrderCb, EnergyPackageCb, PackageQtyCb
from tronrent.telegram.context import translator_for
from tronrent.telegram.keyboards import QUANTITY_CHOICES, main_menu, quantities
from tronrent.telegram.ports import PACKAGE, OrderView, PackageOffer, PackageQuote
from tronrent.telegram.render import money, order_card, package_quote

T = translator_for("en")


@given(st.integers(1, 1_000), st.integers(0, 1_000))
def test_quantity_buttons_stay_within_the_bounds(low: int, span: int) -> None:
    high = low + span
    buttons = [b for row in quantities(T, low, high).inline_keyboard for b in row]
    values = [
        PackageQtyCb.unpack(b.callback_data).quantity
        for b in buttons
        if b.callback_data and b.callback_data.startswith("package_qty")
    ]
    chosen, custom = values[:-1], values[-1]
    assert custom == 0  # "Other quantity" last
    assert chosen == sorted(set(chosen)) and 1 <= len(chosen) <= 8
    assert all(low <= q <= high for q in chosen) and chosen[0] == low
    expected = sorted({low, high, *(q for q in QUANTITY_CHOICES if low <= q <= high)})[:8]
    assert chosen == expected


@given(st.integers(0, 10**15), st.sampled_from(["TRX", "USDT"]))
def test_money_is_exact(units: int, currency: str) -> None:
    whole, _, fraction = money(units, currency, min_decimals=6).partition(".")
    assert int(whole) * 1_000_000 + int(fraction) == units


def test_callback_data_fits_telegram() -> None:
    longest = [
        EnergyPackageCb(package_id="0" * 36).pack(),
        ConfirmOrderCb(kind="package", currency="USDT", method="transfer").pack(),
    ]
    assert all(len(data.encode()) <= 64 for data in longest)


def test_the_breakdown_adds_the_fee_to_the_trx_total_only() -> None:
    offer = PackageOffer("p", "65k × 1 h", 65_000, 1, 3_000_000, 750_000, 1, 10)
    quotes = [
        PackageQuote(offer, 2, "TRX", 3_000_000, 6_000_000, 500_000, 5_500_000),
        PackageQuote(offer, 2, "USDT", 750_000, 1_500_000, 0, 1_500_000),
    ]
    text = package_quote(T, quotes, "TRecipient", 1_100_001)
    assert "130,000 energy in all · 1 h" in text
    assert "TRX</b>: 3 × 2 = 6\nDiscount: -0.5\nActivation fee: 1.100001 TRX" in text
    assert "Total: <b>6.600001 TRX</b>" in text and "Total: <b>1.5 USDT</b>" in text


def test_a_package_name_is_escaped_once() -> None:
    view = OrderView(
        "PKG_1",
        "active",
        None,
        None,
        None,
        kind=PACKAGE,
        package_name="A&B <1h>",
        energy=65_000,
        duration_hours=1,
    )
    assert "📦 A&amp;B &lt;1h&gt; (65,000 energy · 1 h)" in order_card(T, view)
    offer = PackageOffer("p", "A&B <1h>", 65_000, 1, 3_000_000, 750_000, 1, 10)
    assert main_menu(T, [offer]).inline_keyboard[0][0].text == "📦 A&B <1h>"
