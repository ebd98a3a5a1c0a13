"""Bots: the list, one bot with its change history, and the admin's add / edit / disable /
enable / remove through the bot service (as ``/api/admin/bots`` does). Tokens and webhook
secrets go in, never out: a page only says whether one is set. Running bots follow a change at
once in this process (the reload after the commit), elsewhere at their periodic reload."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import BackgroundTasks, Form, Path, Query, Request, Response

from tronrent.api.deps import SessionDep, StateDep
from tronrent.auth.dependencies import actor_of
from tronrent.bot.admin_endpoints import AddBotRequest, EditBotRequest, schedule_reload
from tronrent.bot.service import bot as bot_service
from tronrent.console import session as console_session
from tronrent.console.forms import Reason, blank, checked, optional_int, optional_text
from tronrent.console.session import ConsoleAdmin, ConsoleUser
from tronrent.console.web import nav, page_router, redirect, render

router = page_router(prefix="/admin/bots", dependencies=[console_session.CSRF])
nav("bots", "Bots", "/admin/bots")

BotId = Annotated[uuid.UUID, Path()]
Text = Annotated[str, Form(max_length=4096)]
Short = Annotated[str, Form(max_length=600)]


@router.get("")
async def bots(
    request: Request,
    session: SessionDep,
    _user: ConsoleUser,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    return render(request, "bots.html", bots=await bot_service.list_bots(session), done=done)


@router.post("")
async def add(
    session: SessionDep,
    state: StateDep,
    admin: ConsoleAdmin,
    tasks: BackgroundTasks,
    reason: Reason,
    name: Short,
    username: Short,
    token: Short,
    webhook_url: Short = "",
    webhook_secret: Short = "",
    description: Text = "",
    rate_limit: Short = "",
) -> Response:
    """``POST /api/admin/bots``: active at once (webhook when a URL is given, else polling)."""
    values: dict[str, Any] = {
        "reason": reason,
        "name": name.strip(),
        "username": username.strip(),
        "token": token.strip(),
        "webhook_url": optional_text(webhook_url),
        "webhook_secret": optional_text(webhook_secret),
        "description": optional_text(description),
        "rate_limit": optional_int(rate_limit),
    }
    body: AddBotRequest = checked(AddBotRequest, values)
    bot = await bot_service.add(
        session,
        box=state.secret_box,
        actor=actor_of(admin),
        reason=body.reason,
        **body.model_dump(exclude={"reason"}, exclude_none=True),
    )
    schedule_reload(state, tasks)
    return redirect(f"/admin/bots/{bot.id}?done=add")


@router.get("/{bot_id}")
async def bot_detail(
    request: Request,
    bot_id: BotId,
    session: SessionDep,
    _user: ConsoleUser,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    bot = await bot_service.get(session, bot_id)
    return render(
        request,
        "bot.html",
        b=bot,
        changes=await bot_service.changes(session, bot_id),
        done=done,
    )


async def _edit(
    session: SessionDep,
    state: StateDep,
    admin: ConsoleAdmin,
    tasks: BackgroundTasks,
    bot_id: uuid.UUID,
    values: dict[str, Any],
) -> None:
    body: EditBotRequest = checked(EditBotRequest, values)
    changes = {k: getattr(body, k) for k in body.model_fields_set - {"reason"}}
    await bot_service.edit(
        session, bot_id, changes, box=state.secret_box, actor=actor_of(admin), reason=body.reason
    )
    schedule_reload(state, tasks)


@router.post("/{bot_id}/edit")
async def edit(
    bot_id: BotId,
    session: SessionDep,
    state: StateDep,
    admin: ConsoleAdmin,
    tasks: BackgroundTasks,
    reason: Reason,
    name: Short,
    username: Short,
    rate_limit: Short,
    description: Text = "",
    webhook_url: Short = "",
    welcome_message: Text = "",
    help_message: Text = "",
    error_message: Text = "",
    maintenance_mode: Annotated[bool, Form()] = False,
    max_users: Short = "",
    token: Short = "",
    webhook_secret: Short = "",
    clear_webhook_secret: Annotated[bool, Form()] = False,
) -> Response:
    """``PATCH /api/admin/bots/{id}`` with every box of the form: an empty text is none, an
    empty webhook URL is long polling; an empty token or webhook secret box keeps the one
    set (``clear_webhook_secret`` removes it). Only what differs is recorded."""
    values: dict[str, Any] = {
        "reason": reason,
        "name": name.strip(),
        "username": username.strip(),
        "rate_limit": optional_int(rate_limit),
        "description": optional_text(description),
        "webhook_url": optional_text(webhook_url),
        "welcome_message": optional_text(welcome_message),
        "help_message": optional_text(help_message),
        "error_message": optional_text(error_message),
        "maintenance_mode": maintenance_mode,
        "max_users": optional_int(max_users),
    }
    if not blank(token):
        values["token"] = token.strip()
    if clear_webhook_secret:
        values["webhook_secret"] = None
    elif optional_text(webhook_secret):
        values["webhook_secret"] = webhook_secret.strip()
    await _edit(session, state, admin, tasks, bot_id, values)
    return redirect(f"/admin/bots/{bot_id}?done=edit")


@router.post("/{bot_id}/status")
async def set_status(
    bot_id: BotId,
    session: SessionDep,
    state: StateDep,
    admin: ConsoleAdmin,
    tasks: BackgroundTasks,
    reason: Reason,
    status: Annotated[Literal["active", "inactive"], Form()],
) -> Response:
    """Disable (it stops answering) or enable a bot."""
    await _edit(session, state, admin, tasks, bot_id, {"reason": reason, "status": status})
    return redirect(f"/admin/bots/{bot_id}?done={status}")


@router.post("/{bot_id}/remove")
async def remove(
    bot_id: BotId,
    session: SessionDep,
    state: StateDep,
    admin: ConsoleAdmin,
    tasks: BackgroundTasks,
    reason: Reason,
) -> Response:
    """Delete a bot no order was made through (409 ``BOT_IN_USE`` otherwise: disable it)."""
    await bot_service.remove(session, bot_id, actor=actor_of(admin), reason=reason)
    schedule_reload(state, tasks)
    return redirect("/admin/bots?done=removed")
