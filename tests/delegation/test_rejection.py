"""Chain rejections classified by side: recipient, pool (both permanent) or transient (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tronproto.address import to_hex
from tronproto.keys import PrivateKey
from tronrent.delegation.rejection import (
    Rejection,
    RejectionReason,
    RejectionSide,
    classify_rejection,
)
from tronrent.pricing.calc import FlashPaymentKind, FlashPrice, classify_order_payment

R = RejectionReason
OWNER = PrivateKey(bytes([1] * 32)).address_base58
RECIPIENT = PrivateKey(bytes([2] * 32)).address_base58
keys = st.binary(min_size=32, max_size=32).filter(lambda b: 0 < int.from_bytes(b) < 2**255)


def missing(address: str) -> str:
    return (
        f"CONTRACT_VALIDATE_ERROR: Contract validate error : Account[{to_hex(address)}] not exists"
    )


@pytest.mark.parametrize(
    ("error", "side", "reason"),
    [
        (missing(RECIPIENT), RejectionSide.RECIPIENT, R.RECIPIENT_NOT_ACTIVATED),
        (missing(OWNER), RejectionSide.POOL, R.POOL_ACCOUNT_MISSING),
        (
            "CONTRACT_VALIDATE_ERROR: Contract validate error : Do not allow delegate resources "
            "to contract addresses",
            RejectionSide.RECIPIENT,
            R.RECIPIENT_IS_CONTRACT,
        ),
        (
            "CONTRACT_VALIDATE_ERROR: receiverAddress must not be the same as ownerAddress",
            RejectionSide.RECIPIENT,
            R.RECIPIENT_IS_OWNER,
        ),
        (
            "CONTRACT_VALIDATE_ERROR: Contract validate error : delegateBalance must be less "
            "than or equal to available FreezeEnergyV2 balance",
            RejectionSide.POOL,
            R.POOL_STAKE_INSUFFICIENT,
        ),
        (
            "SIGERROR: Validate signature error: miss sig or contract",
            RejectionSide.POOL,
            R.POOL_KEY_MISMATCH,
        ),
        (
            "BANDWITH_ERROR: Account resource insufficient error.",
            RejectionSide.POOL,
            R.POOL_BANDWIDTH_INSUFFICIENT,
        ),
        (
            "CONTRACT_VALIDATE_ERROR: Validate TransferContract error, balance is not sufficient.",
            RejectionSide.POOL,
            R.POOL_BALANCE_INSUFFICIENT,
        ),
        (
            "CONTRACT_VALIDATE_ERROR: Validate TransferContract error, no OwnerAccount.",
            RejectionSide.POOL,
            R.POOL_ACCOUNT_MISSING,
        ),
        (
            "CONTRACT_VALIDATE_ERROR: The lock period for ENERGY this time cannot be less than "
            "the remaining time[1200000ms] of the last lock period for ENERGY!",
            RejectionSide.POOL,
            R.POOL_LOCK_CLASH,
        ),
        ("TAPOS_ERROR: Tapos check error.", RejectionSide.TRANSIENT, R.TAPOS),
        ("TRANSACTION_EXPIRATION_ERROR: Transaction expired", RejectionSide.TRANSIENT, R.EXPIRED),
        ("SERVER_BUSY: Server busy.", RejectionSide.TRANSIENT, R.NODE_BUSY),
        (
            "CONTRACT_VALIDATE_ERROR: insufficient delegateFrozenBalance(Energy), request=1, "
            "unlock_balance=0",
            RejectionSide.TRANSIENT,
            R.LOCK_NOT_OVER,
        ),
        ("failed in its block", RejectionSide.POOL, R.POOL_OTHER),
        (None, RejectionSide.POOL, R.POOL_OTHER),
    ],
)
def test_java_tron_answers(error: str | None, side: RejectionSide, reason: R) -> None:
    assert classify_rejection(error, owner=OWNER, recipient=RECIPIENT) == Rejection(side, reason)


def test_only_the_same_bytes_are_sent_again_for_a_node_side_hiccup() -> None:
    assert classify_rejection("TAPOS_ERROR: Tapos check error.").resend_same
    assert not classify_rejection("insufficient delegateFrozenBalance(Energy)").resend_same
    assert not classify_rejection(missing(RECIPIENT), recipient=RECIPIENT).resend_same


@given(text=st.text(max_size=300), owner=st.none() | st.just(OWNER), to=st.none() | st.text())
def test_total(text: str, owner: str | None, to: str | None) -> None:
    r = classify_rejection(text, owner=owner, recipient=to)
    assert r.side in RejectionSide and r.reason in RejectionReason
    assert r.permanent == (r.side is not RejectionSide.TRANSIENT)


@given(
    receiver=keys,
    sender=keys,
    before=st.text(max_size=40),
    after=st.text(max_size=40),
    hex_form=st.booleans(),
    upper=st.booleans(),
)
def test_a_missing_account_is_told_by_whose_it_is(
    receiver: bytes, sender: bytes, before: str, after: str, hex_form: bool, upper: bool
) -> None:
    """java-tron words it the same for both sides; the address named decides, never capacity."""
    to, owner = PrivateKey(receiver).address_base58, PrivateKey(sender).address_base58
    named = to_hex(to)
    text = f"{before} Account[{named.upper() if upper else named}] not exists {after}"
    r = classify_rejection(text, owner=owner, recipient=named if hex_form else to)
    assert r == Rejection(RejectionSide.RECIPIENT, R.RECIPIENT_NOT_ACTIVATED)
    if owner != to:
        r = classify_rejection(text, owner=to, recipient=owner)
        assert r == Rejection(RejectionSide.POOL, R.POOL_ACCOUNT_MISSING)


@given(
    code=st.sampled_from(["TAPOS_ERROR", "TRANSACTION_EXPIRATION_ERROR", "SERVER_BUSY"]),
    tail=st.text(max_size=60),
)
def test_transient_codes_are_never_permanent(code: str, tail: str) -> None:
    text = f"{code}: {tail}"
    if "account[" in text.lower():
        return
    assert classify_rejection(text).side is RejectionSide.TRANSIENT


PRICE = FlashPrice(
    single_price_sun=1_500_000, max_transactions=10, expiry_hours=1, min_amount_sun=1_000_000
)


@given(count=st.integers(1, 10), fee=st.integers(1, 5_000_000), tail=st.integers(0, 9_999))
def test_an_activation_fee_is_paid_on_top_of_the_transactions(
    count: int, fee: int, tail: int
) -> None:
    paid = count * PRICE.single_price_sun + fee + tail
    q = classify_order_payment(paid, PRICE, tail_tolerance_sun=9_999, activation_fee_sun=fee)
    assert q.kind is FlashPaymentKind.EXACT and q.count == count
    assert q.charged_sun == count * PRICE.single_price_sun + fee and q.unused_sun == tail


@given(fee=st.integers(1, 5_000_000), short=st.integers(1, 1_500_000))
def test_not_enough_for_the_fee_and_one_transaction_is_underpaid(fee: int, short: int) -> None:
    paid = max(PRICE.min_amount_sun, PRICE.single_price_sun + fee - short)
    q = classify_order_payment(paid, PRICE, activation_fee_sun=fee)
    assert q.kind is FlashPaymentKind.UNDERPAID and q.count == 0 and q.unused_sun == paid
