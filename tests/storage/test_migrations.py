"""Migrations: round trips on both databases, schema == models, the start-up guard, grants."""

from __future__ import annotations

import os
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import tronrent.models  # noqa: F401
from tronrent.kit.db import Base, create_engine, include_object_for
from tronrent.kit.errors import AppError
from tronrent.retention.partitions import include_name
from tronrent.storage.migrations import (
    DatabaseNotMigrated,
    current_revision,
    downgrade,
    ensure_migrated,
    head_revisions,
    upgrade,
    upgrade_async,
)

VIEWS = {"payment_monitoring_status", "energy_delegation_stats"}


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _views(connection: Connection) -> set[str]:
    return set(inspect(connection).get_view_names())


async def _schema(url: str) -> tuple[set[str], set[str], str | None]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(_tables)
            views = await connection.run_sync(_views)
        return tables, views, await current_revision(engine)
    finally:
        await engine.dispose()


class TestRoundTrip:
    async def test_upgrade_downgrade_upgrade(self, empty_database_url: str) -> None:
        model_tables = set(Base.metadata.tables)

        upgrade(empty_database_url)
        tables, views, revision = await _schema(empty_database_url)
        assert model_tables <= tables
        assert views >= VIEWS
        assert revision == head_revisions()[0]

        downgrade(empty_database_url, "base")
        tables, views, revision = await _schema(empty_database_url)
        assert tables <= {"alembic_version"}
        assert not views & VIEWS
        assert revision is None

        upgrade(empty_database_url)
        tables, views, revision = await _schema(empty_database_url)
        assert model_tables <= tables
        assert views >= VIEWS

    async def test_each_step_down_and_up(self, empty_database_url: str) -> None:
        await upgrade_async(empty_database_url)
        for step in ("0002", "0001", "base"):
            downgrade(empty_database_url, step)
            assert (await _schema(empty_database_url))[2] == (None if step == "base" else step)
        for step in ("0001", "0002", "0003"):
            upgrade(empty_database_url, step)
            assert (await _schema(empty_database_url))[2] == step


def _diffs(connection: Connection) -> list[object]:
    # the day partitions of payment_monitoring_logs (PostgreSQL) are made at run time
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_name": include_name,
            "include_object": include_object_for(connection.dialect.name),
        },
    )
    return list(compare_metadata(context, Base.metadata))


class TestSchemaMatchesModels:
    async def test_no_autogenerate_diffs(self, engine: AsyncEngine) -> None:
        async with engine.connect() as connection:
            diffs = await connection.run_sync(_diffs)
        assert diffs == []


class TestEnsureMigrated:
    async def test_passes_at_head(self, engine: AsyncEngine) -> None:
        await ensure_migrated(engine)
        assert await current_revision(engine) == head_revisions()[0]

    async def test_empty_database_is_refused_with_one_clear_line(
        self, empty_database_url: str
    ) -> None:
        engine = create_engine(empty_database_url)
        try:
            with pytest.raises(DatabaseNotMigrated) as caught:
                await ensure_migrated(engine)
        finally:
            await engine.dispose()
        assert isinstance(caught.value, AppError)
        assert caught.value.code == "DATABASE_NOT_MIGRATED"
        assert "\n" not in caught.value.message
        assert "tronrent migrate" in caught.value.message

    async def test_older_revision_is_refused(self, empty_database_url: str) -> None:
        upgrade(empty_database_url, "0001")
        engine = create_engine(empty_database_url)
        try:
            with pytest.raises(DatabaseNotMigrated, match="tronrent migrate"):
                await ensure_migrated(engine)
        finally:
            await engine.dispose()

    async def test_unknown_newer_revision_is_refused(self, engine: AsyncEngine) -> None:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
        with pytest.raises(DatabaseNotMigrated, match="upgrade tronrent"):
            await ensure_migrated(engine)


@pytest.mark.postgres
class TestAppRoleGrants:
    async def test_default_role_gets_least_privilege(
        self, db_backend: str, engine: AsyncEngine
    ) -> None:
        async with engine.connect() as connection:

            async def can(privilege: str, table: str) -> bool:
                result = await connection.execute(
                    text("SELECT has_table_privilege('tron_app', :t, :p)"),
                    {"t": table, "p": privilege},
                )
                return bool(result.scalar_one())

            assert await can("INSERT", "payment_monitoring_logs")
            assert await can("DELETE", "energy_delegations")
            assert await can("SELECT", "payment_monitoring_status")
            assert await can("INSERT", "balance_ledger")
            assert not await can("UPDATE", "balance_ledger")
            assert await can("INSERT", "pool_changes")  # 0011_pool_ops: append-only
            assert not await can("UPDATE", "pool_changes")
            assert await can("INSERT", "payment_changes")  # 0016_search: append-only
            assert not await can("UPDATE", "payment_changes")
            assert await can("UPDATE", "merchant_callbacks")  # 0020_merchant
            assert await can("DELETE", "merchant_nonces")
            assert not await can("UPDATE", "merchant_orders")
            assert not await can("UPDATE", "merchant_callback_attempts")
            assert await can("INSERT", "user_status_changes")  # 0032_console_biz
            assert not await can("UPDATE", "user_status_changes")
            assert not await can("DELETE", "payments")
            assert not await can("INSERT", "alembic_version")
            assert not await can("TRUNCATE", "orders")
            seq = await connection.execute(
                text("SELECT has_sequence_privilege('tron_app', 'payments_id_seq', 'USAGE')")
            )
            assert seq.scalar_one()

    async def test_role_name_from_environment(
        self, db_backend: str, empty_database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        role = f"tronrent_test_role_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        monkeypatch.setenv("DB_APP_ROLE", role)
        upgrade(empty_database_url)
        engine = create_engine(empty_database_url)
        try:
            async with engine.connect() as connection:
                row = (
                    await connection.execute(
                        text(
                            "SELECT rolcanlogin, has_table_privilege(:r, 'orders', 'UPDATE')"
                            " FROM pg_roles WHERE rolname = :r"
                        ),
                        {"r": role},
                    )
                ).one()
            assert row == (False, True)
            downgrade(empty_database_url, "base")  # revokes, so the role can be dropped
            async with engine.connect() as connection:
                await connection.execute(text(f'DROP ROLE "{role}"'))
                await connection.commit()
        finally:
            await engine.dispose()

    async def test_bad_role_name_is_refused(
        self, db_backend: str, empty_database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("DB_APP_ROLE", 'x"; DROP TABLE orders; --')
        with pytest.raises(ValueError, match="DB_APP_ROLE"):
            upgrade(empty_database_url)
        # the whole migration ran in one transaction: nothing was left half-done
        assert (await _schema(empty_database_url))[2] is None
