"""Reading the fields of console forms and list links: blank is "not given", anything else
must parse exactly (a ``ValidationFailed``, a 422 page, otherwise). Amounts are typed as
decimals (``1.5`` TRX) and become integer base units (sun, 10^-6 USDT) without a float; the
API's request models are the rules of the forms that change what the API changes."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Final

from fastapi import Form
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, ValidationError

from tronrent.api.exception_handlers import validation_message
from tronrent.kit.errors import ValidationFailed
from tronrent.kit.keyset import Position, decode_cursor
from tronrent.kit.money import AmountError, parse_units

#: a form field that may be left blank
Field = Annotated[str, Form(max_length=500)]


def _reason(value: str) -> str:
    text = value.strip()
    if len(text) < 3:
        raise ValueError("a reason of at least 3 characters (not blanks) is required")
    return text


#: the reason every change needs (recorded with who made it), stripped: blanks are no reason
Reason = Annotated[str, Form(min_length=3, max_length=500), AfterValidator(_reason)]
PAGE_SIZE: Final = 50
MAX_INT: Final = 2**63 - 1


def blank(value: str | None) -> bool:
    return value is None or not value.strip()


def optional_text(value: str | None) -> str | None:
    """A text box or query value stripped; blank is None ("none")."""
    return (value or "").strip() or None


def integer(value: str | None, field: str, lo: int = -MAX_INT, hi: int = MAX_INT) -> int | None:
    """A whole number in [lo, hi]; blank is None."""
    if blank(value):
        return None
    assert value is not None
    text = value.strip().replace(",", "").replace("_", "")
    try:
        number = int(text)
    except ValueError:
        raise ValidationFailed(f"{field}: {value!r} is not a whole number") from None
    if not lo <= number <= hi:
        raise ValidationFailed(f"{field}: {number} is not between {lo} and {hi}")
    return number


def amount(value: str | None, field: str, *, negative: bool = False) -> int | None:
    """A decimal amount (``12.5``, at most 6 decimals) as integer base units; blank is None."""
    if blank(value):
        return None
    assert value is not None
    try:
        return parse_units(value.strip().replace(",", ""), 6, allow_negative=negative)
    except (AmountError, ValueError):
        raise ValidationFailed(
            f"{field}: {value!r} is not an amount (digits, at most 6 decimals)"
        ) from None


def uuid_of(value: str | None, field: str) -> uuid.UUID | None:
    """A UUID; blank is None."""
    if blank(value):
        return None
    assert value is not None
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise ValidationFailed(f"{field}: {value!r} is not an id (UUID)") from None


def flag(value: str | None) -> bool:
    """A checkbox: sent (any value) is on."""
    return not blank(value)


def cursor(value: str | None) -> Position[str] | None:
    """The position of a ``?cursor=`` of a (created_at, id) list (422 when it is not one)."""
    return decode_cursor(value, str) if value else None


def before(value: str | None) -> int | None:
    """The ``?cursor=`` of a list paged by a numeric id: the id to read below."""
    return integer(value, "cursor", 1, MAX_INT) if value else None


def checked(model: type[BaseModel], values: dict[str, Any]) -> Any:
    """``values`` validated by the API's request model (the same rules as the API), a 422 page
    otherwise."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ValidationFailed(validation_message(RequestValidationError(exc.errors()))) from None


def trx_to_sun(text: str | None, field: str) -> int:
    """A TRX amount that must be given (up to 6 decimals) in sun, exactly (no float)."""
    sun = amount(text, field)
    if sun is None:
        raise ValidationFailed(f"{field}: an amount of TRX is required")
    return sun


def optional_int(text: str | None) -> int | str | None:
    """A number box: empty is None (no limit); anything else goes to the model's check."""
    value = (text or "").strip().replace(",", "")
    if not value:
        return None
    digits = value.lstrip("-")
    return int(value) if digits.isascii() and digits.isdigit() else value
