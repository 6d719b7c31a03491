"""EXIF GPS → WGS-84 position: real photos and the awkward value shapes found in the wild."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from paver.kyb.exif import (
    GPS_ALTITUDE,
    GPS_ALTITUDE_REF,
    GPS_LATITUDE,
    GPS_LATITUDE_REF,
    GPS_LONGITUDE,
    GPS_LONGITUDE_REF,
    GPS_MAP_DATUM,
    GPS_STATUS,
    NoPositionError,
    gps_from_ifd,
    photo_position,
    read_gps,
)
from paver.kyb.geo import WGS84, GeoPoint
from paver.kyb.photo import PhotoError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exif"


def R(num: int, den: int = 1) -> IFDRational:
    return IFDRational(num, den)


def ifd(lat: Any, lat_ref: Any, lon: Any, lon_ref: Any) -> dict[int, Any]:
    return {GPS_LATITUDE: lat, GPS_LATITUDE_REF: lat_ref, GPS_LONGITUDE: lon,
            GPS_LONGITUDE_REF: lon_ref}  # fmt: skip


# --- real photos -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "lat", "lon"),
    [("DSCN0010.jpg", 43.467448, 11.885127), ("DSCN0012.jpg", 43.467157, 11.885395)],
)
def test_real_photo_position(name: str, lat: float, lon: float) -> None:
    point = photo_position(FIXTURES / name)
    assert point.datum == WGS84
    assert point.lat == pytest.approx(lat, abs=1e-5)
    assert point.lon == pytest.approx(lon, abs=1e-5)
    # Their GPS block carries an altitude reference but no altitude value.
    assert point.altitude_m is None


def test_real_photo_gps_block_with_only_version_has_no_position() -> None:
    with pytest.raises(NoPositionError) as info:
        photo_position(FIXTURES / "Canon_40D.jpg")
    assert info.value.code == "no_position"
    assert info.value.reason == "no_gps"
    assert isinstance(info.value, PhotoError)


def test_photo_without_exif_has_no_position(tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    Image.new("RGB", (8, 8), "red").save(path)
    with pytest.raises(NoPositionError) as info:
        photo_position(path)
    assert info.value.reason == "no_exif"


def test_exif_stripped_from_real_photo(tmp_path: Path) -> None:
    with Image.open(FIXTURES / "DSCN0010.jpg") as im:
        im.save(tmp_path / "stripped.jpg")  # Pillow drops EXIF unless asked to keep it
    with pytest.raises(NoPositionError) as info:
        photo_position(tmp_path / "stripped.jpg")
    assert info.value.reason == "no_exif"


def test_read_gps_on_open_image() -> None:
    with Image.open(FIXTURES / "DSCN0012.jpg") as im:
        point = read_gps(im)
    assert (point.lat, point.lon) == pytest.approx((43.467157, 11.885395), abs=1e-5)


# --- value shapes ------------------------------------------------------------------------


def test_ifdrational_triples_all_hemispheres() -> None:
    dms = (R(33), R(51), R(354, 10))
    expected = 33 + 51 / 60 + 35.4 / 3600
    for lat_ref, lon_ref, sign_lat, sign_lon in [
        ("N", "E", 1, 1), ("S", "E", -1, 1), ("N", "W", 1, -1), ("S", "W", -1, -1)
    ]:  # fmt: skip
        point = gps_from_ifd(ifd(dms, lat_ref, dms, lon_ref))
        assert point.lat == pytest.approx(sign_lat * expected, abs=1e-12)
        assert point.lon == pytest.approx(sign_lon * expected, abs=1e-12)


def test_piexif_style_tuples_and_bytes_refs() -> None:
    point = gps_from_ifd(
        ifd(((22, 1), (16, 1), (5000, 100)), b"S\x00", ((43, 1), (10, 1), (0, 1)), b"W")
    )
    assert point == GeoPoint(-(22 + 16 / 60 + 50 / 3600), -(43 + 10 / 60), WGS84)


def test_refs_tolerate_case_padding_and_nuls() -> None:
    point = gps_from_ifd(ifd((R(10), R(0), R(0)), " s\x00", (R(20), R(0), R(0)), "w  "))
    assert (point.lat, point.lon) == (-10.0, -20.0)


def test_decimal_degrees_and_decimal_minutes_shapes() -> None:
    # One component: decimal degrees; two components: degrees + decimal minutes.
    point = gps_from_ifd(ifd(R(123456, 10000), "N", (R(100), R(305, 10)), "E"))
    assert point.lat == pytest.approx(12.3456)
    assert point.lon == pytest.approx(100 + 30.5 / 60)
    # Plain numbers and Fractions are accepted too.
    point = gps_from_ifd(ifd((12, 30, 0.0), "N", (Fraction(1, 2), 0, 0), "E"))
    assert (point.lat, point.lon) == (12.5, 0.5)


@pytest.mark.parametrize(
    ("lat", "reason"),
    [
        ((R(0, 0), R(0, 0), R(0, 0)), "zero_denominator"),
        ((R(43), R(28, 0), R(2)), "zero_denominator"),
        (((43, 1), (28, 0), (2, 1)), "zero_denominator"),
        (((0, 0), (0, 0), (0, 0)), "zero_denominator"),
        ((R(91), R(0), R(0)), "out_of_range"),
        ((R(90), R(0), R(1)), "out_of_range"),
        ((R(43), R(60), R(0)), "out_of_range"),
        ((R(43), R(0), R(75)), "out_of_range"),
        (((-43, 1), (0, 1), (0, 1)), "out_of_range"),
        (((10**400, 1), (0, 1), (0, 1)), "out_of_range"),
        ((math.nan, 0, 0), "malformed_value"),
        ((math.inf, 0, 0), "malformed_value"),
        ("43,28,2", "malformed_value"),
        (b"\x00\x01", "malformed_value"),
        ((), "malformed_value"),
        ((R(1), R(2), R(3), R(4)), "malformed_value"),
        ((True, 0, 0), "malformed_value"),
        ((None, 0, 0), "malformed_value"),
    ],
)
def test_bad_latitude_values(lat: Any, reason: str) -> None:
    with pytest.raises(NoPositionError) as info:
        gps_from_ifd(ifd(lat, "N", (R(11), R(53), R(6)), "E"))
    assert info.value.reason == reason
    assert info.value.code == "no_position"


def test_longitude_limit_is_180() -> None:
    point = gps_from_ifd(ifd((R(10),), "N", (R(179), R(59), R(59)), "W"))
    assert point.lon == pytest.approx(-(179 + 59 / 60 + 59 / 3600))
    with pytest.raises(NoPositionError) as info:
        gps_from_ifd(ifd((R(10),), "N", (R(180), R(0), R(1)), "E"))
    assert info.value.reason == "out_of_range"


@pytest.mark.parametrize(
    ("lat_ref", "lon_ref", "reason"),
    [
        (None, "E", "missing_reference"),
        ("N", None, "missing_reference"),
        ("X", "E", "bad_reference"),
        ("N", "N", "bad_reference"),
        ("", "E", "bad_reference"),
        (b"\xff", "E", "bad_reference"),
        (7, "E", "bad_reference"),
        ("North", "E", "bad_reference"),
    ],
)
def test_bad_references(lat_ref: Any, lon_ref: Any, reason: str) -> None:
    gps = ifd((R(10), R(0), R(0)), lat_ref, (R(20), R(0), R(0)), lon_ref)
    gps = {k: v for k, v in gps.items() if v is not None}
    with pytest.raises(NoPositionError) as info:
        gps_from_ifd(gps)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("gps", "reason"),
    [
        (None, "no_gps"),
        ({}, "no_gps"),
        ({0: b"\x02\x02\x00\x00"}, "no_gps"),
        ({GPS_LATITUDE: (R(10), R(0), R(0)), GPS_LATITUDE_REF: "N"}, "missing_longitude"),
        ({GPS_LONGITUDE: (R(10), R(0), R(0)), GPS_LONGITUDE_REF: "E"}, "missing_latitude"),
        ("not a mapping", "no_gps"),
    ],
)
def test_missing_or_empty_gps_blocks(gps: Any, reason: str) -> None:
    with pytest.raises(NoPositionError) as info:
        gps_from_ifd(gps)
    assert info.value.reason == reason


def test_void_fix_null_island_and_datum() -> None:
    good = ifd((R(10), R(0), R(0)), "N", (R(20), R(0), R(0)), "E")
    with pytest.raises(NoPositionError, match="void"):
        gps_from_ifd({**good, GPS_STATUS: "V"})
    assert gps_from_ifd({**good, GPS_STATUS: "A"}).lat == 10.0
    zero = ifd((R(0), R(0), R(0)), "N", (R(0), R(0), R(0)), "E")
    with pytest.raises(NoPositionError) as info:
        gps_from_ifd(zero)
    assert info.value.reason == "null_island"
    with pytest.raises(NoPositionError) as info:
        gps_from_ifd({**good, GPS_MAP_DATUM: "TOKYO"})
    assert info.value.reason == "unsupported_datum"
    for datum in ("WGS-84   ", b"WGS84\x00", "wgs 84", "", "\x00"):
        assert gps_from_ifd({**good, GPS_MAP_DATUM: datum}).lon == 20.0


@pytest.mark.parametrize(
    ("alt", "ref", "expected"),
    [
        (R(125, 10), b"\x00", 12.5),
        (R(125, 10), b"\x01", -12.5),
        (R(125, 10), 1, -12.5),
        (R(125, 10), "0", 12.5),
        ((30, 1), (1,), -30.0),
        (R(125, 10), None, 12.5),  # a missing ref means above sea level
        (R(125, 0), b"\x00", None),  # x/0 altitude is dropped, the position is kept
        (R(125, 10), b"\x07", None),
        (R(125, 10), b"", None),
        (R(10**9), b"\x00", None),
        ("high", b"\x00", None),
    ],
)
def test_altitude_is_optional_and_robust(alt: Any, ref: Any, expected: float | None) -> None:
    gps = ifd((R(10), R(0), R(0)), "N", (R(20), R(0), R(0)), "E")
    gps[GPS_ALTITUDE] = alt
    if ref is not None:
        gps[GPS_ALTITUDE_REF] = ref
    point = gps_from_ifd(gps)
    assert (point.lat, point.lon) == (10.0, 20.0)
    assert point.altitude_m == expected


# --- fuzz: arbitrary junk in the GPS block never escapes as anything but NoPositionError ---

_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.fractions(),
    st.text(max_size=6),
    st.binary(max_size=6),
    st.builds(IFDRational, st.integers(-(10**12), 10**12), st.integers(-5, 10**6)),
    st.tuples(st.integers(-(10**6), 10**6), st.integers(-3, 10**6)),
)
_value = st.one_of(_scalar, st.lists(_scalar, max_size=4).map(tuple), st.lists(_scalar, max_size=4))
_ref = st.one_of(st.sampled_from(["N", "S", "E", "W", b"N", b"S", b"E", b"W", "V"]), _scalar)


@given(
    gps=st.dictionaries(
        st.sampled_from([0, GPS_LATITUDE_REF, GPS_LATITUDE, GPS_LONGITUDE_REF, GPS_LONGITUDE,
                         GPS_ALTITUDE_REF, GPS_ALTITUDE, GPS_STATUS, GPS_MAP_DATUM]),
        st.one_of(_value, _ref),
        max_size=9,
    )
)  # fmt: skip
@settings(max_examples=300, deadline=None)
def test_fuzz_gps_block_values(gps: dict[int, Any]) -> None:
    try:
        point = gps_from_ifd(gps)
    except NoPositionError as exc:
        assert exc.code == "no_position"
        assert exc.reason
        return
    assert -90.0 <= point.lat <= 90.0
    assert -180.0 <= point.lon <= 180.0
    assert point.datum == WGS84
    assert point.altitude_m is None or math.isfinite(point.altitude_m)
