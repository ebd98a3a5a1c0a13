"""Sign in and out: ``GET/POST /admin/login``, ``POST /admin/logout``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request, Response

from tronrent.api.deps import SessionDep, StateDep
from tronrent.auth.endpoints import throttled_login
from tronrent.auth.service import InvalidCredentials
from tronrent.console import session as console_session
from tronrent.console.web import page_router, redirect, render
from tronrent.kit.errors import RateLimited

router = page_router(prefix="/admin", dependencies=[console_session.CSRF])


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", next=console_session.safe_next(next), error=None)


@router.post("/login")
async def login(
    request: Request,
    state: StateDep,
    session: SessionDep,
    username: Annotated[str, Form(min_length=1, max_length=100)],
    password: Annotated[str, Form(min_length=1, max_length=200)],
    next: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    target = console_session.safe_next(next)
    ip = request.client.host if request.client else "unknown"
    try:
        user = await throttled_login(state, session, username, password, ip)
    except (InvalidCredentials, RateLimited) as exc:
        status = 429 if isinstance(exc, RateLimited) else 401
        return render(
            request,
            "login.html",
            status_code=status,
            next=target,
            error=exc.message,
            username=username,
        )
    token = state.tokens.issue(user.id, user.role.value)
    response = redirect(target)
    console_session.start(request, response, token.token, token.expires_in)
    return response


@router.post("/logout")
async def logout() -> Response:
    response = redirect(console_session.LOGIN_PATH)
    console_session.end(response)
    return response
