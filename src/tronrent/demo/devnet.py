"""A small client of the devnet's control API (`/devnet/*`, not part of java-tron).

Used by the first-run bootstrap, `tronrent demo`, the end-to-end test and the benchmarks. A real
TRON node answers 404 on `/devnet/info`: :func:`probe` then returns ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True, slots=True)
class DevnetInfo:
    url: str
    block_interval_ms: int
    usdt_address: str
    head: int


class DevnetControl:
    """``async with DevnetControl(url) as dev: await dev.faucet(address, trx_sun=...)``."""

    def __init__(self, url: str, *, client: httpx.AsyncClient | None = None) -> None:
        self.url = url.rstrip("/")
        self._owns = client is None
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(30.0))

    async def __aenter__(self) -> DevnetControl:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns:
            await self._client.aclose()

    async def _call(self, method: str, action: str, body: dict[str, Any] | None = None) -> Any:
        response = await self._client.request(method, f"{self.url}/devnet/{action}", json=body)
        response.raise_for_status()
        return response.json()

    async def info(self) -> DevnetInfo:
        data = await self._call("GET", "info")
        return DevnetInfo(
            url=self.url,
            block_interval_ms=int(data["block_interval_ms"]),
            usdt_address=str(data["usdt_address"]),
            head=int(data["head"]),
        )

    async def faucet(self, address: str, *, trx_sun: int = 0, usdt_units: int = 0) -> None:
        await self._call(
            "POST", "faucet", {"address": address, "trx_sun": trx_sun, "usdt_units": usdt_units}
        )

    async def faucet_many(self, accounts: Iterable[tuple[str, int, int]]) -> int:
        """Credit many accounts in one call: ``(address, trx_sun, usdt_units)``."""
        body = {
            "accounts": [
                {"address": a, "trx_sun": trx, "usdt_units": usdt} for a, trx, usdt in accounts
            ]
        }
        return int((await self._call("POST", "faucet", body))["accounts"])

    async def stats(self, *, reset: bool = False) -> dict[str, Any]:
        if reset:
            data: dict[str, Any] = await self._call("DELETE", "stats")
        else:
            data = await self._call("GET", "stats")
        return data


async def probe(url: str, *, timeout_s: float = 5.0) -> DevnetInfo | None:
    """The devnet's info, or ``None`` when ``url`` is not a devnet (or does not answer)."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout_s)) as client:
        try:
            return await DevnetControl(url, client=client).info()
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return None
