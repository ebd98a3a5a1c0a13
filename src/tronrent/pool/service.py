"""Pool accounts: add (key encrypted), list, atomic reservations, chain sync.

Reservation is one conditional UPDATE (`... WHERE available - reserved >= x`), atomic on both
databases (a row lock on PostgreSQL, the single writer on SQLite): two workers can never
reserve the same energy twice.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tronproto.keys import PrivateKey
from tronrent.kit.crypto import SecretBox
from tronrent.kit.errors import Conflict, NotFound, ValidationFailed
from tronrent.kit.time import utcnow
from tronrent.models.energy_pool import EnergyPool, PoolStatus
from tronrent.pool.allocation import PoolCandidate


class PoolNotFound(NotFound):
    default_code = "POOL_NOT_FOUND"


class PoolExists(Conflict):
    default_code = "POOL_EXISTS"


class InvalidPrivateKey(ValidationFailed):
    default_code = "INVALID_PRIVATE_KEY"


def parse_private_key(text: str) -> PrivateKey:
    cleaned = text.strip().removeprefix("0x")
    if len(cleaned) != 64:
        raise InvalidPrivateKey("privateKey must be 64 hex characters")
    try:
        return PrivateKey.from_hex(cleaned)
    except ValueError:
        raise InvalidPrivateKey("privateKey is not a valid secp256k1 key") from None


class PoolService:
    async def add(
        self,
        session: AsyncSession,
        box: SecretBox,
        *,
        private_key: str,
        name: str | None = None,
        priority: int = 1,
        cost_per_energy_sun: int = 0,
        min_delegation_amount: int | None = None,
        max_delegation_amount: int | None = None,
        daily_limit: int | None = None,
    ) -> EnergyPool:
        """Add a pool from its private key (stored encrypted; never returned or logged)."""
        key = parse_private_key(private_key)
        address = key.address_base58
        existing = (
            await session.execute(select(EnergyPool.id).where(EnergyPool.tron_address == address))
        ).scalar_one_or_none()
        if existing is not None:
            raise PoolExists(f"pool {address} already exists")
        if priority < 1:
            raise ValidationFailed("priority must be at least 1")
        pool = EnergyPool(
            name=name or f"pool-{address[:8]}",
            tron_address=address,
            private_key_encrypted=box.encrypt(key.hex()),
            priority=priority,
            cost_per_energy_sun=cost_per_energy_sun,
            min_delegation_amount=min_delegation_amount,
            max_delegation_amount=max_delegation_amount,
            daily_limit=daily_limit,
            status=PoolStatus.ACTIVE,
        )
        session.add(pool)
        await session.flush()
        return pool

    async def list_pools(
        self, session: AsyncSession, *, active_only: bool = False
    ) -> Sequence[EnergyPool]:
        stmt = select(EnergyPool).order_by(EnergyPool.priority.desc(), EnergyPool.created_at)
        if active_only:
            stmt = stmt.where(EnergyPool.status == PoolStatus.ACTIVE)
        return (await session.execute(stmt)).scalars().all()

    async def get(self, session: AsyncSession, pool_id: object) -> EnergyPool:
        pool = await session.get(EnergyPool, pool_id)
        if pool is None:
            raise PoolNotFound("pool not found")
        return pool

    async def get_by_address(self, session: AsyncSession, address: str) -> EnergyPool | None:
        return (
            await session.execute(select(EnergyPool).where(EnergyPool.tron_address == address))
        ).scalar_one_or_none()

    async def candidates(
        self, session: AsyncSession, *, exclude: Collection[str] = ()
    ) -> list[PoolCandidate]:
        """Active pools as the allocator sees them, in ENERGY units (unit 1)."""
        today = utcnow().date()
        rows = await self.list_pools(session, active_only=True)
        out: list[PoolCandidate] = []
        for p in rows:
            if str(p.id) in exclude:
                continue
            used = p.used_today if p.used_today_date == today else 0
            out.append(
                PoolCandidate(
                    pool_id=str(p.id),
                    available_sun=max(0, p.available_energy - p.reserved_energy),
                    min_delegation_sun=p.min_delegation_amount or 0,
                    max_delegation_sun=p.max_delegation_amount,
                    daily_remaining_sun=None if p.daily_limit is None else p.daily_limit - used,
                    priority=p.priority,
                    cost_per_energy=Decimal(p.cost_per_energy_sun),
                    recent_failures=p.recent_failures,
                )
            )
        return out

    async def reserve(self, session: AsyncSession, pool_id: object, energy: int) -> bool:
        """Atomically reserve `energy`; False when the pool no longer has it."""
        today: date = utcnow().date()
        result = await session.execute(
            update(EnergyPool)
            .where(
                EnergyPool.id == pool_id,
                EnergyPool.status == PoolStatus.ACTIVE,
                EnergyPool.available_energy - EnergyPool.reserved_energy >= energy,
            )
            .values(
                reserved_energy=EnergyPool.reserved_energy + energy,
                used_today=case(
                    (EnergyPool.used_today_date == today, EnergyPool.used_today + energy),
                    else_=energy,
                ),
                used_today_date=today,
                last_used_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def release(
        self, session: AsyncSession, pool_id: object, energy: int, *, failed: bool
    ) -> None:
        """Give a reservation back (the delegation failed or was never sent)."""
        values: dict[str, object] = {
            "reserved_energy": case(
                (EnergyPool.reserved_energy >= energy, EnergyPool.reserved_energy - energy),
                else_=0,
            )
        }
        if failed:
            values["recent_failures"] = EnergyPool.recent_failures + 1
            values["last_failure_at"] = utcnow()
        await session.execute(
            update(EnergyPool)
            .where(EnergyPool.id == pool_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    async def confirm(
        self, session: AsyncSession, pool_id: object, energy: int, delegations: int = 1
    ) -> None:
        """``delegations`` delegations of ``energy`` in all are on chain: the reservation becomes
        delegated energy, and each success forgives one recent failure."""
        await session.execute(
            update(EnergyPool)
            .where(EnergyPool.id == pool_id)
            .values(
                reserved_energy=case(
                    (EnergyPool.reserved_energy >= energy, EnergyPool.reserved_energy - energy),
                    else_=0,
                ),
                available_energy=case(
                    (EnergyPool.available_energy >= energy, EnergyPool.available_energy - energy),
                    else_=0,
                ),
                delegated_energy=EnergyPool.delegated_energy + energy,
                recent_failures=case(
                    (
                        EnergyPool.recent_failures > delegations,
                        EnergyPool.recent_failures - delegations,
                    ),
                    else_=0,
                ),
            )
            .execution_options(synchronize_session=False)
        )

    async def reclaimed(self, session: AsyncSession, pool_id: object, energy: int) -> None:
        """The delegation was undelegated: the energy counts as the pool's again."""
        await session.execute(
            update(EnergyPool)
            .where(EnergyPool.id == pool_id)
            .values(
                delegated_energy=case(
                    (EnergyPool.delegated_energy >= energy, EnergyPool.delegated_energy - energy),
                    else_=0,
                ),
                available_energy=EnergyPool.available_energy + energy,
            )
            .execution_options(synchronize_session=False)
        )


pool = PoolService()
