"""PostgreSQL partitions of ``payment_monitoring_logs`` (one per UTC day, migration 0028).

The application role has no DDL right: the partitions are made and dropped through the two
SECURITY DEFINER functions of the migration, which do only that (2 s lock timeout each)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

PARENT = "payment_monitoring_logs"
DEFAULT_PARTITION = f"{PARENT}_default"
_PARTITION_NAME = re.compile(rf"^{PARENT}_(history|default|p\d{{8}})$")
_UPPER_BOUND = re.compile(r"TO \('([^']+)'\)")


def is_partition_name(name: str | None) -> bool:
    """A partition of ``payment_monitoring_logs`` (made at run time, not in the models)."""
    return bool(name and _PARTITION_NAME.match(name))


def include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Alembic's ``include_name``: schema comparisons ignore the day partitions."""
    return not (type_ == "table" and is_partition_name(name))


def day_partition(day: date) -> str:
    return f"{PARENT}_p{day:%Y%m%d}"


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    #: exclusive upper bound; None for the default partition
    upper: datetime | None


async def is_partitioned(session: AsyncSession) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return False
    found = await session.execute(
        text("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(:t)"),
        {"t": PARENT},
    )
    return found.first() is not None


async def list_partitions(session: AsyncSession) -> list[Partition]:
    """The partitions with their upper bounds, oldest first (the default one last)."""
    rows = await session.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:t)"
        ),
        {"t": PARENT},
    )
    found = []
    for name, bound in rows:
        match = _UPPER_BOUND.search(bound or "")
        found.append(Partition(name, datetime.fromisoformat(match.group(1)) if match else None))
    return sorted(found, key=lambda p: (p.upper is None, p.upper or datetime.min, p.name))


async def missing_days(session: AsyncSession, today: date, ahead_days: int) -> list[date]:
    """Days from ``today`` to ``today + ahead_days`` with no partition of their own."""
    have = {p.name for p in await list_partitions(session)}
    days = [today + timedelta(days=n) for n in range(ahead_days + 1)]
    return [d for d in days if day_partition(d) not in have]


async def add_partition(session: AsyncSession, day: date) -> bool:
    """Make ``day``'s partition; False when it exists, overlaps another, or the default
    partition already holds rows of that day (they stay there)."""
    made = await session.execute(text("SELECT tronrent_pml_add_partition(:d)"), {"d": day})
    return bool(made.scalar_one())


async def drop_partition(session: AsyncSession, name: str) -> bool:
    """Drop a partition; False while it holds an open watch (its rows are then deleted one
    by one once finished)."""
    dropped = await session.execute(text("SELECT tronrent_pml_drop_partition(:n)"), {"n": name})
    return bool(dropped.scalar_one())
