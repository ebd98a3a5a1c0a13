"""Keyset cursors: every position round-trips, anything else is an InvalidCursor (422)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tronrent.kit.keyset import InvalidCursor, Position, decode_cursor, encode_cursor, page

moments = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(9000, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))]),
)


@given(moments, st.integers(min_value=1, max_value=2**63 - 1))
def test_int_ids_round_trip(moment: datetime, ident: int) -> None:
    back = decode_cursor(encode_cursor(Position(moment, ident)), int)
    assert back == Position(moment.astimezone(UTC), ident)


@given(moments, st.text(min_size=1, max_size=100))
def test_str_ids_round_trip(moment: datetime, ident: str) -> None:
    cursor = encode_cursor(Position(moment, ident))
    if len(cursor) <= 300:
        assert decode_cursor(cursor, str) == Position(moment.astimezone(UTC), ident)


@given(st.text(max_size=400))
def test_anything_else_is_invalid_never_a_crash(raw: str) -> None:
    try:
        position = decode_cursor(raw, int)
    except InvalidCursor:
        return
    assert position.created_at.tzinfo is not None and isinstance(position.id, int)


def test_the_id_type_is_checked() -> None:
    cursor = encode_cursor(Position(datetime(2026, 1, 1, tzinfo=UTC), 5))
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, str)
    with pytest.raises(InvalidCursor):  # bool is not an id
        decode_cursor(encode_cursor(Position(datetime(2026, 1, 1, tzinfo=UTC), True)), int)


@given(st.lists(st.integers(), max_size=10), st.integers(min_value=1, max_value=5))
def test_page_has_a_cursor_exactly_when_rows_remain(rows: list[int], limit: int) -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    result = page(rows, limit, lambda r: Position(moment, r))
    assert result.items == rows[:limit]
    assert (result.next_cursor is not None) == (len(rows) > limit)
    if result.next_cursor:
        assert decode_cursor(result.next_cursor, int).id == rows[limit - 1]
