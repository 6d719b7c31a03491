"""Rasterise the SVG text :mod:`paver.render` writes, to read the code back as a phone would.

resvg draws it when installed; otherwise the SVG is parsed back and its shapes (rect, polygon,
ellipse and the run paths of the code's modules; no text) are drawn with Pillow.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import numpy as np
from PIL import Image, ImageDraw


def rasterise_svg(svg: str, width: int, height: int, dpi: int) -> np.ndarray:
    """Grey pixels of an SVG at ``width`` px: resvg if installed, else our own SVG subset."""
    try:
        import resvg_py
    except ImportError:
        return rasterise_svg_subset(svg, width, height)
    # dpi is needed to resolve the root's mm size (resvg-py's default 0 rejects it).
    png = resvg_py.svg_to_bytes(svg_string=svg, width=width, dpi=dpi, skip_system_fonts=True,
                                shape_rendering="crisp_edges")
    with Image.open(io.BytesIO(bytes(png))) as image:
        return np.asarray(image.convert("L"))


_PATH_RUN = re.compile(r"M(-?[\d.]+) (-?[\d.]+)h(-?[\d.]+)v(-?[\d.]+)h-?[\d.]+z")


def rasterise_svg_subset(svg: str, width: int, height: int) -> np.ndarray:
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
