"""A token that changes with the catalogue (packages, price rules): processes cache it.

Revision ID: 0036_catalogue_token
Revises: 0035_users_username_trgm
Create Date: 2026-12-05

Every order created from a package read the packages on sale and the price rules (two
statements, their rows loaded as objects) although they change only when an operator edits
them. ``cache_versions`` holds one row per cached data set; the row ``catalogue`` gets a new
random token from triggers on ``energy_packages`` and ``price_configs`` in every transaction
that inserts, updates or deletes rows of them (PostgreSQL: once per statement, TRUNCATE too,
*before* the statement: the token's row is locked before any row of the catalogue, so two
transactions changing the catalogue queue on it and never deadlock over it; SQLite: once per
row, one writer at a time). A process keeps the catalogue it read with its token
(`tronrent.product.catalogue`) and uses it while the row, read in a statement the order's
route runs anyway, still holds that token: a committed change is seen by the next order.

The triggers are on the tables: every path that changes them (admin API, console, templates,
SQL by hand) changes the token. PostgreSQL: the application role (``DB_APP_ROLE``) gets
SELECT and UPDATE on ``cache_versions`` (the triggers run as the role making the change).
A later migration that rebuilds either table on SQLite (a "batch" migration) drops its
triggers and must create them again (`create_triggers`); ``tests/product/test_catalogue.py``
changes each table through the migrated schema and fails without them.
"""

import importlib
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0036_catalogue_token"
down_revision: str | Sequence[str] | None = "0035_users_username_trgm"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "catalogue"
TABLES = ("energy_packages", "price_configs")


def create_triggers(dialect: str) -> None:
    if dialect == "postgresql":
        op.execute(  # constants only
            f"""
            CREATE OR REPLACE FUNCTION tronrent_catalogue_changed() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE cache_versions
                SET token = md5(random()::text || clock_timestamp()::text)
                WHERE name = '{NAME}';
                RETURN NULL;
            END $$
            """  # noqa: S608
        )
        for table in TABLES:
            op.execute(
                f"""
                CREATE TRIGGER {table}_catalogue_changed
                BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION tronrent_catalogue_changed()
                """
            )
        return
    for table in TABLES:
        for action in ("INSERT", "UPDATE", "DELETE"):
            op.execute(  # constants only
                f"""
                CREATE TRIGGER {table}_catalogue_{action.lower()}
                AFTER {action} ON {table}
                BEGIN
                    UPDATE cache_versions SET token = lower(hex(randomblob(16)))
                    WHERE name = '{NAME}';
                END
                """  # noqa: S608
            )


def upgrade() -> None:
    table = op.create_table(
        "cache_versions",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cache_versions")),
    )
    op.bulk_insert(table, [{"name": NAME, "token": uuid.uuid4().hex}])
    dialect = op.get_bind().dialect.name
    create_triggers(dialect)
    if dialect == "postgresql":
        # the triggers run as the role that changes the catalogue: it replaces the token
        grants = importlib.import_module("tronrent.migrations.versions.0003_app_role_grants")
        op.execute(f'GRANT SELECT, UPDATE ON cache_versions TO "{grants.app_role()}"')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_catalogue_changed ON {table}")
        op.execute("DROP FUNCTION IF EXISTS tronrent_catalogue_changed()")
    else:
        for table in TABLES:
            for action in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_catalogue_{action}")
    op.drop_table("cache_versions")
