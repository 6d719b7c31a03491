"""Opaque page cursors: a base64url JSON object of the key to resume after."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from paver.errors import InvalidInput

MAX_LIMIT = 100
DEFAULT_LIMIT = 25
MAX_CURSOR_CHARS = 512


class PageInputError(InvalidInput):
    """A bad ``limit`` or ``cursor`` (the message names the parameter)."""


def encode_cursor(key: dict[str, str] | None) -> str | None:
    if not key:
        return None
    raw = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, fields: tuple[str, ...]) -> dict[str, str] | None:
    """The resume key of ``cursor`` (its ``fields``, all strings; a cursor of a wider
    listing may carry more, ignored here) or ``None``."""
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR_CHARS:
        raise PageInputError("cursor: too long")
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise PageInputError("cursor: not a cursor this API returned") from None
    if (not isinstance(data, dict) or not set(fields) <= set(data)
            or not all(isinstance(data[f], str) and 0 < len(data[f]) <= 128 for f in fields)):
        raise PageInputError("cursor: not a cursor this API returned")
    return {f: data[f] for f in fields}


def parse_limit(value: str | None, default: int = DEFAULT_LIMIT) -> int:
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise PageInputError(f"limit: a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def page(items: list[Any], limit: int, key_of: Any) -> tuple[list[Any], str | None]:
    """The first ``limit`` of ``items`` (read ``limit + 1`` to know whether more follow)."""
    if len(items) <= limit:
        return items, None
    kept = items[:limit]
    return kept, encode_cursor(key_of(kept[-1]))
