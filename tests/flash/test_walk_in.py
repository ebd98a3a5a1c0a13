"""Walk-in flash rental end to end on the devnet."""

from __future__ import annotations

from sqlalchemy import select

from trondevnet.testing import funded_key
from tronrent.models.chain_transaction import ChainTransaction, ChainTxStatus
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.notification_outbox import NotificationOutbox
from tronrent.models.order import OrderStatus

from .conftest import TRX, FlashFactory, active, send_trx


class TestWalkIn:
    async def test_energy_delegated_to_sender(self, flash: FlashFactory) -> None:
        f = await flash()
        customer = funded_key(f.devnet.chain, 100 * TRX)
        f.devnet.node.counters.clear()
        send_trx(f.devnet, customer, f.address, 3 * TRX)
        order = await f.wait_order(active, sender=customer.address_base58)
        # built locally, broadcast once, confirmed by the scanner from its block: no builder
        # round trips (getnodeinfo/getsignweight) and no polling (gettransactioninfobyid)
        requests = dict(f.devnet.node.counters)
        for path in ("getnodeinfo", "getsignweight", "gettransactioninfobyid"):
            assert not requests.get(f"/wallet/{path}"), requests
        assert requests.get("/wallet/broadcasttransaction"), requests
        assert order.transaction_count == 2
        assert order.target_address == customer.address_base58
        assert order.delegation_result and order.delegation_result[0]["success"] is True
        acct = f.devnet.chain.accounts[customer.address]
        limit = f.devnet.chain.energy_limit(acct)
        assert 2 * 65_000 <= limit <= 2 * 65_000 * 1.03
        async with f.session_maker() as s:
            [d] = (await s.execute(select(EnergyDelegation))).scalars().all()
            assert d.status is DelegationStatus.SUCCESS and d.lock_period
            [tx] = (await s.execute(select(ChainTransaction))).scalars().all()
            assert tx.txid == d.tx_hash and tx.status is ChainTxStatus.CONFIRMED
            assert tx.block_number is not None and tx.block_number > 0
            events = {
                e.event_type for e in (await s.execute(select(NotificationOutbox))).scalars().all()
            }
        assert {"payment_received", "energy_delivered"} <= events
        assert order.status is OrderStatus.ACTIVE
