"""A delegation round delivers the transactions its prepare step just stored without reading
them back; an order whose transaction an earlier run stored (and died before broadcasting) is
delivered from the database in the same round - each once (SQLite and PostgreSQL, the devnet,
the flow driven by hand with the engine stopped)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select

from package_orders import TRX, insert_package_order, new_user
from trondevnet.testing import funded_key
from tronrent.delegation.flows import FlowDeps, delegation
from tronrent.kit.db import transaction_scope
from tronrent.models.chain_transaction import ChainTransaction, ChainTxPurpose, ChainTxStatus
from tronrent.models.order import Order, OrderStatus

from .conftest import Flash, FlashFactory
from .test_balance_orders import block_of


async def paid(f: Flash, n: int) -> list[str]:
    """``n`` orders marked paid (each to a recipient of its own), as a payment leaves them."""
    async with transaction_scope(f.session_maker) as s:
        user = await new_user(s, trx_sun=20 * TRX)
        orders = [
            await insert_package_order(
                s,
                user,
                watch=False,
                price_units=2 * TRX,
                energy=66_300,
                target_address=funded_key(f.devnet.chain, TRX).address_base58,
            )
            for _ in range(n)
        ]
        for o in orders:
            o.status = OrderStatus.PAID
    return [o.id for o in orders]


@contextmanager
def tx_reads(f: Flash) -> Iterator[list[str]]:
    """The SELECTs reading ``chain_transactions`` while inside."""
    engine = f.session_maker.kw["bind"].sync_engine
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        text = " ".join(statement.split())
        if text.startswith("SELECT") and "FROM chain_transactions" in text:
            seen.append(text)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def delegate_txs(f: Flash, order_ids: list[str]) -> dict[str, list[ChainTransaction]]:
    async with f.session_maker() as s:
        rows = (
            await s.execute(
                select(ChainTransaction).where(
                    ChainTransaction.order_id.in_(order_ids),
                    ChainTransaction.purpose == ChainTxPurpose.DELEGATE,
                )
            )
        ).scalars()
        out: dict[str, list[ChainTransaction]] = {x: [] for x in order_ids}
        for row in rows:
            out[row.order_id or ""].append(row)
        return out


async def test_a_round_delivers_what_it_stored_without_reading_it_back(
    flash: FlashFactory,
) -> None:
    f = await flash()
    await f.engine.stop()  # no scanner, no pickup, no jobs: this test drives the flow
    d = FlowDeps(f.session_maker, f.gateway, f.box, f.engine.rt)
    earlier, fresh, later = await paid(f, 3)
    # a run that stored its delegation, committed, and died before broadcasting it
    states, stored = await delegation._prepare(d, [earlier])
    assert states == {earlier: "deliver"} and len(stored[earlier]) == 1
    left = stored[earlier][0]
    head = f.devnet.chain.head.number
    f.devnet.node.paused = True  # the block comes when the test makes it

    with tx_reads(f) as reads:
        reached = await delegation.delegate_orders(d, [fresh])
    assert reached == {fresh: "broadcast"}
    assert reads == []  # stored by this round: delivered from memory

    with tx_reads(f) as reads:
        reached = await delegation.delegate_orders(d, [earlier, later])
    assert reached == {earlier: "broadcast", later: "broadcast"}
    assert len(reads) == 1  # one stored by another run: the round's read from the database

    f.devnet.produce()
    txs = await delegate_txs(f, [earlier, fresh, later])
    assert [len(x) for x in txs.values()] == [1, 1, 1]  # one transaction per order, ever
    assert txs[earlier][0].txid == left.txid  # the stored bytes, not new ones
    for rows in txs.values():
        assert rows[0].status is ChainTxStatus.BROADCAST and rows[0].attempts == 1
        assert block_of(f, rows[0].txid) == head + 1
    async with f.session_maker() as s:
        for oid in (earlier, fresh, later):
            assert (await s.get(Order, oid)).status is OrderStatus.DELEGATING  # type: ignore[union-attr]
