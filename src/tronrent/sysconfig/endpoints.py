"""System config routes: the public keys for anyone; every key, changes and history for
operators (reads) and admins (changes, with a reason)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import ConfigDict, Field

from tronrent.api.deps import SessionDep, StateDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.auth.dependencies import AdminDep, OperatorDep, actor_of
from tronrent.kit.audit import MAX_REASON
from tronrent.sysconfig.service import ConfigChange, ConfigView
from tronrent.sysconfig.service import system_config as config_service

admin_router = APIRouter(
    prefix="/api/admin/system-configs", tags=["system-configs"], responses=ERROR_RESPONSES
)
public_router = APIRouter(prefix="/api/system-configs", tags=["system-configs"])


class ConfigOut(ApiModel):
    key: str
    type: str
    category: str
    description: str
    #: the value (the default while never set); null for an encrypted key (never returned)
    value: Any
    default: Any
    is_set: bool
    is_public: bool
    is_encrypted: bool
    validation_rule: str | None
    updated_at: str | None


class ConfigChangeOut(ApiModel):
    change_id: str
    old_value: Any
    new_value: Any
    changed_by: str | None
    reason: str | None
    at: str


class SetConfigRequest(ApiModel):
    model_config = ConfigDict(extra="forbid")

    value: Any = Field(description="the new value in the key's type; null: back to the default")
    reason: str = Field(min_length=1, max_length=MAX_REASON, description="why (recorded)")


def config_out(v: ConfigView) -> ConfigOut:
    s = v.spec
    return ConfigOut(
        key=s.key,
        type=s.config_type.value,
        category=s.category,
        description=s.description,
        value=v.value,
        default=None if s.is_encrypted else s.default,
        is_set=v.is_set,
        is_public=s.is_public,
        is_encrypted=s.is_encrypted,
        validation_rule=s.validation_rule,
        updated_at=v.updated_at.isoformat() if v.updated_at else None,
    )


def change_out(c: ConfigChange) -> ConfigChangeOut:
    return ConfigChangeOut(
        change_id=str(c.id),
        old_value=c.old_value,
        new_value=c.new_value,
        changed_by=str(c.changed_by) if c.changed_by else None,
        reason=c.reason,
        at=c.at.isoformat(),
    )


@public_router.get("/public")
async def public_configs(session: SessionDep) -> Envelope[dict[str, Any]]:
    """The keys flagged public, as `{key: value}` (no login)."""
    return ok({v.spec.key: v.value for v in await config_service.list(session, public_only=True)})


@admin_router.get("")
async def list_configs(session: SessionDep, _op: OperatorDep) -> Envelope[list[ConfigOut]]:
    """Every declared key with its type, rule, default and value (encrypted ones: no value)."""
    return ok([config_out(v) for v in await config_service.list(session)])


@admin_router.get("/{key}")
async def get_config(key: str, session: SessionDep, _op: OperatorDep) -> Envelope[ConfigOut]:
    return ok(config_out(await config_service.get(session, key)))


@admin_router.put("/{key}")
async def set_config(
    key: str, body: SetConfigRequest, session: SessionDep, state: StateDep, admin: AdminDep
) -> Envelope[ConfigOut]:
    """Set a key (validated against its type and rule: 422 `INVALID_CONFIG_VALUE`; unknown key
    404 `CONFIG_KEY_NOT_FOUND`); the change goes to its history with who and why."""
    view = await config_service.set(
        session, key, body.value, box=state.secret_box, actor=actor_of(admin), reason=body.reason
    )
    return ok(config_out(view))


@admin_router.get("/{key}/history")
async def config_history(
    key: str, session: SessionDep, _op: OperatorDep
) -> Envelope[list[ConfigChangeOut]]:
    """Every change of the key, newest first: old, new (null for an encrypted key), who, why."""
    return ok([change_out(c) for c in await config_service.history(session, key)])
