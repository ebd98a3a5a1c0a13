"""The merchant API end to end on the devnet (real engine, tronpy gateway, SQLite and
PostgreSQL): keys, every 401, the per-key limit, idempotent orders paid from the balance and
delegated in the next block, the read routes."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import quote

from sqlalchemy import select

from flash.test_endpoints import Api, open_api
from trondevnet.testing import funded_key
from tronproto.keys import PrivateKey
from tronrent.models.balance_ledger import BalanceLedgerEntry, LedgerCause
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.merchant import MerchantApiKey, MerchantOrder

from .conftest import TRX, new_merchant


def error(r: Any) -> str:
    body = r.json()
    assert body["success"] is False, body
    return str(body["error"]["code"])


class TestKeys:
    async def test_secret_shown_once_and_stored_encrypted(self, api: Api) -> None:
        m = await new_merchant(api, ipAllowlist=["127.0.0.1", "10.0.0.0/8"])
        r = await api.http.get(f"/api/admin/merchant/keys?userId={m.user_id}", headers=api.admin)
        [listed] = r.json()["data"]
        assert listed["keyId"] == m.key_id and "secret" not in listed
        assert listed["ipAllowlist"] == ["127.0.0.1/32", "10.0.0.0/8"]
        assert listed["createdBy"].startswith("admin:")
        assert m.secret not in r.text
        assert api.state is not None
        async with api.state.session_maker() as s:
            row = (
                await s.execute(select(MerchantApiKey).where(MerchantApiKey.key_id == m.key_id))
            ).scalar_one()
        assert m.secret not in row.secret_encrypted
        assert api.state.secret_box.decrypt(row.secret_encrypted).reveal() == m.secret
        # the key works, and its use is recorded
        r = await m.call("GET", "/api/v1/balance")
        assert r.status_code == 200, r.text
        assert r.json()["data"] == {"trxSun": 100 * TRX, "usdtUnits": 0}
        r = await api.http.get(f"/api/admin/merchant/keys?userId={m.user_id}", headers=api.admin)
        assert r.json()["data"][0]["lastUsedAt"] is not None

    async def test_admin_routes_need_admin_and_reason(self, api: Api) -> None:
        r = await api.http.post("/api/admin/merchant/keys", json={"userId": "x", "reason": "r"})
        assert r.status_code == 401
        m = await new_merchant(api)
        r = await api.http.post(
            f"/api/admin/merchant/keys/{m.key_id}/revoke", json={"reason": "  "}, headers=api.admin
        )
        assert r.status_code == 422 and error(r) == "REASON_REQUIRED"
        r = await api.http.post(
            "/api/admin/merchant/keys",
            json={"userId": m.user_id, "reason": "x", "ipAllowlist": ["300.1.1.1"]},
            headers=api.admin,
        )
        assert r.status_code == 422 and error(r) == "INVALID_IP_ALLOWLIST"
        r = await api.http.post(
            "/api/admin/merchant/keys",
            json={"userId": m.user_id, "reason": "x", "callbackUrl": "gopher://x"},
            headers=api.admin,
        )
        assert r.status_code == 422 and error(r) == "INVALID_CALLBACK_URL"


class TestSignedRequests:
    async def test_every_refusal_is_a_401_with_its_code(self, api: Api) -> None:
        m = await new_merchant(api)
        path = "/api/v1/balance"

        async def get(headers: dict[str, str]) -> str:
            r = await api.http.get(path, headers=headers)
            assert r.status_code == 401, r.text
            return error(r)

        good = m.headers("GET", path, b"")
        missing = {k: v for k, v in good.items() if k != "X-Signature"}
        assert await get(missing) == "SIGNATURE_HEADERS_MISSING"
        assert await get({}) == "SIGNATURE_HEADERS_MISSING"
        assert await get({**good, "X-Nonce": "short"}) == "SIGNATURE_HEADERS_MISSING"
        assert await get({**good, "X-Api-Key": "mk_" + "0" * 24}) == "API_KEY_UNKNOWN"
        assert await get({**good, "X-Api-Key": "nonsense"}) == "API_KEY_UNKNOWN"
        bad = m.headers("GET", path, b"", secret="mks_wrong")
        assert await get(bad) == "SIGNATURE_INVALID"
        tampered = m.headers("GET", "/api/v1/ledger", b"")  # signed for another path
        assert await get(tampered) == "SIGNATURE_INVALID"
        stale = m.headers("GET", path, b"", ts=int(time.time()) - 3600)
        assert await get(stale) == "REQUEST_STALE"
        future = m.headers("GET", path, b"", ts=int(time.time()) + 3600)
        assert await get(future) == "REQUEST_STALE"
        r = await api.http.get(path, headers=good)
        assert r.status_code == 200
        assert await get(good) == "REQUEST_REPLAYED"
        # a body changed in flight
        body = json.dumps({"currency": "TRX", "amountUnits": 5 * TRX}).encode()
        headers = m.headers("POST", "/api/v1/top-ups", body)
        r = await api.http.post(
            "/api/v1/top-ups", content=body.replace(b"5", b"9"), headers=headers
        )
        assert r.status_code == 401 and error(r) == "SIGNATURE_INVALID"
        # wrong IP: the test client is 127.0.0.1
        walled = await new_merchant(api, ipAllowlist=["10.0.0.0/8"])
        assert await get(walled.headers("GET", path, b"")) == "IP_NOT_ALLOWED"
        # revoked
        r = await api.http.post(
            f"/api/admin/merchant/keys/{m.key_id}/revoke",
            json={"reason": "leaked"},
            headers=api.admin,
        )
        assert r.status_code == 200 and r.json()["data"]["revokedBy"].startswith("admin:")
        assert await get(m.headers("GET", path, b"")) == "API_KEY_REVOKED"

    async def test_non_ascii_headers_are_401s_not_500s(self, api: Api) -> None:
        """Header bytes outside ASCII (read as latin-1): an ``X-Signature`` of ``é`` made
        ``hmac.compare_digest`` raise ``TypeError``, an ``X-Timestamp`` of ``²`` passed
        ``str.isdigit`` and made ``int`` raise - both were 500s."""
        m = await new_merchant(api)
        path = "/api/v1/balance"

        async def get(**changed: bytes) -> str:
            headers: dict[str, str | bytes] = {**m.headers("GET", path, b""), **changed}
            r = await api.http.get(path, headers=headers)
            assert r.status_code == 401, r.text
            return error(r)

        assert await get(**{"X-Signature": "\xe9".encode("latin-1") * 64}) == "SIGNATURE_INVALID"
        assert await get(**{"X-Signature": b"\xe9"}) == "SIGNATURE_INVALID"
        assert await get(**{"X-Timestamp": b"\xb2"}) == "SIGNATURE_HEADERS_MISSING"
        stamp = str(int(time.time())).encode()
        assert await get(**{"X-Timestamp": stamp + b"\xb9"}) == "SIGNATURE_HEADERS_MISSING"
        # hex in either case is still a signature
        good = m.headers("GET", path, b"")
        r = await api.http.get(path, headers={**good, "X-Signature": good["X-Signature"].upper()})
        assert r.status_code == 200, r.text

    async def test_per_key_rate_limit(
        self, devnet: Any, gateway: Any, database_url: str, tmp_path: Any
    ) -> None:
        async with open_api(
            devnet, gateway, database_url, tmp_path, merchant_rate_limit_per_minute=3
        ) as api:
            m = await new_merchant(api)
            other = await new_merchant(api)
            for _ in range(3):
                assert (await m.call("GET", "/api/v1/balance")).status_code == 200
            r = await m.call("GET", "/api/v1/balance")
            assert r.status_code == 429 and error(r) == "RATE_LIMITED"
            assert int(r.headers["Retry-After"]) >= 1
            # per key: another key is not held back
            assert (await other.call("GET", "/api/v1/balance")).status_code == 200


def order_body(client_id: str, receiver: str, **kw: Any) -> dict[str, Any]:
    return {
        "clientOrderId": client_id,
        "receiver": receiver,
        "energy": 65_000,
        "durationHours": 1,
        **kw,
    }


class TestOrders:
    async def test_idempotent_by_client_order_id(self, api: Api) -> None:
        m = await new_merchant(api, trx_sun=20 * TRX)
        receiver = funded_key(api.devnet.chain, TRX).address_base58
        first = await m.call("POST", "/api/v1/orders", order_body("c-1", receiver))
        assert first.status_code == 201, first.text
        data = first.json()["data"]
        assert data["created"] is True and data["clientOrderId"] == "c-1"
        assert data["paymentMethod"] == "balance" and data["priceUnits"] == 2 * TRX
        again = await m.call("POST", "/api/v1/orders", order_body("c-1", receiver))
        assert again.status_code == 201
        assert again.json()["data"]["orderId"] == data["orderId"]
        assert again.json()["data"]["created"] is False
        other = await m.call("POST", "/api/v1/orders", order_body("c-1", receiver, energy=130_000))
        assert other.status_code == 409 and error(other) == "CLIENT_ORDER_ID_REUSED"
        assert api.state is not None
        async with api.state.session_maker() as s:
            debits = (
                (
                    await s.execute(
                        select(BalanceLedgerEntry).where(
                            BalanceLedgerEntry.cause_type == LedgerCause.ORDER_PAYMENT
                        )
                    )
                )
                .scalars()
                .all()
            )
            assert [(d.cause_id, d.delta_units) for d in debits] == [(data["orderId"], -2 * TRX)]
            assert len((await s.execute(select(MerchantOrder))).scalars().all()) == 1
        r = await m.call("GET", "/api/v1/orders/c-1")  # by client order id too
        assert r.json()["data"]["orderId"] == data["orderId"]
        r = await m.call("GET", "/api/v1/orders?limit=10")
        assert [o["orderId"] for o in r.json()["data"]["items"]] == [data["orderId"]]
        # someone else's key does not see it
        stranger = await new_merchant(api)
        r = await stranger.call("GET", f"/api/v1/orders/{data['orderId']}")
        assert r.status_code == 404

    async def test_path_signed_as_sent(self, api: Api) -> None:
        """The signature covers the path exactly as sent, percent-encoding and all: a client
        order id ``50%off`` is fetched as ``/api/v1/orders/50%25off``, signed over that
        (it was checked against the decoded ``/api/v1/orders/50%off``: a 401)."""
        m = await new_merchant(api, trx_sun=20 * TRX)
        receiver = funded_key(api.devnet.chain, TRX).address_base58
        r = await m.call("POST", "/api/v1/orders", order_body("50%off", receiver))
        assert r.status_code == 201, r.text
        order_id = r.json()["data"]["orderId"]
        sent = f"/api/v1/orders/{quote('50%off', safe='')}"
        assert sent == "/api/v1/orders/50%25off"
        r = await m.call("GET", sent)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["orderId"] == order_id
        assert r.json()["data"]["clientOrderId"] == "50%off"
        # signed over the decoded path: not what was sent
        r = await api.http.get(sent, headers=m.headers("GET", "/api/v1/orders/50%off", b""))
        assert r.status_code == 401 and error(r) == "SIGNATURE_INVALID"
        # the query string as sent, too
        query = f"/api/v1/orders?clientOrderId={quote('50%off', safe='')}&limit=5"
        r = await m.call("GET", query)
        assert r.status_code == 200, r.text
        assert [o["orderId"] for o in r.json()["data"]["items"]] == [order_id]

    async def test_callback_host_not_a_dns_name_refused(self, api: Api) -> None:
        """Hosts the resolver cannot encode (``a..b``, a 64-character label) are refused when
        set - by an order, a new key or a key's settings - as any bad callback URL is: they
        used to pass here and make every delivery round raise."""
        m = await new_merchant(api, trx_sun=20 * TRX)
        receiver = funded_key(api.devnet.chain, TRX).address_base58
        long_label = f"http://{'a' * 64}.example/cb"
        for url in ("http://a..b/cb", long_label):
            body = order_body("bad-cb", receiver, callbackUrl=url)
            r = await m.call("POST", "/api/v1/orders", body)
            assert r.status_code == 422 and error(r) == "INVALID_CALLBACK_URL", r.text
            r = await api.http.post(
                "/api/admin/merchant/keys",
                json={"userId": m.user_id, "reason": "x", "callbackUrl": url},
                headers=api.admin,
            )
            assert r.status_code == 422 and error(r) == "INVALID_CALLBACK_URL"
            r = await api.http.patch(
                f"/api/admin/merchant/keys/{m.key_id}",
                json={"callbackUrl": url, "reason": "x"},
                headers=api.admin,
            )
            assert r.status_code == 422 and error(r) == "INVALID_CALLBACK_URL"
        r = await m.call("GET", "/api/v1/balance")
        assert r.json()["data"]["trxSun"] == 20 * TRX  # nothing charged
        r = await m.call("POST", "/api/v1/orders", order_body("good-cb", receiver))
        assert r.status_code == 201, r.text

    async def test_short_balance_creates_nothing(self, api: Api) -> None:
        m = await new_merchant(api, trx_sun=TRX)
        receiver = funded_key(api.devnet.chain, TRX).address_base58
        r = await m.call("POST", "/api/v1/orders", order_body("c-poor", receiver))
        assert r.status_code == 409 and error(r) == "INSUFFICIENT_BALANCE"
        r = await m.call("GET", "/api/v1/orders")
        assert r.json()["data"]["items"] == []
        # the client may retry the same id once topped up
        r = await m.call("POST", "/api/v1/orders", order_body("c-poor", receiver, energy=1))
        assert r.status_code == 422 and error(r) == "NO_MATCHING_PACKAGE"

    async def test_delegated_in_the_next_block(self, api: Api) -> None:
        m = await new_merchant(api, trx_sun=20 * TRX)
        receiver = funded_key(api.devnet.chain, TRX).address_base58
        api.devnet.node.paused = True
        head = api.devnet.chain.head.number
        r = await m.call("POST", "/api/v1/orders", order_body("c-next", receiver, energy=130_000))
        assert r.status_code == 201, r.text
        order_id = r.json()["data"]["orderId"]
        assert api.state is not None
        row = None
        for _ in range(400):
            async with api.state.session_maker() as s:
                row = (
                    await s.execute(
                        select(ChainTransaction).where(
                            ChainTransaction.order_id == order_id,
                            ChainTransaction.purpose == ChainTxPurpose.DELEGATE,
                            ChainTransaction.status == ChainTxStatus.BROADCAST,
                        )
                    )
                ).scalar_one_or_none()
            if row is not None:
                break
            await asyncio.sleep(0.05)
        assert row is not None
        assert api.devnet.chain.head.number == head
        api.devnet.produce()
        api.devnet.node.paused = False
        in_block = [
            int(b.number)
            for b in api.devnet.chain.blocks
            for tx in b.txs
            if (tx.txid.hex() if isinstance(tx.txid, bytes) else str(tx.txid)) == row.txid
        ]
        assert in_block == [head + 1]
        for _ in range(300):
            data = (await m.call("GET", f"/api/v1/orders/{order_id}")).json()["data"]
            if data["status"] == "active":
                break
            await asyncio.sleep(0.05)
        assert data["status"] == "active" and data["delegateTxHash"] == row.txid
        assert data["energy"] >= 130_000

    async def test_transfer_order_cancelled_while_unpaid(self, api: Api) -> None:
        m = await new_merchant(api, trx_sun=0)
        receiver = funded_key(api.devnet.chain, TRX).address_base58
        r = await m.call(
            "POST", "/api/v1/orders", order_body("c-tr", receiver, paymentMethod="transfer")
        )
        assert r.status_code == 201, r.text
        data = r.json()["data"]
        assert data["status"] == "pending" and data["amountToPayUnits"] > 2 * TRX
        assert data["paymentAddress"] == api.pool.tron_address
        r = await m.call("POST", f"/api/v1/orders/{data['orderId']}/cancel")
        assert r.status_code == 200 and r.json()["data"]["status"] == "cancelled"
        r = await m.call("POST", f"/api/v1/orders/{data['orderId']}/cancel")
        assert r.status_code == 409


class TestReads:
    async def test_prices_quote_estimate_ledger_top_up(self, api: Api) -> None:
        m = await new_merchant(api, trx_sun=10 * TRX)
        r = await m.call("GET", "/api/v1/prices")
        assert r.status_code == 200
        by_name = {p["name"]: p for p in r.json()["data"]}
        assert by_name["65K energy, 1 hour"]["prices"] == {"TRX": 2 * TRX, "USDT": 600_000}
        fresh = PrivateKey.random().address_base58
        r = await m.call(
            "POST", "/api/v1/quote", {"receiver": fresh, "energy": 131_000, "durationHours": 1}
        )
        assert r.status_code == 200, r.text
        q = r.json()["data"]
        assert (q["quantity"], q["energy"], q["totalUnits"]) == (1, 131_000, 4 * TRX)
        assert q["recipientActivated"] is False and q["activationFeeSun"] > 0
        r = await m.call(
            "POST", "/api/v1/quote", {"receiver": fresh, "energy": 130_000, "durationHours": 1}
        )
        assert (r.json()["data"]["quantity"], r.json()["data"]["totalUnits"]) == (2, 4 * TRX)
        holder = funded_key(api.devnet.chain, TRX, usdt_units=5_000_000).address_base58
        sender = funded_key(api.devnet.chain, TRX, usdt_units=9_000_000).address_base58
        r = await m.call("GET", f"/api/v1/estimate/usdt-transfer?from={sender}&to={holder}")
        assert r.status_code == 200, r.text
        assert r.json()["data"]["energy"] == 64_285
        assert r.json()["data"]["senderUsdtUnits"] == 9_000_000
        r = await m.call("GET", f"/api/v1/estimate/usdt-transfer?from={sender}&to={fresh}")
        assert r.json()["data"]["receiverHoldsUsdt"] is False
        assert r.json()["data"]["energy"] == 130_285
        r = await m.call("GET", "/api/v1/estimate/usdt-transfer?from=x&to=y")
        assert r.status_code == 422
        r = await m.call("POST", "/api/v1/top-ups", {"currency": "USDT", "amountUnits": 5_000_000})
        assert r.status_code == 201, r.text
        top = r.json()["data"]
        assert top["amountUnits"] >= 5_000_000 and top["paymentAddress"] == api.pool.tron_address
        r = await m.call("GET", "/api/v1/ledger?limit=5")
        [entry] = r.json()["data"]["items"]
        assert (entry["causeType"], entry["deltaUnits"]) == ("top_up", 10 * TRX)
        for bad in ({"currency": "TRX", "amountUnits": 1.5}, {"currency": "XRP", "amountUnits": 9}):
            r = await m.call("POST", "/api/v1/top-ups", bad)
            assert r.status_code == 422


class TestCountPackages:
    async def test_count_package_ordered_priced_and_shown(self, api: Api) -> None:
        m = await new_merchant(api, trx_sun=200 * TRX)
        offers = (await m.call("GET", "/api/v1/prices")).json()["data"]
        counts = [p for p in offers if p["packageType"] == "count"]
        assert counts and all(p["transactionCount"] for p in counts)
        pkg = min(counts, key=lambda p: p["transactionCount"])
        energy_pkg = next(p for p in offers if p["packageType"] == "energy")
        assert energy_pkg["transactionCount"] in (None, 0, 1)
        receiver = funded_key(api.devnet.chain, TRX).address_base58
        base = {"clientOrderId": "cnt-1", "receiver": receiver, "packageType": "count"}
        # the package named must be a count package; a count package is named, not sized
        r = await m.call("POST", "/api/v1/orders", {**base, "packageId": energy_pkg["packageId"]})
        assert r.status_code == 422 and error(r) == "PACKAGE_UNAVAILABLE"
        r = await m.call("POST", "/api/v1/orders", {**base, "energy": 65_000, "durationHours": 1})
        assert r.status_code == 422 and error(r) == "NO_MATCHING_PACKAGE"
        r = await m.call(
            "POST", "/api/v1/quote", {**base, "packageId": pkg["packageId"], "currency": "TRX"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["data"]["totalUnits"] == pkg["prices"]["TRX"]
        r = await m.call("POST", "/api/v1/orders", {**base, "packageId": pkg["packageId"]})
        assert r.status_code == 201, r.text
        data = r.json()["data"]
        assert data["packageType"] == "count" and data["priceUnits"] == pkg["prices"]["TRX"]
        assert data["countPackage"]["total"] == pkg["transactionCount"]
        assert data["countPackage"]["used"] == 0
        again = await m.call("POST", "/api/v1/orders", {**base, "packageId": pkg["packageId"]})
        assert again.json()["data"]["created"] is False
        assert again.json()["data"]["orderId"] == data["orderId"]
        for _ in range(300):
            got = (await m.call("GET", f"/api/v1/orders/{data['orderId']}")).json()["data"]
            if got["status"] == "active":
                break
            await asyncio.sleep(0.05)
        assert got["status"] == "active" and got["delegateTxHash"]
        assert got["countPackage"]["remaining"] == pkg["transactionCount"]
        r = await m.call("GET", "/api/v1/balance")
        assert r.json()["data"]["trxSun"] == 200 * TRX - pkg["prices"]["TRX"]


class TestKeySettings:
    async def test_operator_sets_allowlist_and_url_with_a_reason(self, api: Api) -> None:
        m = await new_merchant(api)
        path = f"/api/admin/merchant/keys/{m.key_id}"
        r = await api.http.patch(path, json={"ipAllowlist": ["10.0.0.0/8"]}, headers=api.admin)
        assert r.status_code == 422  # no reason
        r = await api.http.patch(
            path,
            json={
                "ipAllowlist": ["10.0.0.0/8"],
                "callbackUrl": "https://shop.example/cb",
                "reason": "ticket 7",
            },
            headers=api.admin,
        )
        assert r.status_code == 200, r.text
        assert r.json()["data"]["ipAllowlist"] == ["10.0.0.0/8"]
        assert r.json()["data"]["callbackUrl"] == "https://shop.example/cb"
        # the test client is 127.0.0.1: now refused
        r = await m.call("GET", "/api/v1/balance")
        assert r.status_code == 401 and error(r) == "IP_NOT_ALLOWED"
        # absent = unchanged, null = removed
        r = await api.http.patch(
            path, json={"callbackUrl": None, "reason": "ticket 8"}, headers=api.admin
        )
        assert r.json()["data"]["ipAllowlist"] == ["10.0.0.0/8"]
        assert r.json()["data"]["callbackUrl"] is None
        r = await api.http.patch(
            path, json={"ipAllowlist": [], "reason": "ticket 9"}, headers=api.admin
        )
        assert (await m.call("GET", "/api/v1/balance")).status_code == 200
        r = await api.http.get(f"{path}/changes", headers=api.admin)
        changes = r.json()["data"]
        assert [c["reason"] for c in changes] == ["ticket 9", "ticket 8", "ticket 7"]
        assert changes[2]["after"] == {
            "ipAllowlist": ["10.0.0.0/8"],
            "callbackUrl": "https://shop.example/cb",
        }
        assert all(c["actor"].startswith("admin:") for c in changes)
        r = await api.http.patch(
            path, json={"callbackUrl": "ftp://x", "reason": "r"}, headers=api.admin
        )
        assert r.status_code == 422 and error(r) == "INVALID_CALLBACK_URL"
        await api.http.post(f"{path}/revoke", json={"reason": "leaked"}, headers=api.admin)
        r = await api.http.patch(path, json={"ipAllowlist": [], "reason": "r"}, headers=api.admin)
        assert r.status_code == 409 and error(r) == "API_KEY_REVOKED"
