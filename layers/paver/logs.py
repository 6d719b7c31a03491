"""Structured JSON logging with personal data masked before anything is written.

Credentials (Unified Social Credit Codes), phone numbers, bearer tokens and account ids never
reach a log line in full: a filter rewrites the message and every extra field.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

_PATTERNS: tuple[tuple[re.Pattern[str], Any], ...] = (
    # Bearer tokens / JWTs: keep nothing.
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"), "***jwt***"),
    # Unified Social Credit Codes (18 chars, GB 32100 alphabet): keep the first 2 and last 2.
    (re.compile(r"(?<![0-9A-Z])([0-9A-HJ-NPQRTUWXY]{2})[0-9A-HJ-NPQRTUWXY]{14}"
                r"([0-9A-HJ-NPQRTUWXY]{2})(?![0-9A-Z])"), r"\1**************\2"),
    # Mainland mobile numbers, optionally +86: keep the last 4.
    (re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4})(?:[- ]?)(\d{4})(?!\d)"),
     r"***-****-\1"),
    # Account ids (acct-…, and the world's A000123): keep the last 3.
    (re.compile(r"\b(?:acct|account)[-_:]?[A-Za-z0-9]{3,}?([A-Za-z0-9]{3})\b", re.I),
     r"acct-***\1"),
    (re.compile(r"\bA\d{3,}(\d{3})\b"), r"A***\1"),
)


def mask(text: str) -> str:
    """Mask every personal-data pattern in ``text``."""
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class MaskingFilter(logging.Filter):
    """Rewrites the formatted message and string extras of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg, record.args = mask(message), None
        for key, value in list(record.__dict__.items()):
            if key.startswith("ctx_") and isinstance(value, str):
                setattr(record, key, mask(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"level": record.levelname, "logger": record.name,
                               "message": record.getMessage()}
        out.update({k[4:]: v for k, v in record.__dict__.items() if k.startswith("ctx_")})
        if record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(level: int = logging.INFO, stream: Any = None, json_lines: bool = True) -> None:
    """Install the masking filter (and JSON lines) on the root logger's handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(MaskingFilter())
    handler.setFormatter(JsonFormatter() if json_lines else
                         logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_paver", False):
            root.removeHandler(h)
    handler._paver = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
