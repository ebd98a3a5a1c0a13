"""Structured JSON logs in seed 000's ``LogEntry`` shape, with secrets redacted everywhere.

One line per event::

    {"timestamp": "2024-01-01T00:00:00.000Z", "level": "info", "service": "payment",
     "action": "payment.seen", "orderId": "FLASH_...", "userId": "42", "requestId": "...",
     "data": {"amount_sun": 1500000}, "error": "ValueError: ..."}

Use ``log = get_logger("tronrent.payment")`` and ``log.info("payment.seen", order_id=...,
user_id=..., amount_sun=...)``: the event name becomes ``action``, ``order_id``/``user_id``
become ``orderId``/``userId``, every other key goes under ``data``. Logs from the standard
library (uvicorn, SQLAlchemy, aiogram) go through the same formatter. Keys that look secret
(private_key, token, password, secret, authorization, api_key, ...) and values that look like
bot tokens, bearer tokens or JWTs are replaced by ``[REDACTED]`` at any depth.

Logger names (``service`` is the name without ``tronrent.``) that the LOG_* switches quiet:
``tronrent.payment`` and ``tronrent.scanner`` (LOG_PAYMENT_MONITORING),
``tronrent.delegation`` (LOG_ENERGY_DELEGATION).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final, TextIO
from uuid import UUID

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from tronrent.kit.crypto import Secret

REDACTED: Final = "[REDACTED]"
PAYMENT_LOGGERS: Final = ("tronrent.payment", "tronrent.scanner")
DELEGATION_LOGGERS: Final = ("tronrent.delegation",)

_SECRET_KEY = re.compile(
    r"private[_-]?key|secret|passw(or)?d|passphrase|token|authori[sz]ation|api[_-]?key|"
    r"mnemonic|cookie|credential|seed[_-]?phrase",
    re.IGNORECASE,
)
_SECRET_VALUES = (
    # Telegram bot token: <bot id>:<35 chars>
    re.compile(r"(?<![0-9])\d{5,}:[A-Za-z0-9_-]{30,}"),
    # JWT
    re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
    # Authorization header values
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
)
_TOP_LEVEL: Final = ("timestamp", "level", "service", "action")
_RENAMED: Final = {
    "order_id": "orderId",
    "orderId": "orderId",
    "user_id": "userId",
    "userId": "userId",
    "request_id": "requestId",
    "requestId": "requestId",
}
_LEVELS: Final = {"warning": "warn", "critical": "error", "exception": "error", "fatal": "error"}
_DROP: Final = ("logger", "_record", "_from_structlog", "exc_info", "stack_info", "positional_args")


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """True when a mapping key names something that must never be logged."""
    return bool(_SECRET_KEY.search(key))


_URL_PASSWORD: Final = re.compile(r"(://[^:/@\s]*):[^@\s/]+@")
#: what every secret-looking value contains (a bot token's "12345:", a JWT's "eyJ", "bearer "
#: or "basic ", a URL's "://"): text without any of it is returned as it is after one scan
_MAY_HOLD_SECRET: Final = re.compile(r"\d{5}:|eyJ|(?i:bearer|basic)\s|://")
#: values that are never secret and never hold one (the common case: counts, amounts, flags)
_PLAIN_TYPES: Final = (int, float, bool, type(None))


def redact_text(text: str) -> str:
    """Mask secret-looking substrings (bot tokens, JWTs, bearer credentials, URL passwords)."""
    if not _MAY_HOLD_SECRET.search(text):
        return text
    for pattern in _SECRET_VALUES:
        text = pattern.sub(REDACTED, text)
    return _URL_PASSWORD.sub(rf"\1:{REDACTED}@", text)


def redact(value: Any) -> Any:
    """Recursively redact secret keys and secret-looking values."""
    if type(value) in _PLAIN_TYPES:
        return value
    if type(value) is str:
        return redact_text(value)
    if isinstance(value, Secret) or _is_pydantic_secret(value):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and is_secret_key(k) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v) for v in value]
    return value


def _is_pydantic_secret(value: Any) -> bool:
    return type(value).__name__ in {"SecretStr", "SecretBytes"} and hasattr(
        value, "get_secret_value"
    )


def redact_processor(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor applying :func:`redact` to every key of the event."""
    for key in list(event_dict):
        if key in ("_record", "_from_structlog"):
            continue
        value = event_dict[key]
        event_dict[key] = REDACTED if is_secret_key(key) else redact(value)
    return event_dict


def log_entry_processor(_: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Reshape an event into seed 000's ``LogEntry`` (plus ``requestId``/``stack``)."""
    level = str(event_dict.pop("level", method_name)).lower()
    logger_name = str(event_dict.pop("logger", "") or "")
    service = event_dict.pop("service", None) or logger_name.removeprefix("tronrent.") or "tronrent"
    entry: dict[str, Any] = {
        "timestamp": event_dict.pop("timestamp", None),
        "level": _LEVELS.get(level, level),
        "service": service,
        "action": event_dict.pop("event", ""),
    }
    for key, target in _RENAMED.items():
        if key in event_dict:
            value = event_dict.pop(key)
            if value is not None:
                entry[target] = str(value)
    error = event_dict.pop("error", None)
    exception = event_dict.pop("exception", None)
    if exception:
        lines = str(exception).rstrip().splitlines()
        entry["error"] = str(error) if error is not None else (lines[-1] if lines else "")
        entry["stack"] = str(exception)
    elif error is not None:
        entry["error"] = str(error)
    for key in _DROP:
        event_dict.pop(key, None)
    if event_dict:
        entry["data"] = dict(event_dict)
    event_dict.clear()
    event_dict.update(entry)
    return event_dict


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return value.hex()
    return repr(value)


def _render_json(_: WrappedLogger, __: str, event_dict: EventDict) -> str:
    return json.dumps(event_dict, default=_json_default, ensure_ascii=False)


_HANDLER_FLAG: Final = "_tronrent_handler"
#: third-party loggers whose info lines say nothing useful
#: third-party loggers whose info lines are per request or per statement (httpx logs every node
#: call at INFO): warnings and errors still pass
_NOISY: Final = (
    "alembic.runtime.plugins",
    "aiosqlite",
    "asyncio",
    "httpx",
    "httpcore",
    "aiogram.event",
    # one INFO line per job run: the periodic jobs (count.life every 2 s) would flood the log;
    # our queue logs what fails
    "taskiq.receiver.receiver",
)


def configure_logging(
    level: str = "info",
    *,
    stream: TextIO | None = None,
    quiet: Iterable[str] = (),
) -> logging.Handler:
    """Install JSON logging on the root logger (idempotent; replaces our previous handler).

    ``quiet`` lists logger names whose info/debug events are dropped (warnings still pass).
    Returns the handler, so tests can remove it.
    """
    numeric = logging.getLevelName(_stdlib_level(level))
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        timestamper,
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_processor,
            log_entry_processor,
            _render_json,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_FLAG, True)

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_FLAG, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # requests are logged by our middleware with their request id
    logging.getLogger("uvicorn.access").disabled = True
    for name in (*_NOISY, *quiet):
        logging.getLogger(name).setLevel(logging.WARNING)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    return handler


def _stdlib_level(level: str) -> str:
    name = level.strip().upper()
    return {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(name, name)


def get_logger(name: str = "tronrent", **bound: Any) -> structlog.stdlib.BoundLogger:
    """A structured logger; ``name`` becomes the ``service`` field (``tronrent.`` stripped)."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger.bind(**bound) if bound else logger


def bind_context(**values: Any) -> None:
    """Bind values (e.g. ``request_id``) to every log line of the current task/context."""
    structlog.contextvars.bind_contextvars(**values)


def unbind_context(*keys: str) -> None:
    """Remove values bound with :func:`bind_context`."""
    structlog.contextvars.unbind_contextvars(*keys)


def clear_context() -> None:
    structlog.contextvars.clear_contextvars()


def redact_mapping(values: MutableMapping[str, Any]) -> dict[str, Any]:
    """A redacted copy of a mapping (for showing configuration or request data)."""
    result = redact(dict(values))
    assert isinstance(result, dict)
    return result
