"""The price of an order: the package's list price and the active ``price_configs`` rules.

`quote_order` loads what applies (rules of the package or of every package, of the bot or of
every bot, in the order's currency; the buyer's agent level) and prices it with the pure
functions here and in :mod:`tronrent.pricing.calc`. Integer base units only (sun, USDT units).

The figures of an `OrderPrice`:

- ``original_price_units``: list price x quantity (the catalogue's price; the rule's subtotal
  when only a rule prices the package in that currency);
- ``price_units``: the rule's unit price (its base, or the list price, with markup, clamped to
  min/max) x quantity - the list subtotal when no rule applies;
- ``discount_units``: the quantity-tier, agent and referral discounts off ``price_units``;
- ``final_price_units = price_units - discount_units``: what the customer pays.

Through an agent's own bot (``bots.owner_agent_id``) the agent's markup
(``bots.agent_markup_bps``, within the operator's bounds) is added on top of the operator's
price: ``agent_markup_units = floor(operator's final price x markup / 10000)`` is added to both
``price_units`` and ``final_price_units`` (and kept on the order: it is the agent's, see
docs/agents.md).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from sqlalchemy import ScalarSelect, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tronrent.kit.errors import ValidationFailed
from tronrent.kit.logging import get_logger
from tronrent.models.agent import Agent, AgentStatus
from tronrent.models.bot import Bot
from tronrent.models.common import Currency
from tronrent.models.energy_package import EnergyPackage
from tronrent.models.price_config import PriceConfig
from tronrent.models.user import User
from tronrent.pricing.calc import (
    PriceConditions,
    PriceConfigError,
    PriceContext,
    PriceRule,
    quote_price,
    select_rule,
)
from tronrent.pricing.errors import NotSoldInCurrency, QuantityOutOfRange

_log = get_logger("tronrent.pricing")
BPS: Final = 10_000


@dataclass(frozen=True, slots=True)
class OrderPrice:
    """A priced order in integer base units of ``currency`` (see the module docstring)."""

    price_units: int
    original_price_units: int
    discount_units: int
    final_price_units: int
    currency: Currency
    rule_id: uuid.UUID | None
    breakdown: dict[str, Any]
    agent_markup_units: int = 0

    def with_markup(self, markup_bps: int) -> OrderPrice:
        """The price through an agent's bot: ``markup_bps`` of the final price added."""
        if markup_bps <= 0:
            return self
        markup = self.final_price_units * markup_bps // BPS
        return replace(
            self,
            price_units=self.price_units + markup,
            final_price_units=self.final_price_units + markup,
            agent_markup_units=markup,
            breakdown={**self.breakdown, "agent_markup_bps": markup_bps, "agent_markup": markup},
        )


@dataclass(frozen=True, slots=True)
class PackagePrices:
    """What pricing needs of a package: its list price per currency and its quantity bounds."""

    package_id: uuid.UUID
    base_price_units: int
    currency: Currency
    usdt_price_units: int | None = None
    min_quantity: int = 1
    max_quantity: int | None = None

    @classmethod
    def of(cls, package: EnergyPackage) -> PackagePrices:
        return cls(
            package_id=package.id,
            base_price_units=package.base_price_units,
            currency=Currency(package.currency),
            usdt_price_units=package.usdt_price_units,
            min_quantity=package.min_order_amount or 1,
            max_quantity=package.max_order_amount,
        )

    def list_price(self, currency: Currency) -> int | None:
        """The price of one unit in ``currency``; None when the package is not sold in it.

        ``base_price_units`` is in the package's ``currency``; ``usdt_price_units`` is the USDT
        price of a TRX-priced package (no exchange rate is ever applied)."""
        if currency is self.currency:
            return self.base_price_units
        if currency is Currency.USDT:
            return self.usdt_price_units
        return None

    def check_quantity(self, quantity: int) -> None:
        """`QuantityOutOfRange` (422) unless ``min_quantity <= quantity <= max_quantity``."""
        high = "" if self.max_quantity is None else f" and at most {self.max_quantity}"
        if quantity < max(1, self.min_quantity) or (
            self.max_quantity is not None and quantity > self.max_quantity
        ):
            raise QuantityOutOfRange(
                f"quantity must be at least {max(1, self.min_quantity)}{high}, got {quantity}"
            )


@dataclass(frozen=True, slots=True)
class RuleRow:
    """A ``price_configs`` rule as stored: ``base_price_units`` None = the package's list price."""

    config_id: uuid.UUID
    name: str
    currency: Currency
    base_price_units: int | None = None
    markup_bps: int = 0
    markup_fixed_units: int = 0
    min_price_units: int | None = None
    max_price_units: int | None = None
    priority: int = 0
    bot_id: uuid.UUID | None = None
    package_id: uuid.UUID | None = None
    conditions: PriceConditions = field(default_factory=PriceConditions)

    @classmethod
    def of(cls, row: PriceConfig) -> RuleRow:
        """Raises `PriceConfigError` for conditions that cannot be read."""
        return cls(
            config_id=row.id,
            name=row.config_name,
            currency=Currency(row.currency),
            base_price_units=row.base_price_units,
            markup_bps=row.markup_bps,
            markup_fixed_units=row.markup_fixed_units,
            min_price_units=row.min_price_units,
            max_price_units=row.max_price_units,
            priority=row.priority,
            bot_id=row.bot_id,
            package_id=row.package_id,
            conditions=PriceConditions.from_json(row.conditions),
        )

    def rule(self, list_price: int | None) -> PriceRule | None:
        """The calc rule for a package with that list price; None when neither the rule nor
        the package has a base price. Raises `PriceConfigError` for inconsistent values."""
        base = self.base_price_units if self.base_price_units is not None else list_price
        if base is None:
            return None
        return PriceRule(
            config_id=str(self.config_id),
            base_price=base,
            markup_bp=self.markup_bps,
            markup_fixed=self.markup_fixed_units,
            min_price=self.min_price_units,
            max_price=self.max_price_units,
            currency=self.currency.value,
            priority=self.priority,
            bot_id=None if self.bot_id is None else str(self.bot_id),
            package_id=None if self.package_id is None else str(self.package_id),
            conditions=self.conditions,
        )


def price_package(
    package: PackagePrices,
    rules: Iterable[RuleRow],
    *,
    quantity: int,
    currency: Currency,
    bot_id: uuid.UUID | None = None,
    agent_level: int | None = None,
    referrer_agent_id: uuid.UUID | None = None,
) -> OrderPrice:
    """Price ``quantity`` units of ``package`` (pure).

    The rule that applies is calc's `select_rule` (active, scope, currency, conditions; then
    priority, specificity, id). No rule: the list price x quantity. Raises `QuantityOutOfRange`
    and `NotSoldInCurrency` (no list price and no rule with a base price in ``currency``).
    """
    package.check_quantity(quantity)
    list_price = package.list_price(currency)
    by_id: dict[str, RuleRow] = {}
    candidates: list[PriceRule] = []
    for row in rules:
        try:
            rule = row.rule(list_price)
        except PriceConfigError as exc:
            _log.warning("pricing.rule_skipped", config_id=str(row.config_id), error=str(exc))
            continue
        if rule is not None:
            by_id[rule.config_id] = row
            candidates.append(rule)
    ctx = PriceContext(
        quantity=quantity,
        bot_id=None if bot_id is None else str(bot_id),
        package_id=str(package.package_id),
        currency=currency.value,
        agent_level=agent_level,
        referrer_agent_id=None if referrer_agent_id is None else str(referrer_agent_id),
    )
    chosen = select_rule(candidates, ctx)
    breakdown: dict[str, Any] = {
        "quantity": quantity,
        "currency": currency.value,
        "list_unit_price": list_price,
        "agent_level": agent_level,
    }
    if chosen is None:
        if list_price is None:
            raise NotSoldInCurrency(f"this package is not sold for {currency.value}")
        subtotal = list_price * quantity
        breakdown.update(unit_price=list_price, discount_bps=0, rule_id=None, rule_name=None)
        return OrderPrice(subtotal, subtotal, 0, subtotal, currency, None, breakdown)
    quote = quote_price(chosen, ctx)
    row = by_id[chosen.config_id]
    breakdown.update(
        unit_price=quote.unit_price,
        discount_bps=quote.discount_bp,
        rule_id=str(row.config_id),
        rule_name=row.name,
    )
    return OrderPrice(
        price_units=quote.subtotal,
        original_price_units=quote.subtotal if list_price is None else list_price * quantity,
        discount_units=quote.discount,
        final_price_units=quote.total,
        currency=currency,
        rule_id=row.config_id,
        breakdown=breakdown,
    )


def _currency(value: Currency | str) -> Currency:
    try:
        return Currency(value)
    except ValueError:
        raise ValidationFailed(f"currency must be TRX or USDT, got {value!r}") from None


async def load_rules(
    session: AsyncSession,
    *,
    currency: Currency | None = None,
    package_ids: Sequence[uuid.UUID] | None = None,
    bot_id: uuid.UUID | None = None,
) -> list[RuleRow]:
    """Active, undeleted package price rules (not the per-mode configs such as
    ``energy_flash``) that can apply: to these packages or every package, to this bot or every
    bot (``bot_id`` None: only rules for every bot). Unreadable rules are logged and skipped."""
    stmt = _rules_stmt()
    if currency is not None:
        stmt = stmt.where(PriceConfig.currency == currency)
    if package_ids is not None:
        stmt = stmt.where(
            or_(PriceConfig.package_id.is_(None), PriceConfig.package_id.in_(package_ids))
        )
    bot_scope = PriceConfig.bot_id.is_(None)
    stmt = stmt.where(bot_scope if bot_id is None else or_(bot_scope, PriceConfig.bot_id == bot_id))
    return await _read_rules(session, stmt)


async def load_all_rules(session: AsyncSession) -> list[RuleRow]:
    """Every active, undeleted package price rule (every currency, package and bot): what
    `applicable_rules` picks from (the cached catalogue's rules, `product.catalogue`)."""
    return await _read_rules(session, _rules_stmt())


def applicable_rules(
    rules: Iterable[RuleRow],
    *,
    currency: Currency,
    package_ids: Sequence[uuid.UUID],
    bot_id: uuid.UUID | None = None,
) -> list[RuleRow]:
    """The rules of ``rules`` that `load_rules` would read for these arguments (pure)."""
    return [
        r
        for r in rules
        if r.currency is currency
        and (r.package_id is None or r.package_id in package_ids)
        and (r.bot_id is None or r.bot_id == bot_id)
    ]


@functools.cache  # built once: filters are added per call
def _rules_stmt() -> Select[PriceConfig]:
    return select(PriceConfig).where(
        PriceConfig.mode_type.is_(None),
        PriceConfig.is_active.is_(True),
        PriceConfig.deleted_at.is_(None),
    )


async def _read_rules(session: AsyncSession, stmt: Select[PriceConfig]) -> list[RuleRow]:
    rows = []
    for config in (await session.execute(stmt)).scalars():
        try:
            rows.append(RuleRow.of(config))
        except PriceConfigError as exc:
            _log.warning("pricing.rule_skipped", config_id=str(config.id), error=str(exc))
    return rows


#: the level of the buyer's own active agent account (None: not an agent) and the active agent
#: who referred the buyer (None: no one)
BuyerAgents = tuple[int | None, uuid.UUID | None]


@functools.cache  # a constant expression: built once
def buyer_agent_columns() -> tuple[ScalarSelect[Any], ScalarSelect[Any]]:
    """`buyer_agents` as two scalar subqueries on the ``users`` row of the enclosing SELECT:
    for a caller that reads the buyer's row anyway (one statement for both); the columns'
    values are made a `BuyerAgents` by `buyer_agents_of`."""
    level = (
        select(Agent.level)
        .where(Agent.user_id == User.id, Agent.status == AgentStatus.ACTIVE)
        .correlate(User)
        .scalar_subquery()
    )
    referrer = (
        select(Agent.id)
        .where(Agent.user_id == User.referred_by, Agent.status == AgentStatus.ACTIVE)
        .correlate(User)
        .scalar_subquery()
    )
    return level, referrer


def buyer_agents_of(level: Any, referrer: Any) -> BuyerAgents:
    return (None if level is None else int(level)), referrer


async def buyer_agents(session: AsyncSession, user_id: uuid.UUID | None) -> BuyerAgents:
    """The level of the user's active agent account (None for everyone else) and the active
    agent who referred the user (``users.referred_by``; None for no one), in one statement."""
    if user_id is None:
        return None, None
    level = select(Agent.level).where(Agent.user_id == user_id, Agent.status == AgentStatus.ACTIVE)
    referrer = (
        select(Agent.id)
        .join(User, User.referred_by == Agent.user_id)
        .where(User.id == user_id, Agent.status == AgentStatus.ACTIVE)
    )
    row = (await session.execute(select(level.scalar_subquery(), referrer.scalar_subquery()))).one()
    return buyer_agents_of(row[0], row[1])


async def agent_markup_bps(session: AsyncSession, bot_id: uuid.UUID | None) -> int:
    """The markup of an agent's own bot (0 for the operator's bots)."""
    if bot_id is None:
        return 0
    row = (
        await session.execute(
            select(Bot.owner_agent_id, Bot.agent_markup_bps).where(Bot.id == bot_id)
        )
    ).first()
    if row is None or row.owner_agent_id is None:
        return 0
    return int(row.agent_markup_bps)


async def quote_order(
    session: AsyncSession,
    *,
    package: EnergyPackage,
    quantity: int,
    currency: Currency | str,
    user_id: uuid.UUID | None = None,
    bot_id: uuid.UUID | None = None,
    agents: BuyerAgents | None = None,
    rules: Iterable[RuleRow] | None = None,
) -> OrderPrice:
    """Price an order of ``quantity`` units of ``package`` for ``user_id`` through ``bot_id``.
    ``agents``: ``user_id``'s `buyer_agents` when the caller read them already (with the
    user's row, `buyer_agent_columns`), else read here. ``rules``: every rule the caller
    holds (a cached catalogue's, `product.catalogue`; those that apply are picked here),
    else the ones that apply are read.

    Does not check that the package is active (the caller decides who may buy what).
    Raises `QuantityOutOfRange`, `NotSoldInCurrency`, `ValidationFailed` (bad currency).
    """
    money = _currency(currency)
    if rules is None:
        rules = await load_rules(session, currency=money, package_ids=[package.id], bot_id=bot_id)
    else:
        rules = applicable_rules(rules, currency=money, package_ids=[package.id], bot_id=bot_id)
    level, referrer = agents if agents is not None else await buyer_agents(session, user_id)
    price = price_package(
        PackagePrices.of(package),
        rules,
        quantity=quantity,
        currency=money,
        bot_id=bot_id,
        agent_level=level,
        referrer_agent_id=referrer,
    )
    return price.with_markup(await agent_markup_bps(session, bot_id))


async def catalogue_prices(
    session: AsyncSession, packages: Sequence[EnergyPackage], *, bot_id: uuid.UUID | None = None
) -> dict[uuid.UUID, dict[Currency, OrderPrice | None]]:
    """The price of the smallest order of each package in each currency for a buyer who is
    not an agent and was referred by no one, through ``bot_id`` (None: rules for every bot only;
    an agent's bot: with its markup); None: not sold in that currency. One query for the
    rules."""
    rules = await load_rules(session, package_ids=[p.id for p in packages], bot_id=bot_id)
    markup = await agent_markup_bps(session, bot_id)
    result: dict[uuid.UUID, dict[Currency, OrderPrice | None]] = {}
    for package in packages:
        prices = PackagePrices.of(package)
        row: dict[Currency, OrderPrice | None] = {}
        for money in Currency:
            try:
                row[money] = price_package(
                    prices,
                    [r for r in rules if r.currency is money],
                    quantity=max(1, prices.min_quantity),
                    currency=money,
                    bot_id=bot_id,
                ).with_markup(markup)
            except (NotSoldInCurrency, QuantityOutOfRange):
                row[money] = None
        result[package.id] = row
    return result
