"""`quote_order` and its pure core `price_package`: list prices, rules (scope, priority,
quantity tiers, agents), integer money; property tests over random rules and quantities."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.models import Agent, AgentStatus, Currency, EnergyPackage, PriceConfig, User
from tronrent.pricing.calc import PriceConditions, QuantityTier
from tronrent.pricing.errors import NotSoldInCurrency, QuantityOutOfRange
from tronrent.pricing.quote import (
    PackagePrices,
    RuleRow,
    buyer_agent_columns,
    buyer_agents,
    buyer_agents_of,
    price_package,
    quote_order,
)
from tronrent.pricing.schemas import ConditionsSpec

PKG = uuid.UUID(int=1)
BOT = uuid.UUID(int=2)


def package(**kw: Any) -> PackagePrices:
    values: dict[str, Any] = {
        "package_id": PKG,
        "base_price_units": 2_000_000,
        "currency": Currency.TRX,
        "usdt_price_units": 600_000,
        "min_quantity": 1,
        "max_quantity": 100,
    }
    values.update(kw)
    return PackagePrices(**values)


def row(**kw: Any) -> RuleRow:
    values: dict[str, Any] = {"config_id": uuid.uuid4(), "name": "r", "currency": Currency.TRX}
    values.update(kw)
    return RuleRow(**values)


class TestPricePackage:
    def test_no_rule_is_list_price(self) -> None:
        p = price_package(package(), [], quantity=3, currency=Currency.TRX)
        assert (p.price_units, p.original_price_units, p.discount_units) == (6_000_000,) * 2 + (0,)
        assert p.final_price_units == 6_000_000 and p.rule_id is None
        usdt = price_package(package(), [], quantity=3, currency=Currency.USDT)
        assert usdt.final_price_units == 1_800_000 and usdt.currency is Currency.USDT

    def test_not_sold_in_currency(self) -> None:
        with pytest.raises(NotSoldInCurrency):
            price_package(package(usdt_price_units=None), [], quantity=1, currency=Currency.USDT)
        usdt_only = package(currency=Currency.USDT, base_price_units=700_000, usdt_price_units=None)
        with pytest.raises(NotSoldInCurrency):
            price_package(usdt_only, [], quantity=1, currency=Currency.TRX)
        assert (
            price_package(usdt_only, [], quantity=1, currency=Currency.USDT).price_units == 700_000
        )

    def test_rule_with_its_own_base_sells_in_a_new_currency(self) -> None:
        rule = row(currency=Currency.USDT, base_price_units=500_000, package_id=PKG)
        p = price_package(
            package(usdt_price_units=None), [rule], quantity=2, currency=Currency.USDT
        )
        assert p.final_price_units == 1_000_000 and p.original_price_units == 1_000_000

    @pytest.mark.parametrize("quantity", [0, 101])
    def test_quantity_bounds(self, quantity: int) -> None:
        with pytest.raises(QuantityOutOfRange):
            price_package(package(), [], quantity=quantity, currency=Currency.TRX)

    def test_tiers_priority_and_scope(self) -> None:
        tiers = PriceConditions(tiers=(QuantityTier(10, 500), QuantityTier(50, 1250)))
        general = row(name="tiers", conditions=tiers, priority=1)
        bot_only = row(name="bot", bot_id=BOT, base_price_units=1_000_000, priority=1)
        other_package = row(name="other", package_id=uuid.uuid4(), priority=99)
        rules = [general, bot_only, other_package]
        q10 = price_package(package(), rules, quantity=10, currency=Currency.TRX)
        assert q10.rule_id == general.config_id and q10.discount_units == 1_000_000
        assert q10.final_price_units == 19_000_000
        q50 = price_package(package(), rules, quantity=50, currency=Currency.TRX)
        assert q50.final_price_units == 100_000_000 - 12_500_000
        via_bot = price_package(package(), rules, quantity=1, currency=Currency.TRX, bot_id=BOT)
        assert via_bot.rule_id == bot_only.config_id and via_bot.final_price_units == 1_000_000
        assert via_bot.original_price_units == 2_000_000

    def test_agents(self) -> None:
        rule = row(
            conditions=PriceConditions(agent_only=True, agent_levels=frozenset({2})),
            markup_bps=-1000,
        )
        assert price_package(package(), [rule], quantity=1, currency=Currency.TRX).rule_id is None
        agent = price_package(package(), [rule], quantity=1, currency=Currency.TRX, agent_level=2)
        assert agent.final_price_units == 1_800_000 and agent.breakdown["agent_level"] == 2

    def test_referred_users_of_one_agent(self) -> None:
        x, y = uuid.uuid4(), uuid.uuid4()
        rule = row(
            conditions=PriceConditions(
                referrer_agent_ids=frozenset({str(x)}), referral_discount_bp=500
            ),
            priority=5,
        )
        plain = price_package(package(), [rule], quantity=2, currency=Currency.TRX)
        assert plain.rule_id is None and plain.final_price_units == 4_000_000
        of_y = price_package(
            package(), [rule], quantity=2, currency=Currency.TRX, referrer_agent_id=y
        )
        assert of_y.rule_id is None and of_y.final_price_units == 4_000_000
        of_x = price_package(
            package(), [rule], quantity=2, currency=Currency.TRX, referrer_agent_id=x
        )
        assert of_x.rule_id == rule.config_id and of_x.discount_units == 200_000
        assert of_x.final_price_units == 3_800_000

    def test_markup_of_an_agents_bot(self) -> None:
        p = price_package(package(), [], quantity=3, currency=Currency.TRX).with_markup(1_250)
        assert (p.price_units, p.final_price_units, p.agent_markup_units) == (
            6_750_000,
            6_750_000,
            750_000,
        )
        assert p.original_price_units == 6_000_000 and p.breakdown["agent_markup_bps"] == 1_250
        same = price_package(package(), [], quantity=3, currency=Currency.TRX)
        assert same.with_markup(0) == same

    def test_broken_rule_is_skipped(self) -> None:
        broken = row(min_price_units=5, max_price_units=1, priority=100)
        p = price_package(package(), [broken], quantity=1, currency=Currency.TRX)
        assert p.rule_id is None and p.final_price_units == 2_000_000


units = st.integers(0, 10**12)
conditions = st.builds(
    PriceConditions,
    min_quantity=st.integers(1, 5),
    max_quantity=st.none() | st.integers(5, 1000),
    tiers=st.lists(
        st.builds(QuantityTier, st.integers(1, 500), st.integers(0, 10_000)), max_size=4
    ).map(lambda ts: tuple(sorted(ts, key=lambda t: t.min_quantity))),
    agent_discount_bp=st.integers(0, 10_000),
)
rules = st.builds(
    row,
    base_price_units=st.none() | units,
    markup_bps=st.integers(-9_999, 100_000),
    markup_fixed_units=st.integers(0, 10**9),
    min_price_units=st.none() | st.integers(0, 10**9),
    priority=st.integers(-5, 5),
    currency=st.sampled_from(Currency),
    bot_id=st.sampled_from([None, BOT]),
    package_id=st.sampled_from([None, PKG]),
    conditions=conditions,
)


class TestProperties:
    @given(
        list_price=units,
        usdt=st.none() | units,
        rule_list=st.lists(rules, max_size=5),
        quantity=st.integers(1, 1000),
        currency=st.sampled_from(Currency),
        bot=st.sampled_from([None, BOT]),
        level=st.none() | st.integers(1, 3),
    )
    def test_integer_money_adds_up(
        self,
        list_price: int,
        usdt: int | None,
        rule_list: list[RuleRow],
        quantity: int,
        currency: Currency,
        bot: uuid.UUID | None,
        level: int | None,
    ) -> None:
        pkg = package(base_price_units=list_price, usdt_price_units=usdt, max_quantity=None)
        try:
            p = price_package(
                pkg, rule_list, quantity=quantity, currency=currency, bot_id=bot, agent_level=level
            )
        except NotSoldInCurrency:
            assert pkg.list_price(currency) is None
            return
        for value in (p.price_units, p.original_price_units, p.discount_units, p.final_price_units):
            assert isinstance(value, int) and value >= 0
        assert p.final_price_units == p.price_units - p.discount_units
        assert p.discount_units <= p.price_units
        if p.rule_id is None:
            assert (
                p.price_units == p.original_price_units == list_price_of(pkg, currency) * quantity
            )
            assert p.discount_units == 0
        else:
            assert p.price_units == p.breakdown["unit_price"] * quantity

    @given(
        tiers=st.lists(
            st.tuples(st.integers(1, 1000), st.integers(0, 10_000)),
            max_size=5,
            unique_by=lambda t: t[0],
        ),
        base=st.integers(1, 10**9),
        q1=st.integers(1, 2000),
        q2=st.integers(1, 2000),
    )
    def test_more_units_never_cost_less_per_unit_than_the_tier_promises(
        self, tiers: list[tuple[int, int]], base: int, q1: int, q2: int
    ) -> None:
        """With one tiered rule, the discount rate never falls as the quantity grows."""
        cond = PriceConditions(tiers=tuple(QuantityTier(m, bp) for m, bp in sorted(tiers)))
        rule = row(conditions=cond)
        pkg = package(base_price_units=base, max_quantity=None)
        small, large = sorted((q1, q2))
        a = price_package(pkg, [rule], quantity=small, currency=Currency.TRX)
        b = price_package(pkg, [rule], quantity=large, currency=Currency.TRX)
        assert a.breakdown["discount_bps"] <= b.breakdown["discount_bps"]
        assert b.final_price_units >= 0 and a.final_price_units <= a.price_units

    @given(
        tiers=st.lists(
            st.tuples(
                st.integers(1, 10**6),
                st.decimals(0, 100, places=2, allow_nan=False, allow_infinity=False),
            ),
            max_size=5,
            unique_by=lambda t: t[0],
        ),
        agent=st.decimals(0, 100, places=2, allow_nan=False, allow_infinity=False),
        levels=st.lists(st.integers(1, 100), max_size=5),
    )
    def test_validated_conditions_read_back_exactly(
        self, tiers: list[tuple[int, Decimal]], agent: Decimal, levels: list[int]
    ) -> None:
        spec = ConditionsSpec.model_validate(
            {
                "quantityTiers": [
                    {"minQuantity": m, "discountPercentage": str(d)} for m, d in tiers
                ],
                "agentDiscountPercentage": str(agent),
                "agentLevels": levels,
            }
        )
        parsed = PriceConditions.from_json(spec.stored())
        assert {(t.min_quantity, t.discount_bp) for t in parsed.tiers} == {
            (m, int(d * 100)) for m, d in tiers
        }
        assert parsed.agent_discount_bp == int(agent * 100)
        assert parsed.agent_levels == frozenset(levels)


def list_price_of(pkg: PackagePrices, currency: Currency) -> int:
    price = pkg.list_price(currency)
    assert price is not None
    return price


class TestQuoteOrder:
    async def _package(self, session: AsyncSession) -> EnergyPackage:
        pkg = EnergyPackage(
            id=uuid.uuid4(),
            name="q",
            energy_amount=65_000,
            duration_hours=1,
            base_price_units=2_000_000,
            usdt_price_units=600_000,
            min_order_amount=1,
            max_order_amount=100,
        )
        session.add(pkg)
        await session.flush()
        return pkg

    async def test_rules_from_the_database(self, session: AsyncSession) -> None:
        pkg = await self._package(session)
        user = User(id=uuid.uuid4())
        session.add(user)
        await session.flush()
        session.add(Agent(user_id=user.id, agent_code="Q1", level=1, status=AgentStatus.ACTIVE))
        tiers = {"quantity_tiers": [{"min_quantity": 5, "discount_percentage": 10}]}
        session.add_all(
            [
                PriceConfig(config_name="tiers", package_id=pkg.id, conditions=tiers, priority=1),
                PriceConfig(
                    config_name="agents",
                    conditions={"agent_only": True, "agent_discount_percentage": 20},
                    priority=2,
                ),
                PriceConfig(config_name="off", markup_bps=-5000, priority=9, is_active=False),
                PriceConfig(config_name="usdt", currency=Currency.USDT, markup_bps=1000),
            ]
        )
        await session.flush()
        plain = await quote_order(session, package=pkg, quantity=1, currency="TRX")
        assert plain.final_price_units == 2_000_000 and plain.breakdown["discount_bps"] == 0
        tiered = await quote_order(session, package=pkg, quantity=5, currency=Currency.TRX)
        assert tiered.final_price_units == 9_000_000 and tiered.discount_units == 1_000_000
        agent = await quote_order(session, package=pkg, quantity=5, currency="TRX", user_id=user.id)
        assert agent.final_price_units == 8_000_000 and agent.breakdown["rule_name"] == "agents"
        usdt = await quote_order(session, package=pkg, quantity=2, currency="USDT")
        assert usdt.final_price_units == 1_320_000 and usdt.currency is Currency.USDT

    async def test_agent_discount_for_their_referred_users(self, session: AsyncSession) -> None:
        """A rule for agent X's referred users (``referrerAgentIds: [X]``) gives them X's
        discount; users of another agent, or of none, pay the usual price."""
        from tronrent.user.service import new_referral_code

        pkg = await self._package(session)
        agents = []
        for code in ("RX", "RY"):
            owner = User(id=uuid.uuid4(), referral_code=new_referral_code())
            session.add(owner)
            await session.flush()
            agent = Agent(user_id=owner.id, agent_code=code, level=1, status=AgentStatus.ACTIVE)
            session.add(agent)
            agents.append((owner, agent))
        (x_user, x), (y_user, _) = agents
        buyers = {}
        for name, referrer in (("of_x", x_user.id), ("of_y", y_user.id), ("none", None)):
            buyers[name] = User(id=uuid.uuid4(), referred_by=referrer)
            session.add(buyers[name])
        session.add(
            PriceConfig(
                config_name="x's referrals",
                conditions=ConditionsSpec.model_validate(
                    {"referrerAgentIds": [str(x.id)], "referralDiscountPercentage": "12.5"}
                ).stored(),
                priority=3,
            )
        )
        await session.flush()

        async def final(name: str) -> int:
            q = await quote_order(
                session, package=pkg, quantity=2, currency="TRX", user_id=buyers[name].id
            )
            return q.final_price_units

        assert await final("of_x") == 3_500_000
        assert await final("of_y") == 4_000_000
        assert await final("none") == 4_000_000
        x.status = AgentStatus.SUSPENDED  # a suspended agent's referrals lose the discount
        await session.flush()
        assert await final("of_x") == 4_000_000

    async def test_buyer_agents_read_with_the_users_row(self, session: AsyncSession) -> None:
        """`buyer_agent_columns` on the buyer's row (the merchant API's locking read) finds
        what `buyer_agents` finds: an agent's own level, an active referrer, nothing for a
        suspended referrer or none."""
        from tronrent.user.service import new_referral_code

        users = {}
        for name, referrer in (("agent", None), ("ref_active", "agent"), ("none", None)):
            users[name] = User(
                id=uuid.uuid4(),
                referral_code=new_referral_code(),
                referred_by=users[referrer].id if referrer else None,
            )
            session.add(users[name])
            await session.flush()
        session.add(
            Agent(user_id=users["agent"].id, agent_code="BA", level=2, status=AgentStatus.ACTIVE)
        )
        suspended = User(id=uuid.uuid4(), referral_code=new_referral_code())
        session.add(suspended)
        await session.flush()
        session.add(
            Agent(user_id=suspended.id, agent_code="BS", level=1, status=AgentStatus.SUSPENDED)
        )
        users["ref_suspended"] = User(id=uuid.uuid4(), referred_by=suspended.id)
        session.add(users["ref_suspended"])
        await session.flush()
        agent_id = await session.scalar(select(Agent.id).where(Agent.agent_code == "BA"))
        expected = {
            "agent": (2, None),
            "ref_active": (None, agent_id),
            "none": (None, None),
            "ref_suspended": (None, None),
        }
        for name, user in users.items():
            row = (
                await session.execute(
                    select(User.id, *buyer_agent_columns())
                    .where(User.id == user.id)
                    .with_for_update(of=User)
                )
            ).one()
            assert buyer_agents_of(row[1], row[2]) == expected[name], name
            assert await buyer_agents(session, user.id) == expected[name], name

    async def test_flash_row_and_deleted_rules_do_not_price_packages(
        self, session: AsyncSession
    ) -> None:
        from tronrent.kit.time import utcnow

        pkg = await self._package(session)
        session.add(
            PriceConfig(config_name="gone", markup_bps=-5000, priority=9, deleted_at=utcnow())
        )
        await session.flush()
        price = await quote_order(session, package=pkg, quantity=1, currency="TRX")
        assert price.rule_id is None and price.final_price_units == 2_000_000
