"""Is a pool account usable on chain, and the flag the sync keeps on a pool that is not (pure).

A pool is usable when its account exists, has TRX staked for energy (``frozenV2`` ENERGY > 0) and
the stored key (it decrypts, and to this address) alone satisfies its owner permission (the key
signs every delegation with it) - or, for a delegate-only pool, the hot key alone satisfies the
active permission ``permission_id`` and that permission allows DelegateResource and
UnDelegateResource.
An unusable pool is *flagged*: ``status = maintenance`` with ``flag`` and ``flag_reason``, so it is
skipped by allocation and reservation like any pool out of service. The sync clears a flag it
set once the account is usable; it never touches a pool an operator took out of service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tronproto.keys import InvalidPrivateKeyError, PrivateKey
from tronrent.adapters.tron.port import DELEGATE_RESOURCE, UNDELEGATE_RESOURCE, Account
from tronrent.kit.crypto import SecretBox
from tronrent.kit.errors import SecretDecryptionError
from tronrent.models.energy_pool import EnergyPool, PoolFlag, PoolStatus

_REASON_LENGTH = 300


@dataclass(frozen=True, slots=True)
class PoolCheck:
    """``flag`` is ``None`` when the account is usable; ``reason`` says what is wrong."""

    flag: PoolFlag | None = None
    reason: str | None = None

    @property
    def usable(self) -> bool:
        return self.flag is None


def assess(
    address: str,
    account: Account | None,
    *,
    signer: str | None = None,
    permission_id: int | None = None,
) -> PoolCheck:
    """The check of pool ``address`` from its ``getaccount`` answer (``None``: no account);
    ``signer`` and ``permission_id`` for a delegate-only pool (see ``delegate_only_problem``)."""
    if account is None:
        return PoolCheck(
            PoolFlag.ACCOUNT_MISSING,
            f"account {address} does not exist on chain "
            "(send it TRX to activate it, then stake TRX for energy)",
        )
    if signer is not None and permission_id is not None:
        problem = delegate_only_problem(account, signer, permission_id)
        if problem is not None:
            return PoolCheck(PoolFlag.KEY_MISMATCH, problem)
    elif not account.owner_can_sign(address):
        return PoolCheck(
            PoolFlag.KEY_MISMATCH,
            f"the key of {address} cannot sign for the account: its owner permission requires "
            "other keys",
        )
    if account.frozen_energy_sun <= 0:
        return PoolCheck(
            PoolFlag.NO_STAKE, f"account {address} has no TRX staked for energy (frozenV2 ENERGY)"
        )
    return PoolCheck()


def delegate_only_problem(account: Account, signer: str, permission_id: int) -> str | None:
    """Why ``signer`` cannot delegate for ``account`` through active permission
    ``permission_id`` (``None``: it can): the permission must exist, the key alone meet its
    threshold, and its operations allow DelegateResource and UnDelegateResource."""
    perm = account.active_permission(permission_id)
    if perm is None:
        return f"account {account.address} has no active permission with id {permission_id}"
    if not perm.can_sign(signer):
        return (
            f"the key of {signer} alone does not meet active permission {permission_id} "
            f"({perm.name}) of {account.address}"
        )
    missing = {DELEGATE_RESOURCE, UNDELEGATE_RESOURCE} - perm.operations
    if missing:
        return (
            f"active permission {permission_id} of {account.address} does not allow "
            "DelegateResource and UnDelegateResource"
        )
    return None


def check_stored_key(box: SecretBox, pool: EnergyPool) -> PoolCheck:
    """Whether the stored key decrypts (``SECRET_KEYS``) to the key of ``pool.tron_address``
    (a delegate-only pool: of ``pool.signer_address``): the delegation signs with it, so a pool
    whose key does not is unusable too."""
    try:
        key = PrivateKey.from_hex(box.decrypt(pool.private_key_encrypted).reveal())
    except SecretDecryptionError:
        why = "cannot be decrypted with SECRET_KEYS"
    except InvalidPrivateKeyError:
        why = "is not a valid private key"
    else:
        if key.address_base58 == (pool.signer_address or pool.tron_address):
            return PoolCheck()
        why = "belongs to another address"
    return PoolCheck(PoolFlag.KEY_MISMATCH, f"the stored key of {pool.tron_address} {why}")


@dataclass(frozen=True, slots=True)
class FlagChange:
    """What :func:`apply_check` did: ``flagged`` (a new or different flag), ``cleared``."""

    flagged: bool = False
    cleared: bool = False


def apply_check(pool: EnergyPool, check: PoolCheck, now: datetime) -> FlagChange:
    """Flag, re-flag or clear ``pool`` after ``check``; an operator's status is left alone.

    A flag is only ever set on an active pool (it becomes ``maintenance``) and only ever cleared
    on a pool that carries one (it becomes ``active``). An unusable pool an operator disabled
    keeps its status; the reason is kept in ``last_sync_error``.
    """
    if check.flag is None:
        if pool.flag is None:
            return FlagChange()
        pool.flag, pool.flag_reason, pool.flagged_at = None, None, None
        pool.status = PoolStatus.ACTIVE
        return FlagChange(cleared=True)
    reason = (check.reason or check.flag.value)[:_REASON_LENGTH]
    if pool.flag is None and pool.status is not PoolStatus.ACTIVE:
        pool.last_sync_error = reason
        return FlagChange()
    if pool.flag == check.flag:
        pool.flag_reason = reason
        return FlagChange()
    pool.status = PoolStatus.MAINTENANCE
    pool.flag, pool.flag_reason, pool.flagged_at = check.flag, reason, now
    return FlagChange(flagged=True)
