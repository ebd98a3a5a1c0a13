"""Settings: defaults run with no servers, env parsing, one clear line per bad value."""

from __future__ import annotations

import re
import stat
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from tronrent.config import (
    Settings,
    ensure_local_secrets,
    field_docs,
    format_validation_error,
    unused_settings,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No variable of ours leaks in from the developer's environment or a .env file."""
    for name in field_docs():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def settings(**env: str) -> Settings:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return Settings(_env_file=None)  # type: ignore[call-arg]


def error_line(**env: str) -> str:
    with pytest.raises(ValidationError) as info:
        settings(**env)
    return format_validation_error(info.value)


class TestDefaults:
    def test_embedded_default(self, tmp_path: Path) -> None:
        s = settings()
        assert s.database_url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'tronrent.db'}"
        assert s.redis_url is None and not s.redis_enabled
        assert s.embedded_chain and s.tron_devnet_port == 8090
        assert s.environment == "development"

    def test_seed_values(self) -> None:
        s = settings()
        assert s.payment_timeout == 1_800_000 and s.payment_timeout_seconds == 1800
        assert s.max_concurrent_monitoring == 100
        assert s.energy_flash_enabled is True
        assert s.default_energy_per_transaction == 65_000  # not the seed's out-of-date 15,000
        assert s.log_level == "info"
        assert s.log_payment_monitoring and s.log_energy_delegation
        assert s.block_interval_ms == 3000 and s.confirmations == 0
        assert s.energy_margin_percent == Decimal(2)
        assert s.api_port == 8000


class TestParsing:
    def test_lists_and_empty_values(self) -> None:
        s = settings(
            TRON_NODE_URLS="http://127.0.0.1:8090/, https://api.trongrid.io",
            REDIS_URL="",
            TELEGRAM_ADMIN_CHAT_ID="",
        )
        assert s.tron_node_urls == ["http://127.0.0.1:8090", "https://api.trongrid.io"]
        assert not s.embedded_chain
        assert s.redis_url is None and s.telegram_admin_chat_id is None

    def test_values(self) -> None:
        s = settings(
            LOG_LEVEL="WARN",
            ENERGY_FLASH_ENABLED="false",
            LOG_PAYMENT_MONITORING="0",
            DATABASE_URL="postgresql://user:pass@db:5432/tron_energy",
            REDIS_URL="redis://redis:6379",
            TRON_PAYMENT_ADDRESS="TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
            ENERGY_MARGIN_PERCENT="2.5",
        )
        assert s.log_level == "warning"
        assert s.energy_flash_enabled is False
        assert s.quiet_loggers == ("tronrent.payment", "tronrent.scanner")
        assert s.database_url.startswith("postgresql://")
        assert s.energy_margin_percent == Decimal("2.5")

    def test_secrets_not_in_repr(self) -> None:
        s = settings(TELEGRAM_BOT_TOKEN="123456:" + "A" * 35, JWT_SECRET="j" * 40)
        assert "AAAA" not in repr(s) and "jjjj" not in repr(s)


class TestBadValues:
    def test_the_documented_example(self) -> None:
        assert error_line(PAYMENT_TIMEOUT="abc") == (
            "PAYMENT_TIMEOUT: must be a positive integer (milliseconds), got 'abc'"
        )

    @pytest.mark.parametrize(
        ("name", "value", "expected"),
        [
            ("PAYMENT_TIMEOUT", "-5", "PAYMENT_TIMEOUT: must be a positive integer"),
            ("ENERGY_FLASH_ENABLED", "maybe", "ENERGY_FLASH_ENABLED: must be true or false"),
            ("API_PORT", "70000", "API_PORT: must be a TCP port (1-65535), got '70000'"),
            ("LOG_LEVEL", "loud", "LOG_LEVEL: must be one of debug, info, warn, error"),
            ("CONFIRMATIONS", "500", "CONFIRMATIONS: must be an integer from 0 to 100"),
            # "now minus 740,000 days" is before year 1: the retention job failed every run
            (
                "RETENTION_NOTIFICATION_DAYS",
                "740000",
                "RETENTION_NOTIFICATION_DAYS: must be an integer 0-36500 (days)",
            ),
            ("TRON_NODE_URLS", "ftp://x", "TRON_NODE_URLS: must be a comma-separated list"),
            ("DATABASE_URL", "mysql://x/y", "DATABASE_URL: must be a sqlite:// or postgresql://"),
            ("REDIS_URL", "localhost:6379", "REDIS_URL: must be a redis://, rediss:// or unix://"),
            ("DB_APP_ROLE", "app; DROP", "DB_APP_ROLE: must be a SQL identifier"),
            (
                "ENERGY_MARGIN_PERCENT",
                "80",
                "ENERGY_MARGIN_PERCENT: must be a decimal from 0 to 50",
            ),
            (
                "TRON_PAYMENT_ADDRESS",
                "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6s",  # last character changed: bad checksum
                "TRON_PAYMENT_ADDRESS: must be a TRON base58 address",
            ),
        ],
    )
    def test_one_line_naming_the_variable(self, name: str, value: str, expected: str) -> None:
        line = error_line(**{name: value})
        assert line.startswith(expected), line
        assert "\n" not in line

    @pytest.mark.parametrize(
        ("name", "value"),
        [("SECRET_KEYS", "my-precious-key"), ("JWT_SECRET", "short-precious")],
    )
    def test_secret_values_never_echoed(self, name: str, value: str) -> None:
        line = error_line(**{name: value})
        assert line.startswith(f"{name}: must be")
        assert "precious" not in line

    def test_several_bad_values_in_one_line(self) -> None:
        line = error_line(PAYMENT_TIMEOUT="x", ADDRESS_CHECK_CACHE_TTL="0")
        assert "PAYMENT_TIMEOUT" in line and "ADDRESS_CHECK_CACHE_TTL" in line
        assert "\n" not in line

    def test_production_needs_secrets(self) -> None:
        assert error_line(ENVIRONMENT="production") == (
            "SECRET_KEYS and JWT_SECRET must be set when ENVIRONMENT=production"
        )

    def test_production_refuses_the_rental_length_override(self) -> None:
        line = error_line(
            ENVIRONMENT="production",
            SECRET_KEYS=Fernet.generate_key().decode(),
            JWT_SECRET="j" * 40,
            TRON_NODE_URLS="http://127.0.0.1:8090",
            ENERGY_FLASH_RENTAL_SECONDS="6",
        )
        assert "ENERGY_FLASH_RENTAL_SECONDS must be empty" in line


class TestNetworks:
    def test_devnet_by_default_in_process(self) -> None:
        s = settings()
        assert s.tron_network == "devnet" and s.embedded_chain and s.node_urls == []
        assert s.tx_url is None  # no explorer: hashes are shown as text
        assert s.usdt_contract == s.network.usdt_contract

    @pytest.mark.parametrize(
        ("network", "node", "usdt", "explorer"),
        [
            (
                "mainnet",
                "https://api.trongrid.io",
                "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
                "//tronscan.org/",
            ),
            (
                "nile",
                "https://nile.trongrid.io",
                "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf",
                "//nile.tronscan.org/",
            ),
            (
                "shasta",
                "https://api.shasta.trongrid.io",
                "TG3XXyExBkPp9nzdajDZsozEu4BkaSJozs",
                "//shasta.tronscan.org/",
            ),
        ],
    )
    def test_one_setting_picks_nodes_contract_and_explorer(
        self, network: str, node: str, usdt: str, explorer: str
    ) -> None:
        s = settings(TRON_NETWORK=network)
        assert s.node_urls == [node] and not s.embedded_chain
        assert s.usdt_contract == usdt
        assert s.tx_url is not None and explorer in s.tx_url and "{tx_hash}" in s.tx_url

    def test_explicit_values_win(self) -> None:
        s = settings(
            TRON_NETWORK="nile",
            TRON_NODE_URLS="https://my-node.example",
            USDT_CONTRACT_ADDRESS="TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
            EXPLORER_TX_URL="https://x.example/tx/{tx_hash}",
        )
        assert s.node_urls == ["https://my-node.example"]
        assert s.usdt_contract == "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
        assert s.tx_url == "https://x.example/tx/{tx_hash}"

    def test_bad_network_and_explorer(self) -> None:
        assert "TRON_NETWORK" in error_line(TRON_NETWORK="testnet")
        assert "EXPLORER_TX_URL" in error_line(EXPLORER_TX_URL="https://x.example/tx")

    def test_production_on_a_named_network_needs_no_node_urls(self) -> None:
        s = settings(
            ENVIRONMENT="production",
            SECRET_KEYS=Fernet.generate_key().decode(),
            JWT_SECRET="j" * 40,
            TRON_NETWORK="mainnet",
        )
        assert s.node_urls == ["https://api.trongrid.io"]

    def test_unused_seed_settings_are_named_with_a_reason(self) -> None:
        found = unused_settings({"REDIS_CACHE_TTL": "60", "PAYMENT_MONITORING_INTERVAL": ""})
        assert list(found) == ["REDIS_CACHE_TTL"] and "TTL" in found["REDIS_CACHE_TTL"]
        assert settings(REDIS_CACHE_TTL="60").api_port == 8000  # accepted, ignored


class TestLocalSecrets:
    def test_generated_once_with_mode_0600(self, tmp_path: Path) -> None:
        s = settings(DATA_DIR=str(tmp_path / "state"))
        first = ensure_local_secrets(s)
        path = tmp_path / "state" / "secrets.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        second = ensure_local_secrets(s)
        assert first.secret_keys[0].get_secret_value() == second.secret_keys[0].get_secret_value()
        assert first.jwt_secret is not None and second.jwt_secret is not None
        assert first.jwt_secret.get_secret_value() == second.jwt_secret.get_secret_value()
        assert len(first.jwt_secret.get_secret_value()) >= 32

    def test_environment_wins(self, tmp_path: Path) -> None:
        s = settings(DATA_DIR=str(tmp_path), JWT_SECRET="e" * 40)
        filled = ensure_local_secrets(s)
        assert filled.jwt_secret is not None
        assert filled.jwt_secret.get_secret_value() == "e" * 40


def test_env_example_documents_every_variable() -> None:
    text = (REPO / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    assert documented == set(field_docs())


def test_env_example_values_are_valid(tmp_path: Path) -> None:
    text = (REPO / ".env.example").read_text(encoding="utf-8")
    env = dict(re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", text, flags=re.MULTILINE))
    settings(**env)


class TestServeRoles:
    def test_all_by_default_and_lists_in_role_order(self) -> None:
        assert settings().serve_roles == ["api", "engine", "bots"]
        assert settings().all_roles
        assert settings(SERVE_ROLES=" Bots, api ").serve_roles == ["api", "bots"]
        assert settings(SERVE_ROLES="engine,all").all_roles

    def test_unknown_or_no_role_is_one_line(self) -> None:
        assert error_line(SERVE_ROLES="api,worker") == (
            "SERVE_ROLES: must be a comma-separated list of api, engine, bots or all, "
            "got 'api,worker' (unknown role 'worker')"
        )
        assert "SERVE_ROLES" in error_line(SERVE_ROLES=",")

    def test_one_process_may_run_on_sqlite_and_the_in_process_queue(self) -> None:
        assert settings().roles_problem() is None

    def test_a_role_of_several_processes_needs_postgres_redis_and_a_node(self) -> None:
        problem = settings(SERVE_ROLES="api").roles_problem()
        assert problem is not None
        assert "PostgreSQL" in problem and "Redis" in problem and "TRON_NODE_URLS" in problem
        shared = settings(
            SERVE_ROLES="engine",
            DATABASE_URL="postgresql://u@db/tron",
            REDIS_URL="redis://redis:6379",
            TRON_NODE_URLS="http://node:8090",
        )
        assert shared.roles_problem() is None
        no_redis = settings(
            SERVE_ROLES="engine",
            DATABASE_URL="postgresql://u@db/tron",
            TRON_NODE_URLS="http://node:8090",
        ).roles_problem()
        assert no_redis is not None and "Redis" in no_redis and "PostgreSQL" not in no_redis
