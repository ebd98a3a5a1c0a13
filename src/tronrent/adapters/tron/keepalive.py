"""JSON POSTs to a TRON node over kept-alive connections, for the gateway's hot path.

``TronGateway.broadcast`` runs once per delegation. Through httpx (request building, the
connection pool's bookkeeping, anyio streams, h11) a POST costs ~0.6 ms of CPU; through aiohttp
(its C HTTP parser, pooled keep-alive connections) ~0.16 ms. Failures are raised as the httpx
errors the gateway's failover already handles (`httpx.TimeoutException`, `httpx.ConnectError`,
`httpx.TransportError`, `httpx.HTTPStatusError` with the answer's status and headers), so the
failover treats both clients alike. A pooled connection the node closed meanwhile fails the
attempt as a transport error and the gateway tries again (a broadcast is idempotent: the same
transaction again is "Dup transaction").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
import orjson


def usable(url: str) -> bool:
    """Whether this client can talk to ``url`` (http(s), no credentials, no query)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and not parts.username and not parts.query


class KeepAlivePoster:
    """One aiohttp session (made in the running loop on first use), closed by ``aclose``."""

    def __init__(
        self,
        *,
        timeout_s: float,
        headers: Mapping[str, str] | None = None,
        trace_configs: list[aiohttp.TraceConfig] | None = None,
    ) -> None:
        self._trace_configs = trace_configs
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._timeout_s = timeout_s
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        self._session: aiohttp.ClientSession | None = None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, url: str, payload: Any) -> Any:
        """POST ``payload`` as JSON to ``url``; the JSON answer (raises as the module says)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers=self._headers, trace_configs=self._trace_configs
            )
        try:
            async with self._session.post(url, data=orjson.dumps(payload)) as answer:
                content = await answer.read()
                status, headers = answer.status, list(answer.headers.items())
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no answer from {url} in {self._timeout_s} s") from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}") from exc
        if status >= 400:
            request = httpx.Request("POST", url)
            response = httpx.Response(status, headers=headers, content=content, request=request)
            raise httpx.HTTPStatusError(f"HTTP {status}", request=request, response=response)
        return orjson.loads(content)
