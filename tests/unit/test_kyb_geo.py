"""Datums and distances for the binding check."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paver.kyb.geo import (
    BD09,
    GCJ02,
    WGS84,
    GeoPoint,
    distance_to_registered,
    gcj02_to_bd09,
    haversine_m,
    normalize_datum,
    out_of_china,
    to_datum,
    wgs84_to_gcj02,
)

# Published outputs of the public algorithm (wandergis/coordtransform README and tests,
# input lng 116.404, lat 39.915).
TIANANMEN_WGS = (39.915, 116.404)
TIANANMEN_GCJ = (39.91640428150164, 116.41024449916938)
TIANANMEN_GCJ_TO_BD = (39.92133699351021, 116.41036949371029)


def test_wgs84_to_gcj02_matches_published_value() -> None:
    lat, lon = wgs84_to_gcj02(*TIANANMEN_WGS)
    assert lat == pytest.approx(TIANANMEN_GCJ[0], abs=1e-12)
    assert lon == pytest.approx(TIANANMEN_GCJ[1], abs=1e-12)


@pytest.mark.parametrize(
    ("wgs", "gcj"),
    [
        ((40.0, 116.0), (40.001213650174, 116.006141221789)),
        ((30.6107779, 121.0917077), (30.608604331756705, 121.09626935575027)),
    ],
)
def test_wgs84_to_gcj02_agrees_with_other_implementations(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    # Other published ports differ from the reference in the 8th decimal (about 1 cm).
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-6)


def test_gcj02_to_bd09_matches_published_value() -> None:
    lat, lon = gcj02_to_bd09(*TIANANMEN_WGS)
    assert (lat, lon) == pytest.approx(TIANANMEN_GCJ_TO_BD, abs=1e-12)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(43.467448, 11.885127), (-33.8568, 151.2153), (40.7128, -74.006), (0.0, 0.0), (60.0, 100.0)],
)
def test_gcj02_is_identity_outside_china(lat: float, lon: float) -> None:
    assert out_of_china(lat, lon)
    assert wgs84_to_gcj02(lat, lon) == (lat, lon)


@given(
    lat=st.floats(min_value=18.0, max_value=53.0),
    lon=st.floats(min_value=74.0, max_value=135.0),
)
@settings(max_examples=200, deadline=None)
def test_gcj02_offset_inside_china_is_tens_to_hundreds_of_metres(lat: float, lon: float) -> None:
    wgs = GeoPoint(lat, lon)
    gcj = to_datum(wgs, GCJ02)
    offset = haversine_m(GeoPoint(wgs.lat, wgs.lon, GCJ02), gcj)
    assert 1.0 < offset < 1000.0


def test_haversine_known_distances() -> None:
    # One degree of latitude on the mean sphere.
    one_degree = haversine_m(GeoPoint(0.0, 10.0), GeoPoint(1.0, 10.0))
    assert one_degree == pytest.approx(2 * math.pi * 6_371_008.8 / 360, rel=1e-12)
    # Paris – London is about 344 km.
    paris_london = haversine_m(GeoPoint(48.8566, 2.3522), GeoPoint(51.5074, -0.1278))
    assert paris_london == pytest.approx(343_900, rel=0.005)
    # Antipodes: half the circumference, no domain error from rounding.
    half = haversine_m(GeoPoint(0.0, 0.0), GeoPoint(0.0, 180.0))
    assert half == pytest.approx(math.pi * 6_371_008.8, rel=1e-12)
    assert haversine_m(GeoPoint(-33.0, -70.0), GeoPoint(-33.0, -70.0)) == 0.0


def test_haversine_refuses_mixed_datums() -> None:
    with pytest.raises(ValueError, match="datums differ"):
        haversine_m(GeoPoint(39.9, 116.4, WGS84), GeoPoint(39.9, 116.4, GCJ02))


def test_distance_to_registered_converts_to_gcj02() -> None:
    photo = GeoPoint(*TIANANMEN_WGS)
    # The registered address geocoded by a Chinese map (GCJ-02) for the same spot.
    same_spot = distance_to_registered(photo, *TIANANMEN_GCJ, "GCJ-02")
    assert same_spot < 0.01
    # Measuring naively in mixed datums would report the GCJ offset (~500 m here).
    naive = haversine_m(photo, GeoPoint(*TIANANMEN_GCJ, WGS84))
    assert 400.0 < naive < 700.0
    # Registered in WGS-84: no conversion.
    assert distance_to_registered(photo, *TIANANMEN_WGS, "WGS-84") == 0.0
    assert distance_to_registered(photo, *TIANANMEN_GCJ, "wgs84") == pytest.approx(naive)


def test_distance_to_registered_bd09() -> None:
    photo = GeoPoint(*TIANANMEN_WGS)
    bd = gcj02_to_bd09(*TIANANMEN_GCJ)
    assert distance_to_registered(photo, *bd, "bd09") < 0.01


def test_distance_to_registered_outside_china_and_southern_western() -> None:
    photo = GeoPoint(-34.6037, -58.3816)  # Buenos Aires
    # Outside China GCJ-02 equals WGS-84, so both datums give the same distance.
    a = distance_to_registered(photo, -34.6047, -58.3816, "GCJ-02")
    b = distance_to_registered(photo, -34.6047, -58.3816, "WGS-84")
    assert a == b == pytest.approx(111.2, abs=0.5)


def test_distance_to_registered_validates_inputs() -> None:
    photo = GeoPoint(*TIANANMEN_WGS)
    with pytest.raises(ValueError, match="unknown datum"):
        distance_to_registered(photo, 39.9, 116.4, "ETRS89")
    with pytest.raises(ValueError, match="latitude"):
        distance_to_registered(photo, 91.0, 116.4, "GCJ-02")
    with pytest.raises(ValueError, match="WGS-84"):
        distance_to_registered(GeoPoint(39.9, 116.4, GCJ02), 39.9, 116.4, "GCJ-02")


@pytest.mark.parametrize(
    ("lat", "lon", "datum"),
    [(90.1, 0.0, WGS84), (0.0, -180.5, WGS84), (math.nan, 0.0, WGS84), (0.0, math.inf, WGS84),
     (1.0, 1.0, "ED50")],
)  # fmt: skip
def test_geopoint_rejects_bad_values(lat: float, lon: float, datum: str) -> None:
    with pytest.raises(ValueError):
        GeoPoint(lat, lon, datum)


def test_normalize_datum_aliases() -> None:
    assert normalize_datum("wgs84") == WGS84
    assert normalize_datum("WGS 1984") == WGS84
    assert normalize_datum("gcj-02") == GCJ02
    assert normalize_datum("BD09") == BD09
