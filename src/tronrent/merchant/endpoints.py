"""``/api/v1``: the merchant API. Every route needs a signed request (`merchant.deps`); amounts
are integers in base units (sun for TRX, 1e-6 USDT for USDT). docs/merchant-api.md."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from tronrent.api.deps import SessionDep
from tronrent.api.envelope import ERROR_RESPONSES, ApiModel, Envelope, ok
from tronrent.count.schemas import CountPackageOut, package_view
from tronrent.flash.api_deps import JOB_SCOPE, ChainDep, RecipientCheckDep, RuntimeDep
from tronrent.kit.db import release_write_lock
from tronrent.kit.errors import ServiceUnavailable
from tronrent.kit.time import isoformat
from tronrent.merchant import callbacks as _callbacks  # noqa: F401 - the event tap
from tronrent.merchant.deps import MerchantKeyDep
from tronrent.merchant.estimate import usdt_transfer_energy
from tronrent.merchant.orders import (
    choose_package,
    count_packages,
    create_merchant_order,
    get_order,
    list_orders,
    on_sale,
)
from tronrent.models.common import Currency
from tronrent.models.count_package import CountPackage
from tronrent.models.energy_package import PackageType
from tronrent.models.merchant import MerchantOrder
from tronrent.models.order import Order, OrderType
from tronrent.order.schemas import TronAddress
from tronrent.order.service import order as order_service
from tronrent.pricing.errors import NotSoldInCurrency
from tronrent.pricing.quote import quote_order
from tronrent.product.topup import create_top_up
from tronrent.user.balance import balance as balance_service

_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: ERROR_RESPONSES[401]
    | {
        "description": "SIGNATURE_HEADERS_MISSING, API_KEY_UNKNOWN, API_KEY_REVOKED, "
        "IP_NOT_ALLOWED, REQUEST_STALE, SIGNATURE_INVALID, REQUEST_REPLAYED"
    }
}
router = APIRouter(
    prefix="/api/v1",
    tags=["merchant"],
    dependencies=[JOB_SCOPE],
    responses={**ERROR_RESPONSES, **_UNAUTHORIZED},
)

ClientOrderId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$"
    ),
]


EXAMPLE_ADDRESS = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"


def _example(**example: Any) -> ConfigDict:
    """An ``ApiModel`` config with one OpenAPI request example."""
    return ConfigDict(
        alias_generator=to_camel, populate_by_name=True, json_schema_extra={"examples": [example]}
    )


class PriceOut(ApiModel):
    package_id: str
    #: ``energy``, or ``count`` (a transaction-count package: ``transactionCount`` USDT
    #: transfers' energy, topped up after each use, over ``durationHours``)
    package_type: str
    transaction_count: int | None
    name: str
    energy: int
    duration_hours: int
    #: one unit, currency -> base units (rules for this customer applied)
    prices: dict[str, int]
    min_quantity: int
    max_quantity: int | None


class QuoteIn(ApiModel):
    model_config = _example(
        receiver=EXAMPLE_ADDRESS, energy=131_000, durationHours=1, currency="TRX"
    )

    receiver: TronAddress
    currency: Currency = Currency.TRX
    #: ``count``: a transaction-count package, named by ``packageId``
    package_type: Literal["energy", "count"] = "energy"
    energy: int | None = Field(default=None, strict=True, ge=1, le=10**10)
    duration_hours: int | None = Field(default=None, strict=True, ge=1, le=24 * 365)
    package_id: uuid.UUID | None = None
    quantity: int | None = Field(default=None, strict=True, ge=1, le=1_000_000)


class QuoteOut(ApiModel):
    package_id: str
    quantity: int
    energy: int
    duration_hours: int
    currency: str
    list_price_units: int
    price_units: int
    discount_units: int
    #: charged to the balance for a balance-paid order
    total_units: int
    recipient_activated: bool | None
    #: what activating the receiver costs (TRX sun); a balance-paid order does not pay it:
    #: the platform activates the receiver when RECIPIENT_ACTIVATION=activate, else refunds
    activation_fee_sun: int
    breakdown: dict[str, Any]


class OrderIn(QuoteIn):
    model_config = _example(
        clientOrderId="shop-42-0001",
        receiver=EXAMPLE_ADDRESS,
        energy=65_000,
        durationHours=1,
        currency="TRX",
        paymentMethod="balance",
        callbackUrl="https://merchant.example/tron/callbacks",
    )

    client_order_id: ClientOrderId
    payment_method: Literal["balance", "transfer"] = "balance"
    callback_url: str | None = Field(default=None, max_length=500)


class OrderOut(ApiModel):
    order_id: str
    client_order_id: str
    package_type: str
    #: count packages: transfers bought, used, left (``null`` for energy orders)
    count_package: CountPackageOut | None = None
    status: str
    payment_status: str
    payment_method: str | None
    receiver: str | None
    energy: int | None
    duration_hours: int
    currency: str
    price_units: int
    #: transfer: send exactly this to ``payment_address``
    amount_to_pay_units: int | None
    payment_address: str | None
    expires_at: str | None
    delegate_tx_hash: str | None
    created_at: str | None
    paid_at: str | None
    status_reason: str | None


class OrderCreated(OrderOut):
    #: False: the clientOrderId named an existing order, returned unchanged
    created: bool


class OrderPage(ApiModel):
    items: list[OrderOut]
    next_before: str | None


class BalanceOut(ApiModel):
    trx_sun: int
    usdt_units: int


class LedgerOut(ApiModel):
    entry_id: int
    currency: str
    delta_units: int
    balance_after_units: int
    cause_type: str
    cause_id: str
    created_at: str | None


class LedgerPageOut(ApiModel):
    items: list[LedgerOut]
    next_before: int | None


class TopUpIn(ApiModel):
    currency: Currency
    amount_units: int = Field(strict=True, ge=1_000_000, le=10**15)


class TopUpOut(ApiModel):
    order_id: str
    currency: str
    payment_address: str
    #: send exactly this (the amount lifted to a unique tail); all of it is credited
    amount_units: int
    expires_at: str | None


class EstimateOut(ApiModel):
    from_address: str
    to_address: str
    receiver_holds_usdt: bool
    energy: int
    sender_usdt_units: int | None


def _iso(value: Any) -> str | None:
    return isoformat(value) if value is not None else None


def _order_view(o: Order, m: MerchantOrder, counts: CountPackage | None = None) -> OrderOut:
    return OrderOut(
        order_id=o.id,
        client_order_id=m.client_order_id,
        package_type="count" if o.order_type is OrderType.TRANSACTION_PACKAGE else "energy",
        count_package=None if counts is None else package_view(counts),
        status=o.status.value,
        payment_status=o.payment_status.value,
        payment_method=o.payment_method,
        receiver=o.target_address,
        energy=o.energy_amount,
        duration_hours=o.duration_hours,
        currency=o.currency.value,
        price_units=o.final_price_units,
        amount_to_pay_units=o.expected_amount_units,
        payment_address=o.payment_address,
        expires_at=_iso(o.expires_at),
        delegate_tx_hash=o.delegate_tx_hash,
        created_at=_iso(o.created_at),
        paid_at=_iso(o.paid_at),
        status_reason=o.status_reason,
    )


@router.get("/prices")
async def prices(session: SessionDep, key: MerchantKeyDep) -> Envelope[list[PriceOut]]:
    """Energy packages on sale with this customer's unit price per currency."""
    out = []
    for pkg in await on_sale(session, (PackageType.ENERGY, PackageType.TRANSACTION_COUNT)):
        by_currency: dict[str, int] = {}
        for currency in Currency:
            try:
                price = await quote_order(
                    session,
                    package=pkg,
                    quantity=pkg.min_order_amount or 1,
                    currency=currency,
                    user_id=key.user_id,
                )
            except NotSoldInCurrency:
                continue
            by_currency[currency.value] = price.final_price_units // (pkg.min_order_amount or 1)
        out.append(
            PriceOut(
                package_id=str(pkg.id),
                package_type=(
                    "count" if pkg.package_type is PackageType.TRANSACTION_COUNT else "energy"
                ),
                transaction_count=pkg.transaction_count,
                name=pkg.name,
                energy=pkg.energy_amount,
                duration_hours=pkg.duration_hours,
                prices=by_currency,
                min_quantity=pkg.min_order_amount or 1,
                max_quantity=pkg.max_order_amount,
            )
        )
    return ok(out)


@router.post("/quote")
async def quote(
    body: QuoteIn,
    session: SessionDep,
    rt: RuntimeDep,
    recipients: RecipientCheckDep,
    key: MerchantKeyDep,
) -> Envelope[QuoteOut]:
    """The price of an order (``energy`` + ``durationHours``, or ``packageId`` + ``quantity``)
    with its breakdown, and whether the receiver has an account on chain."""
    chosen = await choose_package(
        session,
        package_id=body.package_id,
        quantity=body.quantity,
        energy=body.energy,
        duration_hours=body.duration_hours,
        kind=body.package_type,
    )
    price = await quote_order(
        session,
        package=chosen.package,
        quantity=chosen.quantity,
        currency=body.currency,
        user_id=key.user_id,
    )
    state = None
    if recipients is not None:
        state = await recipients.check(body.receiver, activates=rt.activates_recipients)
    return ok(
        QuoteOut(
            package_id=str(chosen.package.id),
            quantity=chosen.quantity,
            energy=chosen.package.energy_amount * chosen.quantity,
            duration_hours=chosen.package.duration_hours,
            currency=body.currency.value,
            list_price_units=price.original_price_units,
            price_units=price.price_units,
            discount_units=price.discount_units,
            total_units=price.final_price_units,
            recipient_activated=None if state is None else state.activated,
            activation_fee_sun=0 if state is None else state.activation_fee_sun,
            breakdown=price.breakdown,
        )
    )


@router.get("/estimate/usdt-transfer")
async def estimate_usdt_transfer(
    session: SessionDep,
    chain: ChainDep,
    recipients: RecipientCheckDep,
    rt: RuntimeDep,
    from_address: Annotated[TronAddress, Query(alias="from")],
    to_address: Annotated[TronAddress, Query(alias="to")],
    _key: MerchantKeyDep,
) -> Envelope[EstimateOut]:
    """Energy a USDT transfer ``from`` -> ``to`` needs: about 64,285 when ``to`` holds USDT,
    about 130,285 when it holds none (read from the USDT contract, cached)."""
    if recipients is None or rt.usdt_contract is None:
        raise ServiceUnavailable("the chain is not connected", "CHAIN_UNAVAILABLE")
    await release_write_lock(session)  # SQLite: not held while the node answers
    est = await usdt_transfer_energy(
        chain,
        recipients.cache,
        rt.usdt_contract,
        sender=from_address,
        receiver=to_address,
        key_prefix=recipients.key_prefix,
    )
    return ok(
        EstimateOut(
            from_address=from_address,
            to_address=to_address,
            receiver_holds_usdt=est.receiver_holds_usdt,
            energy=est.energy,
            sender_usdt_units=est.sender_balance_units,
        )
    )


@router.post("/orders", status_code=201)
async def create_order(
    body: OrderIn,
    session: SessionDep,
    rt: RuntimeDep,
    recipients: RecipientCheckDep,
    key: MerchantKeyDep,
) -> Envelope[OrderCreated]:
    """Create an order, paid from the balance (default; delegated in the next block) or by
    transfer. The same ``clientOrderId`` again returns the first order (``created: false``);
    with a different request: 409 CLIENT_ORDER_ID_REUSED. 409 INSUFFICIENT_BALANCE: nothing
    created."""
    state = None
    if recipients is not None and body.payment_method == "transfer":
        state = await recipients.check(body.receiver, activates=rt.activates_recipients)
    made = await create_merchant_order(
        session,
        rt,
        key,
        client_order_id=body.client_order_id,
        receiver=body.receiver,
        currency=body.currency,
        payment_method=body.payment_method,
        package_id=body.package_id,
        quantity=body.quantity,
        energy=body.energy,
        duration_hours=body.duration_hours,
        callback_url=body.callback_url,
        recipient_state=state,
        package_type=body.package_type,
    )
    order, m = made.order, made.merchant  # no query: both are in hand
    view = _order_view(order, m, (await count_packages(session, [order])).get(order.id))
    return ok(OrderCreated(**view.model_dump(), created=made.created))


@router.get("/orders")
async def orders(
    session: SessionDep,
    key: MerchantKeyDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(max_length=100)] = None,
    client_order_id: Annotated[str | None, Query(alias="clientOrderId", max_length=64)] = None,
) -> Envelope[OrderPage]:
    """This customer's merchant orders, newest first (``before``: the last order id of the
    previous page)."""
    rows = await list_orders(
        session, key.user_id, limit=limit, before=before, client_order_id=client_order_id
    )
    counts = await count_packages(session, [o for o, _ in rows])
    items = [_order_view(o, m, counts.get(o.id)) for o, m in rows]
    return ok(
        OrderPage(items=items, next_before=items[-1].order_id if len(items) == limit else None)
    )


OrderIdPath = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("/orders/{order_id}")
async def order(
    order_id: OrderIdPath, session: SessionDep, key: MerchantKeyDep
) -> Envelope[OrderOut]:
    """One order, by order id or client order id."""
    o, m = await get_order(session, key.user_id, order_id)
    return ok(_order_view(o, m, (await count_packages(session, [o])).get(o.id)))


@router.post("/orders/{order_id}/cancel")
async def cancel(
    order_id: OrderIdPath, session: SessionDep, key: MerchantKeyDep
) -> Envelope[OrderOut]:
    """Cancel an unpaid (transfer) order; 409 ORDER_NOT_CANCELLABLE once paid."""
    o, m = await get_order(session, key.user_id, order_id)
    o = await order_service.cancel(session, o.id)
    return ok(_order_view(o, m))


@router.get("/balance")
async def balance(session: SessionDep, key: MerchantKeyDep) -> Envelope[BalanceOut]:
    b = await balance_service.get_balances(session, key.user_id)
    return ok(BalanceOut(trx_sun=b.trx_sun, usdt_units=b.usdt_units))


@router.get("/ledger")
async def ledger(
    session: SessionDep,
    key: MerchantKeyDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1)] = None,
    currency: Currency | None = None,
) -> Envelope[LedgerPageOut]:
    """Balance changes, newest first."""
    page = await balance_service.list_entries(
        session, key.user_id, limit=limit, before_id=before, currency=currency
    )
    return ok(
        LedgerPageOut(
            items=[
                LedgerOut(
                    entry_id=e.id,
                    currency=e.currency.value,
                    delta_units=e.delta_units,
                    balance_after_units=e.balance_after_units,
                    cause_type=e.cause_type.value,
                    cause_id=e.cause_id,
                    created_at=_iso(e.created_at),
                )
                for e in page.entries
            ],
            next_before=page.next_before_id,
        )
    )


@router.post("/top-ups", status_code=201)
async def top_up(
    body: TopUpIn, session: SessionDep, rt: RuntimeDep, key: MerchantKeyDep
) -> Envelope[TopUpOut]:
    """Top up the balance by transfer: send exactly ``amountUnits`` in ``currency`` to
    ``paymentAddress`` before ``expiresAt``; credited once the transfer is in a block."""
    o = await create_top_up(
        session, rt, user_id=key.user_id, currency=body.currency, amount_units=body.amount_units
    )
    assert o.payment_address is not None and o.expected_amount_units is not None
    return ok(
        TopUpOut(
            order_id=o.id,
            currency=o.currency.value,
            payment_address=o.payment_address,
            amount_units=o.expected_amount_units,
            expires_at=_iso(o.expires_at),
        )
    )
