"""JSON logs in seed 000's LogEntry shape, with secrets redacted at any depth."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from tronrent.kit.crypto import Secret
from tronrent.kit.logging import (
    REDACTED,
    bind_context,
    configure_logging,
    get_logger,
    unbind_context,
)

BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
PRIVATE_KEY = "8e812436a0e3323166e1f0e8ba79e19e217b2c4a53c970d4cca0cfb1078979df"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging("debug", stream=stream, quiet=["tronrent.quieted"])
    yield stream
    logging.getLogger().removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_log_entry_shape(captured: io.StringIO) -> None:
    bind_context(request_id="req-1")
    try:
        get_logger("tronrent.payment").info(
            "payment.seen", order_id="FLASH_1704067200000_abc123def", user_id=42, amount_sun=1500000
        )
    finally:
        unbind_context("request_id")
    (entry,) = lines(captured)
    assert entry["level"] == "info"
    assert entry["service"] == "payment"
    assert entry["action"] == "payment.seen"
    assert entry["orderId"] == "FLASH_1704067200000_abc123def"
    assert entry["userId"] == "42"
    assert entry["requestId"] == "req-1"
    assert entry["data"] == {"amount_sun": 1500000}
    assert entry["timestamp"].endswith("Z")
    assert set(entry) <= {
        "timestamp", "level", "service", "action", "orderId", "userId", "data", "error",
        "requestId", "stack",
    }  # fmt: skip


def test_levels_and_errors(captured: io.StringIO) -> None:
    log = get_logger("tronrent.delegation")
    log.warning("pool.low", pool="p1")
    try:
        raise ValueError("bad things")
    except ValueError:
        log.exception("delegation.failed")
    warn, error = lines(captured)
    assert warn["level"] == "warn"
    assert error["level"] == "error"
    assert error["error"] == "ValueError: bad things"
    assert "Traceback" in error["stack"]


def test_secrets_redacted_everywhere(captured: io.StringIO) -> None:
    log = get_logger("tronrent.pool")
    log.info(
        "pool.added",
        private_key=PRIVATE_KEY,
        config={"bot": {"token": BOT_TOKEN, "Password": "hunter2"}, "items": [{"apiKey": "k1"}]},
        authorization="Bearer abc.def.ghi",
        note=f"calling https://api.telegram.org/bot{BOT_TOKEN}/getMe",
        wrapped=Secret(PRIVATE_KEY),
        pydantic=SecretStr("s3cr3t-value"),
        header="Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
    )
    logging.getLogger("aiogram.session").info("request to bot%s failed", BOT_TOKEN)
    text = captured.getvalue()
    for secret in (PRIVATE_KEY, BOT_TOKEN, "hunter2", "k1", "abc.def.ghi", "s3cr3t", "eyJhbGci"):
        assert secret not in text, secret
    entry = lines(captured)[0]
    assert entry["data"]["private_key"] == REDACTED
    assert entry["data"]["config"]["bot"]["token"] == REDACTED
    assert entry["data"]["wrapped"] == REDACTED


def test_url_passwords_redacted(captured: io.StringIO) -> None:
    get_logger("tronrent.api").warning(
        "db.unreachable", url="postgresql://user:hunter2@db:5432/tron_energy"
    )
    assert lines(captured)[0]["data"]["url"] == "postgresql://user:[REDACTED]@db:5432/tron_energy"


def test_tx_hashes_are_not_redacted(captured: io.StringIO) -> None:
    tx = "a" * 64
    get_logger("tronrent.payment").info("payment.seen", tx_hash=tx)
    assert lines(captured)[0]["data"]["tx_hash"] == tx


def test_quiet_loggers_drop_info(captured: io.StringIO) -> None:
    log = get_logger("tronrent.quieted")
    log.info("noise")
    log.warning("kept")
    assert [e["action"] for e in lines(captured)] == ["kept"]


def test_stdlib_logs_use_same_shape(captured: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").error("port %d busy", 8000)
    (entry,) = lines(captured)
    assert entry == {
        **entry,
        "level": "error",
        "service": "uvicorn.error",
        "action": "port 8000 busy",
    }


@pytest.mark.parametrize(
    ("value", "secret"),
    [
        (f"token {BOT_TOKEN} here", BOT_TOKEN),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "eyJhbGci"),
        ("sent BASIC dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("sent bearer\tabc.def", "abc.def"),
        ("redis://:hunter2@cache:6379/0 and more", "hunter2"),
    ],
)
def test_each_secret_value_redacted_alone(captured: io.StringIO, value: str, secret: str) -> None:
    """Each secret-looking value on its own (the quick pre-check must let every kind through
    to the patterns)."""
    get_logger("tronrent.api").info("event", note=value)
    assert secret not in captured.getvalue()
