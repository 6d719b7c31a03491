"""A palette-PNG encoder for many images that differ only inside one box (the QR code).

Everything outside the box is deflated once and cached (:class:`PngTemplate`); each image then
costs one band of rows to deflate, the Adler-32 of the whole being combined arithmetically
(:func:`adler32_combine`). Used by :mod:`paver.render` for skinned codes.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

#: zlib settings for the code band (run-length strategy): measured fastest here; a smaller
#: memLevel makes each compressor cheaper to set up and costs < 1 % in size.
PNG_LEVEL = 1
PNG_MEM_LEVEL = 5



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


class PngTemplate:
    """A palette PNG (4 bits per pixel for ≤ 16 colours) whose pixels change only in a box.

    The zlib stream is split over three IDAT chunks: header + deflated head rows (cached, level
    9), the band of rows ``y0..y1`` (deflated per code: first row filter None, the others
    filter Up, so the repeated rows of each module row deflate to almost nothing; ends on a
    sync flush), and the deflated tail rows (final block, cached) + the Adler-32 of all
    scanlines, combined arithmetically. Within the band only columns ``xa..xb`` change.
    """

    def __init__(self, pixels: np.ndarray, box: tuple[int, int, int, int], plte: bytes,
                 dpi: int) -> None:
        height, width = pixels.shape
        self.depth = 4 if len(plte) // 3 <= 16 else 8
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
        ppm = round(dpi / 0.0254)
        self.prefix = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
                       + _chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1))
                       + _chunk(b"PLTE", plte)
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
