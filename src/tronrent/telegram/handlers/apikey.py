"""/apikey: the customer's merchant API keys. ``/apikey [name]`` creates one and shows its
secret once (the customer should delete the message after copying it); ``/apikeys`` lists them
with their IP allowlist and callback URL; ``/revokekey <key id>`` revokes one of theirs;
``/keyips <key id> <address or network> ...`` (``any``: no restriction) sets a key's IP
allowlist and ``/keyurl <key id> <url>`` (``none``: no URL) its callback URL - each change
recorded in ``merchant_key_changes`` as ``customer:<telegram id>``."""

from __future__ import annotations

from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.crypto import SecretBox
from tronrent.kit.errors import AppError
from tronrent.kit.i18n import Translator
from tronrent.merchant.keys import merchant_keys
from tronrent.models import User
from tronrent.telegram.handlers.errors import error_text

REVOKED_IN_BOT = "revoked by the customer in the bot"
SET_IN_BOT = "set by the customer in the bot"
#: ``/keyips <key> any`` / ``/keyurl <key> none``: clear
CLEAR_WORDS = frozenset({"any", "none", "-", "off"})


def _actor(user: User) -> str:
    return f"customer:{user.telegram_id}"


async def cmd_apikey(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    user: User,
    t: Translator,
    secret_box: SecretBox | None = None,
) -> None:
    if secret_box is None:
        await message.answer(t("apikey.unavailable"))
        return
    name = (command.args or "").strip()[:100] or "API key"
    try:
        made = await merchant_keys.create(
            session, secret_box, user_id=user.id, name=name, actor=_actor(user)
        )
    except AppError as exc:
        await message.answer(error_text(t, exc))
        return
    await message.answer(
        t("apikey.created", key_id=made.key.key_id, secret=made.secret.reveal(), name=name)
    )


async def cmd_apikeys(message: Message, session: AsyncSession, user: User, t: Translator) -> None:
    keys = await merchant_keys.list(session, user_id=user.id)
    if not keys:
        await message.answer(t("apikey.none"))
        return
    lines = [t("apikey.list.title")]
    for k in keys:
        used = k.last_used_at.strftime("%Y-%m-%d %H:%M") if k.last_used_at else "-"
        lines.append(
            t(
                "apikey.list.item",
                key_id=k.key_id,
                name=escape(k.name),
                status=k.status.value,
                used=used,
                ips=escape(", ".join(k.ip_allowlist)) if k.ip_allowlist else t("apikey.any_ip"),
                url=escape(k.callback_url) if k.callback_url else "-",
            )
        )
    lines.append(t("apikey.list.howto"))
    await message.answer("".join(lines))


async def _set(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    user: User,
    t: Translator,
    *,
    usage: str,
    what: str,
) -> None:
    """``/keyips`` and ``/keyurl``: ``<key id> <value ...>``."""
    key_id, _, rest = (command.args or "").strip().partition(" ")
    rest = rest.strip()
    if not key_id or not rest:
        await message.answer(t(usage))
        return
    clear = rest.lower() in CLEAR_WORDS
    change: dict[str, Any] = (
        {"ip_allowlist": [] if clear else [e for e in rest.replace(",", " ").split() if e]}
        if what == "ips"
        else {"callback_url": None if clear else rest}
    )
    try:
        key = await merchant_keys.update_settings(
            session, key_id, actor=_actor(user), reason=SET_IN_BOT, user_id=user.id, **change
        )
    except AppError as exc:
        await message.answer(error_text(t, exc))
        return
    if what == "ips":
        shown = ", ".join(key.ip_allowlist) if key.ip_allowlist else t("apikey.any_ip")
    else:
        shown = key.callback_url or "-"
    await message.answer(t(f"apikey.set.{what}", key_id=key.key_id, value=escape(shown)))


async def cmd_keyips(
    message: Message, command: CommandObject, session: AsyncSession, user: User, t: Translator
) -> None:
    await _set(message, command, session, user, t, usage="apikey.ips.usage", what="ips")


async def cmd_keyurl(
    message: Message, command: CommandObject, session: AsyncSession, user: User, t: Translator
) -> None:
    await _set(message, command, session, user, t, usage="apikey.url.usage", what="url")


async def cmd_revokekey(
    message: Message, command: CommandObject, session: AsyncSession, user: User, t: Translator
) -> None:
    key_id = (command.args or "").strip()
    if not key_id:
        await message.answer(t("apikey.revoke.usage"))
        return
    try:
        await merchant_keys.revoke(
            session, key_id, actor=_actor(user), reason=REVOKED_IN_BOT, user_id=user.id
        )
    except AppError as exc:
        await message.answer(error_text(t, exc))
        return
    await message.answer(t("apikey.revoked", key_id=key_id))


def create_router() -> Router:
    router = Router(name="apikey")
    private = F.chat.type == "private"
    router.message.register(cmd_apikey, Command("apikey"), private)
    router.message.register(cmd_apikeys, Command("apikeys"), private)
    router.message.register(cmd_revokekey, Command("revokekey"), private)
    router.message.register(cmd_keyips, Command("keyips"), private)
    router.message.register(cmd_keyurl, Command("keyurl"), private)
    return router
