"""``POST /api/auth/login`` and ``GET /api/auth/me``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.api.deps import SessionDep, StateDep
from tronrent.api.envelope import ERROR_RESPONSES, Envelope, ok
from tronrent.api.state import AppState
from tronrent.auth.dependencies import AdminUserDep
from tronrent.auth.schemas import AdminProfile, LoginRequest, LoginResult
from tronrent.auth.service import InvalidCredentials
from tronrent.auth.service import admin as admin_service
from tronrent.kit.errors import RateLimited
from tronrent.models.admin_user import AdminUser


async def throttled_login(
    state: AppState, session: AsyncSession, username: str, password: str, ip: str
) -> AdminUser:
    """The account of these credentials, failures counted per username and client IP (the API
    login and the console's sign-in share it). Raises InvalidCredentials (401), RateLimited
    (429 ``LOGIN_THROTTLED``)."""
    throttle = state.login_throttle
    if throttle is not None:
        refused = await throttle.check(username=username, ip=ip)
        if refused is not None:
            raise RateLimited(refused.reason, "LOGIN_THROTTLED", retry_after=refused.retry_after)
    try:
        user = await admin_service.authenticate(session, username=username, password=password)
    except InvalidCredentials:
        if throttle is not None:
            await throttle.failed(username=username, ip=ip)
        raise
    if throttle is not None:
        await throttle.succeeded(username=username)
    return user


router = APIRouter(prefix="/api/auth", tags=["auth"], responses=ERROR_RESPONSES)


@router.post("/login", summary="Log in and get a short-lived access token")
async def login(
    body: LoginRequest, request: Request, state: StateDep, session: SessionDep
) -> Envelope[LoginResult]:
    """Failed logins are counted per username and per client IP in a moving window; beyond
    ``LOGIN_FAILURES_PER_USERNAME`` / ``LOGIN_FAILURES_PER_IP`` every attempt is 429 with
    ``Retry-After`` (even with the right password) until old failures leave the window."""
    ip = request.client.host if request.client else "unknown"
    user = await throttled_login(state, session, body.username, body.password, ip)
    token = state.tokens.issue(user.id, user.role.value)
    return ok(LoginResult(access_token=token.token, expires_in=token.expires_in, role=token.role))


@router.get("/me", summary="The account of the access token")
async def me(user: AdminUserDep) -> Envelope[AdminProfile]:
    return ok(AdminProfile(id=str(user.id), username=user.username, role=user.role.value))
