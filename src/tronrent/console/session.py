"""Console sessions and CSRF protection.

- **Session.** Signing in issues the same short-lived admin access token as
  ``POST /api/auth/login`` (``JWT_TTL_SECONDS``) and keeps it in an ``HttpOnly``,
  ``SameSite=Strict`` cookie scoped to ``/admin`` (``Secure`` over HTTPS). Each page checks the
  account in the database (a disabled account or a changed role takes effect at once) and a
  token past half its life is re-issued, so an operator at work stays signed in and an idle
  session ends after ``JWT_TTL_SECONDS``.
- **CSRF.** Every state-changing request needs the per-browser token of the ``tronrent_csrf``
  cookie (random, ``HttpOnly``, ``SameSite=Strict``) echoed in the ``csrf_token`` form field or
  the ``X-CSRF-Token`` header (htmx sends it from the page), and an ``Origin``/``Referer`` of
  this site when the browser sends one. A cross-site form can neither read the token nor make
  the browser send the cookies.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Annotated, Final
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse

from tronrent.api.deps import SessionDep, StateDep
from tronrent.auth.service import admin as admin_service
from tronrent.kit.errors import Forbidden, Unauthorized
from tronrent.kit.time import utcnow
from tronrent.models.admin_user import AdminRole, AdminUser

SESSION_COOKIE: Final = "tronrent_console"
CSRF_COOKIE: Final = "tronrent_csrf"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
COOKIE_PATH: Final = "/admin"
LOGIN_PATH: Final = "/admin/login"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """No valid session: the page route sends the browser to the login page."""


class CsrfRejected(Forbidden):
    default_code = "CSRF_REJECTED"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (a new one is set on the response when it has none)."""
    token = request.cookies.get(CSRF_COOKIE)
    if token and 20 <= len(token) <= 100:
        return token
    new: str | None = getattr(request.state, "console_new_csrf", None)
    if new is None:
        new = secrets.token_urlsafe(32)
        request.state.console_new_csrf = new
    return new


def _same_origin(request: Request) -> bool:
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source is None
    parts = urlsplit(source)
    return (parts.scheme, parts.netloc) == (request.url.scheme, request.url.netloc)


async def check_csrf(request: Request) -> None:
    """Dependency of every console route: a state-changing request must carry this browser's
    token and come from this site (403 ``CSRF_REJECTED`` otherwise)."""
    if request.method in SAFE_METHODS:
        return
    expected = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise CsrfRejected(
            "the form is stale or did not come from this console: reload the page and retry"
        )
    if not _same_origin(request):
        raise CsrfRejected("cross-site request refused")


CSRF = Depends(check_csrf)


def login_redirect(request: Request) -> Response:
    """To the login page, coming back to this page (a GET) after signing in."""
    back = request.url.path
    if request.url.query:
        back += "?" + request.url.query
    target = LOGIN_PATH if request.method != "GET" else f"{LOGIN_PATH}?next={quote(back)}"
    if request.headers.get("HX-Request"):
        response: Response = Response(status_code=204, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return "/admin/"


def start(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def end(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)


def finish(request: Request, response: Response) -> None:
    """Set the cookies a page decided on: a new CSRF token, a renewed session."""
    new_csrf = getattr(request.state, "console_new_csrf", None)
    if new_csrf is not None:
        response.set_cookie(
            CSRF_COOKIE,
            new_csrf,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=_secure(request),
        )
    renewed = getattr(request.state, "console_renewed", None)
    if renewed is not None:
        start(request, response, renewed[0], renewed[1])


async def current_user(request: Request, state: StateDep, session: SessionDep) -> AdminUser:
    """The signed-in active account (LoginRequired otherwise); renews a half-spent token."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 2_000:
        raise LoginRequired
    try:
        claims = state.tokens.verify(token)
    except Unauthorized:
        raise LoginRequired from None
    user = await admin_service.get_active(session, claims.admin_id)
    if user is None:
        raise LoginRequired
    ttl = state.tokens.ttl_seconds
    if claims.expires_at - utcnow() < timedelta(seconds=ttl / 2):
        renewed = state.tokens.issue(user.id, user.role.value)
        request.state.console_renewed = (renewed.token, renewed.expires_in)
    request.state.console_user = user
    return user


async def current_admin(user: Annotated[AdminUser, Depends(current_user)]) -> AdminUser:
    """The signed-in account when it has the admin role (403 page otherwise)."""
    if user.role is not AdminRole.ADMIN:
        raise Forbidden("this action needs the admin role", "ROLE_NOT_ALLOWED")
    return user


#: any signed-in account (admin or operator)
ConsoleUser = Annotated[AdminUser, Depends(current_user)]
#: the admin role only
ConsoleAdmin = Annotated[AdminUser, Depends(current_admin)]
