"""Skin certification: every reader reads every skin under phone-camera conditions.

A skin ships only when four independent QR readers return the exact payload *text* of a long
Chinese and a long ASCII aggregated code printed on it, under each camera condition of
:data:`CONDITIONS` (small modules, blur, tilt, heavy JPEG, a faded print in uneven light, a
quarter turn, a small blurred JPEG):

- ``zxing``: zxing-cpp's text, through :func:`paver.qr_reader.read_payloads` (the project's
  reader, the one binding uses);
- ``wechat``: the WeChat engine in OpenCV contrib (``cv2.wechat_qrcode_WeChatQRCode``). The
  opencv-contrib wheels do not ship its CNN detector/super-resolution models, so it runs with
  its traditional detector (the no-argument constructor);
- ``opencv``: OpenCV's ``QRCodeDetector``; when its classic finder-pattern search finds
  nothing or fails (it misses plain symbols rotated by 10–15° at random, and raises on some
  plain version-16 symbols), OpenCV's second detector ``QRCodeDetectorAruco``;
- ``zbar``: zbar through pyzbar (its UTF-8 text output).

A phone scans continuously, so each condition is a short burst of frames at growing module
sizes (e.g. 2.2 to 4 px per module for the far-away condition); a reader reads a condition when
some frame gives the exact payload text and no earlier frame another text, and the matrix
records the module size it needed (measured: OpenCV's detectors need about 3.4-3.8 px per
module on a version-18 symbol, the others read from 2.2 px). A plain black-on-white QR symbol
of the same payload (``plain``) is the floor: every condition is chosen so that it passes every
reader. OpenCV, pyzbar and zbar are test/dev dependencies,
imported lazily here; Lambda never imports this module.
"""

from __future__ import annotations

import contextlib
import functools
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from paver import emv
from paver.qr_reader import read_payloads
from paver.skins import Skin

__all__ = ["CONDITIONS", "PLAIN", "READERS", "Cell", "SkinReport", "certification_payloads",
           "certify", "certify_skin", "format_matrix", "plain_print", "read_symbol", "readers"]

#: Name of the floor: a plain symbol with a 4-module quiet zone, no skin.
PLAIN = "plain"
READERS = ("zxing", "wechat", "opencv", "zbar")

Reader = Callable[[np.ndarray], list[str]]


def perspective_coeffs(src: Sequence[tuple[float, float]],
                       dst: Sequence[tuple[float, float]]) -> list[float]:
    """PIL PERSPECTIVE coefficients mapping output points ``dst`` to input points ``src``.

    Shared with the synthetic store photos of ``paver_dev.photo_gen`` (tooling imports the core,
    never the reverse).
    """
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return np.linalg.solve(np.array(rows, float), np.array(rhs, float)).tolist()


def certification_payloads() -> dict[str, str]:
    """A long aggregated payload with a Chinese language template, and a long ASCII one."""
    platform = emv.MerchantAccount("com.paver.pay", "P00000000012345")
    partner = emv.MerchantAccount("A000000333010102", "888123456789012345", {"02": "T0001"})
    common: dict[str, Any] = dict(postal_code="310000", store_label="Store 0012",
                                  terminal_label="T-0001", campaign_ref="CAMP-2026-Q1")
    chinese = emv.build_aggregated_code(platform, partner, "West Lake Longjing Tea",
                                        "Hangzhou", "5812", name_zh="杭州西湖龙井茶社最佳运输",
                                        city_zh="杭州", **common)
    ascii_ = emv.build_aggregated_code(platform, partner, "Longjing Teahouse No 12",
                                       "Hangzhou", "5812", **common)
    return {"chinese": chinese, "ascii": ascii_}


# --------------------------------------------------------------------------------------------
# Readers (dev/test dependencies, imported on first use)
# --------------------------------------------------------------------------------------------

@functools.cache
def _wechat() -> Any:
    import cv2

    return cv2.wechat_qrcode_WeChatQRCode()


@functools.cache
def _cv2() -> Any:
    import cv2

    with contextlib.suppress(AttributeError):  # silence "ECI is not supported properly"
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    return cv2


def _read_zxing(grey: np.ndarray) -> list[str]:
    return read_payloads(grey)


def _read_wechat(grey: np.ndarray) -> list[str]:
    texts, _ = _wechat().detectAndDecode(grey)
    return [t for t in texts if t]


def _read_opencv(grey: np.ndarray) -> list[str]:
    cv2 = _cv2()
    try:
        text, _, _ = cv2.QRCodeDetector().detectAndDecode(grey)
    except cv2.error:  # its decoder raises on a grid sampled at the wrong version
        text = ""
    if not text:  # the classic finder search misses rotated symbols at random, and samples
        # some version-16 symbols at the wrong size (measured): OpenCV's second detector, as
        # its own samples chain them.
        text, _, _ = cv2.QRCodeDetectorAruco().detectAndDecode(grey)
    return [text] if text else []


def _read_zbar(grey: np.ndarray) -> list[str]:
    from pyzbar import pyzbar

    out = []
    for symbol in pyzbar.decode(grey, symbols=[pyzbar.ZBarSymbol.QRCODE]):
        # zbar hands over its text as UTF-8 (charset from the ECI designator or guessed).
        out.append(symbol.data.decode("utf-8", errors="replace"))
    return out


def readers() -> dict[str, Reader]:
    """The four readers by name (raises ImportError when a dev dependency is missing)."""
    import cv2  # noqa: F401 - fail early and clearly
    from pyzbar import pyzbar  # noqa: F401

    return {"zxing": _read_zxing, "wechat": _read_wechat, "opencv": _read_opencv,
            "zbar": _read_zbar}


# --------------------------------------------------------------------------------------------
# Camera conditions: print pixels (300 dpi, ``module_px`` per module) -> what a phone sees
# --------------------------------------------------------------------------------------------

def _scale(image: Image.Image, module_px: float, target: float) -> Image.Image:
    """Resample so that a module is ``target`` pixels (area average, as a sensor integrates)."""
    f = target / module_px
    size = (max(1, round(image.width * f)), max(1, round(image.height * f)))
    return image.resize(size, Image.Resampling.BOX if f < 1 else Image.Resampling.BILINEAR)


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as out:
        return out.convert("L")


def warp(image: Image.Image, corners: Sequence[tuple[float, float]], size: tuple[int, int],
         fill: int | tuple[int, ...] = 120) -> Image.Image:
    """Map ``image``'s rectangle onto the quadrilateral ``corners`` (TL, TR, BR, BL) of a
    ``size`` canvas, bicubic, the rest filled with ``fill``."""
    w, h = image.size
    coeffs = perspective_coeffs([(0, 0), (w, 0), (w, h), (0, h)], corners)
    return image.transform(size, Image.Transform.PERSPECTIVE, coeffs,
                           Image.Resampling.BICUBIC, fillcolor=fill)


def _tilt(image: Image.Image, module_px: float, px: float) -> Image.Image:
    """Held at an angle: keystone 6 % (top edge shorter), rotated 8°."""
    small = _scale(image, module_px, px)
    w, h = small.size
    pad = max(w, h) // 6
    k = 0.06 * w
    corners = [(pad + k, pad), (pad + w - k * 0.3, pad + h * 0.04),
               (pad + w, pad + h), (pad, pad + h * 0.97)]
    warped = warp(small, corners, (w + 2 * pad, h + 2 * pad))
    return warped.rotate(8, resample=Image.Resampling.BICUBIC, fillcolor=120)


def _faded(image: Image.Image, module_px: float, px: float) -> Image.Image:
    """A sun-faded print (ink at 55 % of its density) lit from one side (100 % → 45 %)."""
    small = np.asarray(_scale(image, module_px, px), np.float32)
    faded = 255 - (255 - small) * 0.55
    h, w = faded.shape
    light = np.linspace(1.0, 0.45, w, dtype=np.float32)[None, :] * \
        np.linspace(1.0, 0.85, h, dtype=np.float32)[:, None]
    noise = np.random.default_rng(7).normal(0, 4, faded.shape).astype(np.float32)
    return Image.fromarray(np.clip(faded * light + noise, 0, 255).astype(np.uint8))


@dataclass(frozen=True)
class Condition:
    """A camera condition: name, what it models, module sizes and the transform.

    A phone scans continuously, so a condition is a short burst of frames, one per module
    size in ``module_sizes`` (px per module, as the camera moves); a reader reads the condition
    when some frame gives the exact payload text and no frame gives another text.
    """

    name: str
    description: str
    module_sizes: tuple[float, ...]
    apply: Callable[[Image.Image, float, float], Image.Image]

    def frames(self, image: Image.Image, module_px: float) -> list[Image.Image]:
        """The burst of frames a phone takes of ``image`` (printed at ``module_px``)."""
        return [self.apply(image, module_px, px) for px in self.module_sizes]


def _steps(first: float, last: float, step: float = 0.2) -> tuple[float, ...]:
    """Module sizes of a phone moving in, ``first`` to ``last`` px per module."""
    return tuple(round(first + i * step, 2) for i in range(round((last - first) / step) + 1))


CONDITIONS: tuple[Condition, ...] = (
    Condition("module_2.2px", "far away, moving in: 2.2 to 4 px per module", _steps(2.2, 4.0),
              _scale),
    Condition("blur", "out of focus: Gaussian blur sigma 1.2 px at 4-4.8 px/module",
              (4.0, 4.4, 4.8),
              lambda im, s, px: _scale(im, s, px).filter(ImageFilter.GaussianBlur(1.2))),
    Condition("tilt", "keystone 6 % and rotated 8°, 4-4.8 px/module", (4.0, 4.4, 4.8), _tilt),
    Condition("jpeg_q35", "JPEG quality 35, 3 to 4 px/module", _steps(3.0, 4.0),
              lambda im, s, px: _jpeg(_scale(im, s, px), 35)),
    Condition("faded_uneven_light", "ink at 55 %, light falling from 100 % to 45 %",
              (4.0, 4.4, 4.8), _faded),
    Condition("rotated_90", "a quarter turn, 4-4.8 px/module", (4.0, 4.4, 4.8),
              lambda im, s, px: _scale(im, s, px).transpose(Image.Transpose.ROTATE_90)),
    Condition("small_blurred_jpeg", "3 to 4 px/module, blur 0.7 px, JPEG quality 50",
              _steps(3.0, 4.0),
              lambda im, s, px: _jpeg(_scale(im, s, px).filter(ImageFilter.GaussianBlur(0.7)),
                                      50)),
)


# --------------------------------------------------------------------------------------------
# Matrix
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """One reading: skin × payload × condition × reader."""

    skin: str
    payload: str  # "chinese" | "ascii"
    condition: str
    reader: str
    ok: bool
    got: str | None  # first text read (truncated) when it was not the payload
    module_px: float | None = None  # module size of the first frame that read the payload

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SkinReport:
    """All cells of one skin and the time its certification took."""

    skin: str
    cells: list[Cell]
    seconds: float

    @property
    def passed(self) -> bool:
        """Every cell read the exact payload text."""
        return all(c.ok for c in self.cells)

    def to_dict(self) -> dict[str, Any]:
        return {"skin": self.skin, "passed": self.passed, "seconds": round(self.seconds, 3),
                "misses": [c.to_dict() for c in self.cells if not c.ok],
                "cells": len(self.cells)}


#: The phone frames the code: the symbol plus this fraction of its width on each side (on a
#: sticker that takes in the panel, the frame around it and part of the caption).
FRAMING = 0.3


def plain_print(matrix: np.ndarray, module_px: int = 6) -> tuple[Image.Image, int]:
    """A plain black-on-white print of a symbol with its 4-module quiet zone."""
    padded = np.pad(matrix, 4)
    pixels = np.where(np.kron(padded, np.ones((module_px, module_px), bool)), 0, 255)
    return Image.fromarray(pixels.astype(np.uint8)), module_px


def _framed(image: Image.Image, code_box: tuple[int, int, int]) -> Image.Image:
    """What the phone frames: the symbol and :data:`FRAMING` of its width around it (the
    plain symbol lies on white paper; a skin's framing stays inside its sticker or stand)."""
    x, y, size = code_box
    m = round(size * FRAMING)
    canvas = Image.new("L", (size + 2 * m, size + 2 * m), 255)
    canvas.paste(image, (m - x, m - y))
    return canvas


def _plain_framed(matrix: np.ndarray) -> tuple[Image.Image, float]:
    image, s = plain_print(matrix)
    return _framed(image, (4 * s, 4 * s, image.width - 8 * s)), float(s)


def _print_image(skin: Skin | str, payload: str) -> tuple[Image.Image, float]:
    """What the phone frames of the print (grey, 300 dpi) and the module edge in pixels."""
    from paver.render import qr_matrix, render_code

    if skin == PLAIN:
        return _plain_framed(qr_matrix(payload))
    code = render_code(payload, skin)
    with Image.open(io.BytesIO(code.data)) as opened:
        image = opened.convert("L")
    return _framed(image, code.code_box), float(code.module_px)


def _read(read: Reader, frames: list[Image.Image], payload: str
          ) -> tuple[bool, str | None, int | None]:
    """(read, first other text seen, index of the first frame that read the payload)."""
    wrong = None
    for index, frame in enumerate(frames):
        try:
            texts = read(np.ascontiguousarray(np.asarray(frame)))
        except Exception as exc:  # a reader crashing on an image is a miss
            texts = [f"<{type(exc).__name__}>"]
        if texts == [payload]:
            return wrong is None, wrong, index  # the wallet has what it needs
        if texts and wrong is None:
            wrong = texts[0][:60]
    return False, wrong, None


def certify_skin(skin: Skin | str, reader_map: dict[str, Reader] | None = None,
                 conditions: Sequence[Condition] = CONDITIONS) -> SkinReport:
    """Render the certification payloads on ``skin`` (or :data:`PLAIN`) and read every
    condition with every reader."""
    reader_map = reader_map or readers()
    name = skin if isinstance(skin, str) else skin.name
    t0 = time.perf_counter()
    cells = []
    for label, payload in certification_payloads().items():
        printed, module_px = _print_image(skin, payload)
        for condition in conditions:
            frames = condition.frames(printed, module_px)
            for reader, read in reader_map.items():
                ok, got, first = _read(read, frames, payload)
                cells.append(Cell(name, label, condition.name, reader, ok, got,
                                  None if first is None else condition.module_sizes[first]))
    return SkinReport(name, cells, time.perf_counter() - t0)


def read_symbol(matrix: np.ndarray, payload: str, reader_map: dict[str, Reader] | None = None,
                conditions: Sequence[Condition] = CONDITIONS) -> dict[str, int]:
    """Readings of a plain print of ``matrix`` that returned ``payload``, per reader (out of
    ``len(conditions)``): to compare encodings of the same payload."""
    reader_map = reader_map or readers()
    image, s = _plain_framed(matrix)
    out = dict.fromkeys(reader_map, 0)
    for condition in conditions:
        frames = condition.frames(image, s)
        for name, read in reader_map.items():
            out[name] += _read(read, frames, payload)[0]
    return out


def certify(skins: Sequence[str]) -> list[SkinReport]:
    """The floor (:data:`PLAIN`) first, then each skin."""
    reader_map = readers()
    return [certify_skin(name, reader_map) for name in [PLAIN, *skins]]


def format_matrix(reports: Sequence[SkinReport]) -> str:
    """Plain-text matrix: one row per skin × payload × condition, one column per reader; a
    reading shows the module size (px) of the first frame of the burst that read it."""
    if not reports:
        return ""
    names = list(dict.fromkeys(c.reader for r in reports for c in r.cells))
    lines = [f"{'skin':<18} {'payload':<8} {'condition':<20} "
             + " ".join(f"{n:<9}" for n in names)]
    for report in reports:
        rows: dict[tuple[str, str], dict[str, Cell]] = {}
        for c in report.cells:
            rows.setdefault((c.payload, c.condition), {})[c.reader] = c
        for (payload, condition), cells in rows.items():
            marks = [f"ok@{cells[n].module_px:g}" if n in cells and cells[n].ok else "MISS"
                     for n in names]
            lines.append(f"{report.skin:<18} {payload:<8} {condition:<20} "
                         + " ".join(f"{m:<9}" for m in marks))
        verdict = "passed" if report.passed else "FAILED"
        lines.append(f"{report.skin:<18} {verdict} in {report.seconds:.1f} s")
    return "\n".join(lines)
