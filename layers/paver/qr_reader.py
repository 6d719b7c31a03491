"""Read QR codes the way a payment wallet does: the one reader of the project.

Binding (store photos), ``paver qr decode``, the demo and the renderer's own verification all
read codes through :func:`read_payloads`, which returns each code's content as *text*, the way
a wallet's scanner hands it to the app: zxing-cpp's text result, charset applied from the
symbol's ECI designator (or guessed when there is none). Callers compare that text with the
payload, never the raw bytes: a symbol whose bytes are right but whose text a reader gets wrong
(zxing-cpp's writer marks byte input as ECI 899 "binary", which turns UTF-8 into Latin-1
mojibake) is a code a wallet misreads.

zxing-cpp is a runtime dependency (Lambda); the other readers a skin is certified against
(:mod:`paver.certify`) are test/dev tools only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import zxingcpp
from PIL import Image

__all__ = ["read_payloads"]

_QR = zxingcpp.BarcodeFormat.QRCode


def read_payloads(image: Image.Image | np.ndarray[Any, Any], *, thorough: bool = True
                  ) -> list[str]:
    """Text of every QR code in an image, as a wallet's scanner returns it.

    Parameters
    ----------
    image
        A PIL image (any mode; converted to grey) or a grey/RGB ``uint8`` array.
    thorough
        ``True`` (photos): zxing-cpp's full search — rotations, inverted codes, downscaled
        copies of large photos. ``False`` (the renderer's verification of its own upright,
        dark-on-light pixels): one pass, about four times faster.

    Returns
    -------
    list[str]
        Distinct texts of the valid QR codes found, in zxing-cpp's order; empty when none.
    """
    if isinstance(image, Image.Image) and image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    options: dict[str, Any] = {} if thorough else {
        "try_rotate": False, "try_downscale": False, "try_invert": False}
    found = zxingcpp.read_barcodes(image, formats=_QR, **options)
    out: list[str] = []
    for barcode in found:
        if barcode.valid and barcode.text not in out:
            out.append(barcode.text)
    return out
