"""`kit.db.object_rows`: a new ORM object as the row a flush would write - every column given,
the object and the row agreeing - for writing it without the ORM (`along_ctes`)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tronrent.kit.db import object_rows
from tronrent.models.common import Currency
from tronrent.models.order import Order, OrderStatus, OrderType


class _Base(DeclarativeBase):
    pass


class _ServerDefaulted(_Base):
    __tablename__ = "server_defaulted"
    id: Mapped[int] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(server_default="0")


def test_an_order_gets_every_column_and_agrees_with_its_row() -> None:
    order = Order(id="ORD_1_x", order_number="ORD_1_x", user_id=uuid.uuid4(), quantity=2)
    batch = object_rows(order)
    (row,) = batch.rows
    columns = {c.key for c in Order.__table__.columns}
    assert set(row) == columns
    mapper = inspect(Order)
    for prop in mapper.column_attrs:
        assert getattr(order, prop.key) == row[prop.columns[0].key]  # set on the object too
    # the Python defaults a flush would have run
    assert row["status"] is OrderStatus.PENDING and row["currency"] is Currency.TRX
    assert row["order_type"] is OrderType.ENERGY_RENTAL and row["created_at"] is not None
    assert row["quantity"] == 2 and row["tron_tx_hash"] is None
    assert batch.table is Order.__table__ and batch.conflict == ()


def test_a_column_only_the_server_fills_in_must_be_given() -> None:
    with pytest.raises(ValueError, match=r"server_defaulted\.count has only a server default"):
        object_rows(_ServerDefaulted(id=1))
    assert object_rows(_ServerDefaulted(id=1, count=3)).rows == ({"id": 1, "count": 3},)


def test_several_objects_one_row_each() -> None:
    batch = object_rows(_ServerDefaulted(id=1, count=1), _ServerDefaulted(id=2, count=2))
    assert [r["id"] for r in batch.rows] == [1, 2]
