"""System configs: every declared key with its type, rule and current value (an encrypted
key's value never shown, only whether it is set), one key with its history, and the admin's
change with a reason (``/api/admin/system-configs``' service)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Form, Path, Query, Request, Response

from tronrent.api.deps import SessionDep, StateDep
from tronrent.auth.dependencies import actor_of
from tronrent.console import session as console_session
from tronrent.console.forms import Reason
from tronrent.console.session import ConsoleAdmin, ConsoleUser
from tronrent.console.web import nav, page_router, redirect, render
from tronrent.kit.errors import ValidationFailed
from tronrent.models.system_config import ConfigType
from tronrent.sysconfig.service import spec_of
from tronrent.sysconfig.service import system_config as config_service

router = page_router(prefix="/admin/configs", dependencies=[console_session.CSRF])
nav("configs", "System configs", "/admin/configs")

ConfigKeyPath = Annotated[str, Path(min_length=1, max_length=100)]


def form_value(kind: ConfigType, text: str) -> Any:
    """A value typed in the form as its key's type expects it (the service checks it): JSON
    parsed, a boolean from ``true``/``false``; numbers stay text (exact, never float)."""
    if kind is ConfigType.BOOLEAN:
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise ValidationFailed("value: true or false")
        return lowered == "true"
    if kind is ConfigType.JSON:
        try:
            return json.loads(text, parse_float=str)
        except ValueError:
            raise ValidationFailed("value: not valid JSON") from None
    return text


@router.get("")
async def configs(request: Request, session: SessionDep, _user: ConsoleUser) -> Response:
    return render(request, "configs.html", views=await config_service.list(session))


@router.get("/{key}")
async def config_detail(
    request: Request,
    key: ConfigKeyPath,
    session: SessionDep,
    _user: ConsoleUser,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    view = await config_service.get(session, key)
    return render(
        request,
        "config.html",
        v=view,
        s=view.spec,
        history=await config_service.history(session, key),
        shown=json.dumps(view.value) if view.spec.config_type is ConfigType.JSON else view.value,
        done=done,
    )


@router.post("/{key}")
async def set_config(
    key: ConfigKeyPath,
    session: SessionDep,
    state: StateDep,
    admin: ConsoleAdmin,
    reason: Reason,
    value: Annotated[str, Form(max_length=10_000)] = "",
    reset: Annotated[bool, Form()] = False,
) -> Response:
    """Set the key (``reset``: back to its default); 422 when the value breaks its type or
    rule; recorded in its history with who and why."""
    spec = spec_of(key)
    new = None if reset else form_value(spec.config_type, value)
    await config_service.set(
        session, key, new, box=state.secret_box, actor=actor_of(admin), reason=reason
    )
    return redirect(f"/admin/configs/{key}?done={'reset' if reset else 'set'}")
