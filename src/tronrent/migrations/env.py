"""Alembic environment. Runs on a connection handed over by ``tronrent.storage.migrations``
(``config.attributes["connection"]``), or opens its own from ``sqlalchemy.url``."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.types import TypeDecorator

import tronrent.models  # noqa: F401  (registers every table on Base.metadata)
from tronrent.kit.db import Base, create_engine, include_object_for, normalize_database_url
from tronrent.retention.partitions import include_name  # ignores run-time partitions

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render our TypeDecorators as their plain SQL type so migrations never import app code
    for column types (``UTCDateTime`` -> ``sa.DateTime(timezone=True)``)."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def _configure_kwargs(dialect: str) -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "render_item": render_item,
        "compare_type": True,
        "include_name": include_name,
        "include_object": include_object_for(dialect),
        # SQLite needs table rebuilds ("batch") for most ALTERs; autogenerate emits them.
        "render_as_batch": True,
    }


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, **_configure_kwargs(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", foreign_keys=False)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url") or ""
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_configure_kwargs(make_url(normalize_database_url(url)).get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(_run_async())
    else:
        do_run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
