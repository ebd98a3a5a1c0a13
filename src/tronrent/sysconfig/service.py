"""System configs: read typed values, change them with who and why. Services never commit.

A key's row is written on its first change (with the metadata of ``registry.KEYS``); until then
its value is the declared default. Every change writes a ``system_config_history`` row in the
same transaction (``changed_by`` the admin account, ``change_reason``); an encrypted key's old
and new values are stored encrypted there too and never returned.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.audit import Actor, require_reason
from tronrent.kit.crypto import SecretBox
from tronrent.kit.errors import NotFound
from tronrent.models import SystemConfig, SystemConfigHistory
from tronrent.sysconfig.registry import KEYS, ConfigKey, decode, parse


class ConfigKeyNotFound(NotFound):
    default_code = "CONFIG_KEY_NOT_FOUND"


@dataclass(frozen=True, slots=True)
class ConfigView:
    spec: ConfigKey
    #: typed value (the default when never set); None for an encrypted key (never shown)
    value: Any
    is_set: bool
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConfigChange:
    id: uuid.UUID
    key: str
    #: typed values; ``None`` for an encrypted key
    old_value: Any
    new_value: Any
    changed_by: uuid.UUID | None
    reason: str | None
    at: datetime


def spec_of(key: str) -> ConfigKey:
    spec = KEYS.get(key)
    if spec is None:
        raise ConfigKeyNotFound(f"unknown config key {key!r}")
    return spec


class SystemConfigService:
    async def _row(
        self, session: AsyncSession, key: str, *, lock: bool = False
    ) -> SystemConfig | None:
        statement = select(SystemConfig).where(SystemConfig.config_key == key)
        if lock:
            statement = statement.with_for_update()
        return (await session.execute(statement)).scalar_one_or_none()

    async def list(self, session: AsyncSession, *, public_only: bool = False) -> list[ConfigView]:
        rows = {r.config_key: r for r in (await session.execute(select(SystemConfig))).scalars()}
        views = []
        for key, spec in sorted(KEYS.items()):
            if public_only and not spec.is_public:
                continue
            views.append(self._view(spec, rows.get(key)))
        return views

    async def get(self, session: AsyncSession, key: str) -> ConfigView:
        spec = spec_of(key)
        return self._view(spec, await self._row(session, key))

    async def value(self, session: AsyncSession, key: str, box: SecretBox) -> Any:
        """The typed value for the code that uses it (an encrypted key decrypted)."""
        spec = spec_of(key)
        row = await self._row(session, key)
        if row is None or row.config_value is None:
            return decode(spec, spec.default)
        text = row.config_value
        if spec.is_encrypted:
            text = box.decrypt(text).reveal()
        return decode(spec, text)

    async def set(
        self,
        session: AsyncSession,
        key: str,
        value: Any,
        *,
        box: SecretBox,
        actor: Actor,
        reason: str,
    ) -> ConfigView:
        """Validate and store ``value`` (``None``: back to the default); recorded with who and
        why. The same value again: nothing written."""
        spec = spec_of(key)
        why = require_reason(reason, "config change")
        text = None if value is None else parse(spec, value)
        row = await self._row(session, key, lock=True)
        if row is None:
            row = SystemConfig(id=uuid.uuid4(), config_key=key)
            try:
                async with session.begin_nested():
                    self._describe(row, spec)
                    session.add(row)
                    await session.flush()
            except IntegrityError:  # another request wrote it first
                row = await self._row(session, key, lock=True)
                assert row is not None
        self._describe(row, spec)
        old = row.config_value
        old_text = box.decrypt(old).reveal() if (old is not None and spec.is_encrypted) else old
        if old_text == text:
            await session.flush()
            return self._view(spec, row)
        stored = box.encrypt(text) if (text is not None and spec.is_encrypted) else text
        row.config_value = stored
        session.add(
            SystemConfigHistory(
                id=uuid.uuid4(),
                config_id=row.id,
                old_value=old,
                new_value=stored,
                changed_by=actor.admin_id,
                change_reason=f"{why} ({actor.name})"[:2000],
            )
        )
        await session.flush()
        await session.refresh(row)
        return self._view(spec, row)

    async def history(self, session: AsyncSession, key: str) -> Sequence[ConfigChange]:
        """Every change of ``key``, newest first."""
        spec = spec_of(key)
        rows = await session.execute(
            select(SystemConfigHistory)
            .join(SystemConfig, SystemConfig.id == SystemConfigHistory.config_id)
            .where(SystemConfig.config_key == key)
            .order_by(SystemConfigHistory.created_at.desc(), SystemConfigHistory.id)
        )
        shown = (lambda _t: None) if spec.is_encrypted else (lambda t: decode(spec, t))
        return [
            ConfigChange(
                id=h.id,
                key=key,
                old_value=shown(h.old_value),
                new_value=shown(h.new_value),
                changed_by=h.changed_by,
                reason=h.change_reason,
                at=h.created_at,
            )
            for h in rows.scalars()
        ]

    @staticmethod
    def _describe(row: SystemConfig, spec: ConfigKey) -> None:
        """The row carries the declared metadata (seed 001 columns)."""
        row.config_type = spec.config_type
        row.category = spec.category
        row.description = spec.description
        row.is_encrypted = spec.is_encrypted
        row.is_public = spec.is_public
        row.validation_rule = spec.validation_rule
        row.default_value = spec.default

    @staticmethod
    def _view(spec: ConfigKey, row: SystemConfig | None) -> ConfigView:
        stored = row.config_value if row is not None else None
        is_set = stored is not None
        value = None if spec.is_encrypted else decode(spec, stored if is_set else spec.default)
        return ConfigView(spec, value, is_set, row.updated_at if row is not None else None)


system_config = SystemConfigService()
