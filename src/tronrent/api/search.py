"""Query parameters every admin search shares: a creation date range and a keyset page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query
from pydantic import AwareDatetime

from tronrent.kit.errors import ValidationFailed
from tronrent.kit.keyset import MAX_CURSOR_LENGTH

#: the largest page a search returns
MAX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class SearchWindow:
    created_from: datetime | None
    created_to: datetime | None
    cursor: str | None
    limit: int


async def search_window(
    created_from: Annotated[
        AwareDatetime | None,
        Query(alias="createdFrom", description="ISO 8601 with a time zone; inclusive"),
    ] = None,
    created_to: Annotated[
        AwareDatetime | None,
        Query(alias="createdTo", description="ISO 8601 with a time zone; exclusive"),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_CURSOR_LENGTH,
            description="the nextCursor of the previous page",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
) -> SearchWindow:
    created_from, created_to = _utc(created_from), _utc(created_to)
    if created_from is not None and created_to is not None and created_from >= created_to:
        raise ValidationFailed("createdFrom must be before createdTo", "INVALID_DATE_RANGE")
    return SearchWindow(created_from, created_to, cursor, limit)


def _utc(moment: datetime | None) -> datetime | None:
    try:
        return moment.astimezone(UTC) if moment is not None else None
    except OverflowError as exc:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValidationFailed("date out of range", "INVALID_DATE_RANGE") from exc


SearchWindowDep = Annotated[SearchWindow, Depends(search_window)]
