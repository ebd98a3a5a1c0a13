"""Request/response schemas of the flash routes (seed 000 section 4, camelCase)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, PlainSerializer, StringConstraints

from tronproto.address import is_valid_base58
from tronrent.api.envelope import ApiModel
from tronrent.order.ids import is_flash_order_id, is_order_id

#: Telegram chat ids fit in 52 bits
CHAT_ID_LIMIT = 2**52


def _tron_address(value: str) -> str:
    value = value.strip()
    if not is_valid_base58(value):
        raise ValueError("not a valid TRON address (base58, starts with T, valid checksum)")
    return value


def _tx_hash(value: str) -> str:
    value = value.strip().lower().removeprefix("0x")
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ValueError("a transaction hash is 64 hexadecimal characters")
    return value


def _flash_order_id(value: str) -> str:
    if not is_flash_order_id(value):
        raise ValueError("malformed order id (expected FLASH_<milliseconds>_<9 characters>)")
    return value


def _order_id(value: str) -> str:
    if not is_order_id(value):
        raise ValueError("malformed order id (expected FLASH_, ORD_ or TOPUP_<ms>_<9 characters>)")
    return value


#: formats published in the OpenAPI (clients and the API fuzzer); the validators decide
TRON_ADDRESS_PATTERN = r"^T[1-9A-HJ-NP-Za-km-z]{33}$"
TX_HASH_PATTERN = r"^(0x)?[0-9a-fA-F]{64}$"
FLASH_ORDER_ID_PATTERN = r"^FLASH_[1-9][0-9]{12}_[0-9a-z]{9}$"
ORDER_ID_PATTERN = r"^(FLASH|ORD|TOPUP)_[1-9][0-9]{12}_[0-9a-z]{9}$"

TronAddress = Annotated[
    str,
    StringConstraints(max_length=64),
    AfterValidator(_tron_address),
    Field(json_schema_extra={"pattern": TRON_ADDRESS_PATTERN, "format": "tron-address"}),
]
TxHash = Annotated[
    str,
    StringConstraints(max_length=80),
    AfterValidator(_tx_hash),
    Field(json_schema_extra={"pattern": TX_HASH_PATTERN}),
]
FlashOrderId = Annotated[
    str,
    StringConstraints(max_length=64),
    AfterValidator(_flash_order_id),
    Field(json_schema_extra={"pattern": FLASH_ORDER_ID_PATTERN}),
]
#: an order id of any product (flash, package, top-up)
OrderId = Annotated[
    str,
    StringConstraints(max_length=64),
    AfterValidator(_order_id),
    Field(json_schema_extra={"pattern": ORDER_ID_PATTERN}),
]
#: a TRX amount for display: exact Decimal inside, a JSON number on the wire (seed: 1.5)
TrxAmount = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
ChatId = Annotated[int, Field(strict=False, ge=-CHAT_ID_LIMIT, le=CHAT_ID_LIMIT)]


class CreateOrderRequest(ApiModel):
    recipient_address: TronAddress
    chat_id: ChatId


class PriceConfigOut(ApiModel):
    single_price: TrxAmount
    max_transactions: int
    expiry_hours: int
    min_amount: TrxAmount

    model_config = ApiModel.model_config | {"alias_generator": None}


class CreateOrderResponse(ApiModel):
    order_id: str
    payment_address: str
    price_config: PriceConfigOut
    expires_at: str
    #: the unique amount tail: pay `n * single_price + paymentTail` TRX (extension)
    payment_tail: TrxAmount
    example_amount: TrxAmount
    #: whether the recipient has an account on chain (null: unknown)
    recipient_activated: bool | None = None
    #: added to the amount to activate the recipient (0 when it has an account)
    activation_fee: TrxAmount = Decimal(0)
    #: the secret that lets this caller cancel/confirm the order (header X-Order-Token);
    #: returned here once, only its hash is stored (docs/customer-auth.md)
    order_token: str | None = None


class ConfirmPaymentRequest(ApiModel):
    order_id: FlashOrderId
    tx_hash: TxHash


class ConfirmPaymentResponse(ApiModel):
    success: bool = True
    message: str
    data: dict[str, Any]


class OrderStatusResponse(ApiModel):
    order_id: str
    status: str
    paid_amount: TrxAmount | None
    transaction_count: int | None
    delegation_result: list[dict[str, Any]]
    recipient_address: str | None = None
    energy_amount: int | None = None
    expires_at: str | None = None
    status_reason: str | None = None
    #: what the caller may see: "public" (no token), "owner" (token), "operator" (JWT);
    #: the public view leaves out recipient, tx hashes, chat and status reason
    access: str = "public"
    #: where and how much to pay (TRX, with the tail) while the order waits for payment
    payment_address: str | None = None
    expected_amount: TrxAmount | None = None
    #: owner/operator only
    chat_id: int | None = None
    payment_tx_hash: str | None = None
    #: every product: energy_flash | energy_rental (package) | balance_top_up; amounts are in
    #: ``currency`` (TRX or USDT, both 6 decimals)
    order_type: str = "energy_flash"
    currency: str = "TRX"
    payment_method: str | None = None
    #: package orders: the package, how many, the rental length and the frozen price
    package_id: str | None = None
    quantity: int | None = None
    duration_hours: int | None = None
    price: TrxAmount | None = None
    original_price: TrxAmount | None = None
    discount: TrxAmount | None = None
    final_price: TrxAmount | None = None
    activation_fee: TrxAmount | None = None
    #: count-package orders: counts bought / used / left and, for the owner or an operator,
    #: each use (the customer's transfer tx and our top-up tx)
    count_package: dict[str, Any] | None = None


class BalancePaymentRequest(ApiModel):
    """Pay the order from its user's balance."""

    method: Literal["balance"]


class TransferPaymentRequest(ApiModel):
    """Submit the hash of the transfer that paid the order (verified on chain)."""

    method: Literal["transfer"]
    tx_hash: TxHash


PaymentRequest = Annotated[
    BalancePaymentRequest | TransferPaymentRequest, Field(discriminator="method")
]


class OrderPaymentResponse(ApiModel):
    order_id: str
    method: str
    status: str
    payment_status: str
    currency: str
    #: integer base units of ``currency`` (sun, or USDT micro-units)
    paid_amount_units: int | None
    #: the transfer's hash (method transfer)
    tx_hash: str | None = None
