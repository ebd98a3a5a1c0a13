"""Agent domain errors (codes mapped to HTTP statuses by their base class)."""

from __future__ import annotations

from tronrent.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed


class ApplicationNotFound(NotFound):
    default_code = "APPLICATION_NOT_FOUND"


class ApplicationPending(Conflict):
    """The user already has an application under review."""

    default_code = "APPLICATION_PENDING"


class ApplicationReviewed(Conflict):
    """The application was approved or rejected before."""

    default_code = "APPLICATION_REVIEWED"


class AlreadyAgent(Conflict):
    default_code = "ALREADY_AGENT"


class AgentNotFound(NotFound):
    default_code = "AGENT_NOT_FOUND"


class NotAnActiveAgent(Forbidden):
    """Only an active agent may withdraw."""

    default_code = "AGENT_NOT_ACTIVE"


class InvalidAgentChange(ValidationFailed):
    default_code = "INVALID_AGENT_CHANGE"


class WithdrawalNotFound(NotFound):
    default_code = "WITHDRAWAL_NOT_FOUND"


class WithdrawalRefused(ValidationFailed):
    """Below the minimum, nothing left after the fee, or not a TRON address."""

    default_code = "WITHDRAWAL_REFUSED"


class WithdrawalNotPending(Conflict):
    default_code = "WITHDRAWAL_NOT_PENDING"


class CommissionExceedsBalance(Conflict):
    """The agent's settled commission does not cover the withdrawal."""

    default_code = "INSUFFICIENT_COMMISSION"
