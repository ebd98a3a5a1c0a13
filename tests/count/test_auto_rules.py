"""When an auto top-up is due and how many transfers' worth it bills (pure, property-tested)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tronrent.count.auto import top_up_due

PER = 65_000
HELD = 66_300


class TestTopUpDue:
    def test_one_ordinary_transfer_is_one(self) -> None:
        assert top_up_due(held=HELD, drawn=64_285, threshold=65_000, per_transfer=PER) == 1

    def test_a_new_holder_transfer_is_two(self) -> None:
        assert top_up_due(held=HELD, drawn=130_285, threshold=65_000, per_transfer=PER) == 2

    def test_a_burnt_transfer_drawing_the_margin_is_not_billed(self) -> None:
        assert top_up_due(held=HELD, drawn=2_015, threshold=65_000, per_transfer=PER) == 0

    def test_not_due_while_the_threshold_is_left(self) -> None:
        held = 200_000
        assert top_up_due(held=held, drawn=64_285, threshold=130_000, per_transfer=PER) == 0
        assert top_up_due(held=held, drawn=128_570, threshold=130_000, per_transfer=PER) == 2

    @given(
        held=st.integers(10_000, 2_000_000),
        drawn=st.integers(0, 4_000_000),
        threshold=st.integers(10_000, 2_000_000),
        per=st.integers(1, 200_000),
    )
    def test_billed_in_whole_transfers_and_only_below_the_threshold(
        self, held: int, drawn: int, threshold: int, per: int
    ) -> None:
        due = top_up_due(held=held, drawn=drawn, threshold=threshold, per_transfer=per)
        assert due >= 0
        if held - drawn >= threshold or drawn == 0:
            assert due == 0
        else:
            # the nearest whole number of transfers, half up: never off by more than half
            assert abs(due * per - drawn) * 2 <= per
