"""Where a store photo came from: capture time, the software that wrote it, its perceptual hash.

These are the signals an acquirer adds to EXIF GPS because GPS alone is easy to fake (see
:mod:`paver.binding.service`): a photo taken long before its upload, a capture time after the
upload, EXIF rewritten by an editor, the same picture sent for two shops.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
from PIL import Image

# EXIF tags (EXIF 2.32)
SOFTWARE = 0x0131
DATETIME = 0x0132
EXIF_IFD = 0x8769
DATETIME_ORIGINAL = 0x9003
OFFSET_TIME_ORIGINAL = 0x9011

#: Side of the perceptual hash's DCT grid: 16 → 256 bits (8 × 8 = 64 bits cannot tell this
#: project's generated storefronts apart; measured in tests/unit/test_kyb_provenance.py).
PHASH_SIZE = 16
PHASH_BITS = PHASH_SIZE * PHASH_SIZE
#: A hash is looked up by bands: two hashes within ``PHASH_BANDS - 1`` bits share a band.
PHASH_BANDS = 8


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value or None


def _offset(text: str | None) -> timezone | None:
    """``+08:00`` → a fixed zone (None when absent or malformed)."""
    if not text or len(text) != 6 or text[0] not in "+-" or text[3] != ":":
        return None
    try:
        hours, minutes = int(text[1:3]), int(text[4:6])
    except ValueError:
        return None
    if hours > 14 or minutes > 59:
        return None
    sign = 1 if text[0] == "+" else -1
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def capture_time(image: Image.Image, default_tz: timezone) -> datetime | None:
    """When the photo was taken (``DateTimeOriginal``, else ``DateTime``), as an aware time.

    EXIF times are local clock readings; ``OffsetTimeOriginal`` gives their zone when the
    camera wrote it, otherwise ``default_tz`` (the shop's zone) is assumed. None when absent or
    unreadable.
    """
    exif = image.getexif()
    sub = exif.get_ifd(EXIF_IFD)
    stamp = _text(sub.get(DATETIME_ORIGINAL)) or _text(exif.get(DATETIME))
    if not stamp:
        return None
    try:
        local = datetime.strptime(stamp[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return local.replace(tzinfo=_offset(_text(sub.get(OFFSET_TIME_ORIGINAL))) or default_tz)


def software(image: Image.Image) -> str | None:
    """The EXIF ``Software`` tag (the program that last wrote the file), if any."""
    return _text(image.getexif().get(SOFTWARE))


def edited_by(software_tag: str | None, editors: list[str]) -> str | None:
    """The editor ``software_tag`` names (case-insensitive substring), or None."""
    if not software_tag:
        return None
    low = software_tag.casefold()
    return next((e for e in editors if e.casefold() in low), None)


def perceptual_hash(image: Image.Image) -> str:
    """The DCT perceptual hash (``imagehash.phash``, 256 bits) as 64 hex digits.

    Re-encoding, resizing or recompressing a photo moves it by a few bits; a different photo
    of the same kind of scene is tens of bits away.

    The same bits as ``imagehash.phash(image, hash_size=PHASH_SIZE)`` (the hashes already
    stored stay comparable), computed with numpy alone: imagehash takes its DCT from scipy,
    which the serving layer does not carry. The grey image, scaled to 4 × ``PHASH_SIZE`` square,
    goes through the low-frequency rows of a DCT-II along both axes; each coefficient above
    their median is a 1 bit. (The DCT's constant factor cannot move a coefficient across the
    median, so the cosine basis is left unscaled.)
    """
    side = PHASH_SIZE * 4
    grey = image.convert("L").resize((side, side), Image.Resampling.LANCZOS)
    pixels = np.asarray(grey, dtype=np.float64)
    k = np.arange(PHASH_SIZE)[:, None]
    basis = np.cos(np.pi * k * (2 * np.arange(side)[None, :] + 1) / (2 * side))
    low = basis @ pixels @ basis.T
    bits = (low > np.median(low)).ravel()
    return f"{int(''.join('1' if b else '0' for b in bits), 2):0{PHASH_BITS // 4}x}"


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hashes of the same length (hex)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def bands(phash: str) -> list[str]:
    """The hash cut into :data:`PHASH_BANDS` labelled pieces (lookup keys)."""
    step = len(phash) // PHASH_BANDS
    return [f"{i}:{phash[i * step:(i + 1) * step]}" for i in range(PHASH_BANDS)]


def upload_age_hours(taken: datetime | None, uploaded: datetime) -> float | None:
    """Hours from capture to upload (negative: the capture time is after the upload)."""
    if taken is None:
        return None
    return round((uploaded.astimezone(UTC) - taken.astimezone(UTC)).total_seconds() / 3600, 2)
