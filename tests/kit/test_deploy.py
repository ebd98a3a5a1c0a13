"""Deployment files: Prometheus config and alert rules reference real metrics, the Dockerfile
has the seed's HEALTHCHECK, docker-compose has the seed's services."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tronrent.kit.metrics import METRIC_NAMES, REGISTRY

REPO = Path(__file__).resolve().parents[2]
SEED_ALERTS = {
    "PaymentMonitoringFailureRateHigh": "> 0.05",
    "EnergyDelegationFailureRateHigh": "> 0.03",
    "OrderProcessingSlow": "> 300",
    "OrderStuck": "> 300",
    "SystemErrorRateHigh": "> 0.01",
    "DatabaseConnectionsHigh": "> 0.8",
}
PROMETHEUS_BUILTINS = {"up"}
_SUFFIXES = ("_bucket", "_sum", "_count")


def load(name: str) -> Any:
    return yaml.safe_load((REPO / name).read_text(encoding="utf-8"))


def rules() -> list[dict[str, Any]]:
    return [rule for group in load("deploy/alerts.yml")["groups"] for rule in group["rules"]]


class TestAlertRules:
    def test_structure(self) -> None:
        document = load("deploy/alerts.yml")
        assert set(document) == {"groups"}
        for group in document["groups"]:
            assert group["name"] and group["rules"]
        for rule in rules():
            assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule
            assert re.fullmatch(r"[A-Z][A-Za-z]+", rule["alert"])
            assert re.fullmatch(r"\d+[smh]", rule["for"])
            assert rule["labels"]["severity"] in {"warning", "critical"}
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]
            assert rule["expr"].count("(") == rule["expr"].count(")")

    def test_seed_rules_present_with_thresholds(self) -> None:
        by_name = {rule["alert"]: " ".join(rule["expr"].split()) for rule in rules()}
        for name, threshold in SEED_ALERTS.items():
            assert name in by_name
            assert by_name[name].endswith(threshold), (name, by_name[name])

    def test_every_metric_exists(self) -> None:
        registered = {metric.name for metric in REGISTRY.collect()}
        for rule in rules():
            for metric in set(re.findall(r"\b(tronrent_[a-z_]+|up)\b", rule["expr"])):
                if metric in PROMETHEUS_BUILTINS:
                    continue
                family = metric
                for suffix in _SUFFIXES:
                    family = family.removesuffix(suffix)
                assert family in METRIC_NAMES, f"{metric} is not defined in kit/metrics.py"
                assert family.removesuffix("_total") in registered, f"{metric} not registered"

    def test_metric_names_documented_and_registered(self) -> None:
        source = (REPO / "src/tronrent/kit/metrics.py").read_text(encoding="utf-8")
        registered = {metric.name for metric in REGISTRY.collect()}
        for name in METRIC_NAMES:
            assert f"``{name}" in source, f"{name} not documented in kit/metrics.py"
            assert name.removesuffix("_total") in registered, name

    def test_promtool_checks_the_rules(self) -> None:
        run_promtool("check", "rules", "alerts.yml")

    def test_promtool_unit_tests_pass(self) -> None:
        """deploy/alerts.test.yml: each rule fires on its fault and stays quiet when healthy."""
        run_promtool("test", "rules", "alerts.test.yml")

    def test_every_rule_has_a_firing_and_a_quiet_case(self) -> None:
        document = load("deploy/alerts.test.yml")
        assert document["rule_files"] == ["alerts.yml"]
        firing: set[str] = set()
        quiet: set[str] = set()
        for case in document["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check["exp_alerts"] else quiet).add(check["alertname"])
        names = {rule["alert"] for rule in rules()}
        assert names <= firing, names - firing
        assert names <= quiet, names - quiet


class TestGrafanaDashboard:
    """deploy/grafana-dashboard.json: importable (a Prometheus datasource input), every query
    valid PromQL (promtool checks them as recording rules) over metrics that exist, and every
    metric the alert rules watch on a panel."""

    def dashboard(self) -> Any:
        return json.loads((REPO / "deploy/grafana-dashboard.json").read_text(encoding="utf-8"))

    def exprs(self) -> list[str]:
        return [
            target["expr"]
            for panel in self.dashboard()["panels"]
            for target in panel.get("targets", [])
        ]

    def test_importable(self) -> None:
        document = self.dashboard()
        assert [i["name"] for i in document["__inputs"]] == ["DS_PROMETHEUS"]
        assert document["uid"] and document["title"]
        ids = [panel["id"] for panel in document["panels"]]
        assert len(ids) == len(set(ids))
        for panel in document["panels"]:
            assert (
                panel["gridPos"]["x"] >= 0 and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
            )
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] == "${DS_PROMETHEUS}"

    def test_queries_are_valid_promql(self, tmp_path: Path) -> None:
        records = [
            {"record": f"dashboard:query_{n}", "expr": expr} for n, expr in enumerate(self.exprs())
        ]
        path = tmp_path / "dashboard-queries.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}))
        run_promtool("check", "rules", str(path))

    def test_metrics_exist_and_alerts_are_covered(self) -> None:
        used = {
            metric
            for expr in self.exprs()
            for metric in re.findall(r"\b(tronrent_[a-z_]+|up)\b", expr)
        }
        families = set()
        for metric in used - PROMETHEUS_BUILTINS:
            family = metric
            for suffix in _SUFFIXES:
                family = family.removesuffix(suffix)
            assert family in METRIC_NAMES, metric
            families.add(family)
        watched = {
            metric
            for rule in rules()
            for metric in re.findall(r"\b(tronrent_[a-z_]+)\b", rule["expr"])
        }
        for metric in watched:
            family = metric
            for suffix in _SUFFIXES:
                family = family.removesuffix(suffix)
            assert family in families, f"{family} watched by an alert but on no panel"


def promtool() -> str:
    """The promtool binary: required (CI and `make test` install it: Debian's `prometheus`
    package); a missing promtool fails the suite rather than skipping the alert tests."""
    path = shutil.which("promtool")
    assert path, "promtool not found: apt-get install prometheus (see README, Set-up)"
    return path


def run_promtool(*args: str, cwd: Path = REPO / "deploy") -> str:
    done = subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_prometheus_scrape_config() -> None:
    document = load("deploy/prometheus.yml")
    assert document["rule_files"] == ["alerts.yml"]
    (job,) = document["scrape_configs"]
    assert job["metrics_path"] == "/api/metrics"
    assert job["scrape_interval"] == "30s"
    assert job["static_configs"][0]["targets"]
    assert job["job_name"] in " ".join(r["expr"] for r in rules())


def test_dockerfile() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert text.startswith("# ") and "FROM python:3.11-slim" in text
    assert (
        "HEALTHCHECK --interval=30s --timeout=10s --start-period=5s --retries=3 "
        "CMD curl -f http://localhost:8000/api/health || exit 1"
    ) in text
    assert re.search(r"apt-get install .*curl", text)
    assert re.search(r"^USER tronrent$", text, flags=re.MULTILINE)
    assert "EXPOSE 8000" in text


def test_docker_compose() -> None:
    document = load("docker-compose.yml")
    services = document["services"]
    assert services["db"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7-alpine"
    app = services["app"]
    assert app["build"] == "."
    assert {"db", "redis"} <= set(app["depends_on"])
    env = app["environment"]
    for name in ("DATABASE_URL", "REDIS_URL", "TELEGRAM_BOT_TOKEN", "TRON_API_KEY", "SECRET_KEYS"):
        assert name in env
    assert {"postgres_data", "redis_data"} <= set(document["volumes"])
    assert "postgres_data:/var/lib/postgresql/data" in services["db"]["volumes"]
    # least privilege: the owner migrates, the service connects as a member of the app role
    owner = services["db"]["environment"]["POSTGRES_USER"]
    assert f"://{owner}:" in services["migrate"]["environment"]["DATABASE_URL"]
    assert services["migrate"]["command"] == ["tronrent", "migrate"]
    assert f"://{owner}:" not in env["DATABASE_URL"]
    assert "tronrent_service" in env["DATABASE_URL"] and app["command"] == ["tronrent", "serve"]
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert any("postgres-init.sh" in v for v in services["db"]["volumes"])


def test_docker_compose_scale_out_layout() -> None:
    """The ``scaleout`` profile: one role per service, on the app's settings, least privilege
    and start order, each role valid for several processes (PostgreSQL, Redis, a node)."""
    from tronrent.config import SERVE_ROLES, Settings

    services = load("docker-compose.yml")["services"]
    app = services["app"]
    assert "SERVE_ROLES" not in app["environment"]  # the default app runs every role
    for role in SERVE_ROLES:
        service = services[role]
        assert service["profiles"] == ["scaleout"]
        assert service["build"] == app["build"] and service["command"] == app["command"]
        assert service["depends_on"] == app["depends_on"]
        env = service["environment"]
        assert env["SERVE_ROLES"] == role
        assert env["DATABASE_URL"] == app["environment"]["DATABASE_URL"]
        shared = Settings(
            _env_file=None,  # type: ignore[call-arg]
            serve_roles=role,  # type: ignore[arg-type]
            database_url="postgresql://tronrent_service:x@db:5432/tron_energy",
            redis_url=env["REDIS_URL"],
            tron_network="mainnet",
        )
        assert shared.roles_problem() is None
    assert services["api"]["deploy"]["replicas"] >= 2
    assert services["engine"]["deploy"]["replicas"] >= 2
    assert "deploy" not in services["bots"]  # one copy: polling bots must not run twice
