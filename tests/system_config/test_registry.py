"""The typed keys' parsing and validation rules (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tronrent.models.system_config import ConfigType
from tronrent.sysconfig.registry import KEYS, ConfigKey, InvalidConfigValue, decode, parse

INT = ConfigKey("t.int", ConfigType.INTEGER, "t", "", validation_rule="int:1..3600")
NUM = ConfigKey("t.num", ConfigType.NUMBER, "t", "")
FLAG = ConfigKey("t.flag", ConfigType.BOOLEAN, "t", "")
PICK = ConfigKey("t.pick", ConfigType.STRING, "t", "", validation_rule="enum:zh-CN|en")
DOC = ConfigKey("t.doc", ConfigType.JSON, "t", "")


class TestParse:
    @given(st.integers(min_value=1, max_value=3600))
    def test_integers_in_range_round_trip(self, n: int) -> None:
        assert decode(INT, parse(INT, n)) == n
        assert decode(INT, parse(INT, f" {n} ")) == n

    @given(st.integers().filter(lambda n: not 1 <= n <= 3600))
    def test_integers_out_of_range_refused(self, n: int) -> None:
        with pytest.raises(InvalidConfigValue, match="from 1 to 3600"):
            parse(INT, n)

    @given(st.decimals(allow_nan=False, allow_infinity=False, places=6))
    def test_decimals_are_exact(self, d: Decimal) -> None:
        assert Decimal(decode(NUM, parse(NUM, str(d)))) == d

    def test_floats_and_non_finite_refused(self) -> None:
        for bad in (1.5, "NaN", "Infinity", "abc", True):
            with pytest.raises(InvalidConfigValue):
                parse(NUM, bad)

    def test_booleans_strictly(self) -> None:
        assert decode(FLAG, parse(FLAG, True)) is True
        for bad in ("true", 1, None):
            with pytest.raises(InvalidConfigValue):
                parse(FLAG, bad)

    def test_enum_and_types(self) -> None:
        assert parse(PICK, "en") == "en"
        with pytest.raises(InvalidConfigValue, match="one of zh-CN, en"):
            parse(PICK, "fr")
        with pytest.raises(InvalidConfigValue):
            parse(PICK, 5)
        with pytest.raises(InvalidConfigValue):
            parse(INT, "1.5")

    @given(
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(),
            lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        )
    )
    def test_json_round_trip(self, value: object) -> None:
        assert decode(DOC, parse(DOC, value)) == value

    def test_declared_keys_defaults_pass_their_rules(self) -> None:
        for spec in KEYS.values():
            if spec.default is not None:
                assert parse(spec, decode(spec, spec.default)) == spec.default
            assert not (spec.is_public and spec.is_encrypted)
