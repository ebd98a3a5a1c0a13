"""``POST /webhook/telegram/{bot_id}`` for FastAPI: the secret token header is checked (401).

``webhook_router(manager)`` serves one manager; ``webhook_router(lookup)`` finds the running
manager per request (the ``serve`` app builds its routes before the lifespan starts the bots).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from tronrent.telegram.manager import BotManager

_CODES = {400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 404: "NOT_FOUND", 503: "BOTS_NOT_RUNNING"}

ManagerLookup = Callable[[Request], BotManager | None]


def webhook_router(manager: BotManager | ManagerLookup) -> APIRouter:
    router = APIRouter(tags=["telegram"])

    def resolve(request: Request) -> BotManager | None:
        return manager if isinstance(manager, BotManager) else manager(request)

    @router.post("/webhook/telegram/{bot_id}", include_in_schema=False)
    async def telegram_webhook(
        bot_id: uuid.UUID,
        request: Request,
        secret: Annotated[str | None, Header(alias="X-Telegram-Bot-Api-Secret-Token")] = None,
    ) -> JSONResponse:
        running = resolve(request)
        if running is None:
            status, reason = 503, "the bots are not running"
        else:
            status, reason = await running.feed_webhook(bot_id, secret, await request.body())
        if status == 200:
            return JSONResponse({"success": True, "data": None})
        return JSONResponse(
            {"success": False, "error": {"code": _CODES.get(status, "ERROR"), "message": reason}},
            status_code=status,
        )

    return router
