"""A running devnet: the chain plus block production, fault injection and request counters."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from trondevnet.chain import Chain
from trondevnet.config import DevnetConfig


@dataclass(slots=True)
class FaultRule:
    """Faults for one path prefix (or every path when `path` is None); rates are shares 0..1."""

    path: str | None = None
    error_rate: float = 0.0  # HTTP 500
    rate_limit_rate: float = 0.0  # HTTP 429 with Retry-After
    timeout_rate: float = 0.0  # hold the request `timeout_seconds`, then HTTP 504
    latency_ms: int = 0
    retry_after: int = 1
    timeout_seconds: float = 30.0

    def matches(self, path: str) -> bool:
        return (
            self.path is None or path == self.path or path.startswith(self.path.rstrip("/") + "/")
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class FaultDecision:
    latency_ms: int = 0
    status: int = 200  # 500, 429 or 504 when a fault fires
    retry_after: int = 0
    hold_seconds: float = 0.0


class DevnetNode:
    """Owns the Chain and everything around it that is not java-tron state."""

    def __init__(self, config: DevnetConfig | None = None, seed: int | None = None) -> None:
        self.config = config or DevnetConfig()
        self.chain = Chain(self.config)
        self.paused = False
        self.faults: list[FaultRule] = []
        self.counters: Counter[str] = Counter()
        self.port = 0
        self._rng = random.Random(seed)
        self._producer: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- producer
    def start(self) -> None:
        if self._producer is None:
            self._producer = asyncio.get_running_loop().create_task(self._produce_loop())

    async def stop(self) -> None:
        if self._producer is not None:
            self._producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._producer
            self._producer = None

    async def _produce_loop(self) -> None:
        interval = self.config.block_interval_ms / 1000
        loop = asyncio.get_running_loop()
        next_at = loop.time() + interval
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at += interval
            if next_at < loop.time():  # fell behind (machine busy): do not burst
                next_at = loop.time() + interval
            if not self.paused:
                self.chain.produce_block()

    def produce(self, count: int = 1) -> None:
        for _ in range(count):
            self.chain.produce_block()

    # ------------------------------------------------------------------ faults
    def set_fault(self, rule: FaultRule) -> None:
        self.faults = [f for f in self.faults if f.path != rule.path]
        self.faults.append(rule)

    def clear_faults(self, path: str | None = None, everything: bool = True) -> None:
        if everything:
            self.faults = []
        else:
            self.faults = [f for f in self.faults if f.path != path]

    def decide(self, path: str) -> FaultDecision | None:
        if not self.faults:
            return None
        decision = FaultDecision()
        fired = False
        for rule in self.faults:
            if not rule.matches(path):
                continue
            decision.latency_ms += rule.latency_ms
            if fired:
                continue
            u = self._rng.random()
            if u < rule.error_rate:
                decision.status, fired = 500, True
            elif u < rule.error_rate + rule.rate_limit_rate:
                decision.status, decision.retry_after, fired = 429, rule.retry_after, True
            elif u < rule.error_rate + rule.rate_limit_rate + rule.timeout_rate:
                decision.status, decision.hold_seconds, fired = 504, rule.timeout_seconds, True
        return decision
