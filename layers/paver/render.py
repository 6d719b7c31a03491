"""Render an aggregated code on a skin, print-ready, and prove it scans.

:func:`render_code` turns a payload into a PNG (palette image, 300 dpi metadata) or an SVG
(vector, physical size in millimetres) of the whole sticker or stand: frame, motif, caption,
the code at error-correction level H (the payload's UTF-8 bytes in one byte-mode segment, an
ECI 26 designator when it is not ASCII: the form all four certification readers return as the
exact text) and the skin's logo over cleared centre modules. Captions are drawn with the shipped
CJK font (``assets/fonts``), never a system font. Before returning, every code is read back as a
wallet reads it (:func:`paver.qr_reader.read_payloads`, zxing-cpp's text result) and compared
with the payload as text: the PNG from its final pixels, the SVG after rasterising the SVG text
itself (resvg; without it, by parsing the SVG back and drawing its shapes). A code whose text
does not read back exactly raises :class:`ScanVerificationError`.

Speed (see ``bench/code_rendering.py``): the QR matrix is laid out here with numpy
(:mod:`paver.qr_symbol`, about 0.2 ms against about 19 ms for python-qrcode at level H) and
masked with a vectorised penalty search; everything that does not depend on the
payload — frame, caption, logo tile, the PNG rows above and below the code, already deflated —
is cached per skin and code size, so a code costs one matrix, one band of rows to deflate and
one decode.
"""

from __future__ import annotations

import functools
import io
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from paver import emv
from paver.errors import InvalidInput
from paver.png import PngTemplate
from paver.qr_reader import read_payloads
from paver.qr_symbol import byte_mode_symbol, mask_candidates, mask_penalties
from paver.skins import Skin, get_skin
from paver.svg_raster import rasterise_svg

__all__ = [
    "DPI",
    "FORMATS",
    "RenderError",
    "RenderedCode",
    "ScanVerificationError",
    "decode_image",
    "qr_matrix",
    "render_code",
]

DPI = 300
PX_PER_MM = DPI / 25.4
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
#: Smallest module edge in pixels at 300 dpi (3 px ≈ 0.25 mm, a safe print minimum).
MIN_MODULE_PX = 3
#: The shipped font (a subset of Noto Sans SC Bold, OFL-1.1, see assets/fonts): loaded
#: explicitly, never a system font, so a skin prints the same on a laptop, in CI and on Lambda;
#: SVG prints carry its outlines as paths.
CJK_FONT = Path(__file__).resolve().parent / "assets" / "fonts" / "NotoSansSC-Bold-subset.ttf"
CJK_OUTLINES = CJK_FONT.with_suffix(".glyphs.json")


class RenderError(InvalidInput):
    """The code cannot be rendered (bad payload, format, or payload too long for the skin)."""


class ScanVerificationError(RenderError):
    """The rendered code did not decode back to exactly the payload: never print it."""


@dataclass(frozen=True)
class RenderedCode:
    """A verified, print-ready code.

    Attributes
    ----------
    data
        PNG or SVG file content (also available as ``.bytes``).
    content_type
        ``image/png`` or ``image/svg+xml``.
    verified
        Always ``True``: the code was read back as exactly the payload text (zxing-cpp).
    timings
        Milliseconds spent in ``encode`` (QR matrix), ``compose``, ``serialize`` (PNG/SVG),
        ``verify`` and ``total``.
    skin
        Skin name.
    width_px, height_px
        Image size at :data:`DPI` (the SVG uses the same coordinates, sized in mm).
    modules
        QR symbol size in modules (without quiet zone).
    module_px
        Module edge in pixels.
    code_box
        ``(x, y, size)`` of the QR symbol (without quiet zone) in pixels.
    """

    data: bytes
    content_type: str
    verified: bool = True
    timings: dict[str, float] = field(default_factory=dict)
    skin: str = ""
    width_px: int = 0
    height_px: int = 0
    modules: int = 0
    module_px: int = 0
    code_box: tuple[int, int, int] = (0, 0, 0)

    @property
    def bytes(self) -> bytes:
        """Alias of :attr:`data`."""
        return self.data


# --------------------------------------------------------------------------------------------
# QR matrix
# --------------------------------------------------------------------------------------------

def _symbol(payload: str) -> np.ndarray:
    """The payload's symbol at level H, mask 0: its UTF-8 bytes in one byte-mode segment.

    Measured with four readers (``paver qr certify``, bench/code_rendering.py): ASCII payloads
    read everywhere without an ECI designator; UTF-8 payloads need ECI 26 for OpenCV's
    QRCodeDetector, which returns nothing for non-ASCII bytes without one. zxing-cpp's writer
    is not used for the data: given bytes it adds an ECI 899 ("binary") designator, and then
    zxing-cpp returns Latin-1 mojibake and the WeChat engine nothing; given text it may pick
    Kanji mode; either way it splits the payload into mixed segments, which OpenCV misreads
    after an ECI designator (see :mod:`paver.qr_symbol`).
    """
    data = payload.encode("utf-8")
    try:
        return byte_mode_symbol(data, eci=not payload.isascii())
    except ValueError as exc:
        raise RenderError(f"cannot encode payload as QR at level H: {exc}") from exc


def qr_matrix(payload: str) -> np.ndarray:
    """QR symbol at error-correction level H as a boolean matrix (``True`` = dark module).

    The UTF-8 bytes in one byte-mode segment, with an ECI 26 designator only when the payload
    is not ASCII (:func:`_symbol`), laid out with mask 0; the eight masks are then applied and
    scored here with the ISO/IEC 18004 penalty rules, vectorised — the writer's own mask
    search costs about five times more. Each variant equals what zxing-cpp's writer draws for
    that mask when it writes the same segment (tested for all versions).

    Raises
    ------
    RenderError
        The payload does not fit a QR code at level H.
    """
    candidates = mask_candidates(_symbol(payload))
    return candidates[int(np.argmin(mask_penalties(candidates)))]


# --------------------------------------------------------------------------------------------
# Drawing backends: the same frame/logo description drawn to pixels or to SVG
# --------------------------------------------------------------------------------------------

Point = tuple[float, float]


class _Painter(Protocol):
    def rect(self, box: Sequence[float], color: str, radius: float = 0) -> None: ...
    def polygon(self, points: Sequence[Point], color: str) -> None: ...
    def ellipse(self, cx: float, cy: float, rx: float, ry: float, color: str) -> None: ...
    def text(self, cx: float, cy: float, text: str, latin: str, size: float,
             color: str, width: float) -> None: ...
    def image(self, box: Sequence[float], png: bytes) -> None: ...


class _Palette:
    """Palette indices for a skin's colours (PNG colour type 3)."""

    def __init__(self, colors: Sequence[str]) -> None:
        self.colors = list(dict.fromkeys(c.upper() for c in colors))
        self.index = {c: i for i, c in enumerate(self.colors)}
        rgb = [(int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)) for c in self.colors]
        self.plte = b"".join(bytes(v) for v in rgb)
        # Grey levels as a decoder sees them (ITU-R BT.601 luma), for verification.
        lut = np.full(256, 255, np.uint8)
        for i, (r, g, b) in enumerate(rgb):
            lut[i] = round(0.299 * r + 0.587 * g + 0.114 * b)
        self.grey = lut

    def __getitem__(self, color: str) -> int:
        return self.index[color.upper()]


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    """The shipped font at ``size`` px (every caption and subtitle, CJK or Latin)."""
    return ImageFont.truetype(str(CJK_FONT), size)


@functools.cache
def _outlines() -> dict[str, Any]:
    """The shipped font's glyphs as SVG outlines (font units, y up) and advances."""
    return json.loads(CJK_OUTLINES.read_text(encoding="utf-8"))


class _RasterPainter:
    """Draws on a palette image (no anti-aliasing: crisp edges at 300 dpi, few colours)."""

    def __init__(self, image: Image.Image, palette: _Palette) -> None:
        self.image_obj, self.palette = image, palette
        self.draw = ImageDraw.Draw(image)

    def rect(self, box: Sequence[float], color: str, radius: float = 0) -> None:
        x0, y0, x1, y1 = (round(v) for v in box)
        fill = self.palette[color]
        if radius > 0:
            self.draw.rounded_rectangle((x0, y0, x1 - 1, y1 - 1), round(radius), fill=fill)
        else:
            self.draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=fill)

    def polygon(self, points: Sequence[Point], color: str) -> None:
        self.draw.polygon([(round(x), round(y)) for x, y in points], fill=self.palette[color])

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, color: str) -> None:
        self.draw.ellipse((round(cx - rx), round(cy - ry), round(cx + rx) - 1,
                           round(cy + ry) - 1), fill=self.palette[color])

    def text(self, cx: float, cy: float, text: str, latin: str, size: float,
             color: str, width: float) -> None:
        font = _font(max(8, round(size)))
        length = self.draw.textlength(text, font=font)
        if length > width:  # shrink to fit the material's width
            font = _font(max(8, round(size * width / length)))
        self.draw.text((round(cx), round(cy)), text, fill=self.palette[color], font=font,
                       anchor="mm")

    def image(self, box: Sequence[float], png: bytes) -> None:
        """Paste a palette PNG (a partner logo) scaled into ``box``, colours mapped to ours."""
        x0, y0, x1, y1 = (round(v) for v in box)
        with Image.open(io.BytesIO(png)) as opened:
            rgb = opened.convert("RGB").resize((x1 - x0, y1 - y0), Image.Resampling.NEAREST)
        pixels = np.asarray(rgb, dtype=np.uint32)
        keys = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
        lut = {int(c[1:], 16): i for c, i in self.palette.index.items()}
        indices = np.vectorize(lut.__getitem__, otypes=[np.uint8])(keys)
        self.image_obj.paste(Image.fromarray(indices, "P"), (x0, y0))


class _SvgPainter:
    """Collects SVG elements in pixel coordinates (the root's viewBox maps them to mm)."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    @staticmethod
    def _n(value: float) -> str:
        return f"{value:.1f}".rstrip("0").rstrip(".")

    def rect(self, box: Sequence[float], color: str, radius: float = 0) -> None:
        x0, y0, x1, y1 = (round(v) for v in box)
        rx = f' rx="{self._n(radius)}"' if radius > 0 else ""
        self.parts.append(f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}"{rx} '
                          f'fill="{color}"/>')

    def polygon(self, points: Sequence[Point], color: str) -> None:
        pts = " ".join(f"{self._n(x)},{self._n(y)}" for x, y in points)
        self.parts.append(f'<polygon points="{pts}" fill="{color}"/>')

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, color: str) -> None:
        self.parts.append(f'<ellipse cx="{self._n(cx)}" cy="{self._n(cy)}" rx="{self._n(rx)}" '
                          f'ry="{self._n(ry)}" fill="{color}"/>')

    def text(self, cx: float, cy: float, text: str, latin: str, size: float,
             color: str, width: float) -> None:
        # The glyphs' own outlines, sized and centred as the raster painter draws them (anchor
        # "mm": the middle between ascender and descender on cy), so every viewer shows the
        # same caption without any font installed.
        font = _outlines()
        upm, glyphs = font["units_per_em"], font["glyphs"]
        shapes = [glyphs[ch] for ch in text if ch in glyphs]
        advance = sum(g["advance"] for g in shapes) or 1
        px = max(8, round(size))
        if advance * px / upm > width:
            px = max(8, round(px * width / (advance * px / upm)))
        k = px / upm
        x0 = cx - advance * k / 2
        baseline = cy + (font["ascender"] + font["descender"]) / 2 * k
        paths, pen = [], 0
        for g in shapes:
            if g["d"]:
                paths.append(f'<path transform="translate({pen})" d="{g["d"]}"/>')
            pen += g["advance"]
        self.parts.append(
            f'<g fill="{color}" transform="translate({self._n(x0)} {self._n(baseline)}) '
            f'scale({k:.5g} {-k:.5g})"><title>{escape(text)}</title>{"".join(paths)}</g>')

    def image(self, box: Sequence[float], png: bytes) -> None:
        import base64

        x0, y0, x1, y1 = (round(v) for v in box)
        data = base64.b64encode(png).decode("ascii")
        self.parts.append(f'<image x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" '
                          f'image-rendering="pixelated" href="data:image/png;base64,{data}"/>')


# --------------------------------------------------------------------------------------------
# Shapes: frame motifs and logo marks
# --------------------------------------------------------------------------------------------

def _rotate(points: Sequence[Point], cx: float, cy: float, angle: float) -> list[Point]:
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in points]


def _petal(cx: float, cy: float, angle: float, length: float, width: float) -> list[Point]:
    """An elongated ellipse from the centre outwards, as a polygon."""
    pts = [(length / 2 + length / 2 * math.cos(t), width / 2 * math.sin(t))
           for t in (i * math.pi / 8 for i in range(16))]
    return _rotate(pts, cx, cy, angle)


def _bar(x0: float, y0: float, x1: float, y1: float, width: float) -> list[Point]:
    """A thick line segment as a quadrilateral."""
    dx, dy = x1 - x0, y1 - y0
    norm = math.hypot(dx, dy) or 1.0
    ox, oy = -dy / norm * width / 2, dx / norm * width / 2
    return [(x0 + ox, y0 + oy), (x1 + ox, y1 + oy), (x1 - ox, y1 - oy), (x0 - ox, y0 - oy)]


def _chili(cx: float, cy: float, size: float, angle: float) -> tuple[list[Point], list[Point]]:
    """Body and stem of a chili pepper."""
    body: list[Point] = []
    for i in range(13):  # upper edge: from stem to tip along a curve
        t = i / 12
        body.append((-size / 2 + t * size, -size * 0.16 * (1 - t) + size * 0.18 * t * t))
    for i in range(12, -1, -1):
        t = i / 12
        body.append((-size / 2 + t * size, size * 0.16 * (1 - t) + size * 0.2 * t * t))
    stem = _bar(-size / 2 - size * 0.02, 0, -size / 2 - size * 0.2, -size * 0.12, size * 0.09)
    return _rotate(body, cx, cy, angle), _rotate(stem, cx, cy, angle)


def _kapok(p: _Painter, cx: float, cy: float, r: float, petal: str, heart: str) -> None:
    for i in range(5):
        p.polygon(_petal(cx, cy, -math.pi / 2 + i * 2 * math.pi / 5, r, r * 0.62), petal)
    p.ellipse(cx, cy, r * 0.22, r * 0.22, heart)


def _snowflake(p: _Painter, cx: float, cy: float, r: float, color: str) -> None:
    w = max(2.0, r * 0.14)
    for i in range(6):
        a = i * math.pi / 3
        ex, ey = cx + r * math.cos(a), cy + r * math.sin(a)
        p.polygon(_bar(cx, cy, ex, ey, w), color)
        mx, my = cx + r * 0.6 * math.cos(a), cy + r * 0.6 * math.sin(a)
        for side in (-1, 1):
            b = a + side * math.pi / 4
            p.polygon(_bar(mx, my, mx + r * 0.3 * math.cos(b), my + r * 0.3 * math.sin(b), w),
                      color)


def _sun(p: _Painter, cx: float, cy: float, r: float, color: str) -> None:
    for i in range(8):
        a = i * math.pi / 4
        tip = (cx + r * math.cos(a), cy + r * math.sin(a))
        base = [(cx + r * 0.62 * math.cos(a + d), cy + r * 0.62 * math.sin(a + d))
                for d in (-0.22, 0.22)]
        p.polygon([base[0], tip, base[1]], color)
    p.ellipse(cx, cy, r * 0.55, r * 0.55, color)


def _seigaiha(p: _Painter, box: Sequence[float], r: float, ring: str, gap: str) -> None:
    """青海波 waves: rows of concentric half-circles filling ``box`` bottom-up."""
    x0, y0, x1, y1 = box
    row, y = 0, y1 + r * 0.5
    while y - r >= y0:
        offset = (row % 2) * r
        x = x0 - r + offset
        while x < x1 + r:
            for k, color in enumerate((ring, gap, ring, gap)):
                rr = r * (1 - 0.24 * k)
                p.ellipse(x, y, rr, rr, color)
            x += 2 * r
        y -= r * 0.5
        row += 1


def _dunes(p: _Painter, box: Sequence[float], far: str, near: str) -> None:
    x0, y0, x1, y1 = box
    h = y1 - y0
    for color, base, amp, phase in ((far, 0.35, 0.18, 0.0), (near, 0.62, 0.14, 1.7)):
        pts: list[Point] = [(x0, y1)]
        for i in range(41):
            t = i / 40
            pts.append((x0 + t * (x1 - x0),
                        y0 + h * base - h * amp * math.sin(2 * math.pi * t * 1.3 + phase)))
        pts.append((x1, y1))
        p.polygon(pts, color)


def _draw_motif(p: _Painter, skin: Skin, width: float, height: float,
                free: tuple[float, float, float, float]) -> None:
    """Draw the frame motif into the free band (the part of the frame not under text/panel)."""
    pal, style = skin.palette, skin.frame.style
    x0, y0, x1, y1 = free
    band_h = y1 - y0
    if band_h < 4:
        return
    border = skin.frame.border_mm * PX_PER_MM
    if style == "plain":
        inset = border * 0.45
        p.rect((inset, inset, width - inset, height - inset), pal.accent, border * 0.6)
        p.rect((inset + 3, inset + 3, width - inset - 3, height - inset - 3), pal.frame,
               border * 0.6)
    elif style == "waves":
        _seigaiha(p, (0, y0, width, height), band_h * 0.34, pal.accent, pal.frame)
    elif style == "dunes":
        _sun(p, width * 0.78, y0 + band_h * 0.3, band_h * 0.24, pal.text)
        _dunes(p, (0, y0, width, height), pal.accent, pal.module)
    elif style == "kapok":
        r = band_h * 0.3
        for i, fx in enumerate((0.15, 0.38, 0.62, 0.85)):
            _kapok(p, x0 + (x1 - x0) * fx, y0 + band_h * (0.45 if i % 2 else 0.6), r,
                   pal.accent, pal.text)
    elif style == "peppers":
        size = band_h * 0.9
        for i, fx in enumerate((0.18, 0.5, 0.82)):
            body, stem = _chili(x0 + (x1 - x0) * fx, y0 + band_h * 0.5, size,
                                (-0.5 if i % 2 else 0.45))
            p.polygon(body, pal.accent)
            p.polygon(stem, pal.text)
    elif style == "snowflakes":
        r = band_h * 0.28
        for i, fx in enumerate((0.12, 0.33, 0.55, 0.77, 0.93)):
            _snowflake(p, x0 + (x1 - x0) * fx, y0 + band_h * (0.35 if i % 2 else 0.62),
                       r * (0.75 if i % 2 else 1.0), pal.accent)


def _draw_logo(p: _Painter, skin: Skin, x: float, y: float, size: float, module: float) -> None:
    """Logo tile: background square (the cleared modules), rounded tile, mark."""
    assert skin.logo is not None
    logo, bg = skin.logo, skin.palette.background
    p.rect((x, y, x + size, y + size), bg)
    inset = module * 0.5
    p.rect((x + inset, y + inset, x + size - inset, y + size - inset), logo.background,
           size * 0.18)
    cx, cy, r = x + size / 2, y + size / 2, (size - 2 * inset) * 0.36
    fg, tile = logo.foreground, logo.background
    if logo.image is not None:  # a partner's own logo, inside the tile's rounded corners
        pad = (size - 2 * inset) * 0.08
        p.image((x + inset + pad, y + inset + pad, x + size - inset - pad,
                 y + size - inset - pad), logo.image)
    elif logo.mark == "pay":  # a yen sign
        w = r * 0.22
        p.polygon(_bar(cx - r * 0.7, cy - r, cx, cy - r * 0.1, w), fg)
        p.polygon(_bar(cx + r * 0.7, cy - r, cx, cy - r * 0.1, w), fg)
        p.polygon(_bar(cx, cy - r * 0.2, cx, cy + r, w), fg)
        p.polygon(_bar(cx - r * 0.55, cy + r * 0.12, cx + r * 0.55, cy + r * 0.12, w * 0.9), fg)
        p.polygon(_bar(cx - r * 0.55, cy + r * 0.5, cx + r * 0.55, cy + r * 0.5, w * 0.9), fg)
    elif logo.mark == "wave":
        for k, color in enumerate((fg, tile, fg, tile, fg)):
            rr = r * (1 - 0.2 * k)
            p.ellipse(cx, cy + r * 0.35, rr, rr, color)
        p.rect((cx - r * 1.05, cy + r * 0.35, cx + r * 1.05, cy + r * 1.4), tile)
    elif logo.mark == "kapok":
        _kapok(p, cx, cy, r, fg, tile)
    elif logo.mark == "pepper":
        body, stem = _chili(cx + r * 0.1, cy, r * 1.9, 0.5)
        p.polygon(body, fg)
        p.polygon(stem, skin.palette.module)
    elif logo.mark == "snowflake":
        _snowflake(p, cx, cy, r, fg)
    elif logo.mark == "sun":
        _sun(p, cx, cy, r, fg)


# --------------------------------------------------------------------------------------------
# Layout and caches
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Frame:
    """Payload-independent geometry of a skin (pixels at 300 dpi)."""

    width: int
    height: int
    panel: tuple[int, int, int, int]
    code: tuple[int, int, int]  # x, y, size of the square reserved for the code + quiet zone
    caption_y: float
    subtitle_y: float | None
    free: tuple[float, float, float, float]


@functools.cache
def _frame_geometry(skin: Skin) -> _Frame:
    mm = PX_PER_MM
    width, height = round(skin.size.width_mm * mm), round(skin.size.height_mm * mm)
    border = skin.frame.border_mm * mm
    pad = round(skin.frame.panel_padding_mm * mm)
    code = round(skin.size.code_mm * mm)
    panel_size = code + 2 * pad
    cap = skin.caption.size_mm * mm
    cap_band, sub_band = 2.2 * cap, (1.6 * cap if skin.caption.subtitle else 0.0)
    px = (width - panel_size) // 2
    if skin.caption.position == "top":
        caption_y = border + cap_band / 2
        py = round(border + cap_band)
        subtitle_y = py + panel_size + sub_band / 2 if sub_band else None
        free_top = py + panel_size + sub_band
    else:
        py = round(border + cap * 0.4)
        caption_y = py + panel_size + cap_band / 2
        subtitle_y = py + panel_size + cap_band + sub_band / 2 if sub_band else None
        free_top = py + panel_size + cap_band + sub_band
    if skin.frame.style == "plain":  # no motif: centre the content vertically
        shift = round((height - border - free_top) / 2)
        py, caption_y, free_top = py + shift, caption_y + shift, free_top + shift
        subtitle_y = subtitle_y + shift if subtitle_y is not None else None
    return _Frame(width, height, (px, py, px + panel_size, py + panel_size),
                  (px + pad, py + pad, code), caption_y, subtitle_y,
                  (border, free_top, width - border, height - border))


def _draw_frame(p: _Painter, skin: Skin, g: _Frame) -> None:
    pal = skin.palette
    p.rect((0, 0, g.width, g.height), pal.frame)
    _draw_motif(p, skin, g.width, g.height, g.free)
    p.rect(g.panel, pal.background, skin.frame.panel_radius_mm * PX_PER_MM)
    cap = skin.caption.size_mm * PX_PER_MM
    room = g.width - 2 * skin.frame.border_mm * PX_PER_MM
    p.text(g.width / 2, g.caption_y, skin.caption.text, skin.caption.text_latin, cap,
           pal.text, room)
    if skin.caption.subtitle and g.subtitle_y is not None:
        p.text(g.width / 2, g.subtitle_y, skin.caption.subtitle, skin.caption.subtitle,
               cap * 0.62, pal.text, room)


@dataclass(frozen=True)
class _Layout:
    """Geometry for one skin and one symbol size (both cached)."""

    skin: Skin
    frame: _Frame
    n: int
    s: int  # module edge in px
    x0: int  # symbol origin
    y0: int
    logo_modules: int  # odd number of modules cleared for the logo (0 = no logo)

    @property
    def logo_box(self) -> tuple[int, int, int]:
        """(x, y, size) of the logo tile in px."""
        start = (self.n - self.logo_modules) // 2
        return self.x0 + start * self.s, self.y0 + start * self.s, self.logo_modules * self.s


@functools.lru_cache(maxsize=512)
def _layout(skin: Skin, n: int) -> _Layout:
    g = _frame_geometry(skin)
    cx, cy, size = g.code
    s = size // (n + 2 * skin.quiet_zone_modules)
    if s < MIN_MODULE_PX:
        raise RenderError(
            f"payload too long for skin {skin.name!r}: {n} modules need at least "
            f"{(n + 2 * skin.quiet_zone_modules) * MIN_MODULE_PX / PX_PER_MM:.1f} mm, "
            f"the skin prints {skin.size.code_mm} mm")
    offset = (size - n * s) // 2
    k = 0
    if skin.logo is not None:
        k = int(skin.logo.fraction * n)
        k -= 1 - k % 2  # odd, so it centres on the symbol's middle module
        k = k if k >= 3 else 0
    return _Layout(skin, g, n, s, cx + offset, cy + offset, k)


def _palette(skin: Skin) -> _Palette:
    return _Palette(skin.colors())


@functools.lru_cache(maxsize=64)
def _raster_frame(skin: Skin) -> tuple[np.ndarray, _Palette]:
    """The skin's static artwork as palette indices (H, W), read-only."""
    g, pal = _frame_geometry(skin), _palette(skin)
    image = Image.new("P", (g.width, g.height), 0)
    _draw_frame(_RasterPainter(image, pal), skin, g)
    arr = np.asarray(image, dtype=np.uint8).copy()
    arr.flags.writeable = False
    return arr, pal


@functools.lru_cache(maxsize=512)
def _raster_logo(skin: Skin, k: int, s: int) -> np.ndarray | None:
    if k == 0:
        return None
    pal = _palette(skin)
    image = Image.new("P", (k * s, k * s), pal[skin.palette.background])
    _draw_logo(_RasterPainter(image, pal), skin, 0, 0, k * s, s)
    return np.asarray(image, dtype=np.uint8)


@dataclass(frozen=True)
class _RasterPlan:
    layout: _Layout
    png: PngTemplate
    palette: _Palette
    logo: np.ndarray | None
    verify_grey: np.ndarray  # the decoder's view of the static artwork (code area overwritten)
    verify_at: tuple[slice, slice]  # the part of the view that falls on the symbol
    sample_at: tuple[np.ndarray, np.ndarray]  # ... and the symbol's rows and columns it samples


#: Samples per module the renderer's own verification reads (a phone sees 3-5 px per module).
VERIFY_SAMPLES = 3


@functools.lru_cache(maxsize=256)
def _raster_plan(skin: Skin, n: int) -> _RasterPlan:
    layout = _layout(skin, n)
    pixels, pal = _raster_frame(skin)
    s, span = layout.s, n * layout.s
    png = PngTemplate(pixels, (layout.x0, layout.y0, layout.x0 + span, layout.y0 + span),
                      pal.plte, DPI)
    # The decoder sees the symbol, its quiet zone and one more module of what surrounds it,
    # sampled from the real artwork at VERIFY_SAMPLES points per module (nearest pixel; every
    # pixel when modules are that small already).
    k = min(VERIFY_SAMPLES, s)
    margin = skin.quiet_zone_modules + 1
    offsets = ((np.arange(-margin * k, (n + margin) * k) + 0.5) * s / k).astype(np.intp)
    h, w = pixels.shape
    rows = offsets + layout.y0
    cols = offsets + layout.x0
    rows, cols = rows[(rows >= 0) & (rows < h)], cols[(cols >= 0) & (cols < w)]
    grey = np.take(pal.grey, pixels[np.ix_(rows, cols)])
    grey.flags.writeable = False
    on_r = np.nonzero((rows >= layout.y0) & (rows < layout.y0 + span))[0]
    on_c = np.nonzero((cols >= layout.x0) & (cols < layout.x0 + span))[0]
    sample = (rows[on_r] - layout.y0, cols[on_c] - layout.x0)
    view = (slice(int(on_r[0]), int(on_r[-1]) + 1), slice(int(on_c[0]), int(on_c[-1]) + 1))
    return _RasterPlan(layout, png, pal, _raster_logo(skin, layout.logo_modules, s), grey,
                       view, sample)


def _module_pixels(matrix: np.ndarray, layout: _Layout, dark: int, light: int,
                   logo: np.ndarray | None) -> np.ndarray:
    """The symbol as palette indices at ``s`` px per module, logo pasted over the centre."""
    cells = np.where(matrix, np.uint8(dark), np.uint8(light))
    s = layout.s
    block = np.repeat(np.repeat(cells, s, axis=0), s, axis=1)
    if logo is not None:
        start = (layout.n - layout.logo_modules) // 2 * s
        end = start + logo.shape[0]
        block[start:end, start:end] = logo
    return block


# --------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------

def _verify(grey: np.ndarray, payload: str, what: str) -> None:
    """Read ``grey`` as a wallet would; raise unless exactly one QR reads back as ``payload``.

    The text is compared, not the bytes: a print whose text a reader gets wrong is never
    stored.
    """
    found = read_payloads(grey, thorough=False)
    if found != [payload]:
        got = [f[:40] for f in found]
        raise ScanVerificationError(
            f"{what} did not scan back to the payload (decoded {len(found)} code(s): {got})")


# --------------------------------------------------------------------------------------------
# SVG
# --------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def _svg_frame(skin: Skin) -> str:
    p = _SvgPainter()
    _draw_frame(p, skin, _frame_geometry(skin))
    return "\n".join(p.parts)


@functools.lru_cache(maxsize=256)
def _svg_logo(layout: _Layout) -> str:
    if layout.logo_modules == 0:
        return ""
    p = _SvgPainter()
    x, y, size = layout.logo_box
    _draw_logo(p, layout.skin, x, y, size, layout.s)
    return '<g id="logo">' + "".join(p.parts) + "</g>"


def _svg_modules(matrix: np.ndarray, layout: _Layout) -> str:
    """Dark modules as one path of horizontal runs (``M x y h w v s h -w z``)."""
    cells = matrix.copy()
    if layout.logo_modules:
        a = (layout.n - layout.logo_modules) // 2
        cells[a:a + layout.logo_modules, a:a + layout.logo_modules] = False
    padded = np.zeros((cells.shape[0], cells.shape[1] + 2), np.int8)
    padded[:, 1:-1] = cells
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)
    s, x0, y0 = layout.s, layout.x0, layout.y0
    d = "".join(f"M{x0 + c * s} {y0 + r * s}h{(e - c) * s}v{s}h-{(e - c) * s}z"
                for r, c, e in zip(rows.tolist(), starts.tolist(), ends.tolist(), strict=True))
    return f'<path id="modules" fill="{layout.skin.palette.module}" d="{d}"/>'


def _svg_document(payload: str, matrix: np.ndarray, layout: _Layout) -> str:
    g, skin = layout.frame, layout.skin
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{skin.size.width_mm:g}mm" '
        f'height="{skin.size.height_mm:g}mm" viewBox="0 0 {g.width} {g.height}" '
        f'shape-rendering="crispEdges">\n'
        f"<title>{escape(skin.title)}</title>\n"
        f"<desc>{escape(payload)}</desc>\n"
        f"{_svg_frame(skin)}\n{_svg_modules(matrix, layout)}\n{_svg_logo(layout)}\n</svg>\n")


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

def render_code(payload: str, skin: Skin | str, fmt: str = "png", *,
                require_emv: bool = True) -> RenderedCode:
    """Render ``payload`` on ``skin`` and verify it decodes back exactly.

    Parameters
    ----------
    payload
        The EMV MPM payload (e.g. from :func:`paver.emv.build_aggregated_code`).
    skin
        A :class:`~paver.skins.Skin` or the name of a shipped skin.
    fmt
        ``"png"`` (palette PNG, 300 dpi) or ``"svg"`` (vector, sized in mm).
    require_emv
        Refuse payloads that are not ``valid`` EMV (bad TLV or CRC): never print those.

    Returns
    -------
    RenderedCode
        File bytes, content type, ``verified=True`` and timings in ms.

    Raises
    ------
    RenderError
        Unknown format, invalid payload, or a payload too long for the skin's code size.
    ScanVerificationError
        The rendered image did not decode back to ``payload``.
    paver.skins.SkinError
        Unknown skin name.
    """
    t0 = time.perf_counter()
    if fmt not in FORMATS:
        raise RenderError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not isinstance(payload, str) or not payload:
        raise RenderError("payload must be a non-empty string")
    if require_emv:
        parsed = emv.decode(payload)
        if not parsed.valid:
            raise RenderError("payload is not a valid EMV code: " + "; ".join(parsed.errors))
    if isinstance(skin, str):
        skin = get_skin(skin)
    matrix = qr_matrix(payload)
    t1 = time.perf_counter()
    n = matrix.shape[0]
    if fmt == "png":
        plan = _raster_plan(skin, n)
        layout, pal, png = plan.layout, plan.palette, plan.png
        block = _module_pixels(matrix, layout, pal[skin.palette.module],
                               pal[skin.palette.background], plan.logo)
        segment = png.segment.copy()
        segment[:, layout.x0 - png.xa:layout.x0 - png.xa + block.shape[1]] = block
        t2 = time.perf_counter()
        data = png.encode(segment)
        t3 = time.perf_counter()
        grey = plan.verify_grey.copy()
        (on_r, on_c), (sr, sc) = plan.verify_at, plan.sample_at
        # The decoder reads the composed pixels that were packed (the block, as placed).
        grey[on_r, on_c] = np.take(pal.grey, block.take(sr, axis=0).take(sc, axis=1))
        _verify(grey, payload, f"PNG on skin {skin.name!r}")
    else:
        layout = _layout(skin, n)
        svg = _svg_document(payload, matrix, layout)
        t2 = time.perf_counter()
        data = svg.encode("utf-8")
        t3 = time.perf_counter()
        _verify(rasterise_svg(svg, layout.frame.width, layout.frame.height, DPI), payload,
                f"SVG on skin {skin.name!r}")
    t4 = time.perf_counter()
    ms = 1000.0
    return RenderedCode(
        data=data, content_type=FORMATS[fmt], verified=True,
        timings={"encode": (t1 - t0) * ms, "compose": (t2 - t1) * ms,
                 "serialize": (t3 - t2) * ms, "verify": (t4 - t3) * ms,
                 "total": (t4 - t0) * ms},
        skin=skin.name, width_px=layout.frame.width, height_px=layout.frame.height,
        modules=n, module_px=layout.s, code_box=(layout.x0, layout.y0, n * layout.s))


@functools.cache
def _register_heif() -> None:
    try:  # iPhone photos
        import pillow_heif
    except ImportError:
        return
    pillow_heif.register_heif_opener()


def decode_image(image: str | Path | Image.Image) -> list[str]:
    """Read every QR code in a photo or scan (EXIF rotation applied; HEIC if supported).

    Parameters
    ----------
    image
        Path of an image file, or a PIL image.

    Returns
    -------
    list[str]
        Payload texts as a wallet reads them (:func:`paver.qr_reader.read_payloads`), in
        zxing-cpp's order; empty when none is found.
    """
    if not isinstance(image, Image.Image):
        _register_heif()
        with Image.open(image) as opened:
            return read_payloads(ImageOps.exif_transpose(opened).convert("L"))
    return read_payloads(ImageOps.exif_transpose(image).convert("L"))
