from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tronrent.order.ids import (
    flash_order_id_timestamp_ms,
    is_flash_order_id,
    new_flash_order_id,
)

NOW = 1_704_067_200_000


class TestNewFlashOrderId:
    def test_shape(self) -> None:
        oid = new_flash_order_id(NOW, random.Random(7))
        assert oid.startswith("FLASH_1704067200000_")
        assert len(oid.rsplit("_", 1)[1]) == 9
        assert is_flash_order_id(oid)
        assert flash_order_id_timestamp_ms(oid) == NOW

    def test_default_rng_is_random(self) -> None:
        assert len({new_flash_order_id(NOW) for _ in range(100)}) == 100

    @pytest.mark.parametrize("now", [0, -1, 10**12 - 1, 10**13])
    def test_bad_timestamp(self, now: int) -> None:
        with pytest.raises(ValueError):
            new_flash_order_id(now)

    @given(now=st.integers(10**12, 10**13 - 1), seed=st.integers())
    def test_always_valid(self, now: int, seed: int) -> None:
        oid = new_flash_order_id(now, random.Random(seed))
        assert is_flash_order_id(oid)
        assert flash_order_id_timestamp_ms(oid) == now


class TestIsFlashOrderId:
    @pytest.mark.parametrize(
        "value",
        [
            "",
            "FLASH_",
            "flash_1704067200000_abc123def",
            "FLASH_1704067200000_ABC123DEF",
            "FLASH_1704067200000_abc123de",
            "FLASH_1704067200000_abc123defg",
            "FLASH_170406720000_abc123def",
            "FLASH_0704067200000_abc123def",
            "FLASH_1704067200000-abc123def",
            "FLASH_1704067200000_abc123def\n",
            " FLASH_1704067200000_abc123def",
            "FLASH_١704067200000_abc123def",  # Arabic-Indic digit
            "FLASH_1704067200000_abc12_def",
            "1",
            None,
            1704067200000,
        ],
    )
    def test_rejects(self, value: object) -> None:
        assert not is_flash_order_id(value)

    def test_accepts_seed_example(self) -> None:
        assert is_flash_order_id("FLASH_1704067200000_abc123def")

    def test_timestamp_of_invalid(self) -> None:
        with pytest.raises(ValueError):
            flash_order_id_timestamp_ms("nope")

    @given(st.text(max_size=40))
    def test_fuzz_never_raises(self, value: str) -> None:
        assert is_flash_order_id(value) in (True, False)
