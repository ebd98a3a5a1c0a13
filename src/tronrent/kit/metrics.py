"""Prometheus metrics of the whole service, in one registry exposed at ``/api/metrics``.

Later code imports these objects and increments them; ``deploy/alerts.yml`` refers to them by
name (a test checks every name there exists here). Names and labels:

HTTP (recorded by the API middleware)
  ``tronrent_http_requests_total{method, route, status}``            counter
  ``tronrent_http_request_duration_seconds{method, route}``         histogram
Payment monitoring (scanner / payment matching)
  ``tronrent_payment_monitoring_checks_total{result}``  counter, result = success | failure
      one per monitoring attempt (a scanned block, a confirm-payment lookup, a watch check)
Energy delegation (delegation / reclaim jobs)
  ``tronrent_energy_delegations_total{operation, result}``  counter,
      operation = delegate | undelegate, result = success | failure
Orders
  ``tronrent_order_processing_seconds``  histogram: payment seen -> energy delegated (active)
  ``tronrent_orders_oldest_unprocessed_age_seconds``  gauge: age of the oldest paid order not yet
      delegated (set by the sweeper; 0 when none) - catches stuck orders a histogram never sees
  ``tronrent_orders_in_limbo``  gauge: paid orders with no outcome PAID_ORDER_ALERT_BLOCKS blocks
      after payment (delegation.limbo; set by the sweeper, each one alerted once)
Scanner
  ``tronrent_scanner_lag_blocks{scanner}``  gauge: blocks the leading scanner is behind the head,
      beyond its confirmation depth (0 when caught up); exported only by the process holding
      the scanner lease (a standby removes its series)
Pools (set by the pool sync job, every 30 s, from the chain's figures)
  ``tronrent_pool_energy_available{pool}``  gauge: energy the pool can delegate now
      (getcandelegatedmaxsize at the chain's current energy ratio); ``pool`` = its address
  ``tronrent_pool_energy_capacity{pool}``      gauge: available + delegated energy
  ``tronrent_pool_energy_utilisation{pool}``  gauge: delegated / total, 0..1
Retention (the retention job, hourly; see docs/retention.md)
  ``tronrent_retention_deleted_rows_total{table}``  counter: rows deleted by retention (rows of
      dropped partitions included)
  ``tronrent_retention_partitions_total{action}``  counter: partitions made | dropped
Errors
  ``tronrent_errors_total{component}``  counter: unexpected exceptions (api, worker, scanner, bot)
Database pool (collected at scrape time from every tracked engine)
  ``tronrent_db_pool_connections_in_use``  gauge: connections checked out
  ``tronrent_db_pool_connections_max``     gauge: pool size + max overflow
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

REGISTRY: Final = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)  # process_resident_memory_bytes, cpu, open fds
PlatformCollector(registry=REGISTRY)
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

_LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_ORDER_BUCKETS: Final = (1.0, 3.0, 6.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)

HTTP_REQUESTS: Final = Counter(
    "tronrent_http_requests",
    "HTTP requests answered, by route template and status code.",
    ("method", "route", "status"),
    registry=REGISTRY,
)
HTTP_REQUEST_DURATION: Final = Histogram(
    "tronrent_http_request_duration_seconds",
    "HTTP request latency in seconds, by route template.",
    ("method", "route"),
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
PAYMENT_MONITORING_CHECKS: Final = Counter(
    "tronrent_payment_monitoring_checks",
    "Payment monitoring attempts (block scans, payment lookups) by result.",
    ("result",),
    registry=REGISTRY,
)
ENERGY_DELEGATIONS: Final = Counter(
    "tronrent_energy_delegations",
    "Energy delegate/undelegate operations by result.",
    ("operation", "result"),
    registry=REGISTRY,
)
ORDER_PROCESSING_SECONDS: Final = Histogram(
    "tronrent_order_processing_seconds",
    "Time from payment seen to energy delegated, in seconds.",
    buckets=_ORDER_BUCKETS,
    registry=REGISTRY,
)
ORDERS_OLDEST_UNPROCESSED_AGE: Final = Gauge(
    "tronrent_orders_oldest_unprocessed_age_seconds",
    "Age in seconds of the oldest paid order not yet delegated (0 when none).",
    registry=REGISTRY,
)
ORDERS_IN_LIMBO: Final = Gauge(
    "tronrent_orders_in_limbo",
    "Paid orders neither delivered nor refunded PAID_ORDER_ALERT_BLOCKS blocks after payment.",
    registry=REGISTRY,
)
SCANNER_LAG_BLOCKS: Final = Gauge(
    "tronrent_scanner_lag_blocks",
    "Blocks the leading scanner is behind the chain head, beyond its confirmation depth.",
    ("scanner",),
    registry=REGISTRY,
)


def _pool_gauge(name: str, documentation: str) -> Gauge:
    """``tronrent_pool_energy_<name>{pool}``, set by the pool sync (`set_pool_energy`)."""
    return Gauge(f"tronrent_pool_energy_{name}", documentation, ("pool",), registry=REGISTRY)


POOL_ENERGY_AVAILABLE: Final = _pool_gauge(
    "available", "Energy the pool can delegate now, from the chain's figures at the last pool sync."
)
POOL_ENERGY_CAPACITY: Final = _pool_gauge(
    "capacity", "Energy of the pool's stake: available plus delegated, at the last pool sync."
)
POOL_ENERGY_UTILISATION: Final = _pool_gauge(
    "utilisation", "Share of the pool's energy delegated (0..1), at the last pool sync."
)
RETENTION_DELETED: Final = Counter(
    "tronrent_retention_deleted_rows",
    "Rows deleted by the retention job, by table.",
    ("table",),
    registry=REGISTRY,
)
RETENTION_PARTITIONS: Final = Counter(
    "tronrent_retention_partitions",
    "Partitions made ahead or dropped by the retention job.",
    ("action",),
    registry=REGISTRY,
)
ERRORS: Final = Counter(
    "tronrent_errors",
    "Unexpected exceptions by component.",
    ("component",),
    registry=REGISTRY,
)

# pre-create the label sets the alert rules divide by, so ratios exist before the first event
for _result in ("success", "failure"):
    PAYMENT_MONITORING_CHECKS.labels(result=_result)
    for _operation in ("delegate", "undelegate"):
        ENERGY_DELEGATIONS.labels(operation=_operation, result=_result)
for _component in ("api", "worker", "scanner", "bot"):
    ERRORS.labels(component=_component)


class DatabasePoolCollector(Collector):
    """Reports connection pool usage of the engines the running app registered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[str, Any] = {}

    def track(self, name: str, engine: Any) -> None:
        """Report ``engine`` (an AsyncEngine or Engine) under the label ``pool=name``."""
        sync_engine = getattr(engine, "sync_engine", engine)
        with self._lock:
            self._pools[name] = sync_engine.pool

    def untrack(self, name: str) -> None:
        with self._lock:
            self._pools.pop(name, None)

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        in_use = GaugeMetricFamily(
            "tronrent_db_pool_connections_in_use",
            "Database connections checked out of the pool.",
            labels=("pool",),
        )
        maximum = GaugeMetricFamily(
            "tronrent_db_pool_connections_max",
            "Most connections the pool may hold (size + max overflow).",
            labels=("pool",),
        )
        with self._lock:
            pools = list(self._pools.items())
        for name, pool in pools:
            checked_out = getattr(pool, "checkedout", None)
            size = getattr(pool, "size", None)
            if not callable(checked_out) or not callable(size):
                continue  # NullPool/StaticPool (SQLite): nothing meaningful to report
            overflow = max(int(getattr(pool, "_max_overflow", 0)), 0)
            in_use.add_metric([name], float(checked_out()))
            maximum.add_metric([name], float(size() + overflow))
        yield in_use
        yield maximum


DB_POOL: Final = DatabasePoolCollector()
REGISTRY.register(DB_POOL)

#: Every metric family name exposed (alert rules may only use these, plus the _sum/_count/_bucket
#: series of histograms and the _total series of counters).
METRIC_NAMES: Final = frozenset(
    {
        "tronrent_http_requests_total",
        "tronrent_http_request_duration_seconds",
        "tronrent_payment_monitoring_checks_total",
        "tronrent_energy_delegations_total",
        "tronrent_order_processing_seconds",
        "tronrent_orders_oldest_unprocessed_age_seconds",
        "tronrent_orders_in_limbo",
        "tronrent_errors_total",
        "tronrent_scanner_lag_blocks",
        "tronrent_pool_energy_available",
        "tronrent_pool_energy_capacity",
        "tronrent_pool_energy_utilisation",
        "tronrent_db_pool_connections_in_use",
        "tronrent_db_pool_connections_max",
    }
)


def set_pool_energy(figures: Iterable[tuple[str, int, int]]) -> None:
    """Replace the pool gauges with ``(address, available energy, delegated energy)`` of every
    pool (a removed pool's series disappear)."""
    rows = list(figures)
    for gauge in (POOL_ENERGY_AVAILABLE, POOL_ENERGY_CAPACITY, POOL_ENERGY_UTILISATION):
        gauge.clear()
    for address, available, delegated in rows:
        total = available + delegated
        POOL_ENERGY_AVAILABLE.labels(pool=address).set(available)
        POOL_ENERGY_CAPACITY.labels(pool=address).set(total)
        POOL_ENERGY_UTILISATION.labels(pool=address).set(delegated / total if total else 0.0)


def render_latest() -> bytes:
    """The registry in Prometheus text exposition format."""
    return generate_latest(REGISTRY)
