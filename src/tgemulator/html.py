"""Telegram's HTML parse mode: validate the markup the way the Bot API does and strip it to text."""

from __future__ import annotations

import html
import re

SUPPORTED_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "a",
        "code",
        "pre",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "blockquote",
    }
)
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*)?)\s*/?>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML (the Bot API answers 400 "can't parse entities")."""


def html_to_text(source: str) -> str:
    """Return the plain text of Telegram HTML ``source``; raise ``EntityParseError`` if invalid."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    while pos < len(source):
        char = source[pos]
        if char == "<":
            match = _TAG.match(source, pos)
            if match is None:
                raise EntityParseError(
                    f"Can't parse entities: unclosed start tag at byte offset {pos}"
                )
            closing, name = match.group(1) == "/", match.group(2).lower()
            if name not in SUPPORTED_TAGS:
                kind = "end" if closing else "start"
                raise EntityParseError(
                    f'Can\'t parse entities: unsupported {kind} tag "{name}" at byte offset {pos}'
                )
            if closing:
                if not stack or stack[-1] != name:
                    raise EntityParseError(_unclosed(name))
                stack.pop()
            else:
                stack.append(name)
            pos = match.end()
        elif char == "&":
            entity = _ENTITY.match(source, pos)
            if entity is None:
                out.append("&")
                pos += 1
            else:
                out.append(html.unescape(entity.group(0)))
                pos = entity.end()
        elif char == ">":
            # Telegram tolerates a bare ">" but a well-behaved client escapes it; keep it.
            out.append(">")
            pos += 1
        else:
            out.append(char)
            pos += 1
    if stack:
        raise EntityParseError(_unclosed(stack[-1]))
    return "".join(out)


def _unclosed(name: str) -> str:
    return f"Can't parse entities: can't find end tag corresponding to start tag \"{name}\""
