from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tronrent.order.ids import (
    BASE36_ALPHABET,
    SUFFIX_LENGTH,
    base36_suffix,
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


class TestSuffix:
    @given(n=st.integers(0, 36**9 - 1))
    def test_every_number_is_its_own_suffix(self, n: int) -> None:
        suffix = base36_suffix(n)
        assert len(suffix) == SUFFIX_LENGTH and set(suffix) <= set(BASE36_ALPHABET)
        assert int(suffix, 36) == n  # a bijection onto the 36**9 suffixes: uniform stays so

    def test_ends(self) -> None:
        assert (base36_suffix(0), base36_suffix(36**9 - 1)) == ("000000000", "zzzzzzzzz")

    @pytest.mark.parametrize("n", [-1, 36**9])
    def test_out_of_range(self, n: int) -> None:
        with pytest.raises(ValueError):
            base36_suffix(n)

    def test_each_character_is_drawn_across_the_alphabet(self) -> None:
        """The default (CSPRNG) draw covers every character at every position."""
        suffixes = [new_flash_order_id(NOW).rsplit("_", 1)[1] for _ in range(2000)]
        for i in range(SUFFIX_LENGTH):
            assert {s[i] for s in suffixes} == set(BASE36_ALPHABET)


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
