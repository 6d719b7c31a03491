"""Field types every edge model shares: ASCII digit codes, ids, plain text, storable numbers.

Why these exist:

- ``\\d`` in a Pydantic pattern (Rust regex) and Python's ``Decimal()``/``float()``/``int()``
  accept any Unicode decimal digit (``"١٥٦"`` is 156), so codes and amounts that later meet an
  EMV payload or a DynamoDB key must say ``[0-9]`` and refuse non-ASCII numerals.
- Pydantic's lax mode reads ``true`` as ``1``: a count or a size must be a number.
- DynamoDB stores numbers of at most 38 significant digits with magnitudes between 1e-130 and
  1e126; anything else fails the write (a 500), so the edge bounds every number it stores.
- Text that is stored and shown again (names, regions) carries no control characters (NUL,
  escape sequences, bidi overrides are a display and log-injection hazard).
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ValidationInfo

#: An id: 1-128 ASCII letters, digits and ``_.:-`` (path ids, token subjects, keys).
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
#: The smallest non-zero magnitude a stored float may have (DynamoDB's floor is 1e-130).
MIN_MAGNITUDE = 1e-100
#: Counts (transactions, refunds …) stay far inside DynamoDB's range and numpy's int64.
MAX_COUNT = 10**12


def is_id(value: object) -> bool:
    """True for an id (a full match: Python's ``$`` would also accept a trailing newline)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def digits(n: int | str) -> str:
    """A full-match pattern of ``n`` ASCII digits (``n`` may be a range such as ``"1,3"``)."""
    return rf"^[0-9]{{{n}}}$"


def is_ascii_digits(text: str) -> bool:
    """True for a non-empty string of ASCII digits only (``str.isdigit`` takes ``"١"``)."""
    return bool(text) and text.isascii() and text.isdigit()


#: Validation context of an API JSON body: a number there is a JSON number (files give text).
JSON_BODY: dict[str, bool] = {"json_body": True}


def _number_input(value: Any, info: ValidationInfo) -> Any:
    """:func:`_numeral`, and a number given as text in a JSON body is refused (the published
    schema says number; files give text)."""
    if isinstance(value, str) and (info.context or {}).get("json_body"):
        raise ValueError("must be a JSON number, not text")
    return _numeral(value)


def _numeral(value: Any) -> Any:
    """Refuse ``true``/``false`` and non-ASCII numerals before Pydantic coerces them."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    if isinstance(value, str) and not value.isascii():
        raise ValueError("must be written with ASCII digits 0-9")
    return value


def _storable(value: float | Decimal) -> float | Decimal:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    if value != 0 and abs(value) < MIN_MAGNITUDE:
        raise ValueError(f"must be 0 or at least {MIN_MAGNITUDE:g} in magnitude")
    return value


def _storable_position(value: float) -> float:
    """A coordinate or accuracy below 1e-100 in magnitude is 0 (far below a nanometre):
    rounded rather than refused, since no schema can publish the gap. Amounts stay refused."""
    if math.isfinite(value) and value != 0 and abs(value) < MIN_MAGNITUDE:
        return 0.0
    return float(_storable(value))


#: Unicode categories text may not hold: control, format, surrogate, private use.
# Unassigned code points (Cn) are text: a client on a newer Unicode may send characters this
# server's tables do not know yet (and the published schema cannot list 700 gaps).
NOT_TEXT = ("Cc", "Cf", "Cs", "Co")


def _plain_text(value: str) -> str:
    for ch in value:
        if unicodedata.category(ch) in NOT_TEXT:
            raise ValueError(f"must not contain control or format characters ({ch!r})")
    return value


#: An integer given as a number (or, in files, ASCII digits); never a bool.
Int = Annotated[int, BeforeValidator(_number_input)]
#: A finite float DynamoDB can store; never a bool or a non-ASCII numeral.
Float = Annotated[float, BeforeValidator(_number_input), AfterValidator(_storable)]
#: A position figure (degrees, metres): a :data:`Float` whose negligible magnitudes read as 0.
Position = Annotated[float, BeforeValidator(_number_input), AfterValidator(_storable_position)]
#: A decimal amount; never a bool or a non-ASCII numeral.
#: (a JSON body may give it as a decimal string, "12.50", as published)
Money = Annotated[Decimal, BeforeValidator(_numeral), AfterValidator(_storable)]
#: Text without control or format characters (combine with a length bound).
PlainText = Annotated[str, AfterValidator(_plain_text)]


def parse_float(text: str) -> float:
    """``float(text)`` for ASCII numerals only (``float("١٢")`` is 12.0 in Python)."""
    if not text.isascii():
        raise ValueError(f"not an ASCII number: {text!r}")
    return float(text)
