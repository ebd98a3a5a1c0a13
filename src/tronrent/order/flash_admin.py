"""The flash price config (``price_configs`` row ``energy_flash``, seed 000) as operators
manage it: read, replace (validated by `parse_flash_config`), history. Every change a
``price_history`` row with who and why. Never commits.

Flash orders read the row each time (`load_flash_config`), so a change applies to the next
order and the next walk-in payment; orders already made keep the snapshot they froze.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tronproto.address import is_valid_base58
from tronrent.models.common import Currency
from tronrent.models.price_config import ENERGY_FLASH_MODE, PriceConfig
from tronrent.models.price_history import PriceChangeType, PriceHistory
from tronrent.order.flash_config import FlashConfig, parse_flash_config
from tronrent.pricing.audit import Actor, diff, price_history, record_price_change, require_reason
from tronrent.pricing.calc import PriceConfigError
from tronrent.pricing.errors import InvalidPriceConfig

#: the keys of the flash config JSON: seed 000's and ours (policies, refund fee and address)
FLASH_KEYS: Final = frozenset(
    {
        "single_price",
        "max_transactions",
        "expiry_hours",
        "min_amount",
        "description",
        "dust_policy",
        "underpaid_policy",
        "excess_policy",
        "refund_fee",
        "refund_address",
    }
)
MAX_DESCRIPTION: Final = 500
#: upper bounds of an operator's flash config (sun, count, hours): an extra zero typed must
#: not sell a thousand transfers per payment or a month-long rental
MAX_SINGLE_PRICE_SUN: Final = 10_000 * 1_000_000
MAX_TRANSACTIONS: Final = 1_000
MAX_EXPIRY_HOURS: Final = 24 * 30


def validate_flash_config(data: Mapping[str, Any]) -> FlashConfig:
    """`InvalidPriceConfig` (422) for unknown keys or values `parse_flash_config` refuses, a
    refund address that is not a TRON address, or a description that is not short text."""
    unknown = sorted(set(data) - FLASH_KEYS)
    if unknown:
        known = ", ".join(sorted(FLASH_KEYS))
        raise InvalidPriceConfig(
            f"unknown flash config keys: {', '.join(unknown)} (known: {known})"
        )
    description = data.get("description")
    if description is not None and (
        not isinstance(description, str) or len(description) > MAX_DESCRIPTION
    ):
        raise InvalidPriceConfig(f"description must be text of at most {MAX_DESCRIPTION} chars")
    address = data.get("refund_address")
    if address is not None and (not isinstance(address, str) or not is_valid_base58(address)):
        raise InvalidPriceConfig("refund_address must be a TRON address (base58, valid checksum)")
    try:
        cfg = parse_flash_config(dict(data), None, default_energy=1, default_margin_bp=0)
    except PriceConfigError as exc:
        raise InvalidPriceConfig(str(exc)) from None
    price = cfg.price
    for name, value, limit in (
        ("single_price", price.single_price_sun, MAX_SINGLE_PRICE_SUN),
        ("max_transactions", price.max_transactions, MAX_TRANSACTIONS),
        ("expiry_hours", price.expiry_hours, MAX_EXPIRY_HOURS),
        ("refund_fee", cfg.policies.refund_fee_sun, MAX_SINGLE_PRICE_SUN),
    ):
        if value > limit:
            raise InvalidPriceConfig(f"{name} must not exceed {limit}")
    return cfg


@dataclass(frozen=True, slots=True)
class FlashSetting:
    """The stored row (None: none, the defaults apply) and the config it gives; ``error``: why
    the stored JSON cannot be used (written outside the API; ``effective`` then shows the
    defaults, and flash orders fail until a PUT fixes it)."""

    row: PriceConfig | None
    effective: FlashConfig
    error: str | None = None


class FlashConfigAdmin:
    async def _row(self, session: AsyncSession, *, lock: bool = False) -> PriceConfig | None:
        stmt = select(PriceConfig).where(PriceConfig.mode_type == ENERGY_FLASH_MODE)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def get(self, session: AsyncSession) -> FlashSetting:
        row = await self._row(session)
        active = row.config if row is not None and row.is_active else None
        try:
            return FlashSetting(row, validate_flash_config(active or {}))
        except InvalidPriceConfig as exc:
            return FlashSetting(row, validate_flash_config({}), exc.message)

    async def put(
        self, session: AsyncSession, config: Mapping[str, Any], *, actor: Actor, reason: str
    ) -> FlashSetting:
        """Replace the config (missing keys take their defaults when read) and activate it."""
        why = require_reason(reason)
        effective = validate_flash_config(config)
        stored = dict(config)
        new: dict[str, Any] = {"config": stored, "is_active": True}
        row = await self._row(session, lock=True)
        if row is None:
            row = PriceConfig(
                id=uuid.uuid4(),
                mode_type=ENERGY_FLASH_MODE,
                config_name="Energy flash",
                currency=Currency.TRX,
            )
            row.config, row.is_active = stored, True
            session.add(row)
            await session.flush()
            record_price_change(
                session,
                config_id=row.id,
                change_type=PriceChangeType.CREATE,
                old=None,
                new=new,
                actor=actor,
                reason=why,
            )
        else:
            old_values, new_values = diff({"config": row.config, "is_active": row.is_active}, new)
            if new_values:
                row.config, row.is_active = stored, True
                record_price_change(
                    session,
                    config_id=row.id,
                    change_type=PriceChangeType.UPDATE,
                    old=old_values,
                    new=new_values,
                    actor=actor,
                    reason=why,
                )
        await session.flush()
        return FlashSetting(row, effective)

    async def history(self, session: AsyncSession) -> Sequence[PriceHistory]:
        row = await self._row(session)
        return [] if row is None else await price_history(session, row.id)


flash_config_admin = FlashConfigAdmin()
