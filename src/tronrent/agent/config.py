"""The agent settings as one frozen value (from the environment, see tronrent.config)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tronrent.config import Settings, load_settings
from tronrent.models.common import Currency


@dataclass(frozen=True, slots=True)
class WithdrawalRules:
    minimum_units: int
    fee_units: int
    auto_approve_units: int


@dataclass(frozen=True, slots=True)
class AgentConfig:
    levels_bps: tuple[int, ...] = (1000, 300, 100)
    refund_window_s: int = 24 * 3600
    #: how far back the commission sweep looks for delivered orders with no earning
    sweep_lookback_s: int = 7 * 24 * 3600
    withdrawal: dict[Currency, WithdrawalRules] = field(
        default_factory=lambda: {
            Currency.TRX: WithdrawalRules(10_000_000, 1_000_000, 100_000_000),
            Currency.USDT: WithdrawalRules(10_000_000, 1_000_000, 100_000_000),
        }
    )

    @property
    def depth(self) -> int:
        return len(self.levels_bps)

    @classmethod
    def from_settings(cls, s: Settings | None = None) -> AgentConfig:
        s = s or load_settings()  # no secrets needed: not get_settings()
        return cls(
            levels_bps=tuple(s.agent_commission_levels_bps),
            refund_window_s=s.agent_refund_window_hours * 3600,
            withdrawal={
                Currency.TRX: WithdrawalRules(
                    s.agent_withdraw_min_sun,
                    s.agent_withdraw_fee_sun,
                    s.agent_withdraw_auto_approve_sun,
                ),
                Currency.USDT: WithdrawalRules(
                    s.agent_withdraw_min_usdt_units,
                    s.agent_withdraw_fee_usdt_units,
                    s.agent_withdraw_auto_approve_usdt_units,
                ),
            },
        )
