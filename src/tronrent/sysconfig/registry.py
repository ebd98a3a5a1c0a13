"""The system config keys the platform knows: type, validation rule, default, public or secret.

Pure: no session, no I/O. A key not declared here cannot be set (the API answers 404), so a
typo never becomes a setting nobody reads. ``validation_rule`` is stored on the row as text
(seed 001 column) in one of these forms: ``int:MIN..MAX``, ``len:MIN..MAX``, ``regex:PATTERN``,
``enum:a|b|c``; the value must also parse as its ``config_type``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from tronrent.kit.errors import ValidationFailed
from tronrent.models.system_config import ConfigType


class InvalidConfigValue(ValidationFailed):
    default_code = "INVALID_CONFIG_VALUE"


@dataclass(frozen=True, slots=True)
class ConfigKey:
    key: str
    config_type: ConfigType
    category: str
    description: str
    default: str | None = None
    validation_rule: str | None = None
    #: readable by anyone at ``GET /api/system-configs/public``
    is_public: bool = False
    #: stored encrypted (SecretBox), never returned
    is_encrypted: bool = False


KEYS: Final[dict[str, ConfigKey]] = {
    k.key: k
    for k in (
        ConfigKey(
            "site.name",
            ConfigType.STRING,
            "site",
            "the shop's name, for front ends (public)",
            default="TronRent",
            validation_rule="len:1..100",
            is_public=True,
        ),
        ConfigKey(
            "support.contact",
            ConfigType.STRING,
            "site",
            "where customers get help (a Telegram @handle, an e-mail or a URL; public)",
            default="",
            validation_rule="len:0..200",
            is_public=True,
        ),
        ConfigKey(
            "auto_top_up.price_trx_sun",
            ConfigType.INTEGER,
            "auto_top_up",
            "price of one transfer's worth of auto top-up a customer sets up (merchant API, "
            "bot), billed in TRX, in sun; unset: not offered in TRX",
            validation_rule="int:1..1000000000000",
        ),
        ConfigKey(
            "auto_top_up.price_usdt_units",
            ConfigType.INTEGER,
            "auto_top_up",
            "the same, billed in USDT, in units of 1e-6 USDT; unset: not offered in USDT",
            validation_rule="int:1..1000000000000",
        ),
        ConfigKey(
            "tron.api_key",
            ConfigType.STRING,
            "chain",
            "TRON-PRO-API-KEY sent to the nodes (TronGrid); overrides TRON_API_KEY, read when "
            "the engine starts",
            validation_rule="regex:^[A-Za-z0-9-]{8,100}$",
            is_encrypted=True,
        ),
    )
}


def _bounds(text: str) -> tuple[int, int]:
    low, _, high = text.partition("..")
    return int(low), int(high)


def parse(spec: ConfigKey, value: Any) -> str:
    """``value`` (from JSON) checked against the key's type and rule; its stored text form.

    Raises ``InvalidConfigValue`` (422) with what is expected."""
    kind = spec.config_type
    text: str
    if kind is ConfigType.BOOLEAN:
        if not isinstance(value, bool):
            raise InvalidConfigValue(f"{spec.key} must be true or false")
        text = "true" if value else "false"
    elif kind is ConfigType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise InvalidConfigValue(f"{spec.key} must be an integer")
        try:
            text = str(int(str(value).strip()))
        except ValueError:
            raise InvalidConfigValue(f"{spec.key} must be an integer") from None
    elif kind is ConfigType.NUMBER:
        if isinstance(value, (bool, float)) or not isinstance(value, int | str):
            raise InvalidConfigValue(f"{spec.key} must be a decimal number, sent as a string")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise InvalidConfigValue(f"{spec.key} must be a decimal number") from None
        if not number.is_finite():
            raise InvalidConfigValue(f"{spec.key} must be a finite decimal number")
        text = format(number, "f")
    elif kind is ConfigType.JSON:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    else:
        if not isinstance(value, str):
            raise InvalidConfigValue(f"{spec.key} must be a string")
        if "\x00" in value:
            raise InvalidConfigValue(f"{spec.key} must not hold NUL")
        text = value.strip()
    check_rule(spec, text)
    return text


def check_rule(spec: ConfigKey, text: str) -> None:
    rule = spec.validation_rule
    if not rule:
        return
    name, _, arg = rule.partition(":")
    if name == "int":
        low, high = _bounds(arg)
        if not low <= int(text) <= high:
            raise InvalidConfigValue(f"{spec.key} must be from {low} to {high}")
    elif name == "len":
        low, high = _bounds(arg)
        if not low <= len(text) <= high:
            raise InvalidConfigValue(f"{spec.key} must be {low} to {high} characters")
    elif name == "regex":
        if re.fullmatch(arg, text) is None:
            raise InvalidConfigValue(f"{spec.key} must match {arg}")
    elif name == "enum":
        allowed = arg.split("|")
        if text not in allowed:
            raise InvalidConfigValue(f"{spec.key} must be one of {', '.join(allowed)}")
    else:  # a rule this code does not know is a bug in KEYS, not bad input
        raise ValueError(f"unknown validation rule {rule!r} of {spec.key}")


def decode(spec: ConfigKey, text: str | None) -> Any:
    """The typed value of stored text (``None`` stays ``None``)."""
    if text is None:
        return None
    kind = spec.config_type
    if kind is ConfigType.BOOLEAN:
        return text == "true"
    if kind is ConfigType.INTEGER:
        return int(text)
    if kind is ConfigType.NUMBER:
        return str(Decimal(text))  # JSON carries exact decimals as strings
    if kind is ConfigType.JSON:
        return json.loads(text)
    return text
