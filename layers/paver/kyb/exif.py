"""Read the WGS-84 position from a photo's EXIF GPS block, robustly.

Works for every format Pillow exposes EXIF for (JPEG, PNG ``eXIf``, WebP ``EXIF``, HEIC via
pillow-heif) through ``image.getexif().get_ifd(0x8825)``. Values may be Pillow
``IFDRational``s, plain numbers or ``(numerator, denominator)`` tuples (piexif style);
references may be ``str`` or ``bytes``. Anything unusable raises :class:`NoPositionError`
(code ``no_position``) with a specific ``reason``; nothing else escapes.

EXIF is easy to strip or fake: a position read here is evidence, not proof.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from paver.kyb.geo import WGS84, GeoPoint
from paver.kyb.photo import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    PhotoError,
    PhotoSource,
    open_photo,
)

#: EXIF pointer to the GPS IFD.
GPS_IFD = 0x8825

# GPS IFD tags (EXIF 2.3).
GPS_LATITUDE_REF = 1
GPS_LATITUDE = 2
GPS_LONGITUDE_REF = 3
GPS_LONGITUDE = 4
GPS_ALTITUDE_REF = 5
GPS_ALTITUDE = 6
GPS_STATUS = 9
GPS_MAP_DATUM = 18

#: Altitudes outside this band (metres) are ignored as implausible.
_ALTITUDE_LIMIT_M = 50_000.0


class NoPositionError(PhotoError):
    """The photo carries no usable GPS position.

    Parameters
    ----------
    reason : str
        Why: ``no_exif``, ``unreadable_exif``, ``no_gps``, ``missing_latitude``,
        ``missing_longitude``, ``missing_reference``, ``bad_reference``,
        ``malformed_value``, ``zero_denominator``, ``out_of_range``, ``void_fix``,
        ``unsupported_datum``, ``null_island``.
    detail : str
        Human-readable explanation.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__("no_position", f"no usable GPS position ({reason}): {detail}")
        self.reason = reason


def _text(value: Any) -> str | None:
    """Decode an EXIF ASCII/BYTE value to a stripped upper-case string (None if not text)."""
    if isinstance(value, bytes | bytearray):
        try:
            value = bytes(value).decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str):
        return None
    return value.strip("\x00 \t\r\n").upper()


def _rational(value: Any, what: str) -> float:
    """Convert one EXIF rational-like value to a finite float.

    Accepts ``IFDRational``, ``int``/``float``/``Fraction`` and ``(num, den)`` integer pairs.

    Raises
    ------
    NoPositionError
        ``zero_denominator`` for x/0 (including 0/0), ``malformed_value`` otherwise.
    """
    try:
        if isinstance(value, bool):
            raise NoPositionError("malformed_value", f"{what} is a boolean")
        if isinstance(value, IFDRational):
            if value.denominator == 0:
                raise NoPositionError("zero_denominator", f"{what} is {value.numerator}/0")
            result = float(value)
        elif isinstance(value, numbers.Real):
            result = float(value)
        elif (
            isinstance(value, tuple | list)
            and len(value) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in value)
        ):
            num, den = value
            if den == 0:
                raise NoPositionError("zero_denominator", f"{what} is {num}/0")
            result = num / den
        else:
            raise NoPositionError("malformed_value", f"{what} is not a number: {value!r:.60}")
    except OverflowError:
        raise NoPositionError("out_of_range", f"{what} does not fit a float") from None
    if not math.isfinite(result):
        raise NoPositionError("malformed_value", f"{what} is not finite")
    return result


def _components(value: Any, what: str) -> list[float]:
    """Split a GPSLatitude/GPSLongitude value into 1–3 numeric components (deg, min, sec)."""
    if isinstance(value, tuple | list):
        if not 1 <= len(value) <= 3:
            raise NoPositionError("malformed_value", f"{what} has {len(value)} components")
        return [_rational(part, what) for part in value]
    return [_rational(value, what)]


def _coordinate(
    gps: Mapping[Any, Any],
    value_tag: int,
    ref_tag: int,
    hemispheres: tuple[str, str],
    limit: float,
    axis: str,
) -> float:
    """Read one signed coordinate in decimal degrees from the GPS IFD."""
    raw = gps.get(value_tag)
    if raw is None:
        raise NoPositionError(f"missing_{axis}", f"GPS block has no {axis}")
    parts = _components(raw, axis)
    if any(p < 0.0 for p in parts):
        raise NoPositionError("out_of_range", f"{axis} has a negative component {parts}")
    degrees = parts[0]
    minutes = parts[1] if len(parts) > 1 else 0.0
    seconds = parts[2] if len(parts) > 2 else 0.0
    if minutes >= 60.0 or seconds >= 60.0:
        raise NoPositionError("out_of_range", f"{axis} minutes/seconds ≥ 60: {parts}")
    magnitude = degrees + minutes / 60.0 + seconds / 3600.0
    if magnitude > limit:
        raise NoPositionError("out_of_range", f"{axis} {magnitude} exceeds {limit}")
    raw_ref = gps.get(ref_tag)
    if raw_ref is None:
        raise NoPositionError("missing_reference", f"GPS block has no {axis} reference")
    ref = _text(raw_ref)
    positive, negative = hemispheres
    if ref == positive:
        return magnitude
    if ref == negative:
        return -magnitude
    raise NoPositionError("bad_reference", f"{axis} reference is {raw_ref!r:.20}")


def _altitude(gps: Mapping[Any, Any]) -> float | None:
    """Altitude in metres (negative below sea level) or None when absent or unusable."""
    raw = gps.get(GPS_ALTITUDE)
    if raw is None:
        return None
    try:
        altitude = _rational(raw, "altitude")
    except NoPositionError:
        return None
    if altitude < 0.0 or altitude > _ALTITUDE_LIMIT_M:
        return None
    ref = gps.get(GPS_ALTITUDE_REF, 0)
    if isinstance(ref, bytes | bytearray):
        ref = ref[0] if len(ref) == 1 else None
    elif isinstance(ref, str):
        ref = int(ref) if ref in ("0", "1") else None
    elif isinstance(ref, tuple) and len(ref) == 1:
        ref = ref[0]
    if ref == 0:
        return altitude
    if ref == 1:
        return -altitude
    return None


def gps_from_ifd(gps: Mapping[Any, Any] | None) -> GeoPoint:
    """Turn a decoded EXIF GPS IFD into a WGS-84 :class:`GeoPoint`.

    Parameters
    ----------
    gps : mapping of int to value, or None
        ``image.getexif().get_ifd(0x8825)`` or a piexif ``"GPS"`` dict.

    Returns
    -------
    GeoPoint
        Latitude/longitude in WGS-84 decimal degrees (altitude when usable).

    Raises
    ------
    NoPositionError
        With a ``reason`` when there is no usable position (see the class).
    """
    if not isinstance(gps, Mapping) or not gps:
        raise NoPositionError("no_gps", "photo has no GPS block")
    if GPS_LATITUDE not in gps and GPS_LONGITUDE not in gps:
        raise NoPositionError("no_gps", f"GPS block holds no coordinates (tags {list(gps)[:8]})")
    status = _text(gps.get(GPS_STATUS))
    if status == "V":
        raise NoPositionError("void_fix", "GPSStatus is V (measurement void)")
    datum = _text(gps.get(GPS_MAP_DATUM))
    if datum and "".join(ch for ch in datum if ch.isalnum()) not in ("WGS84", "WGS1984"):
        raise NoPositionError("unsupported_datum", f"GPSMapDatum is {datum!r:.30}, not WGS-84")
    lat = _coordinate(gps, GPS_LATITUDE, GPS_LATITUDE_REF, ("N", "S"), 90.0, "latitude")
    lon = _coordinate(gps, GPS_LONGITUDE, GPS_LONGITUDE_REF, ("E", "W"), 180.0, "longitude")
    if lat == 0.0 and lon == 0.0:
        raise NoPositionError("null_island", "position is exactly 0, 0 (a placeholder)")
    return GeoPoint(lat=lat, lon=lon, datum=WGS84, altitude_m=_altitude(gps))


def read_gps(image: Image.Image) -> GeoPoint:
    """Read the WGS-84 position from an opened image's EXIF.

    Parameters
    ----------
    image : PIL.Image.Image
        An image opened by Pillow (JPEG, PNG, WebP or HEIF).

    Returns
    -------
    GeoPoint
        The photo's position.

    Raises
    ------
    NoPositionError
        When there is no EXIF, no GPS block or no usable position.
    """
    try:
        exif = image.getexif()
        gps = exif.get_ifd(GPS_IFD) if exif else None
    except Exception as exc:
        # Malformed EXIF from untrusted bytes: Pillow raises struct.error, ValueError, ...
        raise NoPositionError("unreadable_exif", f"{type(exc).__name__}: {exc}") from exc
    if not exif:
        raise NoPositionError("no_exif", "photo has no EXIF metadata")
    return gps_from_ifd(gps)


def photo_position(
    source: PhotoSource,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> GeoPoint:
    """Open an untrusted photo safely and return its EXIF GPS position.

    Parameters
    ----------
    source : bytes, path or binary file object
        The photo.
    max_bytes, max_pixels : int
        Limits passed to :func:`paver.kyb.photo.open_photo`.

    Returns
    -------
    GeoPoint
        WGS-84 position.

    Raises
    ------
    PhotoError
        Refused photo (``unsupported_type``, ``too_large``, ...) or, as
        :class:`NoPositionError`, ``no_position``.
    """
    image = open_photo(source, max_bytes=max_bytes, max_pixels=max_pixels)
    try:
        return read_gps(image)
    finally:
        image.close()
