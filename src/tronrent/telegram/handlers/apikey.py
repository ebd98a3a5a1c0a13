"""/apikey: the customer's merchant API keys. ``/apikey [name]`` creates one and shows its
secret once (the customer should delete the message after copying it); ``/apikeys`` lists them;
``/revokekey <key id>`` revokes one of theirs. IP allowlists and callback URLs are set by an
operator (admin API) for now."""

from __future__ import annotations

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
            t("apikey.list.item", key_id=k.key_id, name=k.name, status=k.status.value, used=used)
        )
    await message.answer("".join(lines))


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
    return router
