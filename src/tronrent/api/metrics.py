"""``/api/metrics``: the Prometheus text exposition of :mod:`tronrent.kit.metrics`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from tronrent.kit.metrics import CONTENT_TYPE, render_latest

router = APIRouter(tags=["system"])


@router.get(
    "/api/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics() -> Response:
    return Response(render_latest(), media_type=CONTENT_TYPE)
