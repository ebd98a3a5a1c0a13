"""Routers of the flash rental issue, for `create_app(routers=FLASH_ROUTERS)`."""

from __future__ import annotations

from fastapi import APIRouter

from tronrent.count import auto_endpoints, customer_endpoints
from tronrent.count import endpoints as count_endpoints
from tronrent.delegation import endpoints as delegation_endpoints
from tronrent.merchant import admin_endpoints as merchant_admin_endpoints
from tronrent.merchant import endpoints as merchant_endpoints
from tronrent.notification import endpoints as notification_endpoints
from tronrent.order import admin_endpoints as order_admin_endpoints
from tronrent.order import endpoints as order_endpoints
from tronrent.payment import admin_endpoints as payment_admin_endpoints
from tronrent.payment import endpoints as payment_endpoints
from tronrent.pool import endpoints as pool_endpoints
from tronrent.product import endpoints as product_endpoints

#: the routes hit per order first (requests are matched against the routes in order: create_app)
FLASH_ROUTERS: tuple[APIRouter, ...] = (
    merchant_endpoints.router,
    order_endpoints.orders_router,
    product_endpoints.router,
    order_endpoints.router,
    product_endpoints.top_ups_router,
    payment_endpoints.router,
    payment_endpoints.payments_router,
    pool_endpoints.router,
    delegation_endpoints.router,
    delegation_endpoints.admin_router,
    notification_endpoints.router,
    order_admin_endpoints.router,
    payment_admin_endpoints.router,
    merchant_admin_endpoints.router,
    count_endpoints.router,
    auto_endpoints.router,
    customer_endpoints.router,
)
