"""First run + `tronrent demo` end to end, in real processes.

`tronrent serve` (embedded default: SQLite in a temp DATA_DIR, in-process devnet on a free port
with 200 ms blocks, a 3 s rental) is started as a subprocess; `tronrent demo --json` plays the
customer against it. The timeline must show the delegation in the block after the payment (or
the next), the USDT transfer paid by the rented energy with no TRX burnt, and the reclaim. A
restart on the same DATA_DIR must keep the demo pool and the flash payment address.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from subprocesses import COMMAND, clean_env, free_port, stop
from tronrent.storage.migrations import upgrade

BANNER_ADDRESS = re.compile(r"Flash payment address: (T\w{33})")
BANNER_POOL = re.compile(r"Demo pool:\s+(T\w{33})")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    data = tmp_path / "data"
    clean = clean_env(
        data,
        TRON_DEVNET_PORT=str(free_port()),
        BLOCK_INTERVAL_MS="200",
        ENERGY_FLASH_RENTAL_SECONDS="3",
        LOG_LEVEL="warning",
    )
    data.mkdir()
    upgrade(f"sqlite+aiosqlite:///{data / 'tronrent.db'}")  # what `tronrent migrate` does
    return clean


class Serve:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.log = cwd / f"serve-{self.port}.out"
        self._out = self.log.open("w")
        self.process = subprocess.Popen(
            [*COMMAND, "serve", "--port", str(self.port)],
            env=env,
            cwd=cwd,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def banner(self, timeout_s: float = 90) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.log.read_text()
            if "Try it:" in text:
                return text
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited {self.process.returncode}:\n{text[-3000:]}")
            time.sleep(0.2)
        raise AssertionError(f"no DEVNET banner within {timeout_s} s")

    def stop(self) -> None:
        stop(self.process, 20)
        self._out.close()


@pytest.fixture
def serve(env: dict[str, str], tmp_path: Path) -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for s in started:
        s.stop()


def test_first_run_banner_demo_timeline_and_restart(
    env: dict[str, str], tmp_path: Path, serve: list[Serve]
) -> None:
    first = Serve(env, tmp_path)
    serve.append(first)
    text = first.banner()
    assert "DEVNET" in text
    assert f"http://127.0.0.1:{first.port}" in text
    devnet_url = f"http://127.0.0.1:{env['TRON_DEVNET_PORT']}"
    assert devnet_url in text
    address = BANNER_ADDRESS.search(text)
    pool = BANNER_POOL.search(text)
    assert address and pool and address.group(1) == pool.group(1)

    demo = subprocess.run(
        [*COMMAND, "demo", "--api", f"http://127.0.0.1:{first.port}", "--devnet", devnet_url,
         "--timeout", "30", "--json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout + demo.stderr
    *timeline, last = demo.stdout.strip().splitlines()
    result = json.loads(last)
    assert result["payment_address"] == address.group(1)
    assert 1 <= result["delegation_block"] - result["payment_block"] <= 2, timeline
    assert result["energy_on_address"] >= 64_285
    assert result["usdt_energy_used"] >= 64_285
    assert result["usdt_energy_fee_sun"] == 0 and result["usdt_fee_sun"] == 0
    assert result["order_status"] == "completed"
    assert result["reclaim_tx"] and result["reclaim_block"] > result["delegation_block"]
    assert result["energy_after_reclaim"] == 0
    joined = "\n".join(timeline)
    for step in ("TRX sent", "energy delegated", "energy on the customer", "no TRX burnt",
                 "reclaimed"):  # fmt: skip
        assert step in joined

    first.stop()
    again = Serve(env, tmp_path)
    serve.append(again)
    text = again.banner()
    assert BANNER_ADDRESS.search(text).group(1) == address.group(1)  # type: ignore[union-attr]
