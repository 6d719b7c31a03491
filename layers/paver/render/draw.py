"""Drawing a skin: one frame/logo description painted to pixels or to SVG (painters),
the regional motifs and logo marks, the frame geometry and the layout of the code on it
(cached per skin and code size)."""

from __future__ import annotations

import functools
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from paver.render.common import CJK_FONT, CJK_OUTLINES, MIN_MODULE_PX, PX_PER_MM, RenderError
from paver.skins import Skin

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
