"""``POST /api/auth/login`` and ``GET /api/auth/me``."""

from __future__ import annotations

from fastapi import APIRouter

from tronrent.api.deps import SessionDep, StateDep
from tronrent.api.envelope import ERROR_RESPONSES, Envelope, ok
from tronrent.auth.dependencies import AdminUserDep
from tronrent.auth.schemas import AdminProfile, LoginRequest, LoginResult
from tronrent.auth.service import admin as admin_service

router = APIRouter(prefix="/api/auth", tags=["auth"], responses=ERROR_RESPONSES)


@router.post("/login", summary="Log in and get a short-lived access token")
async def login(body: LoginRequest, state: StateDep, session: SessionDep) -> Envelope[LoginResult]:
    user = await admin_service.authenticate(session, username=body.username, password=body.password)
    token = state.tokens.issue(user.id, user.role.value)
    return ok(LoginResult(access_token=token.token, expires_in=token.expires_in, role=token.role))


@router.get("/me", summary="The account of the access token")
async def me(user: AdminUserDep) -> Envelope[AdminProfile]:
    return ok(AdminProfile(id=str(user.id), username=user.username, role=user.role.value))
