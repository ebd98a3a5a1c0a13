"""Settings from the environment (and an optional ``.env``), validated once at start-up.

Every variable of seed 000 section 7.1 and seed 001 section 8.2 keeps its name; the field name
is the variable name in lower case. A bad value stops start-up with one line naming the variable
(:func:`format_validation_error`). Imports nothing from the project (only the pure protocol
library ``tronproto``, to check addresses).

The embedded default (no variables at all) runs with no servers: SQLite under ``DATA_DIR``, no
Redis, the devnet started in-process. ``SECRET_KEYS`` and ``JWT_SECRET`` are then generated once
into ``DATA_DIR/secrets.json`` (mode 0600, see :func:`ensure_local_secrets`); with
``ENVIRONMENT=production`` they must come from the environment.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tronproto.address import is_valid_base58

_log = logging.getLogger("tronrent.config")

LOCAL_SECRETS_FILE = "secrets.json"
#: the longest a retention setting keeps rows (100 years: "now minus it" is still a date)
MAX_RETENTION_DAYS = 36_500
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_DB_SCHEMES = ("sqlite", "sqlite+aiosqlite", "postgres", "postgresql", "postgresql+asyncpg")
_LOG_LEVELS = {"debug", "info", "warn", "warning", "error", "critical"}
#: what one ``tronrent serve`` process can run (SERVE_ROLES, ``serve --role``); ``all`` = each
SERVE_ROLES: tuple[str, ...] = ("api", "engine", "bots")


@dataclass(frozen=True, slots=True)
class NetworkProfile:
    """What differs between TRON networks: nodes, the USDT contract, the explorer."""

    name: str
    #: full-node HTTP API URLs (failover in order); empty: the devnet in-process
    node_urls: tuple[str, ...]
    #: the USDT (TRC20) contract customers pay with
    usdt_contract: str
    #: a transaction's explorer page (``{tx_hash}``); None: no explorer (hashes shown as text)
    explorer_tx_url: str | None
    #: an address's explorer page (``{address}``)
    explorer_address_url: str | None


#: ``TRON_NETWORK`` profiles (data, not code paths). The testnets have no official USDT: their
#: contracts are the community TRC20 tokens the faucets hand out (override with
#: ``USDT_CONTRACT_ADDRESS``). The devnet deploys its own USDT at the mainnet address.
NETWORKS: dict[str, NetworkProfile] = {
    "mainnet": NetworkProfile(
        "mainnet",
        ("https://api.trongrid.io",),
        "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
        "https://tronscan.org/#/transaction/{tx_hash}",
        "https://tronscan.org/#/address/{address}",
    ),
    "nile": NetworkProfile(
        "nile",
        ("https://nile.trongrid.io",),
        "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf",
        "https://nile.tronscan.org/#/transaction/{tx_hash}",
        "https://nile.tronscan.org/#/address/{address}",
    ),
    "shasta": NetworkProfile(
        "shasta",
        ("https://api.shasta.trongrid.io",),
        "TG3XXyExBkPp9nzdajDZsozEu4BkaSJozs",
        "https://shasta.tronscan.org/#/transaction/{tx_hash}",
        "https://shasta.tronscan.org/#/address/{address}",
    ),
    "devnet": NetworkProfile(
        "devnet",
        (),
        "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
        None,
        None,
    ),
}

#: seed settings that are accepted (an old ``.env`` keeps working) but do nothing, and why
UNUSED_SETTINGS: dict[str, str] = {
    "PAYMENT_MONITORING_INTERVAL": "payments are found by the block scanner, which reads each "
    "block as it is produced (BLOCK_INTERVAL_MS); there is no polling interval",
    "ENERGY_FLASH_DEFAULT_EXPIRY_HOURS": "the flash rental length is expiry_hours of the "
    "energy_flash price config (editable by operators, recorded in price_history)",
    "REDIS_CACHE_TTL": "each cache has its own TTL (ADDRESS_CHECK_CACHE_TTL); prices and pool "
    "figures are read from the database per order, so there is no cache to go stale",
    "REDIS_PAYMENT_MONITORING_KEY_PREFIX": "payment monitoring keeps no state in Redis: payments "
    "and the scanner's checkpoint are rows in the database (exactly once across restarts)",
}


def unused_settings(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The variables of ``UNUSED_SETTINGS`` set in the environment, with the reason."""
    env = os.environ if environ is None else environ
    return {name: why for name, why in UNUSED_SETTINGS.items() if env.get(name, "").strip()}


def _env(default: Any, expect: str, doc: str, **kwargs: Any) -> Any:
    """A field with its documentation and the phrase used in error messages ("must be ...")."""
    return Field(default, description=doc, json_schema_extra={"expect": expect}, **kwargs)


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def parse_roles(values: Any) -> list[str]:
    """``serve`` roles from names or comma-separated lists of them (``all`` = every role), in
    ``SERVE_ROLES`` order; ValueError on an unknown name or none."""
    items = [values] if isinstance(values, str) else list(values)
    names = {p.strip().lower() for item in items for p in str(item).split(",") if p.strip()}
    unknown = sorted(names - {*SERVE_ROLES, "all"})
    if unknown:
        raise ValueError(f"unknown role {unknown[0]!r}")
    if not names:
        raise ValueError("no role")
    return [r for r in SERVE_ROLES if r in names or "all" in names]


def _check_http_url(url: str) -> str:
    if not re.match(r"^https?://[^\s/]+", url):
        raise ValueError(f"not an http(s) URL: {url!r}")
    return url.rstrip("/")


class Settings(BaseSettings):
    """All configuration. Field name == environment variable name, lower case."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
    )

    # --- deployment ---------------------------------------------------------------------------
    environment: Literal["development", "production"] = _env(
        "development",
        "'development' or 'production'",
        "production requires SECRET_KEYS, JWT_SECRET and TRON_NODE_URLS from the environment",
    )
    data_dir: Path = _env(
        Path("data"),
        "a directory path",
        "embedded SQLite database, generated local secrets and other state",
    )
    api_host: str = _env("127.0.0.1", "a host name or IP address", "HTTP API bind address")
    api_port: int = _env(8000, "a TCP port (1-65535)", "HTTP API port", ge=1, le=65535)
    rate_limit_per_minute: int = _env(
        600,
        "a non-negative integer",
        "requests per client IP in any 60 s (moving window; 0 = off)",
        ge=0,
    )
    rate_limit_per_account_per_minute: int = _env(
        1200,
        "a non-negative integer",
        "requests per admin account (access token subject) in any 60 s (0 = off)",
        ge=0,
    )
    trusted_proxies: Annotated[list[str], NoDecode] = _env(
        [],
        "a comma-separated list of IP addresses or CIDR networks",
        "reverse proxies whose X-Forwarded-For is believed; empty = trust none (the peer "
        "address is the client)",
    )
    login_failures_per_username: int = _env(
        5,
        "a positive integer",
        "failed logins of one username within LOGIN_FAILURE_WINDOW_SECONDS before 429",
        ge=1,
    )
    login_failures_per_ip: int = _env(
        20,
        "a positive integer",
        "failed logins from one client IP within LOGIN_FAILURE_WINDOW_SECONDS before 429",
        ge=1,
    )
    login_failure_window_seconds: int = _env(
        900, "a positive integer (seconds)", "moving window of the failed-login counts", ge=1
    )
    serve_roles: Annotated[list[str], NoDecode] = _env(
        ["all"],
        "a comma-separated list of api, engine, bots or all",
        "what `tronrent serve` runs in this process: api (the HTTP API), engine (job workers, "
        "block scanner, periodic jobs, merchant callbacks), bots (Telegram bots, notifications, "
        "their webhook route); all = everything in one process. Anything but all needs "
        "PostgreSQL, REDIS_URL and TRON_NODE_URLS (docs/operations.md, Scale-out)",
    )
    max_request_body_bytes: int = _env(
        1_048_576,
        "a positive integer (bytes)",
        "largest request body accepted (413 beyond it, also for chunked bodies)",
        ge=1,
    )

    # --- database (seed 001 8.2) ----------------------------------------------------------------
    database_url: str = _env(
        "",
        "a sqlite:// or postgresql:// URL",
        "empty = SQLite file DATA_DIR/tronrent.db; postgresql://user:pass@host/db in production",
    )
    db_app_role: str = _env(
        "tron_app",
        "a SQL identifier (letters, digits, underscore)",
        "PostgreSQL role the migrations grant least-privilege access to (seed 000)",
    )
    db_pool_size: int = _env(10, "a positive integer", "PostgreSQL connection pool size", ge=1)
    db_max_overflow: int = _env(
        10, "a non-negative integer", "extra pool connections under burst load", ge=0
    )

    # --- Redis (seed 000 7.1) ---------------------------------------------------------------------
    redis_url: str | None = _env(
        None,
        "a redis://, rediss:// or unix:// URL",
        "empty = embedded in-process cache and job queue",
    )

    # --- TRON chain ----------------------------------------------------------------------------
    tron_network: Literal["devnet", "mainnet", "nile", "shasta"] = _env(
        "devnet",
        "devnet, mainnet, nile or shasta",
        "the chain: picks the default node URLs, USDT contract and explorer links "
        "(devnet = started in-process unless TRON_NODE_URLS is set)",
    )
    tron_node_urls: Annotated[list[str], NoDecode] = _env(
        [],
        "a comma-separated list of http(s) URLs",
        "full-node HTTP API URLs, failover in order; empty = the network's (TronGrid; devnet: "
        "started in-process)",
    )
    tron_api_key: SecretStr | None = _env(
        None, "a string", "TRON-PRO-API-KEY header sent to the nodes (TronGrid)"
    )
    tron_devnet_port: int = _env(
        8090, "a TCP port (1-65535)", "port of the in-process devnet", ge=1, le=65535
    )
    block_interval_ms: int = _env(
        3000, "a positive integer (milliseconds)", "block interval of the chain", ge=1
    )
    confirmations: int = _env(
        0,
        "an integer from 0 to 100",
        "blocks on top of a payment before acting (0 = on inclusion, 19 = solidified)",
        ge=0,
        le=100,
    )

    # --- payment monitoring (seed 000 7.1) ------------------------------------------------------
    tron_payment_address: str | None = _env(
        None,
        "a TRON base58 address (T...)",
        "flash payment address; empty = the first pool account's address",
    )
    usdt_contract_address: str | None = _env(
        None,
        "a TRON base58 address (T...)",
        "the USDT (TRC20) contract whose transfers to the payment address pay orders and "
        "top-ups; empty = the network's",
    )
    explorer_tx_url: str | None = _env(
        None,
        "an http(s) URL with {tx_hash}",
        "explorer page of a transaction, linked in the bots' messages; empty = the network's "
        "(tronscan; devnet: none, hashes shown as text)",
    )
    payment_timeout: int = _env(
        1_800_000, "a positive integer (milliseconds)", "payment window of an order", ge=1
    )
    max_concurrent_monitoring: int = _env(
        100,
        "a positive integer",
        "most manual payment watches (payment-monitoring/start, payments/monitor) open at "
        "once; orders are watched by the block scanner at no cost per order and are not capped "
        "by it",
        ge=1,
    )

    # --- energy flash (seed 000 7.1) ------------------------------------------------------------
    energy_flash_enabled: bool = _env(True, "true or false", "accept flash rental payments")
    energy_flash_disabled_payments: Literal["refund", "keep"] = _env(
        "refund",
        "'refund' or 'keep'",
        "while ENERGY_FLASH_ENABLED is false: refund payments with no order (walk-ins) or keep "
        "them; never delegated",
    )
    recipient_activation: Literal["activate", "refund"] = _env(
        "activate",
        "'activate' or 'refund'",
        "recipient with no account on chain: activate it at delivery (fee added to the quote) "
        "or refund the order",
    )
    address_check_cache_ttl: int = _env(
        86_400,
        "a positive integer (seconds)",
        "how long create-order remembers that an address has an account on chain",
        ge=1,
    )
    paid_order_alert_blocks: int = _env(
        20,
        "a positive integer (blocks)",
        "operators are alerted to a paid order neither delivered nor refunded after this many "
        "blocks",
        ge=1,
    )
    merchant_signature_window_seconds: int = _env(
        300,
        "an integer from 30 to 3600 (seconds)",
        "merchant API: a signed request's X-Timestamp may differ from the server's clock by this "
        "much; its X-Nonce is remembered twice as long",
        ge=30,
        le=3600,
    )
    merchant_rate_limit_per_minute: int = _env(
        12_000,
        "a non-negative integer",
        "merchant API: requests per API key in any 60 s (moving window; 0 = off); 429 with "
        "Retry-After beyond it",
        ge=0,
    )
    merchant_callback_allow_private: bool = _env(
        False,
        "true or false",
        "merchant callbacks may go to private, loopback and link-local addresses (tests, a "
        "receiver on the operator's own network); off = refused (SSRF)",
    )
    merchant_callback_timeout_seconds: int = _env(
        10, "an integer from 1 to 60 (seconds)", "merchant callback HTTP timeout", ge=1, le=60
    )
    default_energy_per_transaction: int = _env(
        65_000,
        "a positive integer (energy)",
        "energy per USDT transfer when no resource config says otherwise",
        ge=1,
    )
    energy_flash_rental_seconds: int | None = _env(
        None,
        "a positive integer (seconds)",
        "flash rental length overriding the configured hours (devnet demos, benchmarks); "
        "empty = expiry_hours of the energy_flash price config",
        ge=1,
    )
    count_new_holder_counts: int = _env(
        1,
        "1 or 2",
        "a count-package transfer drawing more than one transfer's energy (to an address "
        "holding no USDT, about 130,285 energy) counts this many transfers",
        ge=1,
        le=2,
    )
    count_idle_fee_counts: int = _env(
        1,
        "a non-negative integer (counts; 0 = no idle fee)",
        "counts an active, unpaused count package loses per idle period with no use (the "
        "capacity it holds)",
        ge=0,
        le=100,
    )
    count_idle_period_blocks: int = _env(
        28_800,
        "a positive integer (blocks; 28,800 = one day of 3 s blocks)",
        "length of a count package's idle period in chain time (block slots)",
        ge=1,
    )
    count_max_idle_days: int = _env(
        7,
        "a non-negative integer (idle periods; 0 = never)",
        "a count package unused (or paused) for this many idle periods ends",
        ge=0,
        le=3650,
    )
    count_unused_policy: Literal["forfeit", "refund"] = _env(
        "forfeit",
        "forfeit or refund",
        "a count package that ends with counts unused: forfeit them, or refund their share of "
        "the price to the customer's balance",
    )
    rental_ending_notice_seconds: int = _env(
        600,
        "a positive integer (seconds)",
        "the customer is told this long before a rental ends (once per order; rentals not "
        "longer than this get no such notice)",
        ge=1,
    )
    energy_margin_percent: Decimal = _env(
        Decimal(2),
        "a decimal from 0 to 50 (percent)",
        "extra energy delegated for energy/TRX ratio drift",
        ge=0,
        le=50,
    )

    # --- security ------------------------------------------------------------------------------
    secret_keys: Annotated[list[SecretStr], NoDecode] = _env(
        [],
        "a comma-separated list of Fernet keys (url-safe base64 of 32 bytes)",
        "keys encrypting private keys and bot tokens at rest; first encrypts, all decrypt",
    )
    jwt_secret: SecretStr | None = _env(
        None, "a string of at least 32 characters", "HS256 key of admin access tokens"
    )
    jwt_ttl_seconds: int = _env(
        900, "a positive integer (seconds)", "lifetime of an admin access token", ge=1, le=86_400
    )

    # --- Telegram (seed 001 8.2) ----------------------------------------------------------------
    telegram_bot_token: SecretStr | None = _env(
        None, "a Telegram bot token (123456:ABC...)", "token of the default bot"
    )
    telegram_api_url: str = _env(
        "https://api.telegram.org", "an http(s) URL", "Bot API server (self-hosted or test)"
    )
    telegram_admin_chat_id: int | None = _env(
        None, "an integer chat id", "chat receiving operator alerts"
    )
    operator_alert_language: str = _env(
        "zh-CN",
        "zh-CN (or zh) or en",
        "language of the operator alerts (the admin chat and GET /api/admin/alerts)",
    )

    # --- agents (issue 12, see docs/agents.md) ----------------------------------------------------
    agent_commission_levels_bps: Annotated[list[int], NoDecode] = _env(
        [1000, 300, 100],
        "a comma-separated list of 1 to 10 basis points (0-10000) summing to at most 10000",
        "commission per level above the buyer (1 = the referrer); its length is the depth; an "
        "agent's own commission rate replaces the first level's",
    )
    agent_refund_window_hours: int = _env(
        24,
        "a non-negative integer (hours)",
        "an earning stays pending this long after delivery before it may be settled",
        ge=0,
    )
    agent_withdraw_min_sun: int = _env(
        10_000_000, "a positive integer (sun)", "smallest TRX withdrawal (fee included)", ge=1
    )
    agent_withdraw_min_usdt_units: int = _env(
        10_000_000, "a positive integer (USDT units)", "smallest USDT withdrawal", ge=1
    )
    agent_withdraw_fee_sun: int = _env(
        1_000_000, "a non-negative integer (sun)", "fee kept from a TRX withdrawal", ge=0
    )
    agent_withdraw_fee_usdt_units: int = _env(
        1_000_000, "a non-negative integer (USDT units)", "fee kept from a USDT withdrawal", ge=0
    )
    agent_withdraw_auto_approve_sun: int = _env(
        100_000_000,
        "a non-negative integer (sun)",
        "TRX withdrawals up to this are paid without an operator (0 = always reviewed)",
        ge=0,
    )
    agent_withdraw_auto_approve_usdt_units: int = _env(
        100_000_000,
        "a non-negative integer (USDT units)",
        "USDT withdrawals up to this are paid without an operator (0 = always reviewed)",
        ge=0,
    )

    # --- retention (issue 14, see docs/retention.md) ---------------------------------------------
    retention_payment_monitoring_days: int = _env(
        30,
        "an integer 0-36500 (days)",
        "finished payment watches (payment_monitoring_logs) kept this long (seed 000: 30; 0 = "
        "forever); PostgreSQL drops whole day partitions",
        ge=0,
        le=MAX_RETENTION_DAYS,
    )
    retention_notification_days: int = _env(
        90,
        "an integer 0-36500 (days)",
        "sent or failed notification_outbox rows of settled orders kept this long (0 = forever)",
        ge=0,
        le=MAX_RETENTION_DAYS,
    )
    retention_merchant_callback_days: int = _env(
        90,
        "an integer 0-36500 (days)",
        "delivered or failed merchant callbacks (and their delivery log) of settled orders kept "
        "this long (0 = forever)",
        ge=0,
        le=MAX_RETENTION_DAYS,
    )
    retention_job_failure_days: int = _env(
        90,
        "an integer 0-36500 (days)",
        "resolved dead letters (job_failures) kept this long after resolution (0 = forever); "
        "unresolved ones are kept",
        ge=0,
        le=MAX_RETENTION_DAYS,
    )
    retention_batch_size: int = _env(
        1000,
        "an integer 1-100000",
        "rows per retention DELETE (each batch its own short transaction)",
        ge=1,
        le=100_000,
    )
    retention_partitions_ahead_days: int = _env(
        7,
        "an integer 1-366",
        "PostgreSQL: daily partitions of payment_monitoring_logs made this many days ahead",
        ge=1,
        le=366,
    )

    # --- logging (seed 000 7.1) -----------------------------------------------------------------
    log_level: str = _env("info", "one of debug, info, warn, error, critical", "log level")
    log_payment_monitoring: bool = _env(True, "true or false", "info logs of payment monitoring")
    log_energy_delegation: bool = _env(True, "true or false", "info logs of energy delegation")

    # --- validators ----------------------------------------------------------------------------
    @field_validator("tron_node_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("tron_node_urls")
    @classmethod
    def _check_node_urls(cls, value: list[str]) -> list[str]:
        return [_check_http_url(url) for url in value]

    @field_validator("agent_commission_levels_bps", mode="before")
    @classmethod
    def _split_levels(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("agent_commission_levels_bps")
    @classmethod
    def _check_levels(cls, value: list[int]) -> list[int]:
        if not 1 <= len(value) <= 10 or any(not 0 <= bp <= 10_000 for bp in value):
            raise ValueError("1 to 10 levels, each 0 to 10000 basis points")
        if sum(value) > 10_000:
            raise ValueError("the levels sum to more than 10000 basis points")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or network: {entry!r}") from None
        return value

    @field_validator("serve_roles", mode="before")
    @classmethod
    def _split_roles(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("serve_roles")
    @classmethod
    def _check_roles(cls, value: list[str]) -> list[str]:
        return parse_roles(value)

    @field_validator("telegram_api_url")
    @classmethod
    def _check_telegram_url(cls, value: str) -> str:
        return _check_http_url(value)

    @field_validator("explorer_tx_url")
    @classmethod
    def _check_explorer_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "{tx_hash}" not in value:
            raise ValueError("no {tx_hash} placeholder")
        return _check_http_url(value)

    @field_validator("secret_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("secret_keys")
    @classmethod
    def _check_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        for index, key in enumerate(value):
            try:
                Fernet(key.get_secret_value().encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                raise ValueError(f"key #{index + 1} is not a valid Fernet key") from None
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _check_jwt_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("too short")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if value and value.split("://", 1)[0].lower() not in _DB_SCHEMES:
            raise ValueError("unknown scheme")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(rediss?|unix)://", value):
            raise ValueError("unknown scheme")
        return value

    @field_validator("db_app_role")
    @classmethod
    def _check_role(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError("not an identifier")
        return value

    @field_validator("tron_payment_address", "usdt_contract_address")
    @classmethod
    def _check_address(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_base58(value):
            raise ValueError("not a TRON address or its checksum does not match")
        return value

    @field_validator("operator_alert_language")
    @classmethod
    def _check_alert_language(cls, value: str) -> str:
        code = value.strip().lower().replace("_", "-")
        if code in ("zh", "zh-cn", "zh-hans"):
            return "zh"
        if code in ("en", "en-us", "en-gb"):
            return "en"
        raise ValueError("unknown language")

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.strip().lower()
        if level not in _LOG_LEVELS:
            raise ValueError("unknown level")
        return "warning" if level == "warn" else level

    @model_validator(mode="after")
    def _derive(self) -> Self:
        self.data_dir = self.data_dir.expanduser().resolve()
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'tronrent.db'}"
        if self.environment == "production":
            missing = [
                name
                for name, present in (
                    ("SECRET_KEYS", bool(self.secret_keys)),
                    ("JWT_SECRET", self.jwt_secret is not None),
                )
                if not present
            ]
            if missing:
                raise ValueError(f"{' and '.join(missing)} must be set when ENVIRONMENT=production")
            if self.embedded_chain:
                raise ValueError(
                    "TRON_NETWORK (mainnet, nile, shasta) or TRON_NODE_URLS must be set when "
                    "ENVIRONMENT=production (the in-process devnet and its demo pool are for "
                    "development only)"
                )
            if self.energy_flash_rental_seconds:
                raise ValueError(
                    "ENERGY_FLASH_RENTAL_SECONDS must be empty when ENVIRONMENT=production (it "
                    "cuts every product's rental to that many seconds: demos and tests only)"
                )
        return self

    # --- derived values ------------------------------------------------------------------------
    @property
    def network(self) -> NetworkProfile:
        return NETWORKS[self.tron_network]

    @property
    def embedded_chain(self) -> bool:
        """True on the devnet with no node URL configured: the devnet runs in-process."""
        return not self.node_urls

    @property
    def node_urls(self) -> list[str]:
        """``TRON_NODE_URLS``, else the network's nodes (empty on the devnet)."""
        return list(self.tron_node_urls) or list(self.network.node_urls)

    @property
    def usdt_contract(self) -> str:
        return self.usdt_contract_address or self.network.usdt_contract

    @property
    def tx_url(self) -> str | None:
        """The explorer's transaction page (``{tx_hash}``), None on a chain without one."""
        return self.explorer_tx_url or self.network.explorer_tx_url

    @property
    def redis_enabled(self) -> bool:
        return self.redis_url is not None

    @property
    def database_is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def all_roles(self) -> bool:
        """``serve`` runs every role in this one process (SERVE_ROLES=all, the default)."""
        return set(self.serve_roles) == set(SERVE_ROLES)

    def roles_problem(self) -> str | None:
        """Why this configuration cannot run ``serve`` as part of several processes (None: it
        can, or it runs every role): the processes share one database, one job queue and one
        node, so SQLite, the in-process queue and the in-process devnet are refused."""
        if self.all_roles:
            return None
        missing = [
            what
            for what, bad in (
                ("PostgreSQL (DATABASE_URL is SQLite)", self.database_is_sqlite),
                (
                    "Redis (REDIS_URL is empty: the job queue would be in-process)",
                    not self.redis_url,
                ),
                ("TRON_NODE_URLS (the devnet would start in-process)", self.embedded_chain),
            )
            if bad
        ]
        if not missing:
            return None
        return (
            f"serve role {','.join(self.serve_roles)} shares its work with other processes and "
            f"needs {', '.join(missing[:-1]) + ' and ' if missing[1:] else ''}{missing[-1]}; "
            "run every role in one process with --role all "
            "(SERVE_ROLES=all, the default)"
        )

    @property
    def payment_timeout_seconds(self) -> float:
        return self.payment_timeout / 1000

    @property
    def block_interval_seconds(self) -> float:
        return self.block_interval_ms / 1000

    @property
    def quiet_loggers(self) -> tuple[str, ...]:
        """Logger names whose info logs the LOG_* switches turn off."""
        names: list[str] = []
        if not self.log_payment_monitoring:
            names += ["tronrent.payment", "tronrent.scanner"]
        if not self.log_energy_delegation:
            names += ["tronrent.delegation"]
        return tuple(names)


def field_docs() -> dict[str, str]:
    """Environment variable name -> description (for ``.env.example`` and the README)."""
    return {name.upper(): field.description or "" for name, field in Settings.model_fields.items()}


def format_validation_error(error: ValidationError) -> str:
    """One line naming each bad variable, what it must be and what it got (secrets masked)."""
    parts: list[str] = []
    for item in error.errors(include_url=False):
        loc = item.get("loc") or ()
        name = str(loc[0]) if loc else ""
        field = Settings.model_fields.get(name)
        if field is None:
            message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
            parts.append(message)
            continue
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        expect = str(extra.get("expect", "valid"))
        secret = "secret" in name or "token" in name or "key" in name
        value = item.get("input")
        got = "(hidden)" if secret else repr(value)
        detail = str(item.get("msg", "")).removeprefix("Value error, ")
        reason = f" ({detail})" if item.get("type") == "value_error" and not secret else ""
        parts.append(f"{name.upper()}: must be {expect}, got {got}{reason}")
    return "; ".join(parts)


def _read_local_secrets(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a JSON object")
    return {str(k): str(v) for k, v in data.items()}


def _create_local_secrets(path: Path) -> dict[str, str]:
    """Write new secrets with mode 0600; first writer wins when processes race."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "secret_keys": Fernet.generate_key().decode("ascii"),
        "jwt_secret": secrets.token_urlsafe(48),
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _read_local_secrets(path)
    finally:
        tmp.unlink(missing_ok=True)
    _log.warning(
        "config.local_secrets_generated: SECRET_KEYS/JWT_SECRET not set, generated %s "
        "(development only: set them in the environment for production)",
        path,
    )
    return data


def ensure_local_secrets(settings: Settings) -> Settings:
    """Fill missing SECRET_KEYS / JWT_SECRET from ``DATA_DIR/secrets.json`` (created if absent).

    Development only: production settings never get here without both (validation refuses).
    """
    if settings.secret_keys and settings.jwt_secret is not None:
        return settings
    path = settings.data_dir / LOCAL_SECRETS_FILE
    data = _read_local_secrets(path) if path.exists() else _create_local_secrets(path)
    update: dict[str, Any] = {}
    if not settings.secret_keys:
        update["secret_keys"] = [SecretStr(k) for k in _split_csv(data["secret_keys"])]
    if settings.jwt_secret is None:
        update["jwt_secret"] = SecretStr(data["jwt_secret"])
    _log.warning(
        "config.local_secrets_in_use: using %s from %s (set them in the environment for "
        "production)",
        " and ".join(k.upper() for k in update),
        path,
    )
    return settings.model_copy(update=update)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (raises pydantic ``ValidationError`` on bad values)."""
    return Settings(**overrides)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (validated, local secrets filled in), cached."""
    return ensure_local_secrets(load_settings())
