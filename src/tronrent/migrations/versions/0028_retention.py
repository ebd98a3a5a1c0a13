"""Retention: ``payment_monitoring_logs`` partitioned by day on PostgreSQL; delete indexes.

Revision ID: 0028_retention
Revises: 0022_pool_keys
Create Date: 2026-12-04

See ``docs/retention.md``. PostgreSQL: ``payment_monitoring_logs`` becomes a table partitioned
by range of ``monitoring_started_at`` (the seed keeps it 30 days: whole days are dropped, no
row-by-row DELETE of a month of watches). Its primary key becomes ``(id, monitoring_started_at)``
(a partitioned table's keys must hold the partition column; ``id`` still comes from the same
sequence, so it stays unique). Partitions: ``payment_monitoring_logs_history`` (everything
before today, the rows of the old table), one per UTC day from today for
``_AHEAD_DAYS`` days, and ``payment_monitoring_logs_default`` (a row no day partition covers:
the retention job makes days ahead, so it stays empty unless the job stops running).

The application role (``DB_APP_ROLE``) owns no table and has no DDL right; two SECURITY DEFINER
functions do exactly the partition work the retention job needs, with a 2 s lock timeout:
``tronrent_pml_add_partition(day)`` (one day's partition, unless it exists, overlaps one, or the
default partition holds rows of that day) and ``tronrent_pml_drop_partition(name)`` (a partition
of this table, never the default one, only when it holds no open watch). EXECUTE is granted to
the application role only.

Both databases: indexes for the retention deletes (``notification_outbox.created_at``,
``merchant_callbacks.created_at``, ``job_failures.resolved_at``). SQLite keeps a plain table.
"""

import importlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from alembic import op

revision: str = "0028_retention"
down_revision: str | Sequence[str] | None = "0027_merchant_more"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AHEAD_DAYS = 7
_INDEXES = (
    ("idx_notification_outbox_created_at", "notification_outbox", ["created_at"]),
    ("idx_merchant_callbacks_created_at", "merchant_callbacks", ["created_at"]),
    ("idx_job_failures_resolved_at", "job_failures", ["resolved_at"]),
)
_PML_INDEXES = (
    ("idx_payment_monitoring_address", "payment_address"),
    ("idx_payment_monitoring_order_id", "order_id"),
    ("idx_payment_monitoring_started_at", "monitoring_started_at"),
    ("idx_payment_monitoring_status", "status"),
)

_ADD_PARTITION = """
CREATE OR REPLACE FUNCTION tronrent_pml_add_partition(day date) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT SET timezone = 'UTC' SET lock_timeout = '2s'
AS $fn$
DECLARE
    part text := 'payment_monitoring_logs_p' || to_char(day, 'YYYYMMDD');
    lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
    hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- rows of that day already went to the default partition: they stay there (retention
    -- deletes them row by row); a partition for the day would have to move them under a lock
    IF EXISTS (SELECT 1 FROM payment_monitoring_logs_default
               WHERE monitoring_started_at >= lo AND monitoring_started_at < hi) THEN
        RETURN false;
    END IF;
    EXECUTE format(
        'CREATE TABLE %I PARTITION OF payment_monitoring_logs FOR VALUES FROM (%L) TO (%L)',
        part, lo, hi);
    RETURN true;
EXCEPTION WHEN invalid_object_definition OR duplicate_table THEN  -- overlaps one; a race
    RETURN false;
END
$fn$
"""
_DROP_PARTITION = """
CREATE OR REPLACE FUNCTION tronrent_pml_drop_partition(part text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT SET lock_timeout = '2s'
AS $fn$
DECLARE
    open_watch boolean;
BEGIN
    IF part = 'payment_monitoring_logs_default' OR NOT EXISTS (
        SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'payment_monitoring_logs'::regclass AND c.relname = part
    ) THEN
        RAISE EXCEPTION 'not a droppable partition of payment_monitoring_logs: %', part;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE status = %L)', part, 'monitoring')
        INTO open_watch;
    IF open_watch THEN
        RETURN false;
    END IF;
    EXECUTE format('DROP TABLE %I', part);
    RETURN true;
END
$fn$
"""
_FUNCTIONS = ("tronrent_pml_add_partition(date)", "tronrent_pml_drop_partition(text)")


def _grants() -> object:
    return importlib.import_module("tronrent.migrations.versions.0003_app_role_grants")


def _views() -> object:
    return importlib.import_module("tronrent.migrations.versions.0002_views_initial_data")


def _create_view() -> None:
    views = _views()
    op.execute(
        views.PAYMENT_MONITORING_STATUS_SQL.format(  # type: ignore[attr-defined]
            is_expired=views.IS_EXPIRED_SQL["postgresql"]  # type: ignore[attr-defined]
        )
    )


def _rebuild_pml(partitioned: bool) -> None:
    """Copy ``payment_monitoring_logs`` into a new table (partitioned or plain) of the same
    columns, checks, defaults (the same id sequence), foreign key and indexes."""
    role = _grants().app_role()  # type: ignore[attr-defined]
    op.execute("DROP VIEW payment_monitoring_status")
    op.execute("ALTER TABLE payment_monitoring_logs RENAME TO payment_monitoring_logs_old")
    op.execute("ALTER INDEX payment_monitoring_logs_pkey RENAME TO pml_old_pkey")
    for name, _ in _PML_INDEXES:
        op.execute(f"DROP INDEX {name}")
    suffix = " PARTITION BY RANGE (monitoring_started_at)" if partitioned else ""
    op.execute(
        "CREATE TABLE payment_monitoring_logs (LIKE payment_monitoring_logs_old"
        f" INCLUDING DEFAULTS INCLUDING CONSTRAINTS){suffix}"
    )
    key = "id, monitoring_started_at" if partitioned else "id"
    op.execute(
        f"ALTER TABLE payment_monitoring_logs ADD CONSTRAINT payment_monitoring_logs_pkey"
        f" PRIMARY KEY ({key})"
    )
    op.execute(
        "ALTER TABLE payment_monitoring_logs ADD CONSTRAINT payment_monitoring_logs_order_id_fkey"
        " FOREIGN KEY (order_id) REFERENCES orders (id)"
    )
    for name, column in _PML_INDEXES:
        op.execute(f"CREATE INDEX {name} ON payment_monitoring_logs ({column})")
    if partitioned:
        today = datetime.now(UTC).date()
        op.execute(
            "CREATE TABLE payment_monitoring_logs_history PARTITION OF payment_monitoring_logs"
            f" FOR VALUES FROM (MINVALUE) TO ('{today.isoformat()} 00:00:00+00')"
        )
        op.execute(
            "CREATE TABLE payment_monitoring_logs_default PARTITION OF payment_monitoring_logs"
            " DEFAULT"
        )
        op.execute(_ADD_PARTITION)
        op.execute(_DROP_PARTITION)
        for fn in _FUNCTIONS:
            op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
            op.execute(f'GRANT EXECUTE ON FUNCTION {fn} TO "{role}"')
        for n in range(_AHEAD_DAYS + 1):
            day = today + timedelta(days=n)
            op.execute(f"SELECT tronrent_pml_add_partition(DATE '{day.isoformat()}')")
    op.execute("INSERT INTO payment_monitoring_logs SELECT * FROM payment_monitoring_logs_old")
    op.execute("ALTER SEQUENCE payment_monitoring_logs_id_seq OWNED BY NONE")
    op.execute("DROP TABLE payment_monitoring_logs_old")
    op.execute("ALTER SEQUENCE payment_monitoring_logs_id_seq OWNED BY payment_monitoring_logs.id")
    if not partitioned:
        for fn in _FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {fn}")
    _create_view()
    op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON payment_monitoring_logs TO "{role}"')
    op.execute(f'GRANT SELECT ON payment_monitoring_status TO "{role}"')


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)
    if op.get_bind().dialect.name == "postgresql":
        _rebuild_pml(partitioned=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild_pml(partitioned=False)
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
