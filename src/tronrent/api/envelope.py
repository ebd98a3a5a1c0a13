"""The response envelope of every answer: ``{success: true, data}`` or
``{success: false, error: {code, message}}``.

Route handlers return ``Envelope[T]`` (``ok(data)``); errors are produced only by
:mod:`tronrent.api.exception_handlers` and the request middleware via :func:`error_response`.
JSON field names are camelCase like the seed's payloads (``ApiModel``).
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

T = TypeVar("T")


class ApiModel(BaseModel):
    """Base of request/response schemas: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Envelope(BaseModel, Generic[T]):
    success: Literal[True] = True
    data: T


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorEnvelope(BaseModel):
    success: Literal[False] = False
    error: ErrorInfo


def ok(data: T) -> Envelope[T]:
    """Wrap a successful result."""
    return Envelope[T](data=data)


def error_content(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"success": False, "error": error}


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_content(code, message, details), status_code=status_code, headers=headers
    )


#: ``responses=`` for routes/routers so OpenAPI documents the error envelope.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": description}
    for status, description in (
        (401, "Missing, invalid or expired access token"),
        (403, "Role not allowed"),
        (413, "Request body larger than MAX_REQUEST_BODY_BYTES"),
        (422, "Invalid input"),
        (429, "Too many requests"),
        (500, "Internal error"),
    )
}
