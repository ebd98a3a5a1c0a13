"""Templates, static files, navigation and the page route class of the console.

Every console route is a :class:`PageRoute`: an application error (404, 409, 403...) or a
request that does not validate becomes an HTML page with the right status, never the API's
JSON envelope nor a 500; a request without a valid session is sent to the login page (htmx
requests get ``HX-Redirect``).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from tronrent.api.exception_handlers import status_for, validation_message
from tronrent.console import session as console_session
from tronrent.kit.errors import AppError, NotFound, ValidationFailed
from tronrent.kit.logging import get_logger

_log = get_logger(__name__)

HERE: Final = Path(__file__).parent
STATIC_DIR: Final = HERE / "static"
PREFIX: Final = "/admin"

templates = Jinja2Templates(directory=HERE / "templates")


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str
    label: str
    path: str
    #: shown to these roles only (None: every role)
    roles: frozenset[str] | None = None


#: the sidebar, in order; a page group adds its entry in :mod:`tronrent.console.routers`
NAV: list[NavItem] = []


def nav(key: str, label: str, path: str, *, admin_only: bool = False) -> None:
    """Register a sidebar entry (once per key)."""
    if any(item.key == key for item in NAV):
        return
    NAV.append(NavItem(key, label, path, frozenset({"admin"}) if admin_only else None))


# ---- formatting filters (integers only: amounts are exact) ----


def units(amount: int | None, decimals: int = 6) -> str:
    """An integer amount of 10^-decimals units as a decimal string (no float), thousands
    separated: 1234500000 -> '1,234.5'."""
    if amount is None:
        return "-"
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(int(amount)), 10**decimals)
    text = f"{whole:,}"
    frac_text = f"{frac:0{decimals}d}".rstrip("0") if decimals else ""
    return f"{sign}{text}.{frac_text}" if frac_text else f"{sign}{text}"


def money(amount: int | None, currency: str | None = "TRX") -> str:
    """``units`` plus the currency (TRX in sun, USDT in 10^-6)."""
    if amount is None:
        return "-"
    return f"{units(amount)} {(currency or 'TRX').upper()}"


def number(value: int | None) -> str:
    return "-" if value is None else f"{int(value):,}"


def when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def short(text: str | None, keep: int = 8) -> str:
    if not text:
        return "-"
    return text if len(text) <= 2 * keep + 1 else f"{text[:keep]}…{text[-keep:]}"


def _link(template: str | None, key: str, value: str | None) -> Markup:
    if not value:
        return Markup("-")
    label = Markup.escape(short(value))
    if not template:
        return Markup('<code title="{}">{}</code>').format(value, label)
    url = template.replace("{" + key + "}", quote(value, safe=""))
    return Markup(
        '<a class="mono" href="{}" target="_blank" rel="noopener noreferrer" title="{}">{}</a>'
    ).format(url, value, label)


E = TypeVar("E", bound=enum.Enum)


def choice(kind: type[E], value: str | None, field: str) -> E | None:
    """A select box's value: empty is None (any), anything else must be one of ``kind``."""
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in kind)
        raise ValidationFailed(f"{field}: {value!r} is not one of {allowed}") from None


#: the dates a date box takes: a day after the last one is still a date (a "to" day is
#: searched up to the next midnight)
FIRST_DAY: Final = date(1970, 1, 1)
LAST_DAY: Final = date(9998, 12, 31)


def day(value: str | None, field: str) -> datetime | None:
    """A date box's value (YYYY-MM-DD, ``FIRST_DAY`` .. ``LAST_DAY``) as midnight UTC; empty
    is None."""
    if not value:
        return None
    try:
        found = date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{field}: {value!r} is not a date (YYYY-MM-DD)") from None
    if not FIRST_DAY <= found <= LAST_DAY:
        raise ValidationFailed(f"{field}: {value!r} is not between {FIRST_DAY} and {LAST_DAY}")
    return datetime.combine(found, time(), tzinfo=UTC)


def query(request: Request, **changes: Any) -> str:
    """The current query string with ``changes`` (None removes a key), for filter/page links."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + urlencode(params) if params else "?"


templates.env.filters.update(units=units, money=money, number=number, when=when, short=short)
templates.env.globals.update(query=query)


def _explorer(request: Request) -> tuple[str | None, str | None]:
    state = getattr(request.app.state, "tronrent", None)
    if state is None:
        return None, None
    settings = state.settings
    address: str | None = settings.network.explorer_address_url
    return settings.tx_url, address


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page: ``template`` with the signed-in account, the CSRF token, the navigation and the
    explorer links in its context."""
    user = getattr(request.state, "console_user", None)
    role = user.role.value if user is not None else None
    tx_url, address_url = _explorer(request)
    context.update(
        request=request,
        user=user,
        role=role,
        is_admin=role == "admin",
        csrf_token=console_session.csrf_token(request),
        nav=[item for item in NAV if item.roles is None or (role in item.roles)],
        prefix=PREFIX,
        tx=lambda h: _link(tx_url, "tx_hash", h),
        addr=lambda a: _link(address_url, "address", a),
    )
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect(path: str) -> RedirectResponse:
    """303 See Other (a POST answered by a GET), the Post/Redirect/Get of every action."""
    return RedirectResponse(path, status_code=303)


def _error_page(request: Request, status: int, code: str, message: str) -> Response:
    return render(request, "error.html", status_code=status, code=code, message=message)


class PageRoute(APIRoute):
    """A console route: errors rendered as pages, sessions renewed, logins required."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except console_session.LoginRequired:
                return console_session.login_redirect(request)
            except RequestValidationError as exc:
                response = _error_page(request, 422, "VALIDATION_ERROR", validation_message(exc))
            except AppError as exc:
                status = status_for(exc)
                if status >= 500:
                    _log.warning("console.error", code=exc.code, path=request.url.path[:200])
                    return _error_page(request, status, exc.code, exc.message)
                response = _error_page(request, status, exc.code, exc.message)
            console_session.finish(request, response)
            return response

        return handler


def page_router(**kwargs: Any) -> APIRouter:
    """A router of console pages (PageRoute, out of the OpenAPI schema)."""
    return APIRouter(route_class=PageRoute, include_in_schema=False, **kwargs)


# ---- static files (shipped in the package; fingerprinted names cached for a year) ----

_STATIC_FILES: Final = {p.name: p for p in STATIC_DIR.iterdir() if p.is_file()}
#: content hash of each static file, appended as ?v= to bust caches on upgrade
STATIC_VERSION: Final = {
    name: hashlib.sha256(path.read_bytes()).hexdigest()[:12] for name, path in _STATIC_FILES.items()
}
templates.env.globals.update(static=lambda name: f"{PREFIX}/static/{name}?v={STATIC_VERSION[name]}")

static_router = page_router(prefix=f"{PREFIX}/static")


@static_router.get("/{name}")
async def static_file(name: str) -> FileResponse:
    path = _STATIC_FILES.get(name)
    if path is None:
        raise NotFound(f"no static file {name!r}", "NOT_FOUND")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable"})
