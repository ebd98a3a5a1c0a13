"""Pool accounts: add (key encrypted), list, edit, remove, atomic reservations, chain sync.

Reservation is one conditional UPDATE (`... WHERE available - reserved >= x AND the daily limit
holds`), atomic on both databases (a row lock on PostgreSQL, the single writer on SQLite): two
workers can never reserve the same energy twice, nor together pass a pool's daily limit.

Every operator change (edit, status, removal) needs a reason and writes a ``PoolChange`` row
with the actor, in the same transaction as the change.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tronproto.address import InvalidAddressError, to_base58
from tronproto.keys import InvalidPrivateKeyError, PrivateKey
from tronrent.adapters.tron.errors import ChainUnavailable
from tronrent.adapters.tron.port import DELEGATE_RESOURCE, UNDELEGATE_RESOURCE, ChainPort
from tronrent.kit.audit import Actor, require_reason
from tronrent.kit.crypto import SecretBox
from tronrent.kit.db import release_write_lock
from tronrent.kit.errors import Conflict, NotFound, ValidationFailed
from tronrent.kit.time import utcnow
from tronrent.models.chain_transaction import ChainTransaction, ChainTxStatus
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.energy_pool import EnergyPool, PoolFlag, PoolStatus
from tronrent.models.pool_change import PoolAction, PoolChange
from tronrent.pool.allocation import PoolCandidate
from tronrent.pool.health import PoolCheck, apply_check, assess, delegate_only_problem


class PoolNotFound(NotFound):
    default_code = "POOL_NOT_FOUND"


class PoolExists(Conflict):
    default_code = "POOL_EXISTS"


class PoolInUse(Conflict):
    default_code = "POOL_IN_USE"


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


#: delegations that still hold (or may yet hold) a pool's energy
HOLDING_DELEGATIONS = (
    DelegationStatus.PENDING,
    DelegationStatus.BROADCAST,
    DelegationStatus.SUCCESS,
    DelegationStatus.RECLAIMING,
)

#: a pool's transactions not yet settled on chain (signed and stored, or broadcast)
IN_FLIGHT_TXS = (ChainTxStatus.SIGNED, ChainTxStatus.BROADCAST)

#: the pool settings an operator edits (``status`` separately, see ``PoolService.edit``)
EDITABLE = (
    "name",
    "priority",
    "cost_per_energy_sun",
    "min_delegation_amount",
    "max_delegation_amount",
    "daily_limit",
)


def _reason(reason: str) -> str:
    return require_reason(reason, "pool change")


def _check_settings(values: Mapping[str, Any]) -> None:
    """Operator-entered settings (the merged result of an edit): clear 4xx, never a CHECK 500."""
    name = values["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > 100 or "\x00" in name:
        raise ValidationFailed("name must be 1 to 100 characters")
    if values["priority"] < 1:
        raise ValidationFailed("priority must be at least 1")
    if values["cost_per_energy_sun"] < 0:
        raise ValidationFailed("costPerEnergySun must not be negative")
    for key, label in (
        ("min_delegation_amount", "minDelegationAmount"),
        ("max_delegation_amount", "maxDelegationAmount"),
        ("daily_limit", "dailyLimit"),
    ):
        if values[key] is not None and values[key] < 1:
            raise ValidationFailed(f"{label} must be at least 1 (or null: no limit)")
    low, high = values["min_delegation_amount"], values["max_delegation_amount"]
    if low is not None and high is not None and low > high:
        raise ValidationFailed(
            "minDelegationAmount must not exceed maxDelegationAmount",
            details={"minDelegationAmount": low, "maxDelegationAmount": high},
        )


#: the contract types a delegate-only key's permission may allow
DELEGATE_ONLY_OPERATIONS = frozenset({DELEGATE_RESOURCE, UNDELEGATE_RESOURCE})


def _delegate_only_target(owner_address: str | None, permission_id: int | None) -> str:
    """The owner address (base58) of a delegate-only pool, both parts validated."""
    if owner_address is None or permission_id is None:
        raise ValidationFailed("a delegate-only pool needs ownerAddress and permissionId")
    if isinstance(permission_id, bool) or not 2 <= permission_id <= 9:
        raise ValidationFailed("permissionId must be an active permission id, 2 to 9")
    try:
        return to_base58(owner_address.strip())
    except (InvalidAddressError, ValueError, TypeError):
        raise ValidationFailed("ownerAddress is not a TRON address", "INVALID_ADDRESS") from None


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
        owner_address: str | None = None,
        permission_id: int | None = None,
    ) -> EnergyPool:
        """Add a pool from its private key (stored encrypted; never returned or logged).

        Delegate-only pool: ``owner_address`` (the account, whose owner key stays offline) and
        ``permission_id`` (its active permission, 2+, that lets ``private_key`` - the hot key -
        sign DelegateResource and UnDelegateResource and nothing else). Checked on chain like
        any pool, plus ``POOL_PERMISSION_TOO_WIDE`` when that permission allows any other
        contract (a leaked hot key could then move TRX) - never stored, even with ``force``.

        With ``chain``, the account must be usable (see ``pool.health``): else ``PoolUnusable``
        (``POOL_ACCOUNT_MISSING``, ``POOL_NO_STAKE``, ``POOL_KEY_MISMATCH``), or
        ``ChainUnavailable`` when no node answers (or ``chain`` is ``None``: none is running).
        ``force`` stores such a pool anyway, flagged (``maintenance``, with the reason) until a
        sync finds it usable. ``check=False`` skips the check: for a caller that funds and stakes
        the account right after (the devnet bootstrap, tests), never for an operator's input.
        """
        key = parse_private_key(private_key)
        address, signer = key.address_base58, None
        if owner_address is not None or permission_id is not None:
            address, signer = _delegate_only_target(owner_address, permission_id), address
            if signer == address:
                raise ValidationFailed(
                    "the hot key is the owner's key: add it as an ordinary pool instead"
                )
        existing = await self.get_by_address(session, address, removed=True)
        if existing is not None and existing.removed_at is None:
            raise PoolExists(f"pool {address} already exists")
        _check_settings(
            {
                "name": name or address,
                "priority": priority,
                "cost_per_energy_sun": cost_per_energy_sun,
                "min_delegation_amount": min_delegation_amount,
                "max_delegation_amount": max_delegation_amount,
                "daily_limit": daily_limit,
            }
        )
        result = PoolCheck()
        if check:
            await release_write_lock(session)  # not held while the node answers
            result = await self.check_account(
                chain, address, force=force, signer=signer, permission_id=permission_id
            )
        if result.flag is not None and not force:
            raise PoolUnusable(
                f"{result.reason}; not added (force stores it disabled)",
                UNUSABLE_CODES.get(result.flag),
                details={"address": address, "reason": result.flag.value},
            )
        settings = {
            "name": name or f"pool-{address[:8]}",
            "private_key_encrypted": box.encrypt(key.hex()),
            "priority": priority,
            "cost_per_energy_sun": cost_per_energy_sun,
            "min_delegation_amount": min_delegation_amount,
            "max_delegation_amount": max_delegation_amount,
            "daily_limit": daily_limit,
            "status": PoolStatus.ACTIVE,
            "signer_address": signer,
            "permission_id": permission_id if signer else None,
        }
        if existing is not None:  # added again after a removal: the same row, its history kept
            pool = existing
            for field, value in settings.items():
                setattr(pool, field, value)
            pool.removed_at = None
            pool.recent_failures = 0
        else:
            pool = EnergyPool(tron_address=address, **settings)
            session.add(pool)
        apply_check(pool, result, utcnow())
        try:
            await session.flush()
        except IntegrityError:  # the only unique column: added by another call meanwhile
            raise PoolExists(f"pool {address} already exists") from None
        return pool

    async def check_account(
        self,
        chain: ChainPort | None,
        address: str,
        *,
        force: bool,
        signer: str | None = None,
        permission_id: int | None = None,
    ) -> PoolCheck:
        """The on-chain check of a pool about to be added; with ``force``, an unreachable chain
        gives an ``unchecked`` flag instead of ``ChainUnavailable``."""
        try:
            if chain is None:
                raise ChainUnavailable("no TRON node is configured or running")
            account = await chain.get_account(address)
            result = assess(address, account, signer=signer, permission_id=permission_id)
            perm = account.active_permission(permission_id or 0) if account else None
            extra = sorted(perm.operations - DELEGATE_ONLY_OPERATIONS) if perm else []
            signs = (
                account is not None
                and signer is not None
                and delegate_only_problem(account, signer, permission_id or 0) is None
            )
            if signs and extra:
                raise PoolUnusable(
                    f"active permission {permission_id} of {address} also allows contract "
                    f"types {extra}: a leaked hot key could use them; give it "
                    "DelegateResource (57) and UnDelegateResource (58) only",
                    "POOL_PERMISSION_TOO_WIDE",
                    details={"address": address, "operations": extra},
                )
            return result
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
        stmt = (
            select(EnergyPool)
            .where(EnergyPool.removed_at.is_(None))
            .order_by(EnergyPool.priority.desc(), EnergyPool.created_at)
        )
        if active_only:
            stmt = stmt.where(EnergyPool.status == PoolStatus.ACTIVE)
        return (await session.execute(stmt)).scalars().all()

    async def capacity_summary(self, session: AsyncSession, *, min_energy: int) -> dict[str, int]:
        """The pools at a glance (health): how many, how many active, how many active ones
        can take ``min_energy`` now, and the energy the active ones can still delegate (their
        last synced figure less what is reserved)."""
        pools = await self.list_pools(session)
        active = [p for p in pools if p.status is PoolStatus.ACTIVE]
        free = [max(0, p.available_energy - p.reserved_energy) for p in active]
        return {
            "pools": len(pools),
            "active": len(active),
            "withCapacity": sum(1 for f in free if f >= min_energy),
            "availableEnergy": sum(free),
        }

    async def get(self, session: AsyncSession, pool_id: object) -> EnergyPool:
        pool = await session.get(EnergyPool, pool_id)
        if pool is None or pool.removed_at is not None:
            raise PoolNotFound("pool not found")
        return pool

    async def get_by_address(
        self, session: AsyncSession, address: str, *, removed: bool = False
    ) -> EnergyPool | None:
        """The pool of ``address``; a removed one only with ``removed``."""
        stmt = select(EnergyPool).where(EnergyPool.tron_address == address)
        if not removed:
            stmt = stmt.where(EnergyPool.removed_at.is_(None))
        return (await session.execute(stmt)).scalar_one_or_none()

    async def find(self, session: AsyncSession, ref: str) -> EnergyPool:
        """A pool by its id or its address (the CLI's argument); ``PoolNotFound`` otherwise."""
        try:
            return await self._locked(session, uuid.UUID(ref))
        except ValueError:
            pass
        pool = await self.get_by_address(session, ref)
        if pool is None:
            raise PoolNotFound(f"no pool {ref!r}")
        return await self._locked(session, pool.id)

    async def _locked(self, session: AsyncSession, pool_id: uuid.UUID) -> EnergyPool:
        """The pool re-read and row-locked (PostgreSQL; SQLite has one writer) for a change."""
        pool = (
            await session.execute(
                select(EnergyPool)
                .where(EnergyPool.id == pool_id, EnergyPool.removed_at.is_(None))
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
        if pool is None:
            raise PoolNotFound("pool not found")
        return pool

    async def edit(
        self,
        session: AsyncSession,
        pool_id: uuid.UUID,
        changes: Mapping[str, Any],
        *,
        actor: Actor,
        reason: str,
    ) -> EnergyPool:
        """Change settings (``EDITABLE``) and/or ``status``; recorded with ``actor`` and ``reason``.

        A status set by an operator clears a system flag (the operator decides now; the sync
        never reactivates an operator's ``inactive``/``maintenance``). Nothing that differs:
        no change row. ``ValidationFailed`` for bad values (min above max, negatives...).
        """
        why = _reason(reason)
        unknown = set(changes) - {*EDITABLE, "status"}
        if unknown:
            raise ValidationFailed(f"not editable: {', '.join(sorted(unknown))}")
        pool = await self._locked(session, pool_id)
        merged = {k: changes.get(k, getattr(pool, k)) for k in EDITABLE}
        _check_settings(merged)
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for key in EDITABLE:
            if key in changes and changes[key] != getattr(pool, key):
                before[key], after[key] = getattr(pool, key), changes[key]
        if "status" in changes:
            status = PoolStatus(changes["status"])
            if status is not pool.status or pool.flag is not None:
                before["status"], after["status"] = pool.status.value, status.value
                if pool.flag is not None:
                    before["flag"], after["flag"] = pool.flag.value, None
                pool.status = status
                pool.flag = pool.flag_reason = pool.flagged_at = None
        if not after:
            return pool
        for key in EDITABLE:
            if key in after:
                setattr(pool, key, after[key])
        self._record(session, pool, PoolAction.EDIT, before, after, actor, why)
        await session.flush()
        return pool

    async def remove(
        self, session: AsyncSession, pool_id: uuid.UUID, *, actor: Actor, reason: str
    ) -> EnergyPool:
        """Remove a pool with nothing delegated, reserved or in flight (else ``PoolInUse``).

        One conditional UPDATE takes the pool out (inactive, ``removed_at``, key erased) only
        when no delegation holds its energy (pending, broadcast, success, reclaiming), no chain
        transaction of it is live and its counters are zero - atomic against a reservation
        (which needs ``active``). The row stays for the history that references it.
        """
        why = _reason(reason)
        pool = await self._locked(session, pool_id)
        before = {"status": pool.status.value, "name": pool.name, "address": pool.tron_address}
        holding = exists().where(
            EnergyDelegation.pool_account_id == EnergyPool.id,
            EnergyDelegation.status.in_(HOLDING_DELEGATIONS),
        )
        live_tx = exists().where(
            ChainTransaction.pool_id == EnergyPool.id,
            ChainTransaction.status.in_(IN_FLIGHT_TXS),
        )
        now = utcnow()
        result = await session.execute(
            update(EnergyPool)
            .where(
                EnergyPool.id == pool.id,
                EnergyPool.removed_at.is_(None),
                EnergyPool.reserved_energy == 0,
                EnergyPool.delegated_energy == 0,
                ~holding,
                ~live_tx,
            )
            .values(
                status=PoolStatus.INACTIVE,
                flag=None,
                flag_reason=None,
                flagged_at=None,
                removed_at=now,
                private_key_encrypted="",
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise PoolInUse(
                "pool still has energy delegated, reserved or in flight; disable it, wait for "
                "its delegations to be reclaimed, then remove it",
                details=await self._usage(session, pool.id),
            )
        await session.refresh(pool)
        self._record(session, pool, PoolAction.REMOVE, before, {"status": "removed"}, actor, why)
        await session.flush()
        return pool

    async def _usage(self, session: AsyncSession, pool_id: uuid.UUID) -> dict[str, int]:
        pool = await session.get(EnergyPool, pool_id, populate_existing=True)
        held = (
            await session.execute(
                select(EnergyDelegation.id).where(
                    EnergyDelegation.pool_account_id == pool_id,
                    EnergyDelegation.status.in_(HOLDING_DELEGATIONS),
                )
            )
        ).all()
        live = (
            await session.execute(
                select(ChainTransaction.id).where(
                    ChainTransaction.pool_id == pool_id,
                    ChainTransaction.status.in_(IN_FLIGHT_TXS),
                )
            )
        ).all()
        return {
            "reservedEnergy": pool.reserved_energy if pool else 0,
            "delegatedEnergy": pool.delegated_energy if pool else 0,
            "delegations": len(held),
            "liveTransactions": len(live),
        }

    def _record(
        self,
        session: AsyncSession,
        pool: EnergyPool,
        action: PoolAction,
        before: dict[str, Any],
        after: dict[str, Any],
        actor: Actor,
        reason: str,
    ) -> None:
        session.add(
            PoolChange(
                pool_id=pool.id,
                actor=actor.name[:100],
                actor_id=actor.admin_id,
                action=action,
                before=before,
                after=after,
                reason=reason,
            )
        )

    async def changes(self, session: AsyncSession, pool_id: uuid.UUID) -> Sequence[PoolChange]:
        """The pool's change history, newest first (a removed pool's too)."""
        if await session.get(EnergyPool, pool_id) is None:
            raise PoolNotFound("pool not found")
        return (
            (
                await session.execute(
                    select(PoolChange)
                    .where(PoolChange.pool_id == pool_id)
                    .order_by(PoolChange.created_at.desc(), PoolChange.id)
                )
            )
            .scalars()
            .all()
        )

    async def candidates(
        self, session: AsyncSession, *, exclude: Collection[str] = ()
    ) -> list[PoolCandidate]:
        """Active pools as the allocator sees them, in ENERGY units (unit 1)."""
        return self.candidates_of(await self.list_pools(session, active_only=True), exclude)

    @staticmethod
    def candidates_of(
        rows: Iterable[EnergyPool], exclude: Collection[str] = ()
    ) -> list[PoolCandidate]:
        """``rows`` (active pools, as read) as the allocator sees them (see `candidates`)."""
        today = utcnow().date()
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
        """Atomically reserve `energy`; False when the pool no longer has it, is not active or
        would pass its daily limit (energy reserved today, the UTC day) - all in the one
        UPDATE, so concurrent reservations never exceed the limit together."""
        today: date = utcnow().date()
        result = await session.execute(
            update(EnergyPool)
            .where(
                EnergyPool.id == pool_id,
                EnergyPool.status == PoolStatus.ACTIVE,
                EnergyPool.available_energy - EnergyPool.reserved_energy >= energy,
                or_(
                    EnergyPool.daily_limit.is_(None),
                    and_(
                        EnergyPool.used_today_date == today,
                        EnergyPool.used_today + energy <= EnergyPool.daily_limit,
                    ),
                    and_(
                        or_(
                            EnergyPool.used_today_date.is_(None),
                            EnergyPool.used_today_date != today,
                        ),
                        EnergyPool.daily_limit >= energy,
                    ),
                ),
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
