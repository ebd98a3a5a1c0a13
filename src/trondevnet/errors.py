"""Errors the chain raises at broadcast, with java-tron's response codes and messages."""

from __future__ import annotations

SIGERROR = "SIGERROR"
CONTRACT_VALIDATE_ERROR = "CONTRACT_VALIDATE_ERROR"
CONTRACT_EXE_ERROR = "CONTRACT_EXE_ERROR"
BANDWITH_ERROR = "BANDWITH_ERROR"
DUP_TRANSACTION_ERROR = "DUP_TRANSACTION_ERROR"
TAPOS_ERROR = "TAPOS_ERROR"
TOO_BIG_TRANSACTION_ERROR = "TOO_BIG_TRANSACTION_ERROR"
TRANSACTION_EXPIRATION_ERROR = "TRANSACTION_EXPIRATION_ERROR"
SERVER_BUSY = "SERVER_BUSY"
OTHER_ERROR = "OTHER_ERROR"


class TxError(Exception):
    """A broadcast rejected by the node: `code` is java-tron's response_code name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ContractValidateError(TxError):
    """java-tron ContractValidateException: reported as 'Contract validate error : <msg>'."""

    def __init__(self, detail: str) -> None:
        super().__init__(CONTRACT_VALIDATE_ERROR, f"Contract validate error : {detail}")
        self.detail = detail


def sig_error(detail: str) -> TxError:
    return TxError(SIGERROR, f"Validate signature error: {detail}")


def dup_error() -> TxError:
    return TxError(DUP_TRANSACTION_ERROR, "Dup transaction.")


def tapos_error() -> TxError:
    return TxError(TAPOS_ERROR, "Tapos check error.")


def expired_error() -> TxError:
    return TxError(TRANSACTION_EXPIRATION_ERROR, "Transaction expired")


def bandwidth_error() -> TxError:
    return TxError(BANDWITH_ERROR, "Account resource insufficient error.")
