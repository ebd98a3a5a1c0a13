"""The catalogue (energy packages and package price rules), kept per process, checked per use.

An order from a package needs the package and the price rules that may apply: two statements
and their rows made objects, for data that changes when an operator edits it. The process
keeps the last catalogue it read with its token (``cache_versions``, row ``catalogue``: a new
random token from triggers in every transaction that changes ``energy_packages`` or
``price_configs``, migration 0036) and uses it while the token read in the same transaction as
the order is the one it was read with. The caller reads the token in a statement it runs
anyway (`catalogue_token` as one more column): no round trip is added, two are saved, and a
change an operator committed applies to the next order, as when both were read each time.

Loading: the token, the packages, the rules, the token again; the copy is kept only when both
tokens are equal (no change was committed between, on PostgreSQL where each statement sees the
latest commits; on SQLite the transaction is one snapshot). The packages kept are detached
copies (`sqlalchemy.orm.make_transient_to_detached`), shared by the requests of the process as
read-only values: not in any session, so never flushed; a lazy relationship on one raises.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ScalarSelect, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from tronrent.models.cache_version import CacheVersion
from tronrent.models.energy_package import EnergyPackage, PackageType
from tronrent.pricing.quote import RuleRow, load_all_rules

NAME: Final = "catalogue"
#: loads that saw a change committed meanwhile before one is kept
_ATTEMPTS: Final = 3


@functools.cache  # a constant expression: built once
def catalogue_token() -> ScalarSelect[Any]:
    """The catalogue's current token as a scalar subquery: one more column of a statement the
    caller runs anyway (label it), for `CatalogueCache.get`."""
    return select(CacheVersion.token).where(CacheVersion.name == NAME).scalar_subquery()


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Every package (catalogue order) and every active package price rule, as of ``token``
    (None: read without a token - the table has no row - and not kept)."""

    token: str | None
    packages: tuple[EnergyPackage, ...]
    rules: tuple[RuleRow, ...]

    def package(self, package_id: uuid.UUID) -> EnergyPackage | None:
        return next((p for p in self.packages if p.id == package_id), None)

    def on_sale(self, kinds: Sequence[PackageType] = (PackageType.ENERGY,)) -> list[EnergyPackage]:
        """Active packages of these types, in catalogue order (as `merchant.orders.on_sale`)."""
        return [p for p in self.packages if p.is_active and p.package_type in kinds]


class CatalogueCache:
    """The last catalogue this process read (one per process: `catalogues`)."""

    def __init__(self) -> None:
        self._kept: Catalogue | None = None
        self.loads = 0  # catalogues read from the database (tests, metrics)

    async def get(self, session: AsyncSession, token: str | None) -> Catalogue:
        """The catalogue as of ``token`` (read by the caller in this transaction): the kept
        one when its token is ``token``, else read (and kept when consistent)."""
        kept = self._kept
        if kept is not None and token is not None and kept.token == token:
            return kept
        loaded = await load_catalogue(session)
        self.loads += 1
        if loaded.token is not None:
            self._kept = loaded
        return loaded

    def forget(self) -> None:
        self._kept = None


catalogues = CatalogueCache()


async def find_package(
    session: AsyncSession, package_id: uuid.UUID, catalogue: Catalogue | None
) -> EnergyPackage | None:
    """The package from ``catalogue`` when the caller holds one, else read."""
    if catalogue is not None:
        return catalogue.package(package_id)
    return await session.get(EnergyPackage, package_id)


async def load_catalogue(session: AsyncSession) -> Catalogue:
    """The catalogue read now (see the module docstring: its token is None when a change was
    committed during each of `_ATTEMPTS` reads, or the table has no row)."""
    token_stmt = select(catalogue_token())
    for _ in range(_ATTEMPTS):
        before = await session.scalar(token_stmt)
        packages = tuple(
            _detached_copy(p)
            for p in (
                await session.execute(
                    select(EnergyPackage).order_by(
                        EnergyPackage.sort_order, EnergyPackage.energy_amount, EnergyPackage.id
                    )
                )
            ).scalars()
        )
        rules = tuple(await load_all_rules(session))
        if before is not None and await session.scalar(token_stmt) == before:
            return Catalogue(before, packages, rules)
    return Catalogue(None, packages, rules)


def _detached_copy(package: EnergyPackage) -> EnergyPackage:
    """A copy of the loaded package's columns that belongs to no session."""
    copy = EnergyPackage(
        **{attr.key: getattr(package, attr.key) for attr in inspect(EnergyPackage).column_attrs}
    )
    make_transient_to_detached(copy)
    return copy
