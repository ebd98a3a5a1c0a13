"""Bot routes for operators: list, add, edit (settings, token, webhook or polling, status),
remove, change history. Tokens and webhook secrets go in, never out (stored encrypted).

A change takes effect without a restart: after the request commits, the ``BotManager`` of this
process reloads (the component ``RELOAD_COMPONENT``); other processes pick it up at their next
periodic reload (``BotManager.reload_interval``, 30 s)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Query
from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel

from tronrent.api.audit import ChangeOut, change_out
from tronrent.api.deps import SessionDep, StateDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.auth.dependencies import AdminDep, OperatorDep, actor_of
from tronrent.bot.agent_bots import MAX_MARKUP_BPS, agent_bots
from tronrent.bot.service import EDITABLE
from tronrent.bot.service import bot as bot_service
from tronrent.kit.audit import MAX_REASON
from tronrent.kit.errors import ValidationFailed
from tronrent.kit.logging import get_logger
from tronrent.models import Bot

#: ``state.components`` key of the running bots' ``reload()`` (set by the telegram lifespan)
RELOAD_COMPONENT = "bots.reload"

router = APIRouter(prefix="/api/admin/bots", tags=["admin-bots"], responses=ERROR_RESPONSES)
_log = get_logger("tronrent.bot")

Reason = Field(min_length=1, max_length=MAX_REASON, description="why (recorded with who)")
WebhookUrl = Annotated[
    str,
    Field(
        min_length=8,
        max_length=500,
        pattern=r"^https?://[^\s]+$",
        description="https URL Telegram posts updates to: `.../webhook/telegram` (the bot's id "
        "is appended) or with a `{bot_id}` placeholder; null or absent: long polling",
    ),
]
Token = Annotated[str, Field(min_length=10, max_length=130, description="from @BotFather")]
Secret = Annotated[
    str,
    Field(
        min_length=1,
        max_length=256,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="X-Telegram-Bot-Api-Secret-Token (Telegram allows A-Z a-z 0-9 _ -)",
    ),
]


class BotCommandIn(ApiModel):
    command: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    description: str = Field(min_length=1, max_length=256)


class _BotFields(ApiModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    description: str | None = Field(None, max_length=2000)
    webhook_url: WebhookUrl | None = None
    webhook_secret: Secret | None = None
    welcome_message: str | None = Field(None, max_length=4096)
    help_message: str | None = Field(None, max_length=4096)
    error_message: str | None = Field(None, max_length=4096)
    settings: dict[str, Any] | None = None
    commands: list[BotCommandIn] | None = Field(None, max_length=100)
    rate_limit: int | None = Field(None, ge=1, le=10_000, description="messages per user/min")


class AddBotRequest(_BotFields):
    reason: str = Reason
    token: Token
    name: str = Field(min_length=1, max_length=100)
    username: str = Field(min_length=5, max_length=33, pattern=r"^@?[A-Za-z][A-Za-z0-9_]{4,31}$")


class EditBotRequest(_BotFields):
    """Only the fields sent change; ``null`` clears an optional one (``webhookUrl: null``:
    back to long polling). Unknown fields are refused."""

    reason: str = Reason
    token: Token | None = None
    name: str | None = Field(None, min_length=1, max_length=100)
    username: str | None = Field(
        None, min_length=5, max_length=33, pattern=r"^@?[A-Za-z][A-Za-z0-9_]{4,31}$"
    )
    status: Literal["active", "inactive"] | None = None
    maintenance_mode: bool | None = None
    max_users: int | None = Field(None, ge=1, le=10**9)


class BotOut(ApiModel):
    bot_id: str
    name: str
    username: str
    description: str | None
    status: str
    #: ``webhook`` when ``webhookUrl`` is set, else ``polling``
    mode: str
    webhook_url: str | None
    has_webhook_secret: bool
    welcome_message: str | None
    help_message: str | None
    error_message: str | None
    settings: dict[str, Any]
    commands: list[Any]
    maintenance_mode: bool
    rate_limit: int
    max_users: int | None
    current_users: int
    total_messages: int
    last_message_at: str | None
    created_at: str
    updated_at: str
    #: an agent's own bot: its agent, markup and the operator's bounds (basis points)
    owner_agent_id: str | None = None
    agent_markup_bps: int = 0
    min_markup_bps: int = 0
    max_markup_bps: int = 0
    approved_at: str | None = None


def bot_out(b: Bot) -> BotOut:
    """A bot as operators see it: never its token or webhook secret."""
    return BotOut(
        bot_id=str(b.id),
        name=b.name,
        username=b.username,
        description=b.description,
        status=b.status.value,
        mode="webhook" if b.webhook_url else "polling",
        webhook_url=b.webhook_url,
        has_webhook_secret=b.webhook_secret_encrypted is not None,
        welcome_message=b.welcome_message,
        help_message=b.help_message,
        error_message=b.error_message,
        settings=dict(b.settings or {}),
        commands=list(b.commands or []),
        maintenance_mode=b.maintenance_mode,
        rate_limit=b.rate_limit,
        max_users=b.max_users,
        current_users=b.current_users,
        total_messages=b.total_messages,
        last_message_at=b.last_message_at.isoformat() if b.last_message_at else None,
        created_at=b.created_at.isoformat(),
        updated_at=b.updated_at.isoformat(),
        owner_agent_id=str(b.owner_agent_id) if b.owner_agent_id else None,
        agent_markup_bps=b.agent_markup_bps,
        min_markup_bps=b.min_markup_bps,
        max_markup_bps=b.max_markup_bps,
        approved_at=b.approved_at.isoformat() if b.approved_at else None,
    )


def schedule_reload(state: Any, tasks: BackgroundTasks) -> None:
    """Reload the running bots once the response (after the commit) is sent."""
    reload: Callable[[], Awaitable[None]] | None = state.components.get(RELOAD_COMPONENT)
    if reload is None:
        return

    async def run() -> None:
        try:
            await reload()
        except Exception:  # the periodic reload tries again
            _log.exception("bot.reload_failed")

    tasks.add_task(run)


@router.get("")
async def list_bots(session: SessionDep, _op: OperatorDep) -> Envelope[list[BotOut]]:
    """Every bot, active or not (tokens are never returned)."""
    return ok([bot_out(b) for b in await bot_service.list_bots(session)])


@router.get("/{bot_id}")
async def get_bot(bot_id: uuid.UUID, session: SessionDep, _op: OperatorDep) -> Envelope[BotOut]:
    return ok(bot_out(await bot_service.get(session, bot_id)))


@router.post("", status_code=201)
async def add_bot(
    body: AddBotRequest,
    session: SessionDep,
    state: StateDep,
    admin: AdminDep,
    tasks: BackgroundTasks,
) -> Envelope[BotOut]:
    """Add a bot (active at once: polling, or webhook when `webhookUrl` is set). The token and
    webhook secret are stored encrypted and never returned. 422 `INVALID_BOT_TOKEN` for a token
    that does not look like one, 409 `BOT_ALREADY_EXISTS` for a token or username in use."""
    fields = body.model_dump(exclude={"reason"}, exclude_none=True)
    if "commands" in fields:
        fields["commands"] = [c.model_dump() for c in body.commands or []]
    bot = await bot_service.add(
        session, box=state.secret_box, actor=actor_of(admin), reason=body.reason, **fields
    )
    schedule_reload(state, tasks)
    return ok(bot_out(bot))


@router.patch("/{bot_id}")
async def edit_bot(
    bot_id: uuid.UUID,
    body: EditBotRequest,
    session: SessionDep,
    state: StateDep,
    admin: AdminDep,
    tasks: BackgroundTasks,
) -> Envelope[BotOut]:
    """Edit a bot: texts, commands, rate limit, maintenance mode, `status` (`inactive`
    disables it: it stops answering), a new `token`, `webhookUrl` (null: long polling) and
    `webhookSecret`. A `reason` is required; the change is recorded with who made it (secrets as
    "(changed)"). Running bots follow at once: a new token or webhook restarts the bot."""
    sent = body.model_fields_set - {"reason"}
    changes: dict[str, object] = {k: getattr(body, k) for k in sent}
    required = ("token", "name", "username", "status", "maintenance_mode", "rate_limit")
    nulls = [to_camel(k) for k in required if k in changes and changes[k] is None]
    if nulls:
        raise ValidationFailed(f"{', '.join(nulls)} cannot be null")
    if "settings" in changes and changes["settings"] is None:
        changes["settings"] = {}
    if "commands" in changes:
        changes["commands"] = [c.model_dump() for c in body.commands or []]
    assert set(changes) <= {*EDITABLE, "token", "webhook_secret"}
    bot = await bot_service.edit(
        session, bot_id, changes, box=state.secret_box, actor=actor_of(admin), reason=body.reason
    )
    schedule_reload(state, tasks)
    return ok(bot_out(bot))


@router.delete("/{bot_id}")
async def remove_bot(
    bot_id: uuid.UUID,
    session: SessionDep,
    state: StateDep,
    admin: AdminDep,
    tasks: BackgroundTasks,
    reason: Annotated[str, Query(min_length=1, max_length=MAX_REASON)],
) -> Envelope[None]:
    """Remove a bot (`?reason=` required, recorded with who): it stops at once and its row,
    token and `bot_users` are deleted. Its price rules are deleted (inactive, hidden, `delete`
    in their `price_history`, which stays readable) and no longer refer to it. 409 `BOT_IN_USE`
    when orders were made through it (they reference it), or when a row made meanwhile still
    refers to it: disable it instead (`status: inactive`)."""
    await bot_service.remove(session, bot_id, actor=actor_of(admin), reason=reason)
    schedule_reload(state, tasks)
    return ok(None)


MarkupBps = Annotated[int, Field(ge=0, le=MAX_MARKUP_BPS, description="basis points: 100 = 1 %")]


class AgentBotRequest(ApiModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    reason: str = Reason
    agent_id: uuid.UUID
    token: Token
    username: str = Field(min_length=5, max_length=33, pattern=r"^@?[A-Za-z][A-Za-z0-9_]{4,31}$")
    name: str | None = Field(None, min_length=1, max_length=100)
    markup_bps: MarkupBps = 0


class MarkupBoundsRequest(ApiModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    reason: str = Reason
    min_markup_bps: MarkupBps
    max_markup_bps: MarkupBps


@router.post("/agent", status_code=201)
async def add_agent_bot(
    body: AgentBotRequest, session: SessionDep, state: StateDep, admin: AdminDep
) -> Envelope[BotOut]:
    """Register an active agent's own bot for them (as `/agent bot add` does in the bot): it
    stays `inactive` until approved (`POST /{botId}/approve`). 403 `AGENT_NOT_ACTIVE`, 409
    `BOT_ALREADY_EXISTS` / `TOO_MANY_AGENT_BOTS`, 422 `INVALID_BOT_TOKEN`."""
    bot = await agent_bots.register(
        session,
        box=state.secret_box,
        agent_id=body.agent_id,
        token=body.token,
        username=body.username,
        name=body.name,
        markup_bps=body.markup_bps,
        actor=actor_of(admin),
        reason=body.reason,
    )
    return ok(bot_out(bot))


@router.post("/{bot_id}/approve")
async def approve_agent_bot(
    bot_id: uuid.UUID,
    body: MarkupBoundsRequest,
    session: SessionDep,
    state: StateDep,
    admin: AdminDep,
    tasks: BackgroundTasks,
) -> Envelope[BotOut]:
    """Approve an agent's bot with the markup bounds the agent may pick within (the agent's
    markup is moved into them): it becomes `active` and starts without a restart. 409
    `NOT_AN_AGENT_BOT` / `AGENT_BOT_APPROVED`, 422 `MARKUP_OUT_OF_BOUNDS`."""
    bot = await agent_bots.approve(
        session,
        bot_id,
        min_markup_bps=body.min_markup_bps,
        max_markup_bps=body.max_markup_bps,
        actor=actor_of(admin),
        reason=body.reason,
    )
    schedule_reload(state, tasks)
    return ok(bot_out(bot))


@router.put("/{bot_id}/markup-bounds")
async def set_markup_bounds(
    bot_id: uuid.UUID, body: MarkupBoundsRequest, session: SessionDep, admin: AdminDep
) -> Envelope[BotOut]:
    """Change an agent's bot's markup bounds (its markup is moved into them); recorded."""
    bot = await agent_bots.set_bounds(
        session,
        bot_id,
        min_markup_bps=body.min_markup_bps,
        max_markup_bps=body.max_markup_bps,
        actor=actor_of(admin),
        reason=body.reason,
    )
    return ok(bot_out(bot))


@router.get("/{bot_id}/changes")
async def bot_changes(
    bot_id: uuid.UUID, session: SessionDep, _op: OperatorDep
) -> Envelope[list[ChangeOut]]:
    """Who changed the bot, how and why, newest first (a removed bot's too)."""
    return ok([change_out(c) for c in await bot_service.changes(session, bot_id)])
