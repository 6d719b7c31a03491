"""Geodesy for the binding check: datums, WGS-84 → GCJ-02 (→ BD-09), great-circle distance.

EXIF GPS positions are WGS-84; Chinese map geocoders (AMap/Gaode, Tencent) answer in
GCJ-02 and Baidu in BD-09. Inside mainland China the two differ by 100–500 m, so a photo
position must be moved into the registered address's datum before measuring the distance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

WGS84 = "WGS-84"
GCJ02 = "GCJ-02"
BD09 = "BD-09"
DATUMS: tuple[str, ...] = (WGS84, GCJ02, BD09)

#: Mean Earth radius (IUGG), metres.
EARTH_RADIUS_M = 6_371_008.8

# Krasovsky 1940 ellipsoid, as used by the public GCJ-02 algorithm.
_GCJ_A = 6_378_245.0
_GCJ_EE = 0.006_693_421_622_965_943_23
_BD_X_PI = math.pi * 3000.0 / 180.0


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A position on the Earth.

    Parameters
    ----------
    lat : float
        Latitude in decimal degrees, -90 ≤ lat ≤ 90 (south negative).
    lon : float
        Longitude in decimal degrees, -180 ≤ lon ≤ 180 (west negative).
    datum : str
        One of ``"WGS-84"`` (GPS, EXIF), ``"GCJ-02"`` (AMap/Tencent), ``"BD-09"`` (Baidu).
    altitude_m : float or None
        Height above sea level in metres when known (EXIF GPSAltitude); not used for distance.

    Raises
    ------
    ValueError
        If a coordinate is not finite or out of range, or the datum is unknown.
    """

    lat: float
    lon: float
    datum: str = WGS84
    altitude_m: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise ValueError(f"latitude out of range: {self.lat!r}")
        if not (math.isfinite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"longitude out of range: {self.lon!r}")
        if self.datum not in DATUMS:
            raise ValueError(f"unknown datum {self.datum!r}; expected one of {DATUMS}")


def normalize_datum(datum: str) -> str:
    """Map a datum spelling to its canonical name.

    Parameters
    ----------
    datum : str
        e.g. ``"WGS-84"``, ``"wgs84"``, ``"gcj02"``, ``"GCJ-02"``, ``"bd09"``.

    Returns
    -------
    str
        One of :data:`DATUMS`.

    Raises
    ------
    ValueError
        If the spelling is not recognised.
    """
    key = "".join(ch for ch in datum.upper() if ch.isalnum())
    aliases = {"WGS84": WGS84, "WGS1984": WGS84, "GCJ02": GCJ02, "BD09": BD09}
    try:
        return aliases[key]
    except KeyError:
        raise ValueError(f"unknown datum {datum!r}; expected one of {DATUMS}") from None


def out_of_china(lat: float, lon: float) -> bool:
    """Return True outside the rough bounding box where GCJ-02 applies.

    This is the box used by the public algorithm (it includes some neighbouring land and sea);
    outside it GCJ-02 is identical to WGS-84.
    """
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """Convert WGS-84 to GCJ-02 with the standard public algorithm.

    Parameters
    ----------
    lat, lon : float
        WGS-84 decimal degrees.

    Returns
    -------
    tuple of float
        ``(lat, lon)`` in GCJ-02; unchanged outside China (see :func:`out_of_china`).
    """
    if out_of_china(lat, lon):
        return lat, lon
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = math.radians(lat)
    magic = 1.0 - _GCJ_EE * math.sin(radlat) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrt_magic * math.cos(radlat) * math.pi)
    return lat + dlat, lon + dlon


def gcj02_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    """Convert GCJ-02 to Baidu's BD-09 (standard public formula).

    Parameters
    ----------
    lat, lon : float
        GCJ-02 decimal degrees.

    Returns
    -------
    tuple of float
        ``(lat, lon)`` in BD-09.
    """
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _BD_X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _BD_X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def to_datum(point: GeoPoint, datum: str) -> GeoPoint:
    """Express a WGS-84 point in another datum.

    Parameters
    ----------
    point : GeoPoint
        Must be in WGS-84 (what EXIF gives).
    datum : str
        Target datum (any spelling accepted by :func:`normalize_datum`).

    Returns
    -------
    GeoPoint
        The same place in ``datum``.

    Raises
    ------
    ValueError
        If ``point`` is not WGS-84 or the datum is unknown.
    """
    target = normalize_datum(datum)
    if point.datum != WGS84:
        raise ValueError(f"expected a WGS-84 point, got {point.datum}")
    if target == WGS84:
        return point
    lat, lon = wgs84_to_gcj02(point.lat, point.lon)
    if target == BD09:
        lat, lon = gcj02_to_bd09(lat, lon)
    # BD-09 adds a small offset everywhere: keep poles and the antimeridian in range.
    lat = max(-90.0, min(90.0, lat))
    lon = max(-180.0, min(180.0, lon))
    return GeoPoint(lat, lon, target, point.altitude_m)


def great_circle_m(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Haversine distance in metres between WGS-84 degrees, on a sphere of
    :data:`EARTH_RADIUS_M`: floats or numpy arrays (element-wise). The one haversine: store
    photos (:func:`haversine_m`), trust features (whole portfolios) and risk places use it."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.subtract(lon2, lon1))
    h = np.sin(dp / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def haversine_m(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance in metres on a sphere of radius :data:`EARTH_RADIUS_M`.

    Parameters
    ----------
    a, b : GeoPoint
        Both in the same datum.

    Returns
    -------
    float
        Distance in metres (error below 0.5 % against the ellipsoid).

    Raises
    ------
    ValueError
        If the datums differ (convert first with :func:`to_datum`).
    """
    if a.datum != b.datum:
        raise ValueError(f"datums differ: {a.datum} vs {b.datum}")
    return float(great_circle_m(a.lat, a.lon, b.lat, b.lon))


def distance_to_registered(
    photo_point_wgs84: GeoPoint,
    registered_lat: float,
    registered_lon: float,
    registered_datum: str,
) -> float:
    """Distance in metres from a photo's position to the merchant's registered address.

    Parameters
    ----------
    photo_point_wgs84 : GeoPoint
        Position read from the photo's EXIF (WGS-84).
    registered_lat, registered_lon : float
        Geocoded registered address.
    registered_datum : str
        Datum of the registered address: ``"WGS-84"``, ``"GCJ-02"`` or ``"BD-09"``. The photo
        position is converted into it before measuring.

    Returns
    -------
    float
        Great-circle distance in metres.

    Raises
    ------
    ValueError
        On an unknown datum, a non-WGS-84 photo point or out-of-range coordinates.
    """
    registered = GeoPoint(registered_lat, registered_lon, normalize_datum(registered_datum))
    return haversine_m(to_datum(photo_point_wgs84, registered.datum), registered)
