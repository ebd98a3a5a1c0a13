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

from tronproto.keys import InvalidPrivateKeyError, PrivateKey
from tronrent.adapters.tron.errors import ChainUnavailable
from tronrent.adapters.tron.port import ChainPort
from tronrent.kit.crypto import SecretBox
from tronrent.kit.errors import Conflict, NotFound, ValidationFailed
from tronrent.kit.time import utcnow
from tronrent.models.energy_pool import EnergyPool, PoolFlag, PoolStatus
from tronrent.pool.allocation import PoolCandidate
from tronrent.pool.health import PoolCheck, apply_check, assess


class PoolNotFound(NotFound):
    default_code = "POOL_NOT_FOUND"


class PoolExists(Conflict):
    default_code = "POOL_EXISTS"


class InvalidPrivateKey(ValidationFailed):
    default_code = "INVALID_PRIVATE_KEY"


class PoolUnusable(ValidationFailed):
    """The pool account cannot delegate energy (``code`` names why; see ``PoolFlag``)."""

    default_code = "POOL_UNUSABLE"


#: the error code of each reason a pool is refused at add
UNUSABLE_CODES: dict[PoolFlag, str] = {
    PoolFlag.ACCOUNT_MISSING: "POOL_ACCOUNT_MISSING",
    PoolFlag.NO_STAKE: "POOL_NO_STAKE",
    PoolFlag.KEY_MISMATCH: "POOL_KEY_MISMATCH",
}


def parse_private_key(text: str) -> PrivateKey:
    """A secp256k1 key from 64 hex characters (``0x`` allowed); ``InvalidPrivateKey`` says why
    not (length, non-hex, zero, not below the curve order) without echoing the value."""
    try:
        return PrivateKey.from_hex(text)
    except InvalidPrivateKeyError as exc:
        raise InvalidPrivateKey(f"privateKey is invalid: {exc}") from None


class PoolService:
    async def add(
        self,
        session: AsyncSession,
        box: SecretBox,
        *,
        chain: ChainPort | None,
        check: bool = True,
        private_key: str,
        name: str | None = None,
        priority: int = 1,
        cost_per_energy_sun: int = 0,
        min_delegation_amount: int | None = None,
        max_delegation_amount: int | None = None,
        daily_limit: int | None = None,
        force: bool = False,
    ) -> EnergyPool:
        """Add a pool from its private key (stored encrypted; never returned or logged).

        With ``chain``, the account must be usable (see ``pool.health``): else ``PoolUnusable``
        (``POOL_ACCOUNT_MISSING``, ``POOL_NO_STAKE``, ``POOL_KEY_MISMATCH``), or
        ``ChainUnavailable`` when no node answers (or ``chain`` is ``None``: none is running).
        ``force`` stores such a pool anyway, flagged (``maintenance``, with the reason) until a
        sync finds it usable. ``check=False`` skips the check: for a caller that funds and stakes
        the account right after (the devnet bootstrap, tests), never for an operator's input.
        """
        key = parse_private_key(private_key)
        address = key.address_base58
        existing = (
            await session.execute(select(EnergyPool.id).where(EnergyPool.tron_address == address))
        ).scalar_one_or_none()
        if existing is not None:
            raise PoolExists(f"pool {address} already exists")
        if priority < 1:
            raise ValidationFailed("priority must be at least 1")
        result = PoolCheck()
        if check:
            result = await self.check_account(chain, address, force=force)
        if result.flag is not None and not force:
            raise PoolUnusable(
                f"{result.reason}; not added (force stores it disabled)",
                UNUSABLE_CODES.get(result.flag),
                details={"address": address, "reason": result.flag.value},
            )
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
        apply_check(pool, result, utcnow())
        session.add(pool)
        await session.flush()
        return pool

    async def check_account(
        self, chain: ChainPort | None, address: str, *, force: bool
    ) -> PoolCheck:
        """The on-chain check of a pool about to be added; with ``force``, an unreachable chain
        gives an ``unchecked`` flag instead of ``ChainUnavailable``."""
        try:
            if chain is None:
                raise ChainUnavailable("no TRON node is configured or running")
            return assess(address, await chain.get_account(address))
        except ChainUnavailable as exc:
            if force:
                return PoolCheck(
                    PoolFlag.UNCHECKED, f"not checked on chain at add: {exc.message}"[:300]
                )
            raise ChainUnavailable(
                f"cannot check pool account {address} on chain: {exc.message} "
                "(try again, or force to store it disabled)"
            ) from None

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
