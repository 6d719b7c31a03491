"""Photo intake: byte sniffing, size and pixel limits, safe decoding, QR payloads."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from paver.kyb.exif import NoPositionError, photo_position
from paver.kyb.photo import (
    PhotoError,
    decode_qr_payloads,
    open_photo,
    read_photo_bytes,
    sniff_image_type,
)
from paver_dev.photo_gen import exif_bytes, make_store_photo, qr_image, store_scene

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exif"


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def code_of(data: object, **limits: int) -> str:
    with pytest.raises(PhotoError) as info:
        open_photo(data, **limits)  # type: ignore[arg-type]
    return info.value.code


# --- sniffing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "kind"), [("JPEG", "jpeg"), ("PNG", "png"), ("WEBP", "webp"), ("HEIF", "heif")]
)
def test_sniff_real_encodings(fmt: str, kind: str) -> None:
    data = encode(Image.new("RGB", (16, 16), "teal"), fmt)
    assert sniff_image_type(data[:64]) == kind
    image = open_photo(data)
    assert image.format == fmt
    assert image.size == (16, 16)


@pytest.mark.parametrize(
    "head",
    [
        b"GIF89a\x10\x00\x10\x00",
        b"GIF87a",
        b"BM6\x00\x00\x00",
        b"II*\x00\x08\x00\x00\x00",  # TIFF
        b"MM\x00*",
        b"%PDF-1.7\n",
        b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf",
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00isommp42",  # MP4 video
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        b"\xff\xd8",  # truncated JPEG marker
        b"<?xml version='1.0'?><svg/>",
        b"",
    ],
)
def test_sniff_refuses_other_types(head: bytes) -> None:
    assert sniff_image_type(head) is None


def test_sniff_heif_by_compatible_brand() -> None:
    assert sniff_image_type(b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic") == "heif"
    assert sniff_image_type(b"\x00\x00\x00\x14ftypXXXX\x00\x00\x00\x00heix") == "heif"


def test_text_file_named_jpg_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "storefront.jpg"
    path.write_text("this is not a photo\n")
    assert code_of(path) == "unsupported_type"


def test_gif_is_refused_even_when_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "storefront.jpg"
    Image.new("P", (10, 10)).save(path, format="GIF")
    assert path.read_bytes()[:4] == b"GIF8"
    assert code_of(path) == "unsupported_type"
    with pytest.raises(PhotoError) as info:
        photo_position(path)
    assert info.value.code == "unsupported_type"


def test_png_named_jpg_is_accepted_as_png(tmp_path: Path) -> None:
    path = tmp_path / "storefront.jpg"
    Image.new("RGB", (10, 10)).save(path, format="PNG")
    assert open_photo(path).format == "PNG"


def test_multi_picture_jpeg_from_phones_is_accepted() -> None:
    # Phones write MPO-flavoured JPEGs (gain maps, depth); Pillow reports them as "MPO".
    first, second = Image.new("RGB", (32, 32), "red"), Image.new("RGB", (32, 32), "blue")
    data = encode(first, "MPO", save_all=True, append_images=[second],
                  exif=exif_bytes(-1.5, -2.25))  # fmt: skip
    assert sniff_image_type(data) == "jpeg"
    assert open_photo(data).format == "MPO"
    assert (photo_position(data).lat, photo_position(data).lon) == (-1.5, -2.25)


def test_jpeg_magic_with_garbage_is_corrupt() -> None:
    assert code_of(b"\xff\xd8\xff\xe0" + b"garbage" * 20) == "corrupt_image"


def test_truncated_jpeg_is_corrupt() -> None:
    data = make_store_photo(10.0, 20.0, size=(320, 240))
    assert code_of(data[: len(data) // 2]) == "corrupt_image"


# --- limits --------------------------------------------------------------------------------


def test_byte_limit_is_checked_before_parsing() -> None:
    data = make_store_photo(10.0, 20.0, size=(160, 120))
    assert code_of(data, max_bytes=len(data) - 1) == "too_large"
    assert code_of(b"x" * 1000, max_bytes=999) == "too_large"  # not even sniffed
    assert open_photo(data, max_bytes=len(data)).size == (160, 120)
    with pytest.raises(PhotoError) as info:
        read_photo_bytes(io.BytesIO(b"y" * 50), max_bytes=49)
    assert info.value.code == "too_large"


def test_empty_and_unreadable_sources(tmp_path: Path) -> None:
    assert code_of(b"") == "empty_file"
    assert code_of(tmp_path / "missing.jpg") == "unreadable_file"
    assert code_of(tmp_path) == "unreadable_file"  # a directory


def test_file_object_source() -> None:
    data = (FIXTURES / "DSCN0010.jpg").read_bytes()
    with io.BytesIO(data) as fh:
        assert open_photo(fh).size == (640, 480)


def test_pixel_cap() -> None:
    data = encode(Image.new("RGB", (400, 300)), "PNG")
    assert code_of(data, max_pixels=400 * 300 - 1) == "decompression_bomb"
    assert open_photo(data, max_pixels=400 * 300).size == (400, 300)


def _jpeg_with_size(width: int, height: int) -> bytes:
    """A small real JPEG whose SOF header claims another size (a decompression bomb)."""
    data = bytearray(encode(Image.new("L", (8, 8)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _png_with_size(width: int, height: int) -> bytes:
    """A small real PNG whose IHDR claims another size (CRC fixed up)."""
    data = bytearray(encode(Image.new("L", (8, 8)), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


# a timeout, not a wall-clock assert: decoding 9e8 pixels would hang here, not be slow
@pytest.mark.timeout(20)
@pytest.mark.parametrize("make", [_jpeg_with_size, _png_with_size])
def test_header_claiming_huge_size_is_refused_before_decoding(make) -> None:  # type: ignore[no-untyped-def]
    assert code_of(make(30_000, 30_000)) == "decompression_bomb"  # 9e8 px: our cap


@pytest.mark.parametrize("make", [_jpeg_with_size, _png_with_size])
def test_pillow_bomb_warning_is_an_error(make, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # Even with our own cap lifted, Pillow's limit holds: its warning (between 1x and 2x
    # MAX_IMAGE_PIXELS) is escalated, its error (beyond 2x) is mapped.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)
    warned = make(1200, 1000)  # 1.2e6 px: DecompressionBombWarning
    errored = make(3000, 1000)  # 3e6 px: DecompressionBombError
    assert code_of(warned, max_pixels=10**12) == "decompression_bomb"
    assert code_of(errored, max_pixels=10**12) == "decompression_bomb"


# --- formats with EXIF ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "heif"])
def test_position_round_trip_every_format(fmt: str) -> None:
    data = make_store_photo(-33.8568, -151.2153, size=(160, 120), fmt=fmt)  # type: ignore[arg-type]
    assert sniff_image_type(data[:64]) == fmt
    point = photo_position(data)
    assert point.lat == pytest.approx(-33.8568, abs=1e-7)
    assert point.lon == pytest.approx(-151.2153, abs=1e-7)


def test_heic_without_gps_has_no_position() -> None:
    data = make_store_photo(None, None, size=(160, 120), fmt="heif")
    with pytest.raises(NoPositionError) as info:
        photo_position(data)
    assert info.value.reason == "no_gps"


# --- QR payloads ---------------------------------------------------------------------------

EMV_LIKE = (
    "000201010212263800146D617374657270617932303235010812345678"
    "5204581253031565802CN5912Paver Noodle6007SHANGHAI6304A1B2"
)


def test_decode_qr_payload_in_store_photo() -> None:
    data = make_store_photo(31.23, 121.47, qr=qr_image(EMV_LIKE, box_size=3), seed=7)
    assert decode_qr_payloads(open_photo(data)) == [EMV_LIKE]


def test_decode_qr_none_and_several() -> None:
    assert decode_qr_payloads(store_scene((320, 240), seed=3)) == []
    scene = store_scene((640, 480), seed=1)
    scene.paste(qr_image("merchant-A", box_size=4), (10, 250))
    scene.paste(qr_image("merchant-B", box_size=4), (430, 250))
    assert sorted(decode_qr_payloads(scene)) == ["merchant-A", "merchant-B"]
    grey = scene.convert("L")
    assert sorted(decode_qr_payloads(grey)) == ["merchant-A", "merchant-B"]


# --- fuzz: mutated bytes of a small JPEG/PNG with EXIF GPS ---------------------------------

_BASE_JPEG = make_store_photo(-22.9068, -43.1729, size=(48, 36), quality=60)
_BASE_PNG = make_store_photo(-22.9068, -43.1729, size=(48, 36), fmt="png")
_APP1 = _BASE_JPEG.index(b"\xff\xe1")
_APP1_END = _APP1 + 2 + struct.unpack(">H", _BASE_JPEG[_APP1 + 2 : _APP1 + 4])[0]


_EXIF_CHUNK = _BASE_PNG.index(b"eXIf")
_EXIF_LEN = struct.unpack(">I", _BASE_PNG[_EXIF_CHUNK - 4 : _EXIF_CHUNK])[0]


def _mutations(size: int, hot_start: int, hot_end: int) -> st.SearchStrategy:
    position = st.one_of(st.integers(hot_start, hot_end - 1), st.integers(0, size - 1))
    return st.lists(st.tuples(position, st.integers(0, 255)), min_size=1, max_size=12)


def _check_photo(blob: bytes) -> None:
    try:
        point = photo_position(blob)
    except PhotoError as exc:
        assert exc.code in {"no_position", "corrupt_image", "unsupported_type",
                            "decompression_bomb", "empty_file"}  # fmt: skip
    else:
        assert -90 <= point.lat <= 90 and -180 <= point.lon <= 180


@pytest.mark.timeout(300)  # a damaged photo that makes the parser loop fails the test
@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
@given(
    mutations=_mutations(len(_BASE_JPEG), _APP1, _APP1_END),
    cut=st.one_of(st.none(), st.integers(1, len(_BASE_JPEG))),
)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_jpeg_exif_bytes(mutations: list[tuple[int, int]], cut: int | None) -> None:
    data = bytearray(_BASE_JPEG)
    for pos, byte in mutations:
        data[pos] = byte
    _check_photo(bytes(data[:cut] if cut else data))


@pytest.mark.timeout(300)
@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
@given(
    mutations=st.lists(
        st.tuples(st.integers(0, _EXIF_LEN - 1), st.integers(0, 255)), min_size=1, max_size=12
    )
)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_png_exif_chunk(mutations: list[tuple[int, int]]) -> None:
    # Mutate only the eXIf payload and fix its CRC, so the EXIF parser (not the PNG
    # checksum) is what meets the damage.
    data = bytearray(_BASE_PNG)
    start = _EXIF_CHUNK + 4
    for pos, byte in mutations:
        data[start + pos] = byte
    crc_at = start + _EXIF_LEN
    data[crc_at : crc_at + 4] = struct.pack(">I", zlib.crc32(bytes(data[_EXIF_CHUNK:crc_at])))
    _check_photo(bytes(data))


def test_fuzz_base_is_valid() -> None:
    # Guard the fuzz tests: the unmutated inputs must yield the position.
    for base in (_BASE_JPEG, _BASE_PNG):
        point = photo_position(base)
        assert (point.lat, point.lon) == pytest.approx((-22.9068, -43.1729), abs=1e-7)
