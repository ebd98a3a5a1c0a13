"""The pools pages over HTTP on both databases: the list with its figures, one pool with its
history, the admin's edit and status changes through the pool service (recorded with who and
why), the operator's 403, bad input as a 4xx page; staking without the engine is a clear 503
page, and one stake against the devnet."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key, submit
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.flash.api_deps import CHAIN_COMPONENT
from tronrent.kit.time import utcnow
from tronrent.models import EnergyPool
from tronrent.models.energy_pool import PoolStatus
from tronrent.models.pool_change import PoolAction, PoolChange
from tronrent.pool.service import pool as pool_service

from .conftest import Console

TRX = 1_000_000


async def add_pool(console: Console, name: str, **figures: Any) -> EnergyPool:
    """A pool through the pool service (no chain check: no engine here), with the figures a
    sync would have written."""
    state = console.state
    async with state.session_maker() as s, s.begin():
        pool = await pool_service.add(
            s,
            state.secret_box,
            chain=None,
            check=False,
            private_key=os.urandom(32).hex(),
            name=name,
        )
        for key, value in figures.items():
            setattr(pool, key, value)
        pool.last_synced_at = utcnow()
    return pool


async def changes(console: Console, pool: EnergyPool) -> list[PoolChange]:
    async with console.state.session_maker() as s:
        rows = await s.execute(select(PoolChange).where(PoolChange.pool_id == pool.id))
        return list(rows.scalars())


async def test_list_with_figures(console: Console) -> None:
    a = await add_pool(
        console, "alpha", available_energy=750_000, delegated_energy=250_000, total_energy=1_000_000
    )
    await add_pool(console, "beta", available_energy=1_000, delegated_energy=0, total_energy=1_000)
    http = await console.sign_in("operator")
    page = await http.get("/admin/pools")
    assert page.status_code == 200
    assert f'href="/admin/pools/{a.id}"' in page.text and "beta" in page.text
    assert "750,000" in page.text and "25.00 %" in page.text  # alpha's utilisation
    assert "751,000" in page.text  # available in total
    assert "engine is not running" in page.text


async def test_operator_sees_figures_not_actions(console: Console) -> None:
    pool = await add_pool(console, "alpha")
    http = await console.sign_in("operator")
    page = await http.get(f"/admin/pools/{pool.id}")
    assert page.status_code == 200 and "alpha" in page.text
    assert "/edit" not in page.text and "/status" not in page.text and "admin role" in page.text
    path = f"/admin/pools/{pool.id}"
    for tail, form in (
        ("/edit", {"name": "x", "priority": "1", "cost_per_energy_sun": "0"}),
        ("/status", {"status": "disabled"}),
        ("/staking/withdraw", {}),
    ):
        answer = await Console.post(http, path + tail, path, reason="mine", **form)
        assert answer.status_code == 403, tail
    assert await changes(console, pool) == []


async def test_admin_edits_and_sets_status(console: Console) -> None:
    pool = await add_pool(console, "alpha")
    http = await console.sign_in("admin")
    path = f"/admin/pools/{pool.id}"
    page = await http.get(path)
    assert f'action="{path}/edit"' in page.text and "engine is not running" in page.text
    edited = await Console.post(
        http,
        f"{path}/edit",
        path,
        reason="cheaper pool first",
        name="alpha-2",
        priority="7",
        cost_per_energy_sun="25",
        min_delegation_amount="",
        max_delegation_amount="5,000,000",
        daily_limit="",
    )
    assert edited.status_code == 303 and edited.headers["location"] == f"{path}?done=edit"
    for status, stored in (
        ("maintenance", PoolStatus.MAINTENANCE),
        ("disabled", PoolStatus.INACTIVE),
        ("active", PoolStatus.ACTIVE),
    ):
        answer = await Console.post(
            http, f"{path}/status", path, reason=f"to {status}", status=status
        )
        assert answer.status_code == 303, answer.text
        async with console.state.session_maker() as s:
            assert (await s.get(EnergyPool, pool.id)).status is stored  # type: ignore[union-attr]
    rows = await changes(console, pool)
    assert {r.action for r in rows} == {PoolAction.EDIT}
    assert sorted(r.reason for r in rows) == sorted(
        ["cheaper pool first", "to maintenance", "to disabled", "to active"]
    )
    first = next(r for r in rows if r.reason == "cheaper pool first")
    assert first.after == {
        "name": "alpha-2",
        "priority": 7,
        "cost_per_energy_sun": 25,
        "max_delegation_amount": 5_000_000,
    }
    assert first.actor.startswith("admin:admin_")
    shown = (await http.get(path)).text
    assert "alpha-2" in shown and "to maintenance" in shown and "cheaper pool first" in shown


async def test_staking_without_the_engine_is_a_clear_503(console: Console) -> None:
    pool = await add_pool(console, "alpha")
    http = await console.sign_in("admin")
    path = f"/admin/pools/{pool.id}"
    answer = await Console.post(
        http, f"{path}/staking/stake", path, reason="more energy", amount_trx="10"
    )
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("text/html")
    assert "not running" in answer.text
    assert await changes(console, pool) == []


async def test_bad_input_is_a_page(console: Console) -> None:
    pool = await add_pool(console, "alpha")
    http = await console.sign_in("admin")
    path = f"/admin/pools/{pool.id}"
    base = {"name": "alpha", "priority": "1", "cost_per_energy_sun": "0", "reason": "why not"}
    for form, status in (
        ({"priority": "abc"}, 422),
        ({"priority": "0"}, 422),
        ({"cost_per_energy_sun": "-1"}, 422),
        ({"name": ""}, 422),
        ({"min_delegation_amount": "900", "max_delegation_amount": "100"}, 422),
        ({"reason": "x"}, 422),
    ):
        answer = await Console.post(http, f"{path}/edit", path, **{**base, **form})
        assert answer.status_code == status, form
        assert answer.headers["content-type"].startswith("text/html")
    bad_status = await Console.post(http, f"{path}/status", path, reason="why", status="nope")
    assert bad_status.status_code == 422
    assert (await http.get("/admin/pools/not-a-uuid")).status_code == 422
    assert (await http.get(f"/admin/pools/{os.urandom(16).hex()}")).status_code == 404
    assert await changes(console, pool) == []


@pytest.fixture
async def devnet() -> AsyncIterator[DevnetServer]:
    async with DevnetServer(port=0, block_interval_ms=100) as server:
        yield server


@pytest.fixture
async def gateway(devnet: DevnetServer) -> AsyncIterator[TronGateway]:
    async with TronGateway([devnet.url], timeout_s=5, backoff_base_s=0.02) as gw:
        yield gw


async def test_stake_on_the_devnet(
    console: Console, devnet: DevnetServer, gateway: TronGateway
) -> None:
    key = funded_key(devnet.chain, 600 * TRX)
    submit(
        devnet.chain,
        key,
        "FreezeBalanceV2Contract",
        {"frozen_balance": 500 * TRX, "resource": "ENERGY"},
    )
    devnet.node.produce()
    state = console.state
    state.components[CHAIN_COMPONENT] = gateway
    try:
        async with state.session_maker() as s, s.begin():
            pool = await pool_service.add(s, state.secret_box, chain=gateway, private_key=key.hex())
        http = await console.sign_in("admin")
        path = f"/admin/pools/{pool.id}"
        page = (await http.get(path)).text
        assert "Staked for energy" in page and "500 TRX" in page
        wrong = await Console.post(http, f"{path}/staking/melt", path, reason="why")
        assert wrong.status_code == 422
        too_precise = await Console.post(
            http, f"{path}/staking/stake", path, reason="more", amount_trx="1.0000001"
        )
        assert too_precise.status_code == 422
        refused = await Console.post(http, f"{path}/staking/withdraw", path, reason="nothing")
        assert refused.status_code == 422 and "STAKING_REFUSED" in refused.text
        answer = await Console.post(
            http, f"{path}/staking/stake", path, reason="more energy", amount_trx="40.5"
        )
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == f"{path}?done=staking-confirmed"
        shown = (await http.get(answer.headers["location"])).text
        assert "540.5 TRX" in shown and "more energy" in shown
        [change] = [c for c in await changes(console, pool) if c.action is PoolAction.STAKE]
        assert change.reason == "more energy" and change.after["amountSun"] == 40_500_000
        assert re.fullmatch(r"[0-9a-f]{64}", change.after["txid"])
    finally:
        state.components.pop(CHAIN_COMPONENT, None)
