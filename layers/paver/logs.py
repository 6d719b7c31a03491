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

# One USCC character (GB 32100 alphabet, either case) and an optional printed separator.
_U, _S = "[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]", "[- ]?"
#: A Unified Social Credit Code as people write it: 18 characters (or a 17-character one that
#: lost its check character), grouped with hyphens or spaces or not; positions 3-8 are the
#: region digits, which keeps ordinary words and ids from matching.
_USCC = re.compile(rf"(?<![0-9A-Za-z-])(?:{_U}{_S}){{2}}(?:[0-9]{_S}){{6}}(?:{_U}{_S}){{8}}{_U}"
                   rf"(?:{_S}{_U})?(?![0-9A-Za-z])")


def _mask_uscc(m: re.Match[str]) -> str:
    """Keep the first 2 and last 2 characters of the code (enough to tell codes apart)."""
    code = re.sub(r"[- ]", "", m.group())
    return code[:2] + "*" * (len(code) - 4) + code[-2:]


_PATTERNS: tuple[tuple[re.Pattern[str], Any], ...] = (
    # Bearer tokens / JWTs: keep nothing.
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"), "***jwt***"),
    (_USCC, _mask_uscc),
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
