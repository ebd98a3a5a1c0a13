from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tronrent.payment.matching import (
    IncomingTransfer,
    MatchKind,
    OpenOrder,
    TailsExhausted,
    choose_tail,
    expected_amount_sun,
    match_payment,
    match_payments,
)
from tronrent.pricing.calc import FlashPrice, classify_flash_payment

PRICE = 1_500_000
G = 10_000
ALICE, BOB, CAROL, EXCHANGE = "TAlice", "TBob", "TCarol", "TExchange"


def order(
    oid: str, recipient: str, count: int, tail: int, created: int = 0, paid: str | None = None
) -> OpenOrder:
    return OpenOrder(oid, recipient, expected_amount_sun(count, PRICE, tail), tail, created, paid)


def pay(amount: int, sender: str = EXCHANGE, txid: str = "tx1") -> IncomingTransfer:
    return IncomingTransfer(txid, sender, "TFlash", amount)


class TestChooseTail:
    def test_in_range_and_unused(self) -> None:
        rng = random.Random(1)
        used: set[int] = set()
        for _ in range(200):
            t = choose_tail(used, 300, rng)
            assert 1 <= t < 300
            assert t not in used
            used.add(t)
        with pytest.raises(TailsExhausted):
            choose_tail(used | set(range(300)), 300, rng)

    def test_nearly_full_uses_scan(self) -> None:
        used = set(range(1, G)) - {4242}
        assert choose_tail(used, G, random.Random(0)) == 4242

    def test_default_rng(self) -> None:
        assert 1 <= choose_tail(set()) < G

    def test_invalid(self) -> None:
        with pytest.raises(ValueError):
            choose_tail(set(), 1)

    @given(used=st.sets(st.integers(1, 99), max_size=98), seed=st.integers())
    def test_property(self, used: set[int], seed: int) -> None:
        t = choose_tail(used, 100, random.Random(seed))
        assert 1 <= t <= 99 and t not in used


class TestExpectedAmount:
    def test_example(self) -> None:
        assert expected_amount_sun(10, PRICE, 1234) == 15_001_234

    @pytest.mark.parametrize(
        ("count", "price", "tail"), [(0, 1, 0), (1, 0, 0), (1, 10, 10), (1, 10, -1)]
    )
    def test_invalid(self, count: int, price: int, tail: int) -> None:
        with pytest.raises(ValueError):
            expected_amount_sun(count, price, tail)

    @given(count=st.integers(1, 10), tail=st.integers(1, G - 1))
    def test_tail_never_changes_count_or_kind(self, count: int, tail: int) -> None:
        price = FlashPrice(PRICE, 10, 1, 1_000_000)
        quote = classify_flash_payment(
            expected_amount_sun(count, PRICE, tail), price, tail_tolerance_sun=G - 1
        )
        assert quote.count == count
        assert quote.kind == "exact"


class TestMatchPayment:
    def test_exact_amount_from_exchange(self) -> None:
        orders = [order("o1", ALICE, 2, 11), order("o2", BOB, 2, 22)]
        result = match_payment(pay(3_000_022), orders)
        assert (result.kind, result.order_id, result.recipient_address) == (
            MatchKind.AMOUNT,
            "o2",
            BOB,
        )

    def test_tail_with_other_count(self) -> None:
        orders = [order("o1", ALICE, 2, 11), order("o2", BOB, 2, 22)]
        result = match_payment(pay(15_000_011), orders)
        assert (result.kind, result.order_id) == (MatchKind.TAIL, "o1")

    def test_sender_is_recipient_oldest(self) -> None:
        orders = [order("new", ALICE, 1, 11, created=20), order("old", ALICE, 1, 12, created=10)]
        result = match_payment(pay(3_000_000, sender=ALICE), orders)
        assert (result.kind, result.order_id, result.recipient_address) == (
            MatchKind.SENDER,
            "old",
            ALICE,
        )

    def test_walk_in(self) -> None:
        result = match_payment(pay(3_000_000, sender=CAROL), [order("o1", ALICE, 1, 11)])
        assert result.is_walk_in
        assert (result.order_id, result.recipient_address) == (None, CAROL)

    def test_paid_order_never_matched_twice(self) -> None:
        orders = [order("o1", ALICE, 1, 11, paid="tx0")]
        result = match_payment(pay(1_500_011, sender=ALICE, txid="tx1"), orders)
        assert result.is_walk_in

    def test_reprocessing_same_payment_is_idempotent(self) -> None:
        orders = [order("o1", ALICE, 1, 11, paid="tx1")]
        result = match_payment(pay(1_500_011, sender=CAROL, txid="tx1"), orders)
        assert (result.kind, result.order_id, result.recipient_address) == (
            MatchKind.ALREADY_MATCHED,
            "o1",
            ALICE,
        )

    def test_round_amount_has_no_tail(self) -> None:
        orders = [order("o1", ALICE, 1, 0)]
        assert match_payment(pay(3_000_000), orders).is_walk_in


orders_st = st.lists(
    st.builds(
        lambda i, rcpt, count, tail, created, paid: order(
            f"o{i}", rcpt, count, tail, created, f"ptx{i}" if paid else None
        ),
        st.integers(0, 10**6),
        st.sampled_from([ALICE, BOB, CAROL]),
        st.integers(1, 10),
        st.integers(0, 30),
        st.integers(0, 100),
        st.booleans(),
    ),
    max_size=12,
    unique_by=lambda o: o.order_id,
)
payments_st = st.lists(
    st.builds(
        lambda amount, sender, i: IncomingTransfer(f"tx{i}", sender, "TFlash", amount),
        st.integers(0, 20).map(lambda n: n * PRICE) | st.integers(0, 20 * PRICE),
        st.sampled_from([ALICE, BOB, CAROL, EXCHANGE]),
        st.integers(0, 40),
    ),
    max_size=10,
)


class TestMatchProperties:
    @given(payment=payments_st.filter(bool).map(lambda ps: ps[0]), orders=orders_st)
    def test_single(self, payment: IncomingTransfer, orders: list[OpenOrder]) -> None:
        result = match_payment(payment, orders)
        by_id = {o.order_id: o for o in orders}
        if result.kind is MatchKind.WALK_IN:
            assert result.order_id is None
            assert result.recipient_address == payment.from_address
            return
        assert result.order_id is not None
        matched = by_id[result.order_id]
        assert result.recipient_address == matched.recipient_address
        if result.kind is MatchKind.ALREADY_MATCHED:
            assert matched.paid_txid == payment.txid
            return
        assert matched.paid_txid is None
        if result.kind is MatchKind.AMOUNT:
            assert matched.expected_amount_sun == payment.amount_sun
        elif result.kind is MatchKind.TAIL:
            assert matched.tail_sun == payment.amount_sun % G != 0
            assert not any(
                o.expected_amount_sun == payment.amount_sun and o.paid_txid is None for o in orders
            )
        else:
            same = [
                o
                for o in orders
                if o.recipient_address == payment.from_address and o.paid_txid is None
            ]
            assert matched == min(same, key=lambda o: (o.created_at_ms, o.order_id))

    @settings(max_examples=200)
    @given(payments=payments_st, orders=orders_st)
    def test_batch_equals_sequential(
        self, payments: list[IncomingTransfer], orders: list[OpenOrder]
    ) -> None:
        batch = match_payments(payments, orders)
        state = list(orders)
        sequential = []
        for p in payments:
            r = match_payment(p, state)
            sequential.append(r)
            if r.kind not in (MatchKind.WALK_IN, MatchKind.ALREADY_MATCHED):
                state = [
                    dataclasses.replace(o, paid_txid=p.txid) if o.order_id == r.order_id else o
                    for o in state
                ]
        assert batch == sequential
        # No order is paid by two different payments.
        payers: dict[str, set[str]] = {}
        for p, r in zip(payments, batch, strict=True):
            if r.order_id is not None:
                payers.setdefault(r.order_id, set()).add(p.txid)
        by_id = {o.order_id: o for o in orders}
        for oid, txids in payers.items():
            assert len(txids | ({by_id[oid].paid_txid} - {None})) == 1
