"""confirm-payment when the order changes while its payment is matched (another payment, a
balance payment or the expiry sweeper at the same moment): matched again, and a clear 409
when it keeps changing - never a 500 (`worker.Retry` escaped the route)."""

from __future__ import annotations

from typing import Any

import pytest

from tronrent.kit.errors import Conflict
from tronrent.models.payment import PaymentStatus
from tronrent.order.runtime import FlashRuntime
from tronrent.payment import confirm
from tronrent.payment.service import PaymentOutcome
from tronrent.worker import Retry

RT = FlashRuntime(payment_address="T" + "1" * 33)


def changing(times: int, calls: list[int]) -> Any:
    """A `PaymentService.process` whose order changed under it the first ``times`` calls."""

    async def process(session: Any, rt: FlashRuntime, payment_id: int) -> PaymentOutcome:
        calls.append(payment_id)
        if len(calls) <= times:
            raise Retry(f"the order of payment {payment_id} changed while matching")
        return PaymentOutcome(payment_id, PaymentStatus.MATCHED, "FLASH_1")

    return process


async def test_matched_again_when_the_order_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(confirm.payment_service, "process", changing(2, calls))
    outcome = await confirm._process(None, RT, 7)  # type: ignore[arg-type]
    assert outcome == PaymentOutcome(7, PaymentStatus.MATCHED, "FLASH_1")
    assert calls == [7, 7, 7]


async def test_a_409_when_it_keeps_changing(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(confirm.payment_service, "process", changing(99, calls))
    with pytest.raises(confirm.OrderChangedMeanwhile) as raised:
        await confirm._process(None, RT, 7)  # type: ignore[arg-type]
    assert isinstance(raised.value, Conflict) and raised.value.code == "ORDER_CHANGED"  # 409
    assert len(calls) == confirm.MATCH_ATTEMPTS
