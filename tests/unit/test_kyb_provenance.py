"""Photo provenance signals: capture time, editing software, perceptual hash and its bands."""

from __future__ import annotations

import io
import itertools
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import imagehash
import piexif
import pytest
from PIL import Image

from paver.kyb import provenance
from paver_dev.photo_gen import make_store_photo, qr_image

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exif"
CST = timezone(timedelta(hours=8))


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_256_bit_hash_tells_generated_storefronts_apart_where_64_bits_cannot() -> None:
    """Why PHASH_SIZE is 16: 30 generated shops, each showing its own code (measured: the
    closest pair is 2 of 64 bits apart but 26 of 256; a re-encoded copy stays within 6)."""
    shots = [_open(make_store_photo(30.0, 120.0, seed=s,
                                    qr=qr_image(f"000201010212261800{s:04d}14com.paver.pay")))
             for s in range(30)]
    small = [imagehash.phash(im) for im in shots]
    assert min(a - b for a, b in itertools.combinations(small, 2)) <= 6  # 64 bits collide
    big = [provenance.perceptual_hash(im) for im in shots]
    assert min(provenance.hamming(a, b) for a, b in itertools.combinations(big, 2)) > 12
    for im, h in zip(shots[:8], big[:8], strict=True):  # a re-encoded copy stays close
        out = io.BytesIO()
        im.resize((480, 360)).save(out, "JPEG", quality=55)
        assert provenance.hamming(provenance.perceptual_hash(_open(out.getvalue())), h) <= 6


def test_hash_has_imagehash_phash_bits_without_scipy() -> None:
    """The numpy DCT gives imagehash's own bits (hashes stored before stay comparable), on
    generated storefronts, real photos and a recompressed, rescaled copy."""
    shots = [_open(make_store_photo(31.0, 121.0, seed=s,
                                    qr=qr_image(f"000201010212261800{s:04d}14com.paver.pay")))
             for s in range(12)]
    shots += [Image.open(f) for f in sorted(FIXTURES.glob("*.jpg"))]
    out = io.BytesIO()
    shots[0].resize((333, 250)).save(out, "JPEG", quality=40)
    shots.append(_open(out.getvalue()))
    for im in shots:
        assert provenance.perceptual_hash(im) == str(imagehash.phash(
            im, hash_size=provenance.PHASH_SIZE))


def test_real_photos_of_one_scene_are_different_photos() -> None:
    """Two real shots 70 s apart from the same spot are not one photo reused."""
    a, b = (provenance.perceptual_hash(Image.open(FIXTURES / f))
            for f in ("DSCN0010.jpg", "DSCN0012.jpg"))
    assert len(a) == 64 and provenance.hamming(a, b) > 32


def test_hashes_within_seven_bits_share_a_band() -> None:
    rng = random.Random(3)
    for _ in range(200):
        a = rng.getrandbits(provenance.PHASH_BITS)
        flips = rng.sample(range(provenance.PHASH_BITS), rng.randint(0, 7))
        b = a
        for bit in flips:
            b ^= 1 << bit
        ha, hb = (f"{x:064x}" for x in (a, b))
        assert provenance.hamming(ha, hb) == len(flips)
        assert set(provenance.bands(ha)) & set(provenance.bands(hb))


def test_capture_time_reads_the_offset_or_assumes_the_shop_zone() -> None:
    photo = make_store_photo(30.0, 120.0, taken_at=datetime(2026, 3, 1, 9, 30))
    assert provenance.capture_time(_open(photo), CST) == datetime(2026, 3, 1, 9, 30, tzinfo=CST)
    exif = piexif.load(photo)
    exif["Exif"][piexif.ExifIFD.OffsetTimeOriginal] = b"+01:00"
    out = io.BytesIO()
    piexif.insert(piexif.dump(exif), photo, out)
    taken = provenance.capture_time(_open(out.getvalue()), CST)
    assert taken is not None and taken.astimezone(UTC) == datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    assert provenance.capture_time(Image.new("RGB", (8, 8)), CST) is None
    real = provenance.capture_time(Image.open(FIXTURES / "DSCN0010.jpg"), CST)
    assert real == datetime(2008, 10, 22, 16, 28, 39, tzinfo=CST)


@pytest.mark.parametrize(("tag", "editor"), [
    ("GIMP 2.4.5", "GIMP"), ("Adobe Photoshop Lightroom Classic 13.0", "Photoshop"),
    ("美图秀秀", "美图"), ("Nikon Transfer 1.1 W", None), ("iOS 17.1", None), (None, None)])
def test_editing_software(tag: str | None, editor: str | None) -> None:
    assert provenance.edited_by(tag, ["Photoshop", "Lightroom", "GIMP", "美图"]) == editor


def test_upload_age() -> None:
    up = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    assert provenance.upload_age_hours(datetime(2026, 3, 1, 9, 30, tzinfo=CST), up) == 24.0
    assert provenance.upload_age_hours(None, up) is None
