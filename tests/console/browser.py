"""The console in a real browser: a real ``tronrent serve`` (embedded devnet, SQLite) and
Debian's chromium driven by Playwright (``executable_path``, headless; Playwright never
downloads a browser here).

``Served`` is the running service with an admin and an operator account and an admin API
token; ``browser_page`` opens a fresh browser context per test. Screenshots go to the test's
temporary folder, and to ``$CONSOLE_SCREENSHOTS`` when set (docs/console/ is made that way).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from subprocesses import COMMAND, clean_env, free_port, start_serve, stop, wait_ready
from tronrent.storage.migrations import upgrade

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "console-test-Password-1"
TRX = 1_000_000


@dataclass
class Served:
    url: str
    devnet_url: str
    admin: str
    operator: str
    api: httpx.AsyncClient
    screenshots: list[Path]
    #: the served SQLite database, for preconditions no public route can make
    database_url: str = ""

    async def admin_api(self, method: str, path: str, **kw: Any) -> Any:
        answer = await self.api.request(method, path, **kw)
        assert answer.status_code < 300, answer.text
        return answer.json()["data"]


def _create_account(env: dict[str, str], cwd: Path, username: str, role: str) -> None:
    done = subprocess.run(
        [*COMMAND, "admin", "create", "--username", username, "--role", role],
        env=env,
        cwd=cwd,
        input=f"{PASSWORD}\n{PASSWORD}\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    data = tmp_path / "data"
    data.mkdir()
    devnet_port = free_port()
    env = clean_env(
        data,
        TRON_DEVNET_PORT=str(devnet_port),
        BLOCK_INTERVAL_MS="300",
        ENERGY_FLASH_RENTAL_SECONDS="600",
        LOG_LEVEL="warning",
    )
    database_url = f"sqlite+aiosqlite:///{data / 'tronrent.db'}"
    upgrade(database_url)
    await asyncio.to_thread(_create_account, env, tmp_path, "boss", "admin")
    await asyncio.to_thread(_create_account, env, tmp_path, "clerk", "operator")
    port = free_port()
    process = start_serve(port, env, tmp_path / "serve.out")
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(port, process)
        async with httpx.AsyncClient(base_url=url, timeout=30) as api:
            login = await api.post(
                "/api/auth/login", json={"username": "boss", "password": PASSWORD}
            )
            assert login.status_code == 200, login.text
            api.headers["Authorization"] = f"Bearer {login.json()['data']['accessToken']}"
            yield Served(
                url, f"http://127.0.0.1:{devnet_port}", "boss", "clerk", api, [], database_url
            )
    finally:
        await asyncio.to_thread(stop, process, 20)


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Iterator[Path]:
    yield Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "shots")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


async def sign_in(browser: Any, served: Served, username: str) -> Any:
    """A new browser context signed in through the login form; returns its page."""
    context = await browser.new_context(
        base_url=served.url, viewport={"width": 1400, "height": 900}
    )
    page = await context.new_page()
    await page.goto("/admin/orders")
    assert "/admin/login" in page.url  # sent to sign in first
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/admin/orders")
    return page


async def flash_order(served: Served, recipient: str) -> Any:
    """A flash order for ``recipient`` through the HTTP API (its create-order answer)."""
    answer = await served.api.post(
        "/api/energy-flash/create-order", json={"recipientAddress": recipient, "chatId": 0}
    )
    assert answer.status_code < 300, answer.text
    return answer.json()["data"]


async def send_trx(served: Served, payer: Any, to: str, amount_sun: int) -> None:
    """``amount_sun`` from ``payer`` (a tronpy key) to ``to``, in a block when this returns."""
    from tronpy import AsyncTron
    from tronpy.providers.async_http import AsyncHTTPProvider

    async with httpx.AsyncClient(timeout=30) as http:
        tron = AsyncTron(provider=AsyncHTTPProvider(served.devnet_url + "/", client=http))
        sender = payer.public_key.to_base58check_address()
        txn = await tron.trx.transfer(sender, to, amount_sun).build()
        await (await txn.sign(payer).broadcast()).wait(timeout=30, interval=0.1)


async def shot(page: Any, folder: Path, name: str, *, full_page: bool = True) -> Path:
    """``name``.png in ``folder``: the whole page, or what the window shows (a long page)."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 5_000
    return path
