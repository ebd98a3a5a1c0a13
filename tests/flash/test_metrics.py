"""The metrics of seed 000 section 10.1 recorded where the facts are known, on the devnet with
the API and flash engine running, and the alert rules of deploy/alerts.yml evaluated by promtool
over what ``/api/metrics`` exposes: the node failing every delegation's broadcast makes
EnergyDelegationFailureRateHigh fire; the same service delivering makes nothing fire."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from trondevnet.node import FaultRule
from trondevnet.testing import funded_key
from tronrent.kit.metrics import REGISTRY
from tronrent.pool.tasks import sync_all

from .conftest import TRX, send_trx
from .test_endpoints import Api, api  # noqa: F401 - the API on the devnet, flash engine wired

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "deploy" / "alerts.yml"
BROADCAST = "/wallet/broadcasttransaction"
DELEGATIONS = "tronrent_energy_delegations_total"

#: (sample name, sorted label pairs) -> value
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(api: Api) -> Samples:  # noqa: F811
    r = await api.http.get("/api/metrics")
    assert r.status_code == 200, r.text
    out: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum over every sample of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


async def pay_order(api: Api) -> str:  # noqa: F811
    """Create an order and pay it on chain (submitted straight to the devnet's chain, so a
    fault on the node's HTTP broadcast never touches the customer's payment)."""
    recipient = funded_key(api.devnet.chain, TRX).address_base58
    r = await api.http.post(
        "/api/energy-flash/create-order", json={"recipientAddress": recipient, "chatId": 0}
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    payer = funded_key(api.devnet.chain, 100 * TRX)
    send_trx(api.devnet, payer, data["paymentAddress"], round(data["exampleAmount"] * TRX))
    return str(data["orderId"])


async def until(predicate: Any, wait_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while not await predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.1)


def _label_text(labels: tuple[tuple[str, str], ...]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels)


def _number(x: float) -> str:
    return str(int(x)) if x == int(x) else repr(x)


def sustained_series(before: Samples, after: Samples, name: str) -> list[dict[str, str]]:
    """promtool input series for every ``name`` sample: the value scraped ``before`` at 0m, the
    value scraped ``after`` at 1m, then the same increase every minute (the observed rate,
    sustained) - ``a+bxN`` passes through both scrapes exactly."""
    series = []
    for key, end in after.items():
        sample, labels = key
        if sample != name:
            continue
        start = before.get(key, 0.0)
        assert end >= start, key  # a counter
        series.append(
            {
                "series": f"{sample}{{{_label_text(labels)}}}",
                "values": f"{_number(start)}+{_number(end - start)}x15",
            }
        )
    assert series, f"{name} not exposed"
    return series


def humanize_percentage(ratio: float) -> str:
    """Prometheus's humanizePercentage (Go's %.4g of the percentage)."""
    text = f"{ratio * 100:.4g}"
    return f"{text}%"


def promtool_test(tmp_path: Path, tests: list[dict[str, Any]]) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: apt-get install prometheus (see README, Set-up)"
    path = tmp_path / "scraped.test.yml"
    document = {"rule_files": [str(ALERTS)], "evaluation_interval": "1m", "tests": tests}
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    done = subprocess.run(
        [promtool, "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr + path.read_text()


def delegation_alert(
    before: Samples, after: Samples, expected: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "interval": "1m",
        "input_series": sustained_series(before, after, DELEGATIONS),
        "alert_rule_test": [
            {
                "eval_time": "10m",
                "alertname": "EnergyDelegationFailureRateHigh",
                "exp_alerts": expected,
            }
        ],
    }


async def test_a_node_failing_delegations_fires_the_alert(
    api: Api,  # noqa: F811
    tmp_path: Path,
) -> None:
    # healthy: an order paid and delivered - successes only
    s0 = await scrape(api)
    first = await pay_order(api)
    await api.wait_status(first, "active", wait_s=30)
    s1 = await scrape(api)
    assert total(s1, DELEGATIONS, result="success") > total(s0, DELEGATIONS, result="success")
    assert total(s1, DELEGATIONS, result="failure") == total(s0, DELEGATIONS, result="failure")
    # the facts of the delivered order: its payment-to-delivery time, the scanner's checks
    count = "tronrent_order_processing_seconds_count"
    assert value(s1, count) == value(s0, count) + 1
    checks = "tronrent_payment_monitoring_checks_total"
    assert value(s1, checks, result="success") > value(s0, checks, result="success")
    assert ("tronrent_scanner_lag_blocks", (("scanner", "main"),)) in s1

    # the fault: the node answers every broadcast with HTTP 500
    api.devnet.node.set_fault(FaultRule(path=BROADCAST, error_rate=1.0))
    try:
        second = await pay_order(api)

        async def failing() -> bool:
            now = await scrape(api)
            return (
                total(now, DELEGATIONS, result="failure")
                >= total(s1, DELEGATIONS, result="failure") + 3
            )

        await until(failing)
        s2 = await scrape(api)
    finally:
        api.devnet.node.clear_faults()
    failed = total(s2, DELEGATIONS, result="failure") - total(s1, DELEGATIONS, result="failure")
    done = total(s2, DELEGATIONS) - total(s1, DELEGATIONS)
    description = (
        f"{humanize_percentage(failed / done)} of delegate/undelegate operations failed over 5 "
        "minutes; check pool capacity and the chain nodes."
    )
    firing = {
        "exp_labels": {"severity": "critical"},
        "exp_annotations": {
            "summary": "Energy delegation failure rate above 3%",
            "description": description,
        },
    }
    promtool_test(
        tmp_path,
        [delegation_alert(s0, s1, []), delegation_alert(s1, s2, [firing])],
    )
    # the node is back: the order the fault held is delivered
    await api.wait_status(second, "active", wait_s=60)


async def test_pool_sync_sets_the_pool_gauges(api: Api) -> None:  # noqa: F811
    assert api.state is not None
    async with api.state.session_maker() as s:
        chain = api.state.components["chain"]
        [(pool, _)] = await sync_all(s, chain)
        await s.commit()
    address = pool.tron_address

    def gauge(name: str) -> float | None:
        return REGISTRY.get_sample_value(f"tronrent_pool_energy_{name}", {"pool": address})

    capacity = pool.available_energy + pool.delegated_energy
    assert gauge("available") == pool.available_energy > 0
    assert gauge("capacity") == capacity
    assert gauge("utilisation") == pool.delegated_energy / capacity
    scraped = await scrape(api)
    assert value(scraped, "tronrent_pool_energy_available", pool=address) == pool.available_energy
