"""QR symbols of one byte-mode segment at level H, the form every wallet's reader decodes.

Why not the writer's own segmentation: zxing-cpp's writer (zint) splits a payload into
numeric, alphanumeric and byte segments to save bits. After an ECI 26 (UTF-8) designator,
OpenCV's decoder misreads such mixed symbols — it raises or reports an unknown mode (measured:
the test suite's Chengdu payload, every version 16–20) — while it reads ECI 26 followed by one
byte segment, which is also what python-qrcode and segno write. So the data region is laid out
here: mode indicators, character count, the UTF-8 bytes, terminator and padding; Reed–Solomon
error correction per block; interleaving; the zig-zag placement of ISO/IEC 18004 §7.7. Function
patterns (finders, timing, alignment, version information, format bits of mask 0) come from the
writer's own symbol of the same version, drawn once per version. Everything per payload is a
few vectorised numpy operations (about as fast as the writer).
"""

from __future__ import annotations

import functools

import numpy as np
import zxingcpp

__all__ = ["byte_mode_symbol", "capacity_codewords", "function_modules", "mask_candidates",
           "mask_penalties", "version_for"]


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------

@functools.cache
def _blocks(version: int) -> tuple[tuple[int, int], ...]:
    """(data codewords, EC codewords) of each block at level H (ISO/IEC 18004 table 9)."""
    from qrcode.base import rs_blocks
    from qrcode.constants import ERROR_CORRECT_H

    return tuple((b.data_count, b.total_count - b.data_count)
                 for b in rs_blocks(version, ERROR_CORRECT_H))


@functools.cache
def capacity_codewords(version: int) -> int:
    """Data codewords of a level-H symbol of ``version``."""
    return sum(d for d, _ in _blocks(version))


@functools.cache
def version_for(n_bytes: int, eci: bool) -> int:
    """Smallest version whose level-H capacity holds one byte segment of ``n_bytes``.

    Raises
    ------
    ValueError
        The data does not fit version 40.
    """
    for version in range(1, 41):
        bits = (12 if eci else 0) + 4 + (8 if version < 10 else 16) + 8 * n_bytes
        if bits <= 8 * capacity_codewords(version):
            return version
    raise ValueError(f"{n_bytes} bytes do not fit a QR code at level H")


@functools.cache
def _gf_tables() -> tuple[np.ndarray, np.ndarray]:
    """exp (0..509) and log tables of GF(256) with the QR polynomial x^8+x^4+x^3+x^2+1."""
    exp = np.zeros(512, np.int32)
    log = np.zeros(256, np.int32)
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        x <<= 1
        if x & 0x100:
            x ^= 0x11D
    exp[255:510] = exp[0:255]
    return exp, log


@functools.cache
def _generator(degree: int) -> np.ndarray:
    """Reed–Solomon generator polynomial coefficients (highest first, leading 1 dropped)."""
    exp, log = _gf_tables()
    poly = [1]
    for i in range(degree):
        nxt = [0] * (len(poly) + 1)
        for j, c in enumerate(poly):
            nxt[j] ^= c
            if c:
                nxt[j + 1] ^= int(exp[log[c] + i])
        poly = nxt
    return np.array(poly[1:], np.int32)


@functools.cache
def _remainder_logs(k: int, degree: int) -> np.ndarray:
    """log of x^(degree+k-1-i) mod g(x) for i < k: RS encoding is linear over GF(256), so
    the EC codewords are the XOR of these rows, each scaled by its data codeword (k, degree).
    Zero coefficients are marked with -1."""
    exp, log = _gf_tables()
    gen = [int(v) for v in _generator(degree)]
    rows = []
    for i in range(k):
        # Divide the unit data word with a 1 at position i by the generator (an LFSR).
        reg = [0] * degree
        for j in range(k):
            feedback = (1 if j == i else 0) ^ reg[0]
            reg = [*reg[1:], 0]
            if feedback:
                f = int(log[feedback])
                reg = [r ^ (int(exp[f + int(log[g])]) if g else 0) for r, g in zip(reg, gen,
                                                                                 strict=True)]
        rows.append([int(log[v]) if v else -1 for v in reg])
    out = np.array(rows, np.int32)
    out.flags.writeable = False
    return out


def _ec_codewords(data: np.ndarray, degree: int) -> np.ndarray:
    """EC codewords of each row of ``data`` (blocks × data codewords), all rows at once."""
    exp, log = _gf_tables()
    rem = _remainder_logs(data.shape[1], degree)  # (k, degree)
    logs = np.where(data > 0, log[data], -1)  # (blocks, k)
    terms = exp[logs[:, :, None] + rem[None, :, :]]  # (blocks, k, degree)
    terms[(logs[:, :, None] < 0) | (rem[None, :, :] < 0)] = 0
    return np.bitwise_xor.reduce(terms, axis=1)


@functools.cache
def function_modules(n: int) -> np.ndarray:
    """Modules of an n×n symbol that are not data: finders with separators and format
    information, timing, alignment patterns, version information (read-only)."""
    version = (n - 17) // 4
    function = np.zeros((n, n), bool)
    function[:9, :9] = function[:9, n - 8:] = function[n - 8:, :9] = True  # finders, format
    function[6, :] = function[:, 6] = True  # timing
    centres = _alignment_centres(version)
    for r in centres:
        for c in centres:
            if (r, c) not in ((6, 6), (6, n - 7), (n - 7, 6)):
                function[r - 2:r + 3, c - 2:c + 3] = True
    if version >= 7:  # version information
        function[:6, n - 11:n - 8] = function[n - 11:n - 8, :6] = True
    function.flags.writeable = False
    return function


def _alignment_centres(version: int) -> list[int]:
    """Row/column centres of the alignment patterns (ISO/IEC 18004 annex E)."""
    if version == 1:
        return []
    count, size = version // 7 + 2, 4 * version + 17
    step = 26 if version == 32 else (version * 4 + count * 2 + 1) // (count * 2 - 2) * 2
    return [6, *sorted(size - 7 - i * step for i in range(count - 1))]


@functools.cache
def _placement(version: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of each data module in bit order (the zig-zag of ISO/IEC 18004 7.7.3)."""
    n = 4 * version + 17
    function = function_modules(n)
    rows, cols = [], []
    upward, right = True, n - 1
    while right > 0:
        if right == 6:  # the vertical timing pattern is skipped
            right -= 1
        for i in range(n):
            r = n - 1 - i if upward else i
            for c in (right, right - 1):
                if not function[r, c]:
                    rows.append(r)
                    cols.append(c)
        upward = not upward
        right -= 2
    return np.array(rows, np.intp), np.array(cols, np.intp)


@functools.cache
def _interleave_order(version: int) -> np.ndarray:
    """Indices into (all data codewords, then all EC codewords, block by block) giving the
    transmitted codeword order (column-wise across blocks)."""
    blocks = _blocks(version)
    data_start = np.cumsum([0] + [d for d, _ in blocks])
    ec_offset = data_start[-1]
    ec_start = np.cumsum([0] + [e for _, e in blocks])
    order = [int(data_start[b]) + i for i in range(max(d for d, _ in blocks))
             for b, (d, _) in enumerate(blocks) if i < d]
    order += [int(ec_offset + ec_start[b]) + i for i in range(max(e for _, e in blocks))
              for b, (_, e) in enumerate(blocks) if i < e]
    return np.array(order, np.intp)


@functools.cache
def _template(version: int) -> np.ndarray:
    """The writer's symbol of ``version`` at mask 0: its function patterns are taken as is."""
    barcode = zxingcpp.create_barcode(b"0", zxingcpp.BarcodeFormat.QRCode, ec_level="H",
                                      version=version, data_mask=0, eci="0")
    out = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False)) < 128
    out.flags.writeable = False
    return out


@functools.cache
def _mask0(n: int) -> np.ndarray:
    i, j = np.indices((n, n))
    return (i + j) % 2 == 0


# --------------------------------------------------------------------------------------------
# Symbol
# --------------------------------------------------------------------------------------------

def _codewords(data: bytes, eci: bool, version: int) -> np.ndarray:
    """Data codewords: [ECI 26] byte segment, terminator, bit and byte padding."""
    count_bits = 8 if version < 10 else 16
    header = ((0b0111 << 8 | 26) << 4 | 0b0100) if eci else 0b0100
    header_bits = 16 if eci else 4
    value = (header << count_bits | len(data)) << 8 * len(data) | int.from_bytes(data, "big")
    bits = header_bits + count_bits + 8 * len(data)
    capacity = 8 * capacity_codewords(version)
    terminator = min(4, capacity - bits)
    value <<= terminator
    bits += terminator
    pad = -bits % 8
    value <<= pad
    bits += pad
    out = np.frombuffer(value.to_bytes(bits // 8, "big"), np.uint8).astype(np.int32)
    fill = capacity // 8 - len(out)
    return np.concatenate([out, np.resize(np.array([0xEC, 0x11], np.int32), fill)])


def byte_mode_symbol(data: bytes, *, eci: bool) -> np.ndarray:
    """The level-H symbol (``True`` = dark) of ``data`` in one byte segment, masked with
    pattern 0 and with mask 0's format information, preceded by an ECI 26 (UTF-8) designator
    when ``eci``.

    Raises
    ------
    ValueError
        The data does not fit version 40 at level H.
    """
    version = version_for(len(data), eci)
    blocks = _blocks(version)
    codewords = _codewords(data, eci, version)
    ec_parts = []
    start = 0
    by_size: dict[tuple[int, int], list[np.ndarray]] = {}
    for d, e in blocks:
        by_size.setdefault((d, e), []).append(codewords[start:start + d])
        start += d
    for (_, e), rows in by_size.items():  # blocks of one size share a vectorised division
        ec_parts.extend(_ec_codewords(np.stack(rows), e))
    stream = np.concatenate([codewords, *ec_parts])[_interleave_order(version)]
    bits = np.unpackbits(stream.astype(np.uint8))
    rows, cols = _placement(version)
    symbol = _template(version).copy()
    n = symbol.shape[0]
    placed = np.zeros(len(rows), bool)
    placed[:len(bits)] = bits.astype(bool)  # remainder bits stay 0
    symbol[rows, cols] = placed ^ _mask0(n)[rows, cols]
    return symbol


# --------------------------------------------------------------------------------------------
# Masks: the eight variants of a symbol and their ISO/IEC 18004 penalties, vectorised
# --------------------------------------------------------------------------------------------

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


def mask_candidates(symbol0: np.ndarray) -> np.ndarray:
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
    """Bit masks for :func:`mask_penalties` (rows padded by 4 light modules each side)."""
    w = n + 8
    col, row = np.tile(np.arange(w), n), np.repeat(np.arange(n), w)

    def bits(mask: np.ndarray) -> int:
        return int.from_bytes(np.packbits(mask, bitorder="little").tobytes(), "little")

    pair = bits((col >= 4) & (col <= n + 2))  # t and t+1 are both modules of one row
    window = bits((col >= 4) & (col <= w - 11))  # an 11-module window fits in the row
    below = bits((row <= n - 2) & (col >= 4) & (col <= n + 3))  # t and the module below
    return w, (1 << (n * w)) - 1, pair, window, below


def mask_penalties(candidates: np.ndarray) -> np.ndarray:
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
