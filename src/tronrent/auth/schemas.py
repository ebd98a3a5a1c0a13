"""Request/response shapes of the auth routes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tronrent.api.envelope import ApiModel


class LoginRequest(ApiModel):
    username: str = Field(min_length=1, max_length=50)
    password: str = Field(min_length=1, max_length=256)


class LoginResult(ApiModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105
    expires_in: int = Field(description="seconds until the token expires")
    role: str


class AdminProfile(ApiModel):
    id: str
    username: str
    role: str
