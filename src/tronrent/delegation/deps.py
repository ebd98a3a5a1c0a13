"""Build the flows' dependencies from the worker context (installed at worker boot)."""

from __future__ import annotations

from tronrent.adapters.tron.port import ChainPort
from tronrent.delegation.flows import FlowDeps
from tronrent.kit.crypto import SecretBox
from tronrent.order.runtime import FlashRuntime
from tronrent.worker import WorkerContext, get_worker_context


def install_flash_resources(
    ctx: WorkerContext, *, chain: ChainPort, box: SecretBox, rt: FlashRuntime
) -> None:
    """Register what the flash jobs need in a worker context."""
    ctx.provide(ChainPort, chain)  # type: ignore[type-abstract]
    ctx.provide(SecretBox, box)
    ctx.provide(FlashRuntime, rt)


def flow_deps() -> FlowDeps:
    ctx = get_worker_context()
    return FlowDeps(
        session_maker=ctx.session_maker,
        chain=ctx.get(ChainPort),  # type: ignore[type-abstract]
        box=ctx.get(SecretBox),
        rt=ctx.get(FlashRuntime),
    )
