"""Each module that routes import first loads on its own, in a fresh interpreter.

``tronrent.api``'s package ``__init__`` used to import the whole app, whose routers import the
domains' route modules: a domain module importing ``tronrent.api.deps`` first (a test file
collected alone, a script) then failed with a circular import."""

from __future__ import annotations

import subprocess
import sys

import pytest

FIRST_IMPORTS = [
    "tronrent.flash.api_deps",
    "tronrent.api.deps",
    "tronrent.agent.endpoints",
    "tronrent.merchant.endpoints",
    "tronrent.count.endpoints",
]


@pytest.mark.parametrize("module", FIRST_IMPORTS)
def test_imported_first_in_a_fresh_interpreter(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
