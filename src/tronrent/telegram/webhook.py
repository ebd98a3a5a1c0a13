"""``POST /webhook/telegram/{bot_id}`` for FastAPI: the secret token header is checked (401)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from tronrent.telegram.manager import BotManager

_CODES = {400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 404: "NOT_FOUND"}


def webhook_router(manager: BotManager) -> APIRouter:
    router = APIRouter(tags=["telegram"])

    @router.post("/webhook/telegram/{bot_id}", include_in_schema=False)
    async def telegram_webhook(
        bot_id: uuid.UUID,
        request: Request,
        secret: Annotated[str | None, Header(alias="X-Telegram-Bot-Api-Secret-Token")] = None,
    ) -> JSONResponse:
        status, reason = await manager.feed_webhook(bot_id, secret, await request.body())
        if status == 200:
            return JSONResponse({"success": True, "data": None})
        return JSONResponse(
            {"success": False, "error": {"code": _CODES.get(status, "ERROR"), "message": reason}},
            status_code=status,
        )

    return router
