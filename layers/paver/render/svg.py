"""SVG prints (outlined caption, modules as run paths) and their rasterisation for
verification (resvg; without it, the shapes parsed back and drawn)."""

from __future__ import annotations

import functools
import io
import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image, ImageDraw

from paver.render.common import DPI
from paver.render.draw import _draw_frame, _draw_logo, _frame_geometry, _Layout, _SvgPainter
from paver.skins import Skin


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


def _rasterise_svg(svg: str, width: int, height: int) -> np.ndarray:
    """Grey pixels of an SVG at ``width`` px: resvg if installed, else our own SVG subset."""
    try:
        import resvg_py
    except ImportError:
        return _rasterise_svg_subset(svg, width, height)
    # dpi is needed to resolve the root's mm size (resvg-py's default 0 rejects it).
    png = resvg_py.svg_to_bytes(svg_string=svg, width=width, dpi=DPI, skip_system_fonts=True,
                                shape_rendering="crisp_edges")
    with Image.open(io.BytesIO(bytes(png))) as image:
        return np.asarray(image.convert("L"))


_PATH_RUN = re.compile(r"M(-?[\d.]+) (-?[\d.]+)h(-?[\d.]+)v(-?[\d.]+)h-?[\d.]+z")


def _rasterise_svg_subset(svg: str, width: int, height: int) -> np.ndarray:
    """Parse the SVG back and draw its rect, polygon, ellipse and run-path shapes (no text)."""
    root = ET.fromstring(svg)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)

    def grey(color: str) -> int:
        r, g, b = int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)
        return round(0.299 * r + 0.587 * g + 0.114 * b)

    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        fill = el.get("fill")
        if fill is None:
            continue
        if tag == "rect":
            x, y = float(el.get("x", 0)), float(el.get("y", 0))
            w, h = float(el.get("width", 0)), float(el.get("height", 0))
            rx = float(el.get("rx", 0))
            box = (round(x), round(y), round(x + w) - 1, round(y + h) - 1)
            if rx:
                draw.rounded_rectangle(box, round(rx), fill=grey(fill))
            else:
                draw.rectangle(box, fill=grey(fill))
        elif tag == "polygon":
            nums = [float(v) for v in re.split(r"[ ,]+", el.get("points", "").strip()) if v]
            draw.polygon([(round(nums[i]), round(nums[i + 1])) for i in range(0, len(nums), 2)],
                         fill=grey(fill))
        elif tag == "ellipse":
            cx, cy = float(el.get("cx", 0)), float(el.get("cy", 0))
            rx, ry = float(el.get("rx", 0)), float(el.get("ry", 0))
            draw.ellipse((round(cx - rx), round(cy - ry), round(cx + rx) - 1,
                          round(cy + ry) - 1), fill=grey(fill))
        elif tag == "path":
            for m in _PATH_RUN.finditer(el.get("d", "")):
                x, y, w, h = (round(float(v)) for v in m.groups())
                draw.rectangle((x, y, x + w - 1, y + h - 1), fill=grey(fill))
    return np.asarray(image)
