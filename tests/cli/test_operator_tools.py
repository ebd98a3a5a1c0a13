"""Operator tools: one-shot commands print their own output only (no JSON log lines first),
the emulator chat command runs, the banner's demo command runs from the operator's shell."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from subprocesses import COMMAND, clean_env, free_port
from tronrent.entrypoints import devnet_bootstrap


async def tronrent(
    *args: str, env: dict[str, str], cwd: Path, stdin: bytes = b""
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        *args,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_one_shot_commands_print_no_log_lines(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data")
    code, out, err = await tronrent("migrate", env=env, cwd=tmp_path)
    assert code == 0, err
    assert out.strip() == "database migrated to head"
    assert err == ""  # no alembic info lines, no local-secrets warnings
    code, out, err = await tronrent("pool", "list", env=env, cwd=tmp_path)
    assert code == 0 and err == "", err


async def test_emulator_chat_answers_the_bot_in_the_terminal(tmp_path: Path) -> None:
    """`tronrent tgemulator`: the emulator runs, prints how to point the service at it, and
    takes the user's lines (no service here: the bot's chat stays empty)."""
    env = clean_env(tmp_path / "data")
    port = free_port()
    code, out, err = await tronrent(
        "tgemulator", "--port", str(port), env=env, cwd=tmp_path, stdin=b"/start\n/quit\n"
    )
    assert code == 0, err
    assert f"TELEGRAM_API_URL=http://127.0.0.1:{port} TELEGRAM_BOT_TOKEN=" in out


class TestBannerCommand:
    def test_on_the_path_it_is_just_tronrent(self, monkeypatch: pytest.MonkeyPatch) -> None:
        script = Path(sys.executable).with_name("tronrent")
        monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ.get('PATH', '')}")
        assert devnet_bootstrap.command_name() == "tronrent"

    def test_off_the_path_the_full_path(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PATH", "/nonexistent")
        name = devnet_bootstrap.command_name()
        script = Path(sys.executable).with_name("tronrent")
        assert name == (str(script) if script.exists() else f"{sys.executable} -m tronrent")
