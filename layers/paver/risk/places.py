"""Addresses as places (claim 4): a coarse location for devices, and distances between them.

A device's place is the region it reports (``devices.csv`` column ``region``). An offline
IP-to-region table would need a licensed database shipped in a package: the ones on PyPI carry
country-level data under MaxMind's GeoLite2 terms (too coarse inside one country, and the
licence is not ours to redistribute), so Paver uses the reported region. Region centres below
are those of the synthetic world's regions (a representative city each); a region without a
centre still counts for mismatches, its distance is unknown (0).
"""

from __future__ import annotations

#: Representative centre (latitude, longitude, WGS-84) of each known region.
REGION_CENTRES: dict[str, tuple[float, float]] = {
    "east": (31.2304, 121.4737),  # Shanghai
    "south": (23.1291, 113.2644),  # Guangzhou
    "north": (39.9042, 116.4074),  # Beijing
    "west": (30.5728, 104.0668),  # Chengdu
    "central": (30.5928, 114.3055),  # Wuhan
}


def haversine_km(p: tuple[float, float], q: tuple[float, float]) -> float:
    """Great-circle distance in km between two (lat, lon) points (the one haversine,
    :func:`paver.kyb.geo.great_circle_m`)."""
    from paver.kyb.geo import great_circle_m

    return float(great_circle_m(p[0], p[1], q[0], q[1])) / 1000.0


def region_distance_km(r1: str | None, r2: str | None) -> float:
    """Distance between two regions' centres (0 when either is unknown or has no centre)."""
    if not r1 or not r2:
        return 0.0
    p, q = REGION_CENTRES.get(r1.strip().lower()), REGION_CENTRES.get(r2.strip().lower())
    return haversine_km(p, q) if p and q else 0.0
