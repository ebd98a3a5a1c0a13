"""kill -9 of the engine between a count package's use and its top-up (real processes, the
devnet, SQLite and PostgreSQL): the worker process stores the top-up pair and is killed before
it is known to be sent; the restarted engine delivers that same pair - the address is topped up
exactly once, checked on chain - and the next transfer burns no TRX."""

from __future__ import annotations

import signal

from trondevnet.server import DevnetServer
from trondevnet.testing import funded_key
from tronrent.models.count_package import CountUse, CountUseStatus

from .conftest import TRX, Flash, FlashFactory
from .test_count_packages import (
    EXISTING,
    USDT,
    _enough,
    _used,
    new_count_order,
    receipt_of,
    usdt_with_tronpy,
    uses_of,
    wait_until,
)
from .test_processes import hand_over_to_worker


def contracts_to(f: Flash, raw: bytes, contract_type: str) -> int:
    """How many ``contract_type`` transactions to ``raw`` are in blocks (the chain's word)."""
    return sum(
        1
        for block in f.devnet.chain.blocks
        for tx in block.txs
        if tx.contract_type == contract_type and tx.to == raw
    )


async def stored_not_sent(f: Flash, order_id: str) -> CountUse | None:
    """The use once its top-up pair is stored and before it is known to be delivered."""
    for u in await uses_of(f, order_id):
        if u.status is CountUseStatus.TOPPING_UP and u.top_up_tx_hash:
            return u
    return None


class TestKilledBetweenUseAndTopUp:
    async def test_topped_up_exactly_once_after_restart(
        self, flash: FlashFactory, devnet: DevnetServer, database_url: str
    ) -> None:
        usdt = devnet.config.usdt_address
        f = await flash(rental_s=3600.0, scanner_kw={"usdt_contract": usdt})
        customer = funded_key(f.devnet.chain, 50 * TRX, usdt_units=100 * USDT)
        holder = funded_key(f.devnet.chain, TRX, usdt_units=USDT).address_base58
        address = customer.address_base58
        order = await new_count_order(f, 3, address)
        await wait_until(lambda: _enough(f, address, EXISTING))
        # the engine is a worker process now, its broadcasts slowed down (1.5 s)
        proc = await hand_over_to_worker(f, database_url, env={"FLASH_USDT_CONTRACT": usdt})
        try:
            first = await usdt_with_tronpy(f, customer, holder, USDT)
            use = await wait_until(lambda: stored_not_sent(f, order.id), wait_s=60)
        finally:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        assert use.tx_hash == first
        f.devnet.node.clear_faults()
        await f.engine.start()  # restart: the start-up sweep re-drives the stored pair

        async def topped_up() -> bool:
            uses = await uses_of(f, order.id)
            return bool(uses) and uses[0].status is CountUseStatus.TOPPED_UP

        await wait_until(topped_up, wait_s=60)
        await wait_until(lambda: _enough(f, address, EXISTING), wait_s=30)
        # on chain: the first delegation and exactly one top-up pair
        for _ in range(2):  # and still so a few blocks later (nothing sent twice)
            f.devnet.produce()
        assert contracts_to(f, customer.address, "DelegateResourceContract") == 2
        assert contracts_to(f, customer.address, "UnDelegateResourceContract") == 1
        (after,) = await uses_of(f, order.id)
        assert (after.undelegate_tx_hash, after.top_up_tx_hash) == (
            use.undelegate_tx_hash,
            use.top_up_tx_hash,
        )  # the pair stored before the kill, never rebuilt
        second = await usdt_with_tronpy(f, customer, holder, USDT)
        await wait_until(lambda: _used(f, order.id, 2), wait_s=30)
        assert receipt_of(f, second).energy_fee == 0
