"""The QR matrix of a payload: byte-mode symbol at level H, the eight masks scored at once
(numpy), the best one applied (:func:`qr_matrix`)."""

from __future__ import annotations

import functools

import numpy as np
import zxingcpp

from paver.qr_symbol import byte_mode_symbol, function_modules
from paver.render.common import RenderError


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


@functools.cache
def _data_masks(n: int) -> np.ndarray:
    """The eight mask patterns (8, n, n), restricted to the data modules of an n×n symbol."""
    i, j = np.indices((n, n))
    patterns = np.stack([(i + j) % 2 == 0, i % 2 == 0, j % 3 == 0, (i + j) % 3 == 0,
                         (i // 2 + j // 3) % 2 == 0, (i * j) % 2 + (i * j) % 3 == 0,
                         ((i * j) % 2 + (i * j) % 3) % 2 == 0,
                         ((i + j) % 2 + (i * j) % 3) % 2 == 0])
    out = patterns & ~function_modules(n)
    out.flags.writeable = False
    return out


@functools.cache
def _format_modules() -> np.ndarray:
    """Format information (level H, masks 0–7) as the writer draws it, on a version-1 symbol."""
    def writer(mask: int) -> np.ndarray:
        barcode = zxingcpp.create_barcode(b"A", zxingcpp.BarcodeFormat.QRCode, ec_level="H",
                                          version=1, data_mask=mask, eci="0")
        return np.asarray(barcode.to_image(scale=1, add_quiet_zones=False)) < 128

    out = np.stack([writer(k) for k in range(8)])
    out.flags.writeable = False
    return out


def _mask_candidates(symbol0: np.ndarray) -> np.ndarray:
    """All eight masked variants (8, n, n) of a symbol drawn with mask 0."""
    n = symbol0.shape[0]
    masks = _data_masks(n)
    candidates = (symbol0 ^ masks[0])[None] ^ masks
    ref = _format_modules()  # format bits sit at fixed offsets from the corners
    candidates[:, 8, :9] = ref[:, 8, :9]
    candidates[:, :9, 8] = ref[:, :9, 8]
    candidates[:, 8, n - 8:] = ref[:, 8, 13:]
    candidates[:, n - 8:, 8] = ref[:, 13:, 8]
    return candidates


@functools.cache
def _penalty_bits(n: int) -> tuple[int, int, int, int, int]:
    """Bit masks for :func:`_mask_penalties` (rows padded by 4 light modules each side)."""
    w = n + 8
    col, row = np.tile(np.arange(w), n), np.repeat(np.arange(n), w)

    def bits(mask: np.ndarray) -> int:
        return int.from_bytes(np.packbits(mask, bitorder="little").tobytes(), "little")

    pair = bits((col >= 4) & (col <= n + 2))  # t and t+1 are both modules of one row
    window = bits((col >= 4) & (col <= w - 11))  # an 11-module window fits in the row
    below = bits((row <= n - 2) & (col >= 4) & (col <= n + 3))  # t and the module below
    return w, (1 << (n * w)) - 1, pair, window, below


def _mask_penalties(candidates: np.ndarray) -> np.ndarray:
    """ISO/IEC 18004 mask penalty (N1 runs, N2 blocks, N3 finder-like, N4 balance) per mask.

    Each padded row-major (and column-major) symbol is one Python integer, so every rule is a
    handful of shifts, ands and popcounts over all rows at once.
    """
    k, n, _ = candidates.shape
    w, full, pair, window, below = _penalty_bits(n)
    padded = np.zeros((2 * k, n, w), bool)
    padded[:k, :, 4:4 + n] = candidates
    padded[k:, :, 4:4 + n] = candidates.transpose(0, 2, 1)
    packed = np.packbits(padded.reshape(2 * k, -1), axis=1, bitorder="little")
    out = np.zeros(k, np.int64)
    area = n * n
    for index in range(2 * k):
        dark = int.from_bytes(packed[index].tobytes(), "little")
        light = ~dark & full
        same = ~(dark ^ (dark >> 1)) & pair  # module t equals module t+1
        same2 = same & (same >> 1)
        run5 = same2 & (same2 >> 2)  # modules t..t+4 equal
        score = run5.bit_count() + 2 * (run5 & ~(same << 1)).bit_count()  # N1: 3 + (len-5)
        core = (dark & (light >> 1) & (dark >> 2) & (dark >> 3) & (dark >> 4) & (light >> 5)
                & (dark >> 6) & window)  # 1011101
        light2 = light & (light >> 1)
        light4 = light2 & (light2 >> 2)
        score += 40 * ((core & (light4 << 4)).bit_count() + (core & (light4 >> 7)).bit_count())
        if index < k:  # rules counted once, on the row-major copy
            vertical = ~(dark ^ (dark >> w)) & below
            score += 3 * (same & (same >> w) & vertical).bit_count()  # N2
            score += 10 * (abs(dark.bit_count() * 20 - 10 * area) // area)  # N4
        out[index % k] += score
    return out


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
    candidates = _mask_candidates(_symbol(payload))
    return candidates[int(np.argmin(_mask_penalties(candidates)))]
