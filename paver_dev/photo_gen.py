"""Generate synthetic store photos for tests and demos (developer tooling: not shipped to Lambda).

A photo is saved as JPEG (or PNG, WebP, HEIF) with EXIF written by piexif: camera make/model,
capture time and — unless told otherwise — a GPS block (WGS-84) for the given coordinates. Its
picture is either

- a real photo (``assets/photos``, CC BY-SA 4.0) with a real print composited into it
  (:func:`photo_of_print`): the print-ready PNG the API serves for a code, scaled, tilted in
  perspective, rotated, lit unevenly and JPEG-compressed as a phone camera would, or
- a cheap drawn storefront (:func:`store_scene`) with a plain QR image pasted on the counter.

Binding reads the code back with the project's reader (:mod:`paver.qr_reader`).
"""

from __future__ import annotations

import io
import random
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import piexif
from PIL import Image, ImageDraw, ImageFilter

from paver.certify import perspective_coeffs
from paver.kyb.photo import PIL_FORMATS

PhotoFormat = Literal["jpeg", "png", "webp", "heif"]

#: Seconds are stored as a rational with this denominator (1e-4 s ≈ 3 mm of latitude).
SECONDS_DENOMINATOR = 10_000
_DEFAULT_TAKEN_AT = datetime(2026, 1, 15, 10, 30, 0)
#: Real photos the prints are composited into (CC BY-SA 4.0, see assets/photos/README.md).
REAL_PHOTOS = tuple(sorted((Path(__file__).resolve().parent / "assets" / "photos")
                           .glob("*.jpg")))
#: A phone frame (4:3); the real photos are upscaled to it as the scene.
PHOTO_SIZE = (1600, 1200)


def to_dms_rationals(value: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Express ``|value|`` degrees as EXIF degree/minute/second rationals.

    Parameters
    ----------
    value : float
        Decimal degrees (the sign is ignored; it goes into the reference letter).

    Returns
    -------
    tuple
        ``((deg, 1), (min, 1), (sec_num, SECONDS_DENOMINATOR))``.
    """
    total = round(abs(value) * 3600 * SECONDS_DENOMINATOR)  # in 1e-4 arc seconds
    per_degree = 3600 * SECONDS_DENOMINATOR
    per_minute = 60 * SECONDS_DENOMINATOR
    degrees, rest = divmod(total, per_degree)
    minutes, seconds = divmod(rest, per_minute)
    return (degrees, 1), (minutes, 1), (seconds, SECONDS_DENOMINATOR)


def gps_ifd(lat: float, lon: float, altitude_m: float | None = None) -> dict[int, Any]:
    """Build a piexif GPS IFD for a WGS-84 position.

    Parameters
    ----------
    lat, lon : float
        Decimal degrees (south and west negative).
    altitude_m : float, optional
        Metres above (positive) or below (negative) sea level.

    Returns
    -------
    dict
        piexif ``"GPS"`` dictionary.

    Raises
    ------
    ValueError
        If the coordinates are out of range.
    """
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError(f"coordinates out of range: {lat}, {lon}")
    ifd: dict[int, Any] = {
        piexif.GPSIFD.GPSVersionID: (2, 3, 0, 0),
        piexif.GPSIFD.GPSLatitudeRef: "N" if lat >= 0 else "S",
        piexif.GPSIFD.GPSLatitude: to_dms_rationals(lat),
        piexif.GPSIFD.GPSLongitudeRef: "E" if lon >= 0 else "W",
        piexif.GPSIFD.GPSLongitude: to_dms_rationals(lon),
        piexif.GPSIFD.GPSMapDatum: "WGS-84",
    }
    if altitude_m is not None:
        ifd[piexif.GPSIFD.GPSAltitudeRef] = 0 if altitude_m >= 0 else 1
        ifd[piexif.GPSIFD.GPSAltitude] = (round(abs(altitude_m) * 100), 100)
    return ifd


def exif_bytes(
    lat: float | None = None,
    lon: float | None = None,
    *,
    altitude_m: float | None = None,
    taken_at: datetime = _DEFAULT_TAKEN_AT,
    make: str = "Paver",
    model: str = "StoreCam 1",
) -> bytes:
    """Serialise an EXIF block (with GPS only when both ``lat`` and ``lon`` are given).

    Raises
    ------
    ValueError
        If exactly one of ``lat``/``lon`` is given.
    """
    if (lat is None) != (lon is None):
        raise ValueError("give both lat and lon, or neither")
    stamp = taken_at.strftime("%Y:%m:%d %H:%M:%S")
    exif: dict[str, Any] = {
        "0th": {
            piexif.ImageIFD.Make: make,
            piexif.ImageIFD.Model: model,
            piexif.ImageIFD.DateTime: stamp,
        },
        "Exif": {piexif.ExifIFD.DateTimeOriginal: stamp},
        "GPS": {},
        "1st": {},
        "thumbnail": None,
    }
    if lat is not None and lon is not None:
        exif["GPS"] = gps_ifd(lat, lon, altitude_m)
    return piexif.dump(exif)


def qr_image(payload: str, box_size: int = 6) -> Image.Image:
    """Render a plain QR code (error correction M, 4-module quiet zone) for a payload."""
    import qrcode  # imported lazily: only the generator needs it

    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=4
    )
    code.add_data(payload)
    code.make(fit=True)
    return code.make_image().get_image().convert("RGB")


def store_scene(
    size: tuple[int, int] = (640, 480),
    *,
    seed: int = 0,
    qr: Image.Image | None = None,
) -> Image.Image:
    """Draw a simple storefront, optionally with a QR code standing on the counter.

    Parameters
    ----------
    size : tuple of int
        ``(width, height)`` in pixels (at least 32 × 24).
    seed : int
        Seed for colours, layout and noise.
    qr : PIL.Image.Image, optional
        QR code image to paste; it is scaled to at most 40 % of the height (never below its
        own size when that fits) and kept axis-aligned.

    Returns
    -------
    PIL.Image.Image
        An RGB image.
    """
    width, height = size
    if width < 32 or height < 24:
        raise ValueError(f"scene too small: {size}")
    rng = random.Random(seed)
    wall = tuple(rng.randrange(120, 220) for _ in range(3))
    scene = Image.new("RGB", size, wall)
    draw = ImageDraw.Draw(scene)
    sign = tuple(rng.randrange(20, 140) for _ in range(3))
    draw.rectangle((0, 0, width, height // 6), fill=sign)
    draw.text((width // 20, height // 20), f"Store #{rng.randrange(1000, 9999)}", fill="white")
    door_w = width // 5
    door_x = rng.randrange(width // 20, width // 2 - door_w)
    draw.rectangle((door_x, height // 4, door_x + door_w, height), fill=(70, 50, 35))
    counter_top = height * 2 // 3
    draw.rectangle((width // 2, counter_top, width, height), fill=(150, 110, 70))
    noise = Image.effect_noise(size, 24).convert("RGB")
    scene = Image.blend(scene, noise, 0.12)
    if qr is not None:
        limit = max(1, int(height * 0.4))
        side = max(qr.width, qr.height)
        code = (
            qr
            if side <= limit
            else qr.resize(
                (qr.width * limit // side, qr.height * limit // side), Image.Resampling.NEAREST
            )
        )
        x = rng.randrange(width // 2, max(width // 2 + 1, width - code.width))
        y = max(0, counter_top - code.height)
        scene.paste(code.convert("RGB"), (x, y))
    return scene


def photo_of_print(
    printed: bytes | Image.Image,
    *,
    seed: int = 0,
    height_fraction: float | None = None,
    tilt: float = 0.07,
    rotation_deg: float | None = None,
) -> Image.Image:
    """Photograph a print (e.g. ``GET /codes/{id}/image``) standing in a real scene.

    The print is scaled to ``height_fraction`` of the frame (random 0.55–0.75 by default: a
    merchant holding the phone about 30 cm from a counter sticker), its corners moved in
    perspective by up to ``tilt`` of its width, rotated, lit with a soft gradient and slightly
    defocused, then composited into one of :data:`REAL_PHOTOS` upscaled to :data:`PHOTO_SIZE`.
    JPEG compression happens when the photo is saved (:func:`make_store_photo`).

    Parameters
    ----------
    printed
        The print's image file (PNG/JPEG bytes) or a PIL image.
    seed
        Chooses the background photo, the placement, the perspective and the light.
    height_fraction
        Height of the print in the frame (0.2–0.95); random 0.55–0.75 when ``None``.
    tilt
        Largest corner displacement, as a fraction of the print's width.
    rotation_deg
        In-plane rotation; random ±8° when ``None``.

    Returns
    -------
    PIL.Image.Image
        An RGB photo of :data:`PHOTO_SIZE`.
    """
    rng = random.Random(seed)
    if isinstance(printed, bytes | bytearray):
        with Image.open(io.BytesIO(printed)) as opened:
            sheet = opened.convert("RGB")
    else:
        sheet = printed.convert("RGB")
    frame_w, frame_h = PHOTO_SIZE
    with Image.open(REAL_PHOTOS[rng.randrange(len(REAL_PHOTOS))]) as bg:
        scene = bg.convert("RGB").resize(PHOTO_SIZE, Image.Resampling.BICUBIC)
    fraction = height_fraction if height_fraction is not None else rng.uniform(0.55, 0.75)
    if not 0.2 <= fraction <= 0.95:
        raise ValueError(f"height_fraction {fraction} is outside 0.2..0.95")
    h = round(frame_h * fraction)
    w = round(sheet.width * h / sheet.height)
    sheet = sheet.resize((w, h), Image.Resampling.LANCZOS)
    # Perspective: each corner moves inwards/outwards by up to ``tilt`` of the width.
    jitter = [(rng.uniform(-tilt, tilt) * w, rng.uniform(-tilt, tilt) * w) for _ in range(4)]
    pad = round(tilt * w) + 2
    corners = [(pad + dx, pad + dy) for dx, dy in
               ((0 + jitter[0][0], 0 + jitter[0][1]), (w + jitter[1][0], jitter[1][1]),
                (w + jitter[2][0], h + jitter[2][1]), (jitter[3][0], h + jitter[3][1]))]
    size = (w + 2 * pad, h + 2 * pad)
    coeffs = perspective_coeffs([(0, 0), (w, 0), (w, h), (0, h)], corners)
    warped = sheet.transform(size, Image.Transform.PERSPECTIVE, coeffs,
                             Image.Resampling.BICUBIC)
    mask = Image.new("L", sheet.size, 255).transform(size, Image.Transform.PERSPECTIVE, coeffs,
                                                     Image.Resampling.BICUBIC)
    angle = rotation_deg if rotation_deg is not None else rng.uniform(-8, 8)
    warped = warped.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    mask = mask.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    # Light: brighter on one side, as from a shop window; a touch of defocus.
    light = np.linspace(1.0, rng.uniform(0.7, 0.9), warped.width, dtype=np.float32)
    if rng.random() < 0.5:
        light = light[::-1]
    lit = np.asarray(warped, np.float32) * light[None, :, None]
    warped = Image.fromarray(np.clip(lit, 0, 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(0.6))
    if warped.width > frame_w or warped.height > frame_h:
        raise ValueError("the print does not fit the frame; lower height_fraction")
    x = rng.randrange(0, frame_w - warped.width + 1)
    y = rng.randrange(0, frame_h - warped.height + 1)
    scene.paste(warped, (x, y), mask)
    return scene


def make_store_photo(
    lat: float | None,
    lon: float | None,
    *,
    qr: Image.Image | None = None,
    printed: bytes | Image.Image | None = None,
    size: tuple[int, int] = (640, 480),
    seed: int = 0,
    altitude_m: float | None = None,
    taken_at: datetime = _DEFAULT_TAKEN_AT,
    fmt: PhotoFormat = "jpeg",
    quality: int = 85,
) -> bytes:
    """Make an encoded store photo with EXIF (and GPS unless ``lat``/``lon`` are None).

    Parameters
    ----------
    lat, lon : float or None
        WGS-84 position written to EXIF GPS; pass both None for a photo without GPS.
    qr : PIL.Image.Image, optional
        QR code image to show in a drawn scene (see :func:`qr_image`).
    printed : bytes or PIL.Image.Image, optional
        A real print (e.g. the PNG of ``GET /codes/{id}/image``) to photograph in a real
        scene (:func:`photo_of_print`); ``size`` and ``qr`` are then ignored.
    size, seed
        Scene size and seed (see :func:`store_scene`, :func:`photo_of_print`).
    altitude_m : float, optional
        GPS altitude.
    taken_at : datetime
        Capture time written to ``DateTime``/``DateTimeOriginal``.
    fmt : {"jpeg", "png", "webp", "heif"}
        Container format (EXIF is embedded in each).
    quality : int
        Lossy quality for JPEG, WebP and HEIF.

    Returns
    -------
    bytes
        The encoded file.
    """
    exif = exif_bytes(lat, lon, altitude_m=altitude_m, taken_at=taken_at)
    scene = (photo_of_print(printed, seed=seed) if printed is not None
             else store_scene(size, seed=seed, qr=qr))
    out = io.BytesIO()
    params: dict[str, Any] = {"exif": exif}
    if fmt != "png":
        params["quality"] = quality
    scene.save(out, format=PIL_FORMATS[fmt], **params)
    return out.getvalue()
