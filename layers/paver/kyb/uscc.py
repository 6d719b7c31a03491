"""Unified Social Credit Code (统一社会信用代码, GB 32100-2015): validate, generate, corrupt.

Layout of the 18 characters (alphabet ``0-9 A-H J-N P-R T U W-Y``, no I, O, S, V, Z):

====  ========================================================================
1     registration-authority code (登记管理部门代码): 1–9, A, N, Y
2     entity-type code (机构类别代码); for authority 9 (market regulation, the
      merchants' case): 1 enterprise, 2 individual business, 3 farmers' co-op
3–8   administrative-division code of the registering office (GB/T 2260), digits
9–17  organisation code (主体标识码, GB 11714)
18    check character (weights 3^i mod 31)
====  ========================================================================

The check character comes from python-stdnum (``stdnum.cn.uscc``). stdnum demands digits in
positions 1–8, so it rejects the legal authorities ``A``, ``N`` and ``Y`` and accepts the
illegal authority ``0``; :func:`validate_uscc` follows the standard there. The GB 11714 check
inside the organisation code is not enforced (some issued codes do not satisfy it), but
:func:`generate_uscc` produces organisation codes that do.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from stdnum.cn import uscc as _stdnum_uscc

from paver.lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
else:  # numpy only for whole portfolios (valid_uscc_mask): ingest checks one code at a time
    np = lazy_module("numpy")

#: The 31 characters a USCC may contain, in check-value order.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

#: Registration-authority codes of GB 32100-2015.
REGISTRATION_AUTHORITIES: dict[str, str] = {
    "1": "机构编制 (institutional establishment)",
    "2": "外交 (foreign affairs)",
    "3": "司法行政 (judicial administration)",
    "4": "文化 (culture)",
    "5": "民政 (civil affairs)",
    "6": "旅游 (tourism)",
    "7": "宗教 (religious affairs)",
    "8": "工会 (trade unions)",
    "9": "工商 (market regulation)",
    "A": "中央军委改革和编制办公室 (military establishment)",
    "N": "农业 (agriculture)",
    "Y": "其他 (other)",
}

#: Entity types under authority ``9`` (market regulation): who can be a merchant.
MARKET_ENTITY_TYPES: dict[str, str] = {
    "1": "企业 (enterprise)",
    "2": "个体工商户 (individual business)",
    "3": "农民专业合作社 (farmers' cooperative)",
}

#: Real administrative-division codes used by :func:`generate_uscc`.
REGION_CODES: tuple[str, ...] = (
    "110000", "110105", "310000", "310115", "440100", "440300",
    "330100", "350100", "510100", "420100", "320500", "370200",
)  # fmt: skip

USCCReason = Literal[
    "not_a_string",
    "wrong_length",
    "invalid_character",
    "bad_registration_authority",
    "bad_entity_type",
    "bad_check_character",
]

_GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


#: Separators people print inside a code (``9111-0000-6000-37341L``, ``91110000 600037341L``).
_SEPARATORS = str.maketrans("", "", " -\t\u2010\u2011\u2012\u2013\u2014\u2212")
#: Check-character weights 3^i mod 31 (GB 32100).
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def normalize_uscc(code: str) -> str:
    """The one normal form of a USCC; every caller compares and stores codes in it.

    Full-width forms become ASCII (NFKC), spaces and hyphens are removed, letters upper-cased:
    ``"9111-0000-6000-37341l"`` and ``"91110000600037341L"`` are the same credential (claim
    keys, trust features, ingest and :func:`validate_uscc` all go through here).
    """
    if not code.isascii():
        code = unicodedata.normalize("NFKC", code)
    return code.translate(_SEPARATORS).strip().upper()


def normalize_uscc_many(values: Iterable[object]) -> list[str]:
    """:func:`normalize_uscc` of each value (``None``/NaN/non-strings become ``""``)."""
    return [normalize_uscc(v) if isinstance(v, str) else "" for v in values]


def valid_uscc_mask(values: Iterable[object]) -> np.ndarray:
    """:func:`validate_uscc` over many codes at once → boolean array (same answers, vectorised).

    Used by the trust features on whole portfolios, where a Python call per code would cost
    more than the rest of the feature computation.
    """
    codes = normalize_uscc_many(values)
    out = np.zeros(len(codes), dtype=bool)
    sel = np.flatnonzero([len(c) == 18 and c.isascii() for c in codes])
    if not len(sel):
        return out
    chars = np.frombuffer("".join(codes[i] for i in sel).encode("ascii"),
                          dtype=np.uint8).reshape(len(sel), 18)
    lut = np.full(256, -1, dtype=np.int64)
    for i, ch in enumerate(ALPHABET):
        lut[ord(ch)] = i
    idx = lut[chars]
    authority = np.isin(chars[:, 0], [ord(c) for c in REGISTRATION_AUTHORITIES])
    entity = (chars[:, 0] != ord("9")) | np.isin(chars[:, 1],
                                                 [ord(c) for c in MARKET_ENTITY_TYPES])
    region = ((chars[:, 2:8] >= ord("0")) & (chars[:, 2:8] <= ord("9"))).all(axis=1)
    check = uscc_check_indices(np.maximum(idx[:, :17], 0))
    out[sel] = (idx >= 0).all(axis=1) & authority & entity & region & (check == idx[:, 17])
    return out


def uscc_check_indices(body: np.ndarray) -> np.ndarray:
    """Check characters (as alphabet indices) of an ``(n, 17)`` array of alphabet indices.

    :func:`uscc_check_character` (python-stdnum) vectorised: the same weights, for whole
    portfolios (:func:`valid_uscc_mask`) and the synthetic world's generator.
    """
    weights = np.array(_WEIGHTS, dtype=np.int64)
    return (31 - (body.astype(np.int64) * weights).sum(axis=1) % 31) % 31


def uscc_check_character(first17: str) -> str:
    """Return the GB 32100 check character for the first 17 characters (via stdnum)."""
    return _stdnum_uscc.calc_check_digit(first17)


def validate_uscc(code: str) -> tuple[bool, USCCReason | None]:
    """Validate a Unified Social Credit Code.

    Parameters
    ----------
    code : str
        The code as printed; spaces and hyphens are ignored, lower case is accepted.

    Returns
    -------
    tuple
        ``(True, None)`` when valid, otherwise ``(False, reason)`` with reason one of
        ``not_a_string``, ``wrong_length``, ``invalid_character``,
        ``bad_registration_authority``, ``bad_entity_type``, ``bad_check_character``.
    """
    if not isinstance(code, str):
        return False, "not_a_string"
    number = normalize_uscc(code)
    if len(number) != 18:
        return False, "wrong_length"
    if any(ch not in ALPHABET for ch in number) or not number[2:8].isdigit():
        return False, "invalid_character"
    if number[0] not in REGISTRATION_AUTHORITIES:
        return False, "bad_registration_authority"
    if number[0] == "9" and number[1] not in MARKET_ENTITY_TYPES:
        return False, "bad_entity_type"
    if number[17] != uscc_check_character(number[:17]):
        return False, "bad_check_character"
    return True, None


def is_valid_uscc(code: str) -> bool:
    """Return True when :func:`validate_uscc` accepts ``code``."""
    return validate_uscc(code)[0]


def _gb11714_check(body: str) -> str:
    """Check character of an 8-character GB 11714 organisation-code body (0–9 or X)."""
    total = sum(int(ch, 36) * w for ch, w in zip(body, _GB11714_WEIGHTS, strict=True))
    value = 11 - total % 11
    return "X" if value == 10 else "0" if value == 11 else str(value)


def generate_uscc(
    rng: random.Random,
    *,
    entity_type: str | None = None,
    region: str | None = None,
) -> str:
    """Generate a valid merchant USCC (authority 9) for the synthetic world.

    Parameters
    ----------
    rng : random.Random
        Source of randomness (seed it for reproducible worlds).
    entity_type : str, optional
        ``"1"``, ``"2"`` or ``"3"`` (see :data:`MARKET_ENTITY_TYPES`); if omitted, drawn with
        weights 30 : 65 : 5 (small merchants are mostly individual businesses).
    region : str, optional
        Six-digit administrative-division code; one of :data:`REGION_CODES` if omitted.

    Returns
    -------
    str
        An 18-character code accepted by :func:`validate_uscc` and by stdnum.
    """
    kind = entity_type if entity_type is not None else rng.choices("123", weights=(30, 65, 5))[0]
    if kind not in MARKET_ENTITY_TYPES:
        raise ValueError(f"entity_type must be one of {sorted(MARKET_ENTITY_TYPES)}")
    area = region if region is not None else rng.choice(REGION_CODES)
    if len(area) != 6 or not (area.isascii() and area.isdigit()):
        raise ValueError(f"region must be six digits, got {area!r}")
    if rng.random() < 0.5:
        body = "MA" + "".join(rng.choice(_ORG_BODY_CHARS) for _ in range(6))
    else:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    first17 = "9" + kind + area + body + _gb11714_check(body)
    return first17 + uscc_check_character(first17)


def corrupt_uscc(
    code: str,
    rng: random.Random,
    *,
    kind: Literal["check", "length", "character"] = "check",
) -> str:
    """Make an invalid variant of a valid USCC.

    Parameters
    ----------
    code : str
        A valid code.
    rng : random.Random
        Source of randomness.
    kind : {"check", "length", "character"}
        ``check``: substitute one character of positions 9–18 with another alphabet
        character, which always breaks the check character (every weight is non-zero mod 31);
        ``length``: drop or add one character; ``character``: put a forbidden letter
        (I, O, S, V, Z) somewhere.

    Returns
    -------
    str
        A code that :func:`validate_uscc` and stdnum both reject.
    """
    number = normalize_uscc(code)
    if kind == "check":
        pos = rng.randrange(8, 18)
        replacement = rng.choice([ch for ch in ALPHABET if ch != number[pos]])
        return number[:pos] + replacement + number[pos + 1 :]
    if kind == "length":
        if rng.random() < 0.5:
            return number[:-1]
        return number + rng.choice(ALPHABET)
    if kind == "character":
        pos = rng.randrange(0, 18)
        return number[:pos] + rng.choice("IOSVZ") + number[pos + 1 :]
    raise ValueError(f"unknown corruption kind {kind!r}")
