"""Synthetic store photos: the EXIF they write reads back (both hemispheres), QR scenes scan."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import piexif
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paver.kyb.exif import NoPositionError, photo_position
from paver.kyb.photo import decode_qr_payloads, open_photo, sniff_image_type
from paver_dev.photo_gen import (
    SECONDS_DENOMINATOR,
    exif_bytes,
    gps_ifd,
    make_store_photo,
    qr_image,
    to_dms_rationals,
)

#: Half of the stored seconds resolution, in degrees.
HALF_STEP_DEG = 0.5 / SECONDS_DENOMINATOR / 3600


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (-33.856784, 151.215297),  # Sydney: south, east
        (-22.951916, -43.210487),  # Rio de Janeiro: south, west
        (40.689247, -74.044502),  # New York: north, west
        (31.239692, 121.499755),  # Shanghai: north, east
        (-54.8019, -68.303),  # Ushuaia
        (0.0001, -0.0001),  # next to both zero lines
    ],
)
def test_generated_jpeg_position_round_trip(lat: float, lon: float) -> None:
    data = make_store_photo(lat, lon, size=(160, 120))
    assert sniff_image_type(data) == "jpeg"
    point = photo_position(data)
    assert point.lat == pytest.approx(lat, abs=HALF_STEP_DEG + 1e-12)
    assert point.lon == pytest.approx(lon, abs=HALF_STEP_DEG + 1e-12)
    assert (point.lat < 0) == (lat < 0) and (point.lon < 0) == (lon < 0)


def test_generated_exif_fields_round_trip_through_piexif() -> None:
    taken = datetime(2025, 12, 24, 18, 5, 9)
    data = make_store_photo(-12.0464, -77.0428, altitude_m=-3.25, taken_at=taken, size=(64, 48))
    loaded = piexif.load(data)
    gps = loaded["GPS"]
    assert gps[piexif.GPSIFD.GPSLatitudeRef] == b"S"
    assert gps[piexif.GPSIFD.GPSLongitudeRef] == b"W"
    assert gps[piexif.GPSIFD.GPSLatitude] == to_dms_rationals(-12.0464)
    assert gps[piexif.GPSIFD.GPSMapDatum] == b"WGS-84"
    assert gps[piexif.GPSIFD.GPSAltitudeRef] == 1
    assert loaded["Exif"][piexif.ExifIFD.DateTimeOriginal] == b"2025:12:24 18:05:09"
    assert loaded["0th"][piexif.ImageIFD.Make] == b"Paver"
    point = photo_position(data)
    assert point.altitude_m == pytest.approx(-3.25)
    assert point.lat == pytest.approx(-12.0464, abs=HALF_STEP_DEG)


def test_photo_without_gps() -> None:
    data = make_store_photo(None, None, size=(64, 48))
    assert piexif.load(data)["GPS"] == {}
    assert piexif.load(data)["0th"][piexif.ImageIFD.Model] == b"StoreCam 1"
    with pytest.raises(NoPositionError) as info:
        photo_position(data)
    assert info.value.reason == "no_gps"


def test_half_given_position_is_an_error() -> None:
    with pytest.raises(ValueError, match="both"):
        exif_bytes(10.0, None)
    with pytest.raises(ValueError, match="out of range"):
        gps_ifd(95.0, 0.0)


def test_dms_carry_does_not_produce_sixty_seconds() -> None:
    # 10.99999999° is 10° 59' 59.999964" which rounds up to exactly 11° 0' 0".
    assert to_dms_rationals(10.99999999) == ((11, 1), (0, 1), (0, SECONDS_DENOMINATOR))
    assert to_dms_rationals(-0.5) == ((0, 1), (30, 1), (0, SECONDS_DENOMINATOR))


@given(st.floats(min_value=-180.0, max_value=180.0, allow_nan=False))
@settings(max_examples=300, deadline=None)
def test_dms_rationals_round_trip(value: float) -> None:
    (deg, one), (minutes, one_m), (sec, den) = to_dms_rationals(value)
    assert one == one_m == 1 and den == SECONDS_DENOMINATOR
    assert 0 <= minutes < 60 and 0 <= sec < 60 * SECONDS_DENOMINATOR
    assert deg + minutes / 60 + sec / den / 3600 == pytest.approx(abs(value), abs=HALF_STEP_DEG)


def test_large_qr_is_scaled_into_the_scene_and_still_scans() -> None:
    payload = "https://pay.example.cn/c/" + "Z" * 60
    big = qr_image(payload, box_size=12)  # taller than 40 % of a 480-pixel scene
    assert big.height > 480 * 0.4
    data = make_store_photo(22.5431, 114.0579, qr=big, seed=11)
    assert decode_qr_payloads(open_photo(data)) == [payload]


# ------------------------------------------------------------------ photos of real prints

def test_photo_of_a_real_print_in_a_real_scene_reads_back() -> None:
    """The rendered print, tilted and scaled into a real photo, JPEG: position and payload."""
    import io

    from PIL import Image

    from paver import emv
    from paver.render import render_code
    from paver_dev.photo_gen import PHOTO_SIZE, REAL_PHOTOS, photo_of_print

    assert len(REAL_PHOTOS) >= 2
    payload = emv.build_aggregated_code(
        emv.MerchantAccount("com.paver.pay", "M1"), emv.MerchantAccount("cn.bank.pay", "B1"),
        "Noodle Bar", "Lanzhou", "5812", name_zh="兰州牛肉面", city_zh="兰州")
    for seed, skin in enumerate(["xinjiang_desert", "neutral_stand", "jiangnan_blue"]):
        printed = render_code(payload, skin).data
        data = make_store_photo(36.0611, 103.8343, printed=printed, seed=seed, quality=70)
        photo = open_photo(data)
        assert photo.size == PHOTO_SIZE
        assert decode_qr_payloads(photo) == [payload], skin
        point = photo_position(data)
        assert abs(point.lat - 36.0611) < 1e-5 and abs(point.lon - 103.8343) < 1e-5
    # Around the print the picture is one of the real photos, pixel for pixel (before JPEG).
    scene = np.asarray(photo_of_print(render_code(payload, "lingnan_red").data, seed=0,
                                      height_fraction=0.5))
    backgrounds = []
    for path in REAL_PHOTOS:
        with Image.open(path) as real:
            backgrounds.append(np.asarray(real.convert("RGB").resize(PHOTO_SIZE,
                                                                     Image.Resampling.BICUBIC)))
    corners = [(slice(0, 30), slice(0, 30)), (slice(-30, None), slice(-30, None)),
               (slice(0, 30), slice(-30, None)), (slice(-30, None), slice(0, 30))]
    assert any((scene[c] == bg[c]).all() for c in corners for bg in backgrounds)
    assert not any((scene == bg).all() for bg in backgrounds)  # the print is in it
    with pytest.raises(ValueError, match="height_fraction"):
        photo_of_print(io.BytesIO(render_code(payload, "lingnan_red").data).getvalue(),
                       height_fraction=1.2)
