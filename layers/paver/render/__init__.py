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

The package, by what each part does: :mod:`~paver.render.qr` (the matrix and its mask),
:mod:`~paver.render.draw` (painters, motifs, logo marks, frame and layout of a skin),
:mod:`~paver.render.png` (the cached PNG encoder), :mod:`~paver.render.svg` (SVG prints and
their rasterisation), :mod:`~paver.render.common` (units, font, errors); this module composes
them (:func:`render_code`) and reads codes back (:func:`decode_image`).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from paver import emv
from paver.qr_reader import read_payloads
from paver.render.common import (
    CJK_FONT,
    CJK_OUTLINES,
    DPI,
    FORMATS,
    RenderError,
    ScanVerificationError,
)
from paver.render.draw import _layout
from paver.render.png import _module_pixels, _raster_plan
from paver.render.qr import qr_matrix
from paver.render.svg import _rasterise_svg, _svg_document
from paver.skins import Skin, get_skin

__all__ = [
    "CJK_FONT",
    "CJK_OUTLINES",
    "DPI",
    "FORMATS",
    "RenderError",
    "RenderedCode",
    "ScanVerificationError",
    "decode_image",
    "qr_matrix",
    "render_code",
]

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
        _verify(_rasterise_svg(svg, layout.frame.width, layout.frame.height), payload,
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
