"""Tiny message catalogs: ``Translator(catalog, "en")("key", name=...)`` with HTML-escaped params.

Templates are trusted HTML written by us (Telegram's HTML parse mode); every parameter is escaped
unless it is wrapped in :class:`Html`, so a user-supplied string can never inject markup.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

#: Languages we have texts for; the first is the default (zh-CN).
LANGUAGES: tuple[str, ...] = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

Catalog = Mapping[str, Mapping[str, str]]


class Html(str):
    """A string that is already safe HTML (built from escaped parts); not escaped again."""

    __slots__ = ()


def escape(value: Any) -> str:
    """HTML-escape ``value`` for Telegram (``&``, ``<``, ``>``; quotes too, for attributes)."""
    if isinstance(value, Html):
        return str(value)
    return html.escape(str(value), quote=True)


def pick_language(code: str | None) -> str:
    """Our language for a Telegram ``language_code``: zh* -> zh, missing -> zh, other -> en."""
    if not code:
        return DEFAULT_LANGUAGE
    lowered = code.lower()
    if lowered.startswith("zh"):
        return "zh"
    return "en" if "en" in LANGUAGES else DEFAULT_LANGUAGE


class Translator:
    """Look up ``key`` in the language's catalog (falling back to the default language)."""

    def __init__(self, catalog: Catalog, language: str) -> None:
        self.catalog = catalog
        self.language = language if language in catalog else DEFAULT_LANGUAGE

    def __call__(self, key: str, **params: Any) -> str:
        template = self.catalog[self.language].get(key)
        if template is None:
            template = self.catalog[DEFAULT_LANGUAGE].get(key, key)
        if not params:
            return template
        return template.format_map(_Params({name: escape(v) for name, v in params.items()}))

    def has(self, key: str) -> bool:
        return key in self.catalog[self.language] or key in self.catalog[DEFAULT_LANGUAGE]


class _Params(dict[str, str]):
    """A missing parameter renders as "-" instead of raising (texts come from many callers)."""

    def __missing__(self, key: str) -> str:
        return "-"
