"""The ``tronrent`` command in real subprocesses: shared by the CLI and first-run tests and by
``bench/serve_memory.py`` (which puts this folder on ``sys.path``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from tronrent.config import field_docs

SCRIPT = Path(sys.executable).with_name("tronrent")
COMMAND = (
    [str(SCRIPT)]
    if SCRIPT.exists()
    else [sys.executable, "-c", "from tronrent.cli import main; main()"]
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """This environment without any of our variables, with ``DATA_DIR`` and ``settings``."""
    names = set(field_docs())
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.update(DATA_DIR=str(data_dir), **settings)
    return env


def stop(process: subprocess.Popen[Any], timeout_s: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
