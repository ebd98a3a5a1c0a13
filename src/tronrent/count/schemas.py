"""What the count-package views show (the order view and the admin routes)."""

from __future__ import annotations

from tronrent.api.envelope import ApiModel
from tronrent.kit.time import isoformat
from tronrent.models.count_package import CountPackage, CountUse


class CountUseOut(ApiModel):
    """One USDT transfer from the package's address: the customer's tx and our top-up's."""

    tx_hash: str
    block_number: int
    to_address: str | None
    succeeded: bool
    energy_used: int
    energy_fee_sun: int
    counts: int
    status: str
    top_up_tx_hash: str | None
    undelegate_tx_hash: str | None


class CountPackageOut(ApiModel):
    order_id: str
    address: str
    total: int
    used: int
    remaining: int
    energy_per_count: int
    new_holder_counts: int
    paused: bool
    last_use_at: str | None
    #: chain time of the idle clock: idle since this block, idle periods charged since
    idle_since_block: int | None = None
    idle_periods_charged: int = 0
    #: "pause" / "resume" still on its way to the chain
    pending_action: str | None = None
    #: why it ended early (idle, idle_fee), and what its unused counts refunded
    end_reason: str | None = None
    refunded_units: int | None = None
    uses: list[CountUseOut] | None = None


def use_view(u: CountUse) -> CountUseOut:
    return CountUseOut(
        tx_hash=u.tx_hash,
        block_number=u.block_number,
        to_address=u.to_address,
        succeeded=u.succeeded,
        energy_used=u.energy_used,
        energy_fee_sun=u.energy_fee_sun,
        counts=u.counts,
        status=u.status.value,
        top_up_tx_hash=u.top_up_tx_hash,
        undelegate_tx_hash=u.undelegate_tx_hash,
    )


def package_view(p: CountPackage, uses: list[CountUse] | None = None) -> CountPackageOut:
    return CountPackageOut(
        order_id=p.order_id,
        address=p.address,
        total=p.total_counts,
        used=p.used_counts,
        remaining=p.remaining,
        energy_per_count=p.energy_per_count,
        new_holder_counts=p.new_holder_counts,
        paused=p.paused,
        last_use_at=isoformat(p.last_use_at) if p.last_use_at else None,
        idle_since_block=p.idle_since_block,
        idle_periods_charged=p.idle_charged,
        pending_action=p.pending_action,
        end_reason=p.end_reason,
        refunded_units=p.refunded_units,
        uses=None if uses is None else [use_view(u) for u in uses],
    )
