"""The merchant routes that ask the node (a quote's receiver check, the USDT transfer
estimate, an order's receiver check) do not keep SQLite's write lock while it answers - though
the signed request's nonce (in the database without Redis) and the key's last use were already
written: those writes stand on their own (`kit.db.STANDALONE`) and are committed at the wait.
Another writer that gives up after 0.3 s must get in while the node hangs; PostgreSQL runs the
same tests."""

from __future__ import annotations

from typing import Any

from cashews import Cache
from sqlalchemy import func, select

from flash.test_endpoints import Api
from merchant.conftest import new_merchant
from pool.test_node_waits import HangingNode, Maker, another_writer_gets_in, while_the_node_hangs
from pool.test_node_waits import impatient as impatient
from trondevnet.testing import new_key
from tronrent.flash.api_deps import CHAIN_COMPONENT, RECIPIENT_CHECK_COMPONENT, RUNTIME_COMPONENT
from tronrent.models.merchant import MerchantNonce
from tronrent.order.recipient import RecipientCheck


def hang_the_node(api: Api) -> HangingNode:
    """The app's chain and recipient check, answering only when the test lets them."""
    assert api.state is not None
    components = api.state.components
    node = HangingNode(components[CHAIN_COMPONENT])
    cache = Cache()
    cache.setup("mem://")
    components[CHAIN_COMPONENT] = node
    components[RECIPIENT_CHECK_COMPONENT] = RecipientCheck(node, cache)  # type: ignore[arg-type]
    return node


async def nonces(api: Api) -> int:
    assert api.state is not None
    async with api.state.session_maker() as s:
        return int(await s.scalar(select(func.count()).select_from(MerchantNonce)) or 0)


async def test_quote(api: Api, impatient: Maker) -> None:
    m = await new_merchant(api)
    node = hang_the_node(api)
    body = {"receiver": new_key().address_base58, "energy": 65_000, "durationHours": 1}
    r = await while_the_node_hangs(
        node,
        m.call("POST", "/api/v1/quote", body),
        lambda: another_writer_gets_in(impatient, api.pool.id),
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["recipientActivated"] is False
    assert await nonces(api) == 1  # the request's nonce (no Redis here), kept


async def test_usdt_transfer_estimate(api: Api, impatient: Maker) -> None:
    assert api.state is not None
    assert api.state.components[RUNTIME_COMPONENT].usdt_contract is not None
    m = await new_merchant(api)
    node = hang_the_node(api)
    sender, receiver = new_key().address_base58, new_key().address_base58
    r = await while_the_node_hangs(
        node,
        m.call("GET", f"/api/v1/estimate/usdt-transfer?from={sender}&to={receiver}"),
        lambda: another_writer_gets_in(impatient, api.pool.id),
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["energy"] == 130_285


async def test_order_paid_by_transfer(api: Api, impatient: Maker) -> None:
    """An order paid by transfer checks its receiver on chain (the activation fee)."""
    m = await new_merchant(api, trx_sun=0)
    node = hang_the_node(api)
    body: dict[str, Any] = {
        "clientOrderId": "wait-1",
        "receiver": new_key().address_base58,
        "energy": 65_000,
        "durationHours": 1,
        "paymentMethod": "transfer",
    }
    r = await while_the_node_hangs(
        node,
        m.call("POST", "/api/v1/orders", body),
        lambda: another_writer_gets_in(impatient, api.pool.id),
    )
    assert r.status_code == 201, r.text
    assert r.json()["data"]["status"] == "pending"
