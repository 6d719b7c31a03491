"""What every part of rendering shares: print units, the shipped font, the errors."""

from __future__ import annotations

from pathlib import Path

from paver.errors import InvalidInput

DPI = 300
PX_PER_MM = DPI / 25.4
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
#: Smallest module edge in pixels at 300 dpi (3 px ≈ 0.25 mm, a safe print minimum).
MIN_MODULE_PX = 3
#: zlib settings for the code band (run-length strategy): measured fastest here; a smaller
#: memLevel makes each compressor cheaper to set up and costs < 1 % in size.
PNG_LEVEL = 1
PNG_MEM_LEVEL = 5
#: The shipped font (a subset of Noto Sans SC Bold, OFL-1.1, see assets/fonts): loaded
#: explicitly, never a system font, so a skin prints the same on a laptop, in CI and on Lambda;
#: SVG prints carry its outlines as paths.
CJK_FONT = Path(__file__).resolve().parents[1] / "assets" / "fonts" / "NotoSansSC-Bold-subset.ttf"
CJK_OUTLINES = CJK_FONT.with_suffix(".glyphs.json")


class RenderError(InvalidInput):
    """The code cannot be rendered (bad payload, format, or payload too long for the skin)."""


class ScanVerificationError(RenderError):
    """The rendered code did not decode back to exactly the payload: never print it."""
