"""What ``tronrent serve`` runs per role: the routes each process serves and the components
its lifespan starts (the scale-out test runs them as real processes)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from tronrent.config import Settings
from tronrent.entrypoints.api import build_app, lifespan_hooks
from tronrent.entrypoints.devnet_bootstrap import banner_lifespan
from tronrent.entrypoints.telegram import telegram_lifespan
from tronrent.flash.lifespan import flash_lifespan
from tronrent.kit.crypto import generate_key
from tronrent.kit.heap import frozen_heap_lifespan
from tronrent.merchant.lifespan import merchant_lifespan

CREATE_ORDER = "/api/energy-flash/create-order"
WEBHOOK = "/webhook/telegram/{bot_id}"
PROBES = {"/api/health", "/api/metrics"}


def settings(tmp_path: Path, roles: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        serve_roles=roles,  # type: ignore[arg-type]
        jwt_secret=SecretStr("j" * 48),
        secret_keys=[SecretStr(generate_key())],
    )


def route_paths(routes: Sequence[Any]) -> set[str]:
    """Paths of ``routes`` and of the routers included in them (FastAPI wraps those)."""
    out: set[str] = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        out |= route_paths(included.routes) if included is not None else {route.path}
    return out


def paths(tmp_path: Path, roles: str) -> set[str]:
    return route_paths(build_app(settings(tmp_path, roles)).routes)


def test_api_serves_the_api_and_no_webhook(tmp_path: Path) -> None:
    served = paths(tmp_path, "api")
    assert {CREATE_ORDER, "/api/auth/login", *PROBES} <= served
    assert WEBHOOK not in served


def test_engine_serves_its_probes_only(tmp_path: Path) -> None:
    served = paths(tmp_path, "engine")
    assert served >= PROBES
    # beside the probes only the API's own documentation pages (of these two routes)
    docs = ("/api/docs", "/api/redoc", "/api/openapi", "/api/static-offline-docs")
    assert {p for p in served if p.startswith("/api/") and not p.startswith(docs)} == PROBES
    assert WEBHOOK not in served


def test_bots_serve_the_webhook(tmp_path: Path) -> None:
    served = paths(tmp_path, "bots")
    assert {WEBHOOK, *PROBES} <= served
    assert CREATE_ORDER not in served


def test_all_serves_everything(tmp_path: Path) -> None:
    assert {CREATE_ORDER, WEBHOOK, *PROBES} <= paths(tmp_path, "all")


def test_each_role_starts_its_components(tmp_path: Path) -> None:
    every = lifespan_hooks(settings(tmp_path, "all"))
    assert {flash_lifespan, merchant_lifespan, telegram_lifespan, banner_lifespan} <= set(every)
    engine = lifespan_hooks(settings(tmp_path, "engine"))
    assert flash_lifespan in engine and merchant_lifespan in engine
    assert telegram_lifespan not in engine
    for roles in ("api", "bots"):
        hooks = lifespan_hooks(settings(tmp_path, roles))
        assert flash_lifespan not in hooks and merchant_lifespan not in hooks
        (sender,) = [h for h in hooks if isinstance(h, partial)]
        assert sender.func is flash_lifespan and sender.keywords == {"engine": False}
        assert (telegram_lifespan in hooks) is (roles == "bots")
    for roles in ("all", "api", "engine", "bots"):
        # entered last, once everything of the process exists
        assert lifespan_hooks(settings(tmp_path, roles))[-1] is frozen_heap_lifespan
