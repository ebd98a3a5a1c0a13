"""FastAPI dependencies that decide who may see and act on an order (policy: order.access).

Like Polar's ``OrderPolicyGuard``: authenticate the caller, load the order (404), check the
policy, in one step. ``CustomerOrderDep`` (mutations: cancel) needs the order token in
``X-Order-Token`` or an operator's bearer JWT; ``ViewedOrderDep`` (reads) lets anyone in and
says how much they may see. ``authorize_order`` does the same for a route whose order id is in
the body (confirm-payment).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Path
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.api.deps import SessionDep, StateDep
from tronrent.auth.service import admin as admin_service
from tronrent.kit.errors import Unauthorized
from tronrent.models.admin_user import AdminUser
from tronrent.models.order import Order
from tronrent.order.access import TOKEN_HEADER, Access, access_of, require_owner
from tronrent.order.schemas import FlashOrderId, OrderId
from tronrent.order.service import order as order_service

#: an operator's JWT from POST /api/auth/login (the same scheme as the admin routes')
_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True, slots=True)
class OrderCredentials:
    """What the caller presented: the order token and/or an operator account."""

    token: str | None
    operator: AdminUser | None


@dataclass(frozen=True, slots=True)
class ViewedOrder:
    order: Order
    access: Access


async def get_order_credentials(
    state: StateDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_order_token: Annotated[
        str | None,
        Header(
            alias=TOKEN_HEADER,
            description="the orderToken returned once by create-order",
            max_length=256,
        ),
    ] = None,
) -> OrderCredentials:
    """The caller's order token and operator account; a bearer token that is sent must be
    valid (401 otherwise), one that is absent simply means "not an operator"."""
    operator = None
    if credentials is not None:
        claims = state.tokens.verify(credentials.credentials)
        operator = await admin_service.get_active(session, claims.admin_id)
        if operator is None:
            raise Unauthorized("account not found or disabled", "ACCOUNT_DISABLED")
    return OrderCredentials(x_order_token or None, operator)


OrderCredentialsDep = Annotated[OrderCredentials, Depends(get_order_credentials)]


async def authorize_order(
    session: AsyncSession, order_id: str, creds: OrderCredentials, *, lock: bool = False
) -> Order:
    """The order (404 if unknown) if the caller may act on it, else 401/403 (order.access)."""
    order = await order_service.get(session, order_id, lock=lock)
    authorize_loaded(order, creds)
    return order


def authorize_loaded(order: Order, creds: OrderCredentials) -> Access:
    """`authorize_order` for an order the caller has read: 401/403 unless it may act on it."""
    return require_owner(creds.token, order.access_token_hash, operator=creds.operator is not None)


async def get_customer_order(
    order_id: Annotated[FlashOrderId, Path(description="FLASH_<ms>_<id>")],
    session: SessionDep,
    creds: OrderCredentialsDep,
) -> Order:
    return await authorize_order(session, order_id, creds)


async def get_viewed_order(
    order_id: Annotated[OrderId, Path(description="FLASH_, ORD_ or TOPUP_<ms>_<id>")],
    session: SessionDep,
    creds: OrderCredentialsDep,
) -> ViewedOrder:
    order = await order_service.get(session, order_id)
    access = access_of(creds.token, order.access_token_hash, operator=creds.operator is not None)
    return ViewedOrder(order, access)


CustomerOrderDep = Annotated[Order, Depends(get_customer_order)]
ViewedOrderDep = Annotated[ViewedOrder, Depends(get_viewed_order)]
