"""Catalogue and price errors (facts, with a code; mapped to HTTP in one place)."""

from __future__ import annotations

from tronrent.kit.errors import Conflict, NotFound, ValidationFailed


class PackageNotFound(NotFound):
    default_code = "PACKAGE_NOT_FOUND"


class PackageInUse(Conflict):
    """Orders or price rules refer to the package: deactivate it instead."""

    default_code = "PACKAGE_IN_USE"


class QuantityOutOfRange(ValidationFailed):
    default_code = "QUANTITY_OUT_OF_RANGE"


class NotSoldInCurrency(ValidationFailed):
    """The package has no price in that currency and no price rule gives it one."""

    default_code = "CURRENCY_NOT_OFFERED"


class InvalidPriceConfig(ValidationFailed):
    default_code = "INVALID_PRICE_CONFIG"


class PriceConfigNotFound(NotFound):
    default_code = "PRICE_CONFIG_NOT_FOUND"


class TemplateNotFound(NotFound):
    default_code = "PRICE_TEMPLATE_NOT_FOUND"


class TemplateNameTaken(Conflict):
    default_code = "PRICE_TEMPLATE_NAME_TAKEN"


class TemplateInactive(Conflict):
    default_code = "PRICE_TEMPLATE_INACTIVE"


class ReferenceNotFound(ValidationFailed):
    """A bot or package id in a price rule that does not exist."""

    default_code = "REFERENCE_NOT_FOUND"
