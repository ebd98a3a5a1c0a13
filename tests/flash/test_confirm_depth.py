"""`POST /api/energy-flash/confirm-payment` with ``CONFIRMATIONS`` set: a transaction with
fewer blocks on top of it is answered like one not in a block yet (404 ``TX_NOT_FOUND``, try
again; ``details`` say how deep it is), the order stays pending; once deep enough it pays the
order, recorded with its block's id (payment.confirm)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.kit.db import create_engine, create_session_maker
from tronrent.models.payment import Payment

from .conftest import TRX, send_trx
from .test_endpoints import Api, open_api

CONFIRMATIONS = 19  # solidified; 1.9 s of the devnet's 100 ms blocks


@pytest.fixture
async def deep_api(
    devnet: DevnetServer, gateway: TronGateway, database_url: str, tmp_path: Any
) -> AsyncIterator[Api]:
    async with open_api(
        devnet, gateway, database_url, tmp_path, confirmations=CONFIRMATIONS
    ) as opened:
        yield opened


async def test_too_shallow_then_accepted_with_its_block_id(
    deep_api: Api, gateway: TronGateway, database_url: str
) -> None:
    api = deep_api
    customer = funded_key(api.devnet.chain, 100 * TRX)
    r = await api.http.post(
        "/api/energy-flash/create-order",
        json={"recipientAddress": customer.address_base58, "chatId": 0},
    )
    oid = r.json()["data"]["orderId"]
    owner = {"X-Order-Token": r.json()["data"]["orderToken"]}
    txid = send_trx(api.devnet, customer, api.pool.tron_address, 3 * TRX)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (info := await gateway.get_transaction_info(txid)) is None:
        assert loop.time() < deadline
        await asyncio.sleep(0.02)
    body = {"orderId": oid, "txHash": txid}
    r = await api.http.post("/api/energy-flash/confirm-payment", json=body, headers=owner)
    assert r.status_code == 404, r.text
    error = r.json()["error"]
    assert error["code"] == "TX_NOT_FOUND" and "try again" in error["message"]
    assert error["details"]["required"] == CONFIRMATIONS
    assert error["details"]["confirmations"] < CONFIRMATIONS
    r = await api.http.get(f"/api/energy-flash/order-status/{oid}", headers=owner)
    assert r.json()["data"]["status"] == "pending"  # nothing credited yet
    while api.devnet.chain.head.number - info.block_number < CONFIRMATIONS:
        assert loop.time() < deadline
        await asyncio.sleep(0.05)
    r = await api.http.post("/api/energy-flash/confirm-payment", json=body, headers=owner)
    assert r.status_code == 200, r.text  # by this call, or the scanner got there first
    await api.wait_status(oid, "active")
    engine = create_engine(database_url)
    try:
        async with create_session_maker(engine)() as s:
            p = (await s.execute(select(Payment).where(Payment.tx_hash == txid))).scalar_one()
    finally:
        await engine.dispose()
    block = api.devnet.chain.blocks[info.block_number]
    assert (p.block_number, p.block_id, p.order_id) == (
        info.block_number,
        block.block_id.hex(),
        oid,
    )
