"""Keyset pagination, newest first, over ``(created_at, id)``.

A page is read with ``ORDER BY created_at DESC, id DESC`` and, after the first page,
``(created_at, id) < (cursor)``: rows inserted meanwhile never shift a page (unlike OFFSET), and
an index on ``(created_at, id)`` serves every page. The cursor handed to clients is opaque
(URL-safe base64 of a small JSON array); a cursor that does not decode is a 422, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, TypeVarTuple

from sqlalchemy import ColumnElement, Select, literal, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from tronrent.kit.errors import ValidationFailed

K = TypeVar("K", int, str)
T = TypeVar("T")
Ts = TypeVarTuple("Ts")

#: the longest cursor accepted (a timestamp and an id of at most 100 characters, encoded)
MAX_CURSOR_LENGTH = 300


class InvalidCursor(ValidationFailed):
    default_code = "INVALID_CURSOR"


@dataclass(frozen=True, slots=True)
class Position(Generic[K]):
    """Where a page ended: the last row's ``created_at`` and ``id``."""

    created_at: datetime
    id: K


def encode_cursor(position: Position[Any]) -> str:
    raw = json.dumps([position.created_at.astimezone(UTC).isoformat(), position.id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, id_type: type[K]) -> Position[K]:
    """The position in ``cursor``; raises InvalidCursor (422) for anything else."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        created_raw, id_raw = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        created_at = datetime.fromisoformat(created_raw)
        if created_at.tzinfo is None or type(id_raw) is not id_type:
            raise ValueError("not a cursor of this listing")
        return Position(created_at.astimezone(UTC), id_raw)
    except (ValueError, TypeError, UnicodeError, binascii.Error) as exc:
        raise InvalidCursor(
            "cursor is not valid: pass the nextCursor of the previous page unchanged"
        ) from exc


def uuid_position(after: Position[str] | None) -> Position[Any] | None:
    """A decoded cursor of a listing keyed by UUID, its id as the UUID the column compares
    with (InvalidCursor, 422, when it is not one)."""
    if after is None:
        return None
    try:
        return Position(after.created_at, uuid.UUID(after.id))
    except ValueError:
        raise InvalidCursor(
            "cursor is not valid: pass the nextCursor of the previous page unchanged"
        ) from None


def newest_first(
    stmt: Select[*Ts],
    created_at: InstrumentedAttribute[datetime],
    id_column: InstrumentedAttribute[Any],
    after: Position[Any] | None,
    limit: int,
) -> Select[*Ts]:
    """``stmt`` ordered newest first, after ``after``, with one row more than ``limit`` (the
    caller learns whether a next page exists from it: see :func:`page`)."""
    if after is not None:
        condition: ColumnElement[bool] = tuple_(created_at, id_column) < tuple_(
            literal(after.created_at, created_at.type), literal(after.id, id_column.type)
        )
        stmt = stmt.where(condition)
    return stmt.order_by(created_at.desc(), id_column.desc()).limit(limit + 1)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def page(rows: Sequence[T], limit: int, position: Any) -> Page[T]:
    """The first ``limit`` rows and, if there were more, the cursor after the last of them
    (``position(row)`` -> :class:`Position`)."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return Page(items, encode_cursor(position(items[-1])) if more and items else None)
