"""Least-privilege grants for the application role (PostgreSQL only; nothing on SQLite).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

Seed 000 grants ``tron_app`` SELECT/INSERT/UPDATE/DELETE on its two tables, their sequences
and SELECT on its two views. We extend that to every table the application writes - and no
more: no DDL, no TRUNCATE, no ownership; append-only tables (ledger, histories) get no UPDATE
or DELETE, ``payments`` and ``chain_transactions`` no DELETE. The role name comes from
``DB_APP_ROLE`` (default ``tron_app``); it is created NOLOGIN if missing (grant it to the login
user the service runs as: ``GRANT tron_app TO tronrent_service``). Downgrade revokes the grants
but keeps the role (roles are cluster-wide, other databases may use it).
"""

import os
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_APP_ROLE = "tron_app"

CRUD = "SELECT, INSERT, UPDATE, DELETE"
TABLE_PRIVILEGES: dict[str, str] = {
    # seed 000 (its own GRANTs)
    "payment_monitoring_logs": CRUD,
    "energy_delegations": CRUD,
    # seed 001
    "users": CRUD,
    "orders": CRUD,
    "energy_pools": CRUD,
    "energy_packages": CRUD,
    "energy_transactions": CRUD,
    "price_configs": CRUD,
    "price_history": "SELECT, INSERT",
    "price_templates": CRUD,
    "resource_consumption_configs": CRUD,
    "system_configs": CRUD,
    "system_config_history": "SELECT, INSERT",
    "bots": CRUD,
    "bot_users": CRUD,
    "agents": CRUD,
    "agent_applications": CRUD,
    "agent_earnings": CRUD,
    # ours
    "admin_users": CRUD,
    "payments": "SELECT, INSERT, UPDATE",
    "balance_ledger": "SELECT, INSERT",
    "scanner_checkpoints": "SELECT, INSERT, UPDATE",
    "chain_transactions": "SELECT, INSERT, UPDATE",
    "notification_outbox": CRUD,
    "job_failures": CRUD,
    # read-only: the service checks the schema revision at start-up
    "alembic_version": "SELECT",
}
SEQUENCES = (
    "payment_monitoring_logs_id_seq",
    "energy_delegations_id_seq",
    "resource_consumption_configs_id_seq",
    "payments_id_seq",
    "balance_ledger_id_seq",
    "chain_transactions_id_seq",
    "notification_outbox_id_seq",
    "job_failures_id_seq",
)
VIEWS = ("payment_monitoring_status", "energy_delegation_stats")


def app_role() -> str:
    """The application role from ``DB_APP_ROLE``, validated as a plain SQL identifier."""
    role = os.environ.get("DB_APP_ROLE", "").strip() or DEFAULT_APP_ROLE
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", role):
        raise ValueError(
            f"DB_APP_ROLE={role!r} is not a valid role name (letters, digits, _; max 63)"
        )
    return role


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    role = app_role()
    op.execute(
        f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{role}') THEN
        CREATE ROLE "{role}" NOLOGIN;
    END IF;
END
$$"""
    )
    op.execute(f'GRANT USAGE ON SCHEMA {_schema()} TO "{role}"')
    for table, privileges in TABLE_PRIVILEGES.items():
        op.execute(f'GRANT {privileges} ON {table} TO "{role}"')
    for sequence in SEQUENCES:
        op.execute(f'GRANT USAGE, SELECT ON SEQUENCE {sequence} TO "{role}"')
    for view in VIEWS:
        op.execute(f'GRANT SELECT ON {view} TO "{role}"')


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    role = app_role()
    exists = op.get_bind().execute(
        sa.text("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :role"), {"role": role}
    )
    if exists.first() is None:
        return
    for view in VIEWS:
        op.execute(f'REVOKE ALL ON {view} FROM "{role}"')
    for sequence in SEQUENCES:
        op.execute(f'REVOKE ALL ON SEQUENCE {sequence} FROM "{role}"')
    for table in TABLE_PRIVILEGES:
        op.execute(f'REVOKE ALL ON {table} FROM "{role}"')
    op.execute(f'REVOKE USAGE ON SCHEMA {_schema()} FROM "{role}"')


def _schema() -> str:
    name = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one()
    return '"' + str(name).replace('"', '""') + '"'
