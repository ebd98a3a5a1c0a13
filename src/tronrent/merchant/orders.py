"""Merchant orders: energy packages bought through the API, idempotent by client order id.

A merchant order is a package order (`product.package`, order type ``energy_rental``) - no new
product and no branch in the engine: an energy amount and duration is sold as the package of
that duration whose energy divides the amount (``quantity = energy / package energy``, the
largest such package), or the package named. Paid from the balance at creation (or by transfer
with a unique tail, like ``POST /api/orders``). ``merchant_orders`` keeps the client order id
(UNIQUE per customer): the same id again returns the first order, the same id with a different
request is 409 ``CLIENT_ORDER_ID_REUSED``; of two concurrent requests with one id, the one
whose row lands second waits for the first on the UNIQUE index and is 409
``CLIENT_ORDER_ID_IN_FLIGHT`` with nothing written (SQLite: the single writer runs them one
after the other). The customer's row is locked by the balance debit only, last before the
commit (`product.package.create_package_order`).

A count package (``package_type`` ``count``: N USDT transfers' energy, `product.count`) is
named by its package id and bought the same way; each counted use is an ``order.count_used``
callback.

The order carries ``price_config["merchant"]`` (key id, callback wanted): the callback tap
(`merchant.callbacks`) reads it from the order itself, with no query per event.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Select, and_, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.db import adopt, object_rows
from tronrent.merchant.errors import (
    ClientOrderIdInFlight,
    ClientOrderIdReused,
    NoMatchingPackage,
)
from tronrent.merchant.urls import check_callback_url
from tronrent.models.common import Currency
from tronrent.models.count_package import CountPackage
from tronrent.models.energy_package import EnergyPackage, PackageType
from tronrent.models.merchant import MerchantApiKey, MerchantOrder
from tronrent.models.order import Order, OrderType
from tronrent.models.user import User
from tronrent.order.errors import OrderNotFound
from tronrent.order.flash_config import flash_config_columns
from tronrent.order.recipient import RecipientState
from tronrent.order.runtime import FlashRuntime
from tronrent.order.service import order as order_service
from tronrent.payment.balance_pay import pay_new_order
from tronrent.pricing.quote import buyer_agent_columns, buyer_agents_of
from tronrent.product.catalogue import Catalogue, catalogue_token, catalogues, find_package
from tronrent.product.count import create_count_order
from tronrent.product.errors import PackageNotFound, PackageUnavailable
from tronrent.product.package import (
    DEFAULT_MAX_QUANTITY,
    create_package_order,
    new_package_order_id,
)
from tronrent.user.errors import UserNotFound

PaymentMethod = Literal["balance", "transfer"]
#: what is bought: an energy package (energy + duration, or a package id) or a count package
PackageKind = Literal["energy", "count"]
KINDS: dict[str, PackageType] = {
    "energy": PackageType.ENERGY,
    "count": PackageType.TRANSACTION_COUNT,
}


@dataclass(frozen=True, slots=True)
class Chosen:
    package: EnergyPackage
    quantity: int


async def on_sale(
    session: AsyncSession, kinds: Sequence[PackageType] = (PackageType.ENERGY,)
) -> Sequence[EnergyPackage]:
    """Packages of these types on sale (energy packages by default), in catalogue order."""
    return (await session.execute(_on_sale(tuple(kinds)))).scalars().all()


@functools.cache
def _on_sale(kinds: tuple[PackageType, ...]) -> Select[EnergyPackage]:
    return (
        select(EnergyPackage)
        .where(EnergyPackage.is_active.is_(True), EnergyPackage.package_type.in_(list(kinds)))
        .order_by(EnergyPackage.sort_order, EnergyPackage.energy_amount)
    )


async def choose_package(
    session: AsyncSession,
    *,
    package_id: uuid.UUID | None,
    quantity: int | None,
    energy: int | None,
    duration_hours: int | None,
    kind: PackageKind = "energy",
    catalogue: Catalogue | None = None,
) -> Chosen:
    """The package and quantity a request buys: ``package_id`` (+ ``quantity``, default 1), or
    ``energy`` + ``duration_hours`` as the largest package of that duration dividing it (energy
    packages only: a count package is named by its id). ``catalogue``: the process's
    catalogue checked against this transaction's token (`product.catalogue`), else read.

    Raises:
        NoMatchingPackage (422): neither form given, or no package sells that energy.
        PackageNotFound (404); PackageUnavailable (422): a named package of the other type
        (inactive: at creation).
    """
    if package_id is not None:
        found = await find_package(session, package_id, catalogue)
        if found is None:
            raise PackageNotFound(f"package {package_id} not found")
        if found.package_type is not KINDS[kind]:
            noun = "an energy" if kind == "energy" else "a transaction-count"
            raise PackageUnavailable(
                f"package {found.name!r} is not {noun} package (packageType {kind})"
            )
        return Chosen(found, quantity or 1)
    if kind == "count":
        raise NoMatchingPackage("a count package is named by packageId")
    if energy is None or duration_hours is None:
        raise NoMatchingPackage("give packageId, or energy and durationHours")
    offers = []
    selling = catalogue.on_sale() if catalogue is not None else await on_sale(session)
    fitting = [p for p in selling if p.duration_hours == duration_hours]
    for pkg in sorted(fitting, key=lambda p: (-p.energy_amount, p.sort_order)):
        if pkg.energy_amount <= 0:
            continue
        offers.append({"energy": pkg.energy_amount, "durationHours": pkg.duration_hours})
        units, rest = divmod(energy, pkg.energy_amount)
        low, high = pkg.min_order_amount or 1, pkg.max_order_amount or DEFAULT_MAX_QUANTITY
        if rest == 0 and low <= units <= high:
            return Chosen(pkg, units)
    raise NoMatchingPackage(
        f"no package sells {energy} energy for {duration_hours} h: the energy must be a "
        "multiple of a package's energy of that duration",
        details={"offers": offers},
    )


def request_hash(fields: dict[str, Any]) -> str:
    """SHA-256 of the request's fields (canonical JSON): the same client order id must mean
    the same request."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


async def find(
    session: AsyncSession, user_id: uuid.UUID, client_order_id: str
) -> MerchantOrder | None:
    return (
        await session.execute(
            select(MerchantOrder).where(
                MerchantOrder.user_id == user_id, MerchantOrder.client_order_id == client_order_id
            )
        )
    ).scalar_one_or_none()


@functools.cache  # built once: the route's hot statement, parameters bound per request
def _customer_and_client_order() -> Select[Any]:
    """The customer, its merchant order of a client order id (or NULLs), the buyer's agents,
    the flash config and the catalogue's token: ``user_id``, ``client_order_id``."""
    return (
        select(
            User,
            MerchantOrder,
            *buyer_agent_columns(),
            *flash_config_columns(),
            catalogue_token().label("catalogue_token"),
        )
        .outerjoin(
            MerchantOrder,
            and_(
                MerchantOrder.user_id == User.id,
                MerchantOrder.client_order_id == bindparam("client_order_id"),
            ),
        )
        .where(User.id == bindparam("user_id"))
        .execution_options(populate_existing=True)
    )


@dataclass(frozen=True, slots=True)
class Created:
    order: Order
    merchant: MerchantOrder
    #: False: the client order id named an existing order, returned unchanged
    created: bool


async def create_merchant_order(
    session: AsyncSession,
    rt: FlashRuntime,
    key: MerchantApiKey,
    *,
    client_order_id: str,
    receiver: str,
    currency: Currency,
    payment_method: PaymentMethod,
    package_id: uuid.UUID | None = None,
    quantity: int | None = None,
    energy: int | None = None,
    duration_hours: int | None = None,
    callback_url: str | None = None,
    recipient_state: RecipientState | None = None,
    package_type: PackageKind = "energy",
) -> Created:
    """Create (and, for ``balance``, pay) the order, or return the one with that client id.

    Raises what `create_package_order` and `pay_from_balance` raise (409
    INSUFFICIENT_BALANCE: the caller's rollback leaves nothing behind), `NoMatchingPackage`,
    `ClientOrderIdReused`.
    """
    fingerprint = request_hash(
        {
            "receiver": receiver,
            "currency": currency.value,
            "paymentMethod": payment_method,
            "packageId": package_id,
            "quantity": quantity,
            "energy": energy,
            "durationHours": duration_hours,
            "callbackUrl": callback_url,
            # absent for energy orders: their ids made before count packages still match
            **({"packageType": package_type} if package_type != "energy" else {}),
        }
    )
    # the customer and the client order id looked up in one statement (and, for the order's
    # price, the buyer's agents - `pricing.quote.buyer_agents` -, the flash config -
    # `order_service.config` - and the catalogue's token: three statements less). The
    # customer's row is not locked here: only the debit, last before the commit, locks it
    # (orders of one customer wait for each other that long only); a concurrent twin is
    # stopped by the UNIQUE client order id
    row = (
        await session.execute(
            _customer_and_client_order(),
            {"user_id": key.user_id, "client_order_id": client_order_id},
        )
    ).first()
    if row is None:
        raise UserNotFound("user not found")
    existing: MerchantOrder | None = row[1]
    if existing is not None:
        if existing.request_hash != fingerprint:
            raise ClientOrderIdReused(
                f"clientOrderId {client_order_id!r} was used for a different order "
                f"({existing.order_id})",
                details={"orderId": existing.order_id},
            )
        return Created(await order_service.get(session, existing.order_id), existing, False)
    url = check_callback_url(callback_url)
    # the packages and price rules this process holds, if still current (`product.catalogue`)
    catalogue = await catalogues.get(session, row.catalogue_token)
    chosen = await choose_package(
        session,
        package_id=package_id,
        quantity=quantity,
        energy=energy,
        duration_hours=duration_hours,
        kind=package_type,
        catalogue=catalogue,
    )
    actor = f"merchant:{key.key_id}"
    args: dict[str, Any] = {
        "package_id": chosen.package.id,
        "quantity": chosen.quantity,
        "recipient_address": receiver,
        "currency": currency,
        "payment_method": payment_method,
        "user_id": key.user_id,
        "recipient_state": recipient_state if payment_method == "transfer" else None,
        # written with the order (no UPDATE after): the callback tap reads it
        "extra_config": {
            "merchant": {
                "apiKeyId": str(key.id),
                "clientOrderId": client_order_id,
                "callback": bool(url or key.callback_url),
                "callbackUrl": url,
            }
        },
    }
    # an energy package paid from the balance is written paid (no UPDATE after its INSERT)
    paid_at_creation = payment_method == "balance" and package_type == "energy"
    order_id = None if package_type == "count" else new_package_order_id()
    merchant = MerchantOrder(
        order_id=order_id,
        user_id=key.user_id,
        api_key_id=key.id,
        client_order_id=client_order_id,
        request_hash=fingerprint,
        callback_url=url,
    )
    with _twin_stopped(client_order_id):
        if package_type == "count":
            order = await create_count_order(session, rt, **args)
            merchant.order_id = order.id
            session.add(merchant)
            await session.flush()
        elif paid_at_creation:
            # written with the order and its debit (in one statement on PostgreSQL), then
            # known to the session as the row it wrote
            order = await create_package_order(
                session,
                rt,
                **args,
                **_known(rt, row, catalogue, order_id),
                paid_by=actor,
                along=[object_rows(merchant)],
            )
            adopt(session, merchant)
        else:
            # written in the order's flush (after it: the foreign key)
            session.add(merchant)
            order = await create_package_order(
                session, rt, **args, **_known(rt, row, catalogue, order_id)
            )
    if payment_method == "balance" and not paid_at_creation:
        order = await pay_new_order(session, order, actor=actor)
    return Created(order, merchant, True)


def _known(
    rt: FlashRuntime, row: Any, catalogue: Catalogue | None, order_id: str | None
) -> dict[str, Any]:
    """What `create_package_order` would read, read with the customer's row."""
    return {
        "agents": buyer_agents_of(row[2], row[3]),
        "flash_config": order_service.config_of(rt, row[4], row[5]),
        "order_id": order_id,
        "catalogue": catalogue,
    }


@contextmanager
def _twin_stopped(client_order_id: str) -> Iterator[None]:
    """A concurrent request with the same client order id that got its row in first: its
    twin's INSERT waited for it (the UNIQUE index) and fails - 409, the transaction rolls
    back. (On SQLite, the single writer, the twin finds the first order instead.)"""
    try:
        yield
    except IntegrityError as exc:
        text = str(exc.orig)
        if "uq_merchant_orders_client_id" in text or "merchant_orders.client_order_id" in text:
            raise ClientOrderIdInFlight(
                f"another request with clientOrderId {client_order_id!r} was being processed: "
                "repeat the request to get its order"
            ) from None
        raise


async def list_orders(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    limit: int = 50,
    before: str | None = None,
    client_order_id: str | None = None,
) -> list[tuple[Order, MerchantOrder]]:
    """The customer's merchant orders, newest first; ``before``: an order id (keyset page)."""
    stmt = (
        select(Order, MerchantOrder)
        .join(MerchantOrder, MerchantOrder.order_id == Order.id)
        .where(MerchantOrder.user_id == user_id)
        .order_by(MerchantOrder.created_at.desc(), MerchantOrder.order_id.desc())
        .limit(max(1, min(limit, 200)))
    )
    if client_order_id is not None:
        stmt = stmt.where(MerchantOrder.client_order_id == client_order_id)
    if before is not None:
        anchor = await session.get(MerchantOrder, before)
        if anchor is not None and anchor.user_id == user_id:
            stmt = stmt.where(
                (MerchantOrder.created_at < anchor.created_at)
                | (
                    (MerchantOrder.created_at == anchor.created_at)
                    & (MerchantOrder.order_id < anchor.order_id)
                )
            )
    return [(o, m) for o, m in (await session.execute(stmt)).all()]


async def count_packages(session: AsyncSession, orders: Sequence[Order]) -> dict[str, CountPackage]:
    """The count packages of these orders (order id -> row; energy orders have none, and
    cost no query)."""
    ids = [o.id for o in orders if o.order_type is OrderType.TRANSACTION_PACKAGE]
    if not ids:
        return {}
    rows = await session.execute(select(CountPackage).where(CountPackage.order_id.in_(ids)))
    return {p.order_id: p for p in rows.scalars()}


async def get_order(
    session: AsyncSession, user_id: uuid.UUID, order_id: str
) -> tuple[Order, MerchantOrder]:
    """One of the customer's merchant orders (by order id or client order id); 404 else."""
    m = await session.get(MerchantOrder, order_id)
    if m is None or m.user_id != user_id:
        m = await find(session, user_id, order_id)
    if m is None:
        raise OrderNotFound(f"order {order_id} not found")
    return await order_service.get(session, m.order_id), m
