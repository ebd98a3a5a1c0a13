"""The catalogue's token (migration 0036's triggers) and the per-process catalogue
(`tronrent.product.catalogue`), on both databases through the migrated schema."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tronrent.models.energy_package import EnergyPackage
from tronrent.models.price_config import PriceConfig
from tronrent.product import catalogue as catalogue_module
from tronrent.product.catalogue import CatalogueCache, catalogue_token, load_catalogue

Maker = async_sessionmaker[AsyncSession]


async def token(maker: Maker) -> str:
    async with maker() as s:
        found = await s.scalar(select(catalogue_token()))
    assert found
    return str(found)


async def a_package(maker: Maker) -> uuid.UUID:
    async with maker() as s:
        pkg = (await s.execute(select(EnergyPackage).limit(1))).scalar_one()
        return pkg.id


def rule(**kw: Any) -> PriceConfig:
    return PriceConfig(**{"config_name": "rule", "currency": "TRX", "base_price_units": 1, **kw})


async def change(maker: Maker, work: Callable[[AsyncSession], Awaitable[Any]]) -> None:
    async with maker.begin() as s:
        await work(s)


class TestToken:
    async def test_every_change_of_either_table_replaces_it(self, session_maker: Maker) -> None:
        pkg_id = await a_package(session_maker)
        seen = [await token(session_maker)]

        async def bump_price(s: AsyncSession) -> None:
            pkg = await s.get(EnergyPackage, pkg_id)
            assert pkg is not None
            pkg.base_price_units += 1

        async def new_package(s: AsyncSession) -> None:
            s.add(EnergyPackage(name="n", energy_amount=1, duration_hours=1, base_price_units=1))

        async def raw_sql(s: AsyncSession) -> None:
            await s.execute(text("UPDATE energy_packages SET sort_order = sort_order + 1"))

        async def new_rule(s: AsyncSession) -> None:
            s.add(rule())

        async def edit_rule(s: AsyncSession) -> None:
            await s.execute(text("UPDATE price_configs SET priority = priority + 1"))

        async def delete_rules(s: AsyncSession) -> None:
            await s.execute(text("DELETE FROM price_configs WHERE mode_type IS NULL"))

        async def delete_package(s: AsyncSession) -> None:
            await s.execute(text("DELETE FROM energy_packages WHERE name = 'n'"))

        for work in (
            bump_price,
            new_package,
            raw_sql,
            new_rule,
            edit_rule,
            delete_rules,
            delete_package,
        ):
            await change(session_maker, work)
            seen.append(await token(session_maker))
            assert seen[-1] != seen[-2], work.__name__
        assert len(set(seen)) == len(seen)

    async def test_unchanged_by_a_rollback_or_other_tables(self, session_maker: Maker) -> None:
        before = await token(session_maker)
        async with session_maker() as s:
            await s.execute(text("UPDATE energy_packages SET sort_order = sort_order + 1"))
            await s.rollback()
        await change(
            session_maker, lambda s: s.execute(text("UPDATE users SET language_code = 'en'"))
        )
        assert await token(session_maker) == before


class TestCache:
    async def test_kept_while_the_token_holds(self, session_maker: Maker) -> None:
        cache = CatalogueCache()
        pkg_id = await a_package(session_maker)
        async with session_maker() as s:
            first = await cache.get(s, await s.scalar(select(catalogue_token())))
        assert first.token == await token(session_maker) and cache.loads == 1
        async with session_maker() as s:
            again = await cache.get(s, await s.scalar(select(catalogue_token())))
        assert again is first and cache.loads == 1
        kept = first.package(pkg_id)
        assert kept is not None and kept.is_active
        assert inspect(kept).detached  # in no session: never flushed by a request

        async def off_sale(s: AsyncSession) -> None:
            pkg = await s.get(EnergyPackage, pkg_id)
            assert pkg is not None
            pkg.is_active = False

        await change(session_maker, off_sale)
        async with session_maker() as s:
            fresh = await cache.get(s, await s.scalar(select(catalogue_token())))
        assert fresh is not first and cache.loads == 2
        changed = fresh.package(pkg_id)
        assert changed is not None and not changed.is_active
        assert pkg_id not in {p.id for p in fresh.on_sale()}
        assert kept.is_active  # the copy other requests held is untouched

    @pytest.mark.postgres  # SQLite: the reading transaction holds the single write lock
    async def test_a_change_during_the_read_is_not_kept_under_the_old_token(
        self, session_maker: Maker, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An operator's commit between the packages and the rules (each statement sees the
        latest commits): the catalogue is read again, never the new data kept under the old
        token."""
        pkg_id = await a_package(session_maker)
        async with session_maker() as s:
            pkg = await s.get(EnergyPackage, pkg_id)
            assert pkg is not None
            old_price = pkg.base_price_units
        real = catalogue_module.load_all_rules
        changed: list[bool] = []

        async def rules_after_a_commit(session: AsyncSession) -> Any:
            if not changed:
                changed.append(True)

                async def reprice(s: AsyncSession) -> None:
                    await s.execute(
                        text("UPDATE energy_packages SET base_price_units = base_price_units + 7")
                    )

                await change(session_maker, reprice)
            return await real(session)

        monkeypatch.setattr(catalogue_module, "load_all_rules", rules_after_a_commit)
        async with session_maker() as s:
            loaded = await load_catalogue(s)
        new_token = await token(session_maker)
        got = loaded.package(pkg_id)
        assert got is not None and changed
        assert loaded.token == new_token and got.base_price_units == old_price + 7


class TestLocking:
    @pytest.mark.postgres  # SQLite has one writer and no row locks
    async def test_two_catalogue_changes_queue_and_never_deadlock(
        self, session_maker: Maker
    ) -> None:
        """A changes a package, B a price rule (waiting for A: the token's row is locked
        before the catalogue's rows), A the same rule: both commit. With the token replaced
        after the statement, B would hold the rule and wait for the token, A the token and
        wait for the rule: a deadlock, one of them refused."""
        await change(session_maker, lambda s: _add(s, rule(config_name="shared")))
        pkg_id = await a_package(session_maker)
        rule_sql = text("UPDATE price_configs SET priority = priority + 1 WHERE config_name = :n")
        async with session_maker() as a, session_maker() as b:
            await a.execute(
                text("UPDATE energy_packages SET sort_order = sort_order WHERE id = :id"),
                {"id": pkg_id},
            )
            b_done = asyncio.create_task(_then_commit(b, rule_sql))
            await asyncio.sleep(0.3)
            assert not b_done.done()  # B waits for A's token row
            await a.execute(rule_sql, {"n": "shared"})
            await a.commit()
            await asyncio.wait_for(b_done, 10)
        async with session_maker() as s:
            assert (
                await s.scalar(
                    select(PriceConfig.priority).where(PriceConfig.config_name == "shared")
                )
                == 2
            )

    async def test_without_the_token_row_nothing_is_kept(self, session_maker: Maker) -> None:
        await change(session_maker, lambda s: s.execute(text("DELETE FROM cache_versions")))
        cache = CatalogueCache()
        for _ in range(2):
            async with session_maker() as s:
                token_now = await s.scalar(select(catalogue_token()))
                got = await cache.get(s, token_now)
            assert token_now is None and got.token is None and got.packages
        assert cache.loads == 2  # read each time, as before the cache


async def _add(s: AsyncSession, row: Any) -> None:
    s.add(row)


async def _then_commit(s: AsyncSession, stmt: Any) -> None:
    await s.execute(stmt, {"n": "shared"})
    await s.commit()
