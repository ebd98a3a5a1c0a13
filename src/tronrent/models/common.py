"""Enumerations shared by several tables."""

from __future__ import annotations

import enum


class Currency(enum.StrEnum):
    """Payment currencies. Both have 6 decimals: amounts are integer base units (sun / USDT
    micro-units), 1 TRX = 1_000_000 sun, 1 USDT = 1_000_000 units."""

    TRX = "TRX"
    USDT = "USDT"
