"""Agent jobs: write commissions of delivered orders, settle due earnings, pay withdrawals."""

from __future__ import annotations

import functools
import logging

from tronrent.agent.commission import record_commissions, settle_due, sweep_missing
from tronrent.agent.config import AgentConfig
from tronrent.agent.payout import approved_withdrawals, pay_withdrawal
from tronrent.agent.withdrawal import PAY_JOB
from tronrent.delegation.deps import flow_deps
from tronrent.kit.db import transaction_scope
from tronrent.worker import Priority, actor, enqueue_job, get_worker_context

log = logging.getLogger("tronrent.agent")

RECORD_JOB = "agent.record_commissions"
SETTLE_JOB = "agent.settle_earnings"


@functools.cache
def _from_environment() -> AgentConfig:
    return AgentConfig.from_settings()


def agent_config() -> AgentConfig:
    """The config registered in the worker context, else the one from the environment."""
    return get_worker_context().maybe(AgentConfig) or _from_environment()


@actor(RECORD_JOB, priority=Priority.LOW, max_retries=8, max_backoff_s=30)
async def record_order_commissions(*order_ids: str) -> None:
    """The commission of the orders delivered in one batch (idempotent)."""
    ctx = get_worker_context()
    async with transaction_scope(ctx.session_maker) as s:
        await record_commissions(s, [str(o) for o in order_ids], agent_config())


@actor(SETTLE_JOB, priority=Priority.LOW, max_retries=0, period_s=60.0)
async def settle_earnings() -> None:
    """Write the commissions a lost job left out (the backstop of ``record_commissions``),
    settle the earnings past the refund window, hand approved withdrawals to the payout job
    (one a lost job left behind is picked up here)."""
    ctx = get_worker_context()
    async with transaction_scope(ctx.session_maker) as s:
        swept = await sweep_missing(s, agent_config())
    if swept:
        log.warning("wrote %d agent earnings a lost commission job left out", swept)
    async with transaction_scope(ctx.session_maker) as s:
        settled = await settle_due(s, agent_config())
        for wid in await approved_withdrawals(s):
            enqueue_job(PAY_JOB, wid)
    if settled:
        log.info("settled %d agent earnings", settled)


@actor(PAY_JOB, priority=Priority.MEDIUM, max_retries=8, max_backoff_s=30)
async def pay_withdrawal_job(*withdrawal_ids: int) -> None:
    """One withdrawal (approved, or the sweep's) or the payouts the scanner confirmed in one
    block; each in its own transactions."""
    d = flow_deps()
    for wid in withdrawal_ids:
        await pay_withdrawal(d, int(wid))
