# ruff: noqa: F811  (the api fixture is imported from test_endpoints)
"""Seed 001 section 3.2 to the letter, on the devnet and both databases: allocate (priority,
costs, completion time), balance (delegated energy in energy), payments/monitor
(timeoutMinutes, monitorId, confirmedAmount, transactionHash), delegate (transactionId and
blockNumber once known); energy_transactions rows for every delegation and undelegation."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.flash.api_deps import CHAIN_COMPONENT
from tronrent.kit.time import utcnow
from tronrent.models.energy_delegation import EnergyDelegation
from tronrent.models.energy_transaction import (
    EnergyTransaction,
    EnergyTransactionStatus,
    EnergyTransactionType,
)
from tronrent.models.order import OrderStatus
from tronrent.pool.energy import EnergyRatio

from .conftest import TRX, FlashFactory, add_pool, send_trx
from .test_endpoints import Api, api  # noqa: F401  (the fixture)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def block_of(devnet: DevnetServer) -> dict[str, int]:
    """txid -> the number of the block the devnet put it in."""
    return {tx.txid.hex(): b.number for b in devnet.chain.blocks for tx in b.txs}


async def poll(api: Api, url: str, done: Any, wait_s: float = 20) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        r = await api.http.get(url, headers=api.admin)
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()["data"]
        if done(data):
            return data
        assert loop.time() < deadline, data
        await asyncio.sleep(0.1)


class TestAllocate:
    async def _second_pool(self, api: Api, gateway: TronGateway) -> str:
        assert api.state is not None
        _, pool = await add_pool(
            api.state.session_maker, api.devnet, gateway, api.state.secret_box, name="b"
        )
        return str(pool.id)

    async def _edit(self, api: Api, pool_id: str, **changes: Any) -> None:
        r = await api.http.patch(
            f"/api/energy-pools/{pool_id}",
            headers=api.admin,
            json={"reason": "test", **changes},
        )
        assert r.status_code == 200, r.text

    async def test_priority_costs_and_completion_time(self, api: Api, gateway: TronGateway) -> None:
        cheap = str(api.pool.id)
        trusted = await self._second_pool(api, gateway)
        await self._edit(api, cheap, costPerEnergySun=2, priority=1)
        await self._edit(api, trusted, costPerEnergySun=9, priority=100)
        chosen = {}
        for priority in ("low", "normal", "high"):
            sent = utcnow()
            r = await api.http.post(
                "/api/energy-pools/allocate",
                headers=api.admin,
                json={
                    "requiredEnergy": 65_000,
                    "recipientAddress": api.pool.tron_address,
                    "priority": priority,
                },
            )
            assert r.status_code == 200, r.text
            data = r.json()["data"]
            assert data["status"] == "allocated" and data["priority"] == priority
            [part] = data["allocatedPools"]
            cost = 2 if part["poolId"] == cheap else 9
            assert part["allocatedEnergy"] == 65_000
            assert part["estimatedCost"] == 65_000 * cost == data["totalCost"]
            # one block interval (100 ms here) after the server's clock read during the call
            done = at(data["estimatedCompletionTime"])
            assert sent + timedelta(milliseconds=99) <= done
            assert done <= utcnow() + timedelta(milliseconds=101)
            chosen[priority] = part["poolId"]
        assert chosen == {"low": cheap, "normal": cheap, "high": trusted}

    async def test_incomplete_plan_has_no_cost_nor_time(self, api: Api) -> None:
        r = await api.http.post(
            "/api/energy-pools/allocate",
            headers=api.admin,
            json={"requiredEnergy": 10**12, "recipientAddress": api.pool.tron_address},
        )
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["status"] == "insufficient_capacity" and data["priority"] == "normal"
        assert data["allocatedPools"] == [] and data["totalCost"] == 0
        assert data["estimatedCompletionTime"] is None and data["shortageEnergy"] > 0

    @pytest.mark.parametrize("priority", ["urgent", "", 1, None, "HIGH"])
    async def test_bad_priority_is_422(self, api: Api, priority: Any) -> None:
        r = await api.http.post(
            "/api/energy-pools/allocate",
            headers=api.admin,
            json={
                "requiredEnergy": 65_000,
                "recipientAddress": api.pool.tron_address,
                "priority": priority,
            },
        )
        assert r.status_code == 422, r.text
        assert r.json()["success"] is False


class TestDelegateAndBalance:
    async def test_transaction_and_block_once_known(self, api: Api) -> None:
        target = funded_key(api.devnet.chain, TRX).address_base58
        r = await api.http.get(f"/api/tron/balance/{api.pool.tron_address}")
        before = r.json()["data"]
        assert before["delegatedEnergy"] == 0 and before["delegatedEnergySun"] == 0
        r = await api.http.post(
            "/api/tron/delegate",
            headers=api.admin,
            json={"toAddress": target, "energyAmount": 65_000},
        )
        assert r.status_code == 202, r.text
        accepted = r.json()["data"]
        assert accepted["status"] == "pending" and accepted["energyDelegated"] == 65_000
        assert accepted["transactionId"] is None and accepted["blockNumber"] is None
        oid = accepted["orderId"]
        data = await poll(api, f"/api/tron/delegate/{oid}", lambda d: d["status"] == "confirmed")
        assert len(data["transactionId"]) == 64 and data["blockNumber"] >= 1
        assert data["energyDelegated"] >= 65_000 and data["orderStatus"] == "active"
        [tx] = data["transactions"]
        assert tx["transactionId"] == data["transactionId"] and tx["status"] == "confirmed"
        assert tx["fromAddress"] == api.pool.tron_address and tx["toAddress"] == target
        assert tx["blockNumber"] == data["blockNumber"] and tx["expiresAt"].endswith("Z")
        assert block_of(api.devnet)[data["transactionId"]] == data["blockNumber"]
        # the seed's BalanceResponse: delegated energy in energy (the stake in sun beside it)
        r = await api.http.get(f"/api/tron/balance/{api.pool.tron_address}")
        pool = r.json()["data"]
        assert {"trxBalance", "energy", "bandwidth", "delegatedEnergy"} <= set(pool)
        assert pool["delegatedEnergySun"] > 0
        assert 60_000 <= pool["delegatedEnergy"] <= tx["energyAmount"]  # the stake's energy
        assert api.state is not None
        res = await api.state.components[CHAIN_COMPONENT].get_account_resource(target)
        ratio = EnergyRatio(res.total_energy_limit, res.total_energy_weight)
        assert pool["delegatedEnergy"] == ratio.energy_for_stake_sun(pool["delegatedEnergySun"])
        r = await api.http.get(f"/api/tron/balance/{target}")
        customer = r.json()["data"]
        assert customer["acquiredEnergy"] == pool["delegatedEnergy"]
        assert customer["energy"] == customer["acquiredEnergy"]

    async def test_status_of_unknown_and_malformed(self, api: Api) -> None:
        unknown = "/api/tron/delegate/FLASH_1704067200000_abc123def"
        r = await api.http.get(unknown, headers=api.admin)
        assert r.status_code == 404 and r.json()["error"]["code"] == "ORDER_NOT_FOUND"
        r = await api.http.get(f"/api/tron/delegate/{'x' * 101}", headers=api.admin)
        assert r.status_code == 422
        r = await api.http.get(unknown)
        assert r.status_code == 401


class TestPaymentsMonitor:
    async def _order(self, api: Api) -> dict[str, Any]:
        target = funded_key(api.devnet.chain, TRX).address_base58
        r = await api.http.post(
            "/api/energy-flash/create-order", json={"recipientAddress": target, "chatId": 0}
        )
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()["data"]
        # the order's own watch (the payment window) is replaced by the seed's monitor
        r = await api.http.post(
            "/api/payment-monitoring/stop", headers=api.admin, json={"orderId": data["orderId"]}
        )
        assert r.status_code == 200
        return data

    async def test_seed_payload_and_outcome(self, api: Api) -> None:
        order = await self._order(api)
        r = await api.http.post(
            "/api/payments/monitor",
            headers=api.admin,
            json={
                "orderId": order["orderId"],
                "paymentAddress": order["paymentAddress"],
                "expectedAmount": 1_500_000,
                "timeoutMinutes": 5,
            },
        )
        assert r.status_code == 200, r.text
        watch = r.json()["data"]
        assert watch["status"] == "monitoring" and watch["monitorId"] == str(watch["id"])
        assert watch["confirmedAmount"] is None and watch["transactionHash"] is None
        window = at(watch["timeoutAt"]) - at(watch["monitoringStartedAt"])
        assert window == timedelta(minutes=5)
        again = await api.http.post(
            "/api/payments/monitor",
            headers=api.admin,
            json={"orderId": order["orderId"], "timeoutMinutes": 7},
        )
        assert again.json()["data"]["monitorId"] == watch["monitorId"]  # idempotent per order
        payer = funded_key(api.devnet.chain, 100 * TRX)
        amount = round(order["exampleAmount"] * TRX)
        txid = send_trx(api.devnet, payer, order["paymentAddress"], amount)
        url = f"/api/payments/monitor/{watch['monitorId']}"
        done = await poll(api, url, lambda d: d["status"] != "monitoring")
        assert done["status"] == "completed"
        assert done["confirmedAmount"] == amount and done["transactionHash"] == txid

    @pytest.mark.parametrize(
        "extra",
        [
            {"timeoutMinutes": 0},
            {"timeoutMinutes": -1},
            {"timeoutMinutes": 1441},
            {"timeoutMinutes": 1.5},
            {"timeoutMinutes": "abc"},
            {"timeoutMinutes": 10**30},
            {"timeoutMinutes": 5, "timeout": 60_000},
            {"expectedAmount": 0},
            {"paymentAddress": "not-an-address"},
        ],
    )
    async def test_bad_input_is_422(self, api: Api, extra: dict[str, Any]) -> None:
        body = {"orderId": "FLASH_1704067200000_abc123def", **extra}
        r = await api.http.post("/api/payments/monitor", headers=api.admin, json=body)
        assert r.status_code == 422, r.text
        assert r.json()["success"] is False and r.json()["error"]["message"]

    async def test_unknown_monitor(self, api: Api) -> None:
        r = await api.http.get("/api/payments/monitor/999999", headers=api.admin)
        assert r.status_code == 404 and r.json()["error"]["code"] == "MONITOR_NOT_FOUND"
        for bad in ("abc", "0", str(2**40)):
            r = await api.http.get(f"/api/payments/monitor/{bad}", headers=api.admin)
            assert r.status_code == 422, (bad, r.text)


async def test_energy_transactions_of_a_delivery_and_its_reclaim(flash: FlashFactory) -> None:
    """A flash order delivered and reclaimed leaves one confirmed delegate row and one
    confirmed undelegate row, matching its delegation and the chain."""
    f = await flash(rental_s=1.0)
    customer = funded_key(f.devnet.chain, 100 * TRX)
    send_trx(f.devnet, customer, f.address, 3 * TRX)
    order = await f.wait_order(
        lambda o: o.status is OrderStatus.COMPLETED, sender=customer.address_base58, wait_s=30
    )
    async with f.session_maker() as s:
        [d] = (
            (await s.execute(select(EnergyDelegation).where(EnergyDelegation.order_id == order.id)))
            .scalars()
            .all()
        )
        rows = (
            (
                await s.execute(
                    select(EnergyTransaction)
                    .where(EnergyTransaction.order_id == order.id)
                    .order_by(EnergyTransaction.created_at)
                )
            )
            .scalars()
            .all()
        )
    assert [(r.transaction_type, r.status) for r in rows] == [
        (EnergyTransactionType.DELEGATE, EnergyTransactionStatus.CONFIRMED),
        (EnergyTransactionType.UNDELEGATE, EnergyTransactionStatus.CONFIRMED),
    ]
    delegate, undelegate = rows
    assert delegate.tx_hash == d.tx_hash and undelegate.tx_hash == d.undelegate_tx_hash
    blocks = block_of(f.devnet)
    for r in rows:
        assert r.pool_id == d.pool_account_id and r.from_address == f.address
        assert r.to_address == customer.address_base58 == d.recipient_address
        assert r.energy_amount == d.energy_amount and r.duration_hours == d.duration_hours
        assert r.block_number == blocks[r.tx_hash] and r.error_message is None
        assert r.expires_at == d.expires_at
    assert delegate.block_number is not None and undelegate.block_number is not None
    assert delegate.block_number < undelegate.block_number
