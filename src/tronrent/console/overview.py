"""The overview: the operator's figures at a glance (``tronrent.order.figures``).

The figures are kept in the process for :data:`CACHE_S` seconds (one set per app; the page says
"as of"), so an operator reloading the page, or several operators, cost one read of the last 30
days per minute; ``?fresh=1`` reads them again at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Query, Request, Response

from tronrent.api.deps import SessionDep
from tronrent.console import charts
from tronrent.console import session as console_session
from tronrent.console.session import ConsoleUser
from tronrent.console.web import money, nav, number, page_router, render, templates
from tronrent.kit.errors import ValidationFailed
from tronrent.models.common import Currency
from tronrent.order.figures import (
    DAYS,
    LATENCY_BINS,
    SAMPLE,
    SAMPLE_DAYS,
    SETTLE_MINUTES,
    WINDOWS,
    Overview,
    figures,
)

router = page_router(prefix="/admin", dependencies=[console_session.CSRF])
nav("overview", "Overview", "/admin/")

#: how long a read of the figures is shown before it is read again
CACHE_S: Final = 60.0

templates.env.filters.update(percent=charts.percent)
templates.env.globals.update(gauge=charts.gauge)


@dataclass(frozen=True, slots=True)
class _Cached:
    until: float
    overview: Overview


async def _figures(request: Request, session: SessionDep, fresh: bool) -> Overview:
    cached: _Cached | None = getattr(request.app.state, "console_overview", None)
    now = time.monotonic()
    if cached is not None and cached.until > now and not fresh:
        return cached.overview
    overview = await figures.overview(session)
    request.app.state.console_overview = _Cached(now + CACHE_S, overview)
    return overview


def _revenue_chart(o: Overview, currency: Currency) -> object:
    values = [(d.strftime("%m-%d"), v) for d, v in o.daily_revenue(currency)]
    if not any(v for _, v in values):
        return None
    return charts.bars(
        values,
        label=f"{currency.value} revenue per day, last {DAYS} days",
        fmt=lambda v: money(v, currency.value),
        every=5,
    )


def _latency_chart(o: Overview) -> object:
    if not o.delivery.samples:
        return None
    values = [
        (f"{i}+" if i == LATENCY_BINS else str(i), n) for i, n in enumerate(o.delivery.histogram)
    ]
    return charts.bars(
        values,
        label="orders by delivery latency (blocks)",
        fmt=lambda n: f"{number(n)} orders",
        every=5,
    )


@router.get("/")
async def overview(
    request: Request,
    session: SessionDep,
    _user: ConsoleUser,
    window: Annotated[int, Query(ge=1, le=DAYS)] = 7,
    fresh: Annotated[bool, Query()] = False,
) -> Response:
    windows = dict((days, label) for label, days in WINDOWS)
    if window not in windows:
        raise ValidationFailed(f"window: {window} is not one of {', '.join(map(str, windows))}")
    o = await _figures(request, session, fresh)
    return render(
        request,
        "overview.html",
        o=o,
        windows=WINDOWS,
        window=window,
        window_label=windows[window],
        rows=o.window(window),
        currencies=list(Currency),
        revenue_charts=[(c, _revenue_chart(o, c)) for c in Currency],
        latency_chart=_latency_chart(o),
        cache_s=int(CACHE_S),
        days=DAYS,
        sample=SAMPLE,
        sample_days=SAMPLE_DAYS,
        settle_minutes=SETTLE_MINUTES,
    )
