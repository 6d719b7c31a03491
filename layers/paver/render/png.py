"""The PNG encoder: the rows above and below the code cached per skin and size, already
deflated, so a code costs one band of rows (zlib streams joined with ``adler32_combine``)."""

from __future__ import annotations

import functools
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from paver.render.common import DPI, PNG_LEVEL, PNG_MEM_LEVEL
from paver.render.draw import _Layout, _layout, _Palette, _raster_frame, _raster_logo
from paver.skins import Skin


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(data, zlib.crc32(kind)))


def adler32_combine(adler1: int, adler2: int, len2: int) -> int:
    """Adler-32 of ``a + b`` from ``adler32(a)``, ``adler32(b)`` and ``len(b)`` (as zlib)."""
    base = 65521
    rem = len2 % base
    sum1 = adler1 & 0xFFFF
    sum2 = (rem * sum1) % base
    sum1 = (sum1 + (adler2 & 0xFFFF) + base - 1) % base
    sum2 = (sum2 + ((adler1 >> 16) & 0xFFFF) + ((adler2 >> 16) & 0xFFFF) + base - rem) % base
    return (sum2 << 16) | sum1


def _deflate(raw: bytes, level: int, final: bool, mem_level: int = 9) -> bytes:
    z = zlib.compressobj(level, zlib.DEFLATED, -15, mem_level, zlib.Z_RLE)
    return z.compress(raw) + z.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)


def _pack(pixels: np.ndarray, depth: int) -> np.ndarray:
    """Palette indices (h, w) to PNG scanline bytes at ``depth`` 4 or 8 bits per pixel."""
    if depth == 8:
        return pixels
    if pixels.shape[1] % 2:
        pixels = np.pad(pixels, ((0, 0), (0, 1)))
    pairs = np.ascontiguousarray(pixels).view("<u2")  # low byte: left pixel, high: right
    return (((pairs & 0x0F) << 4) | (pairs >> 8)).astype(np.uint8)


class _PngTemplate:
    """A palette PNG (4 bits per pixel for ≤ 16 colours) whose pixels change only in a box.

    The zlib stream is split over three IDAT chunks: header + deflated head rows (cached, level
    9), the band of rows ``y0..y1`` (deflated per code: first row filter None, the others
    filter Up, so the repeated rows of each module row deflate to almost nothing; ends on a
    sync flush), and the deflated tail rows (final block, cached) + the Adler-32 of all
    scanlines, combined arithmetically. Within the band only columns ``xa..xb`` change.
    """

    def __init__(self, pixels: np.ndarray, box: tuple[int, int, int, int],
                 palette: _Palette) -> None:
        height, width = pixels.shape
        self.depth = 4 if len(palette.colors) <= 16 else 8
        step = 8 // self.depth  # pixels per byte
        x0, y0, x1, y1 = box
        self.xa, self.xb = x0 - x0 % step, min(width, x1 + (-x1) % step)
        self.y0, self.y1 = y0, y1
        self.ba, self.bb = self.xa // step, -(-self.xb // step)  # byte columns of the box
        packed = _pack(pixels, self.depth)
        filtered = np.zeros((height, packed.shape[1] + 1), np.uint8)  # filter byte 0 per row
        filtered[:, 1:] = packed
        head_raw, tail_raw = filtered[:y0].tobytes(), filtered[y1:].tobytes()
        ihdr = struct.pack(">IIBBBBB", width, height, self.depth, 3, 0, 0, 0)
        ppm = round(DPI / 0.0254)
        self.prefix = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
                       + _chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1))
                       + _chunk(b"PLTE", palette.plte)
                       + _chunk(b"IDAT", b"\x78\x01" + _deflate(head_raw, 9, final=False)))
        self.head_adler = zlib.adler32(head_raw)
        self.tail = _deflate(tail_raw, 9, final=True)
        self.tail_adler, self.tail_len = zlib.adler32(tail_raw), len(tail_raw)
        self.tail_crc = zlib.crc32(self.tail, zlib.crc32(b"IDAT"))
        self.band = packed[y0:y1].copy()
        self.band.flags.writeable = False
        self.segment = pixels[y0:y1, self.xa:self.xb].copy()  # unpacked, for compositing
        self.segment.flags.writeable = False
        self.iend = _chunk(b"IEND", b"")

    def encode(self, segment: np.ndarray) -> bytes:
        """PNG bytes with the box columns ``xa..xb`` of rows ``y0..y1`` set to ``segment``."""
        band = self.band.copy()
        band[:, self.ba:self.bb] = _pack(segment, self.depth)
        lines = np.empty((band.shape[0], band.shape[1] + 1), np.uint8)
        lines[0, 0], lines[1:, 0] = 0, 2  # None, then Up
        lines[0, 1:] = band[0]
        np.subtract(band[1:], band[:-1], out=lines[1:, 1:])  # wraps modulo 256, as PNG wants
        raw = lines.tobytes()
        adler = adler32_combine(adler32_combine(self.head_adler, zlib.adler32(raw), len(raw)),
                                self.tail_adler, self.tail_len)
        tail = self.tail + struct.pack(">I", adler)
        tail_chunk = (struct.pack(">I", len(tail)) + b"IDAT" + tail
                      + struct.pack(">I", zlib.crc32(tail[-4:], self.tail_crc)))
        body = _chunk(b"IDAT", _deflate(raw, PNG_LEVEL, final=False, mem_level=PNG_MEM_LEVEL))
        return self.prefix + body + tail_chunk + self.iend


@dataclass(frozen=True)
class _RasterPlan:
    layout: _Layout
    png: _PngTemplate
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
    png = _PngTemplate(pixels, (layout.x0, layout.y0, layout.x0 + span, layout.y0 + span), pal)
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
