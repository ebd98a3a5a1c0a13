"""Pure price maths: flash-rental payment classification and package price quotes.

Everything here is a pure function over frozen dataclasses, in integer base units (sun for TRX,
6-decimal base units for USDT) and integer basis points (1 % = 100 bp). ``Decimal`` appears only
where configuration written by humans in decimal TRX or percent is turned into integers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Final

from tronrent.kit.money import TRX_DECIMALS, USDT_DECIMALS, AmountError, parse_trx, parse_units

BP_PER_UNIT: Final = 10_000
"""Basis points in 100 %."""

assert TRX_DECIMALS == USDT_DECIMALS
MONEY_DECIMALS: Final = TRX_DECIMALS
"""TRX (sun) and USDT base units both have 6 decimals."""


class PriceConfigError(ValueError):
    """A price configuration that cannot be used (missing, negative or inconsistent values)."""


def _to_decimal(value: object, name: str) -> Decimal:
    """JSON number/text -> exact Decimal; floats go through ``str`` (1.5 -> Decimal("1.5"))."""
    if isinstance(value, bool) or value is None:
        raise PriceConfigError(f"{name} must be a number, got {value!r}")
    if isinstance(value, Decimal):
        dec = value
    elif isinstance(value, int | float | str):
        try:
            dec = Decimal(str(value).strip())
        except InvalidOperation:
            raise PriceConfigError(f"{name} must be a number, got {value!r}") from None
    else:
        raise PriceConfigError(f"{name} must be a number, got {type(value).__name__}")
    if not dec.is_finite():
        raise PriceConfigError(f"{name} must be finite, got {value!r}")
    return dec


def config_trx_to_sun(value: object, name: str) -> int:
    """A TRX amount from a JSON config (``1.5``, ``"1.5"``) -> exact sun, >= 0."""
    dec = _to_decimal(value, name)
    try:
        return parse_trx(dec)
    except AmountError as exc:
        raise PriceConfigError(f"{name}: {exc}") from None


def config_int(value: object, name: str, *, minimum: int = 0) -> int:
    """An integral JSON number (``10``, ``10.0``, ``"10"``) -> int >= ``minimum``."""
    dec = _to_decimal(value, name)
    if dec != dec.to_integral_value():
        raise PriceConfigError(f"{name} must be a whole number, got {value!r}")
    result = int(dec)
    if result < minimum:
        raise PriceConfigError(f"{name} must be >= {minimum}, got {result}")
    return result


def percent_to_bp(value: object, name: str) -> int:
    """A percentage (``2``, ``"10.5"``) -> integer basis points (200, 1050); at most 2 decimals."""
    dec = _to_decimal(value, name) * 100
    if dec != dec.to_integral_value():
        raise PriceConfigError(f"{name} has more than 2 decimal places: {value!r}")
    return int(dec)


def _mul_bp_floor(amount: int, bp: int) -> int:
    return amount * bp // BP_PER_UNIT


def _mul_bp_half_up(amount: int, bp: int) -> int:
    """``amount * bp / 10_000`` rounded half away from zero (exact integer arithmetic)."""
    product = amount * bp
    sign = -1 if product < 0 else 1
    return sign * ((abs(product) + BP_PER_UNIT // 2) // BP_PER_UNIT)


# --------------------------------------------------------------------------------------------
# Flash rental (seed 000, price_configs mode_type = 'energy_flash')
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlashPrice:
    """Flash price config in sun: ``single_price`` per transaction, ``max_transactions`` cap."""

    single_price_sun: int
    max_transactions: int
    expiry_hours: int
    min_amount_sun: int

    def __post_init__(self) -> None:
        if self.single_price_sun < 1:
            raise PriceConfigError("single_price must be positive")
        if self.max_transactions < 1:
            raise PriceConfigError("max_transactions must be at least 1")
        if self.expiry_hours < 1:
            raise PriceConfigError("expiry_hours must be at least 1")
        if not 0 <= self.min_amount_sun <= self.single_price_sun:
            raise PriceConfigError("min_amount must be between 0 and single_price")

    @property
    def cap_sun(self) -> int:
        """Price of the largest purchase: ``max_transactions * single_price``."""
        return self.max_transactions * self.single_price_sun

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | str) -> FlashPrice:
        """Parse the seed's JSON (``{"single_price": 1.5, "max_transactions": 10, ...}``).

        ``min_amount`` defaults to ``single_price`` when absent, ``expiry_hours`` to 1.
        Raises ``PriceConfigError`` on a missing or invalid value.
        """
        data: Mapping[str, Any]
        data = json.loads(config, parse_float=Decimal) if isinstance(config, str) else config
        if not isinstance(data, Mapping):
            raise PriceConfigError("flash price config must be a JSON object")
        for key in ("single_price", "max_transactions"):
            if key not in data:
                raise PriceConfigError(f"flash price config lacks {key!r}")
        single = config_trx_to_sun(data["single_price"], "single_price")
        return cls(
            single_price_sun=single,
            max_transactions=config_int(data["max_transactions"], "max_transactions", minimum=1),
            expiry_hours=config_int(data.get("expiry_hours", 1), "expiry_hours", minimum=1),
            min_amount_sun=config_trx_to_sun(
                data.get("min_amount", data["single_price"]), "min_amount"
            ),
        )


def agent_flash_markup_sun(single_price_sun: int, markup_bps: int, granularity_sun: int) -> int:
    """An agent's markup on one flash transaction: ``floor(single_price x markup / 10000)``
    rounded DOWN to a multiple of the payment-tail granularity, never negative.

    A multiple of the granularity keeps every open order's expected amount unique (the tails
    are unique and below one granularity step, the activation fees are multiples of it) and
    keeps ``amount % granularity == tail`` true, so the amount-tail matching of
    `tronrent.payment.matching` finds an agent's order as it finds any other. Rounding down
    never charges more than the agent's percentage; a markup that rounds to 0 is none."""
    if single_price_sun < 1 or granularity_sun < 1:
        raise ValueError("price and granularity must be positive")
    if markup_bps <= 0:
        return 0
    raw = _mul_bp_floor(single_price_sun, markup_bps)
    return raw - raw % granularity_sun


def with_flash_markup(price: FlashPrice, markup_sun: int) -> FlashPrice:
    """The flash price an agent's bot sells at: ``markup_sun`` more per transaction (the
    cap follows; ``min_amount``, the dust threshold, stays the operator's)."""
    if markup_sun < 0:
        raise ValueError("an agent's markup is never negative")
    if markup_sun == 0:
        return price
    return FlashPrice(
        single_price_sun=price.single_price_sun + markup_sun,
        max_transactions=price.max_transactions,
        expiry_hours=price.expiry_hours,
        min_amount_sun=price.min_amount_sun,
    )


class FlashPaymentKind(StrEnum):
    """What a payment to the flash address buys.

    dust: below ``min_amount`` (ignored spam); underpaid: ``min_amount <= paid < single_price``;
    exact: at least one transaction and not above the cap (+ tail tolerance); excess: above it.
    """

    DUST = "dust"
    UNDERPAID = "underpaid"
    EXACT = "exact"
    EXCESS = "excess"


@dataclass(frozen=True, slots=True)
class FlashQuote:
    """The classification of one flash payment.

    ``count`` transactions are sold for ``charged_sun``; ``excess_sun`` is what was paid above the
    cap (only for ``EXCESS``); ``unused_sun = paid - charged`` (the whole payment for dust and
    underpaid, the part below one price step or the excess otherwise).
    """

    kind: FlashPaymentKind
    paid_sun: int
    count: int
    charged_sun: int
    excess_sun: int

    @property
    def unused_sun(self) -> int:
        return self.paid_sun - self.charged_sun


def classify_flash_payment(
    paid_sun: int, price: FlashPrice, *, tail_tolerance_sun: int = 0
) -> FlashQuote:
    """Classify a payment: ``count = min(floor(paid / single_price), max_transactions)``.

    A payment is excess only above ``cap + tail_tolerance_sun`` so that an ordered payment at the
    cap carrying its unique tail (< tolerance) is not treated as excess.
    """
    if paid_sun < 0:
        raise ValueError("paid amount must not be negative")
    if tail_tolerance_sun < 0:
        raise ValueError("tail tolerance must not be negative")
    if paid_sun < price.min_amount_sun:
        return FlashQuote(FlashPaymentKind.DUST, paid_sun, 0, 0, 0)
    if paid_sun < price.single_price_sun:
        return FlashQuote(FlashPaymentKind.UNDERPAID, paid_sun, 0, 0, 0)
    count = min(paid_sun // price.single_price_sun, price.max_transactions)
    charged = count * price.single_price_sun
    if paid_sun > price.cap_sun + tail_tolerance_sun:
        return FlashQuote(FlashPaymentKind.EXCESS, paid_sun, count, charged, paid_sun - charged)
    return FlashQuote(FlashPaymentKind.EXACT, paid_sun, count, charged, 0)


def classify_order_payment(
    paid_sun: int, price: FlashPrice, *, tail_tolerance_sun: int = 0, activation_fee_sun: int = 0
) -> FlashQuote:
    """`classify_flash_payment` for an order whose quote includes an activation fee: the fee
    comes off first, and ``charged_sun`` includes it. Not enough left for one transaction:
    underpaid (the whole payment is what the policy may refund)."""
    if activation_fee_sun < 0:
        raise ValueError("activation fee must not be negative")
    if not activation_fee_sun or paid_sun < price.min_amount_sun:
        return classify_flash_payment(paid_sun, price, tail_tolerance_sun=tail_tolerance_sun)
    net = paid_sun - activation_fee_sun
    if net < price.single_price_sun:
        return FlashQuote(FlashPaymentKind.UNDERPAID, paid_sun, 0, 0, 0)
    q = classify_flash_payment(net, price, tail_tolerance_sun=tail_tolerance_sun)
    return FlashQuote(q.kind, paid_sun, q.count, q.charged_sun + activation_fee_sun, q.excess_sun)


class PaymentPolicy(StrEnum):
    """What to do with money that buys nothing: send it back, or keep it."""

    REFUND = "refund"
    KEEP = "keep"


@dataclass(frozen=True, slots=True)
class FlashPolicies:
    """Operator policies for wrong amounts; ``refund_fee_sun`` is deducted from every refund."""

    dust: PaymentPolicy = PaymentPolicy.KEEP
    underpaid: PaymentPolicy = PaymentPolicy.REFUND
    excess: PaymentPolicy = PaymentPolicy.REFUND
    refund_fee_sun: int = 0

    def __post_init__(self) -> None:
        if self.refund_fee_sun < 0:
            raise PriceConfigError("refund fee must not be negative")

    def policy_for(self, kind: FlashPaymentKind) -> PaymentPolicy:
        """The policy for ``kind``; an exact payment is always kept."""
        match kind:
            case FlashPaymentKind.DUST:
                return self.dust
            case FlashPaymentKind.UNDERPAID:
                return self.underpaid
            case FlashPaymentKind.EXCESS:
                return self.excess
            case FlashPaymentKind.EXACT:
                return PaymentPolicy.KEEP


@dataclass(frozen=True, slots=True)
class RefundDecision:
    """``policy`` applied to a quote: ``amount_sun`` goes back to the payer (0 = nothing to send).

    ``refundable_sun`` is what the policy would return before the fee.
    """

    policy: PaymentPolicy
    refundable_sun: int
    fee_sun: int
    amount_sun: int


def decide_refund(quote: FlashQuote, policies: FlashPolicies) -> RefundDecision:
    """Refund amount for a quote: the whole payment (dust/underpaid) or the excess, minus the fee.

    Never negative, never more than was paid; a refund the fee would swallow becomes 0.
    """
    policy = policies.policy_for(quote.kind)
    if policy is PaymentPolicy.KEEP:
        return RefundDecision(policy, 0, 0, 0)
    refundable = quote.excess_sun if quote.kind is FlashPaymentKind.EXCESS else quote.paid_sun
    refundable = max(0, min(refundable, quote.paid_sun))
    fee = min(policies.refund_fee_sun, refundable)
    return RefundDecision(policy, refundable, fee, refundable - fee)


def refund_amount_sun(quote: FlashQuote, policies: FlashPolicies) -> int:
    """Shortcut for ``decide_refund(quote, policies).amount_sun``."""
    return decide_refund(quote, policies).amount_sun


# --------------------------------------------------------------------------------------------
# Package prices (seed 001 price_configs)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuantityTier:
    """From ``min_quantity`` units on, ``discount_bp`` off the subtotal."""

    min_quantity: int
    discount_bp: int


@dataclass(frozen=True, slots=True)
class PriceConditions:
    """The ``conditions`` JSON of a price config.

    ``min_quantity``/``max_quantity``: the config applies only in that range; ``agent_only``: only
    for agents; ``agent_levels``: only for agents of those levels (empty = any);
    ``tiers``: quantity discounts (the largest tier reached applies); ``agent_discount_bp``: extra
    discount for agents. ``referrer_agent_ids``: only for buyers referred by one of these agents
    (empty = anyone); ``referral_discount_bp``: extra discount for a buyer referred by an active
    agent (an agent's discount for their referred users). Discounts add up, capped at 100 %.
    """

    min_quantity: int = 1
    max_quantity: int | None = None
    agent_only: bool = False
    agent_levels: frozenset[int] = frozenset()
    tiers: tuple[QuantityTier, ...] = ()
    agent_discount_bp: int = 0
    referrer_agent_ids: frozenset[str] = frozenset()
    referral_discount_bp: int = 0

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> PriceConditions:
        """Parse ``{"min_quantity": 1, "max_quantity": 100, "agent_only": false,
        "agent_levels": [1, 2], "quantity_tiers": [{"min_quantity": 10, "discount_percentage": 5}],
        "agent_discount_percentage": 3, "referrer_agent_ids": ["<agent uuid>"],
        "referral_discount_percentage": 5}``; unknown keys are ignored."""
        if not data:
            return cls()
        max_q = data.get("max_quantity")
        tiers_raw = data.get("quantity_tiers", data.get("tiers", [])) or []
        if not isinstance(tiers_raw, list):
            raise PriceConfigError("quantity_tiers must be a list")
        tiers = []
        for i, tier in enumerate(tiers_raw):
            if not isinstance(tier, Mapping):
                raise PriceConfigError(f"quantity_tiers[{i}] must be an object")
            bp = percent_to_bp(tier.get("discount_percentage", 0), f"tiers[{i}].discount")
            if not 0 <= bp <= BP_PER_UNIT:
                raise PriceConfigError(f"quantity_tiers[{i}] discount must be 0..100 %")
            tiers.append(
                QuantityTier(config_int(tier.get("min_quantity"), "min_quantity", minimum=1), bp)
            )
        levels = data.get("agent_levels") or []
        if not isinstance(levels, list):
            raise PriceConfigError("agent_levels must be a list")
        agent_bp = percent_to_bp(data.get("agent_discount_percentage", 0), "agent_discount")
        if not 0 <= agent_bp <= BP_PER_UNIT:
            raise PriceConfigError("agent_discount_percentage must be 0..100")
        referrers = data.get("referrer_agent_ids") or []
        if not isinstance(referrers, list) or not all(isinstance(r, str) for r in referrers):
            raise PriceConfigError("referrer_agent_ids must be a list of agent ids")
        referral_bp = percent_to_bp(
            data.get("referral_discount_percentage", 0), "referral_discount"
        )
        if not 0 <= referral_bp <= BP_PER_UNIT:
            raise PriceConfigError("referral_discount_percentage must be 0..100")
        return cls(
            min_quantity=config_int(data.get("min_quantity", 1), "min_quantity", minimum=1),
            max_quantity=None if max_q is None else config_int(max_q, "max_quantity", minimum=1),
            agent_only=bool(data.get("agent_only", False)),
            agent_levels=frozenset(config_int(lv, "agent_levels") for lv in levels),
            tiers=tuple(sorted(tiers, key=lambda t: t.min_quantity)),
            agent_discount_bp=agent_bp,
            referrer_agent_ids=frozenset(r.lower() for r in referrers),
            referral_discount_bp=referral_bp,
        )


@dataclass(frozen=True, slots=True)
class PriceContext:
    """Who buys how much: the facts conditions are checked against."""

    quantity: int = 1
    bot_id: str | None = None
    package_id: str | None = None
    currency: str = "TRX"
    agent_level: int | None = None
    """``None`` = not an agent."""
    referrer_agent_id: str | None = None
    """The active agent who referred the buyer (``None``: none)."""


@dataclass(frozen=True, slots=True)
class PriceRule:
    """One ``price_configs`` row in integer base units of ``currency`` (sun for TRX).

    ``bot_id``/``package_id`` ``None`` means "any". Higher ``priority`` wins.
    """

    config_id: str
    base_price: int
    markup_bp: int = 0
    markup_fixed: int = 0
    min_price: int | None = None
    max_price: int | None = None
    currency: str = "TRX"
    priority: int = 0
    is_active: bool = True
    bot_id: str | None = None
    package_id: str | None = None
    conditions: PriceConditions = field(default_factory=PriceConditions)

    def __post_init__(self) -> None:
        if self.base_price < 0 or self.markup_fixed < -self.base_price:
            raise PriceConfigError("price must not be negative")
        if self.markup_bp < -BP_PER_UNIT:
            raise PriceConfigError("markup_percentage must be > -100")
        if self.min_price is not None and self.min_price < 0:
            raise PriceConfigError("min_price must not be negative")
        if (
            self.min_price is not None
            and self.max_price is not None
            and self.min_price > self.max_price
        ):
            raise PriceConfigError("min_price must not exceed max_price")

    @classmethod
    def from_columns(
        cls,
        config_id: str,
        *,
        base_price: Decimal | int | str,
        markup_percentage: Decimal | int | str | None = None,
        markup_fixed: Decimal | int | str | None = None,
        min_price: Decimal | int | str | None = None,
        max_price: Decimal | int | str | None = None,
        currency: str = "TRX",
        priority: int = 0,
        is_active: bool = True,
        bot_id: str | None = None,
        package_id: str | None = None,
        conditions: Mapping[str, Any] | None = None,
    ) -> PriceRule:
        """Build from ``price_configs`` columns (NUMERIC amounts in TRX/USDT, percent)."""

        def units(value: Decimal | int | str | None, name: str) -> int | None:
            if value is None:
                return None
            try:
                return parse_units(_to_decimal(value, name), MONEY_DECIMALS, allow_negative=True)
            except AmountError as exc:
                raise PriceConfigError(f"{name}: {exc}") from None

        return cls(
            config_id=config_id,
            base_price=units(base_price, "base_price") or 0,
            markup_bp=0
            if markup_percentage is None
            else percent_to_bp(markup_percentage, "markup_percentage"),
            markup_fixed=units(markup_fixed, "markup_fixed") or 0,
            min_price=units(min_price, "min_price"),
            max_price=units(max_price, "max_price"),
            currency=currency,
            priority=priority,
            is_active=is_active,
            bot_id=bot_id,
            package_id=package_id,
            conditions=PriceConditions.from_json(conditions),
        )

    def matches(self, ctx: PriceContext) -> bool:
        """Whether this rule applies to ``ctx`` (active, scope, currency and conditions)."""
        cond = self.conditions
        if not self.is_active or self.currency != ctx.currency:
            return False
        if self.bot_id is not None and self.bot_id != ctx.bot_id:
            return False
        if self.package_id is not None and self.package_id != ctx.package_id:
            return False
        if ctx.quantity < cond.min_quantity:
            return False
        if cond.max_quantity is not None and ctx.quantity > cond.max_quantity:
            return False
        if cond.agent_only and ctx.agent_level is None:
            return False
        if cond.referrer_agent_ids and (
            ctx.referrer_agent_id is None
            or ctx.referrer_agent_id.lower() not in cond.referrer_agent_ids
        ):
            return False
        return not (cond.agent_levels and ctx.agent_level not in cond.agent_levels)

    def specificity(self) -> int:
        """How narrowly scoped: bot-specific and package-specific rules beat global ones."""
        return (self.bot_id is not None) * 2 + (self.package_id is not None)


@dataclass(frozen=True, slots=True)
class Quote:
    """A priced purchase: ``total = unit_price * quantity - discount`` in base units."""

    config_id: str
    currency: str
    quantity: int
    unit_price: int
    subtotal: int
    discount_bp: int
    discount: int
    total: int


def unit_price(rule: PriceRule) -> int:
    """``base + round(base * markup %) + markup_fixed``, clamped to ``[min_price, max_price]``."""
    price = rule.base_price + _mul_bp_half_up(rule.base_price, rule.markup_bp) + rule.markup_fixed
    price = max(price, 0)
    if rule.min_price is not None:
        price = max(price, rule.min_price)
    if rule.max_price is not None:
        price = min(price, rule.max_price)
    return price


def quote_price(rule: PriceRule, ctx: PriceContext) -> Quote:
    """Price ``ctx.quantity`` units with ``rule``.

    Discounts (the highest quantity tier reached + the agent discount + the referral discount,
    summed, capped at 100 %)
    come off the subtotal; the discount is rounded up so the customer never pays a fraction more.
    """
    if ctx.quantity < 1:
        raise ValueError("quantity must be at least 1")
    unit = unit_price(rule)
    subtotal = unit * ctx.quantity
    tier_bp = 0
    for tier in rule.conditions.tiers:
        if ctx.quantity >= tier.min_quantity:
            tier_bp = max(tier_bp, tier.discount_bp)
    agent_bp = rule.conditions.agent_discount_bp if ctx.agent_level is not None else 0
    referral_bp = rule.conditions.referral_discount_bp if ctx.referrer_agent_id is not None else 0
    discount_bp = min(tier_bp + agent_bp + referral_bp, BP_PER_UNIT)
    # Round the discount up (ceil): the total is rounded down in the customer's favour.
    discount = -_mul_bp_floor(-subtotal, discount_bp)
    return Quote(
        config_id=rule.config_id,
        currency=rule.currency,
        quantity=ctx.quantity,
        unit_price=unit,
        subtotal=subtotal,
        discount_bp=discount_bp,
        discount=discount,
        total=subtotal - discount,
    )


def select_rule(rules: Iterable[PriceRule], ctx: PriceContext) -> PriceRule | None:
    """The rule that applies: matching ones ordered by priority, then specificity, then id."""
    candidates: Sequence[PriceRule] = [r for r in rules if r.matches(ctx)]
    if not candidates:
        return None
    return min(candidates, key=lambda r: (-r.priority, -r.specificity(), r.config_id))


def quote_best(rules: Iterable[PriceRule], ctx: PriceContext) -> Quote | None:
    """Select the applicable rule and price ``ctx`` with it; ``None`` when no rule applies."""
    rule = select_rule(rules, ctx)
    return None if rule is None else quote_price(rule, ctx)
