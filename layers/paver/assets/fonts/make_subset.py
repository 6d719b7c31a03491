"""Rebuild ``NotoSansSC-Bold-subset.ttf`` (and its outlines for SVG) from Noto Sans SC Bold.

The full font (OFL-1.1) comes from the npm package ``@expo-google-fonts/noto-sans-sc``
(``700Bold/NotoSansSC_700Bold.ttf``; ``npm pack @expo-google-fonts/noto-sans-sc``). The subset
keeps printable ASCII and every non-ASCII character of the shipped skins' captions and titles,
so a render needs no system font (Lambda has none). ``NotoSansSC-Bold-subset.glyphs.json``
holds the same glyphs as SVG path outlines (font units, y up) with their advances, so an SVG
print carries its captions as shapes and looks the same in every viewer. Run after adding a
skin with new characters (a test fails until you do)::

    python layers/paver/assets/fonts/make_subset.py path/to/NotoSansSC_700Bold.ttf
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from fontTools import subset

HERE = Path(__file__).resolve().parent
SKINS = HERE.parent / "skins"
OUT = HERE / "NotoSansSC-Bold-subset.ttf"
GLYPHS = HERE / "NotoSansSC-Bold-subset.glyphs.json"


def characters() -> str:
    """Printable ASCII plus the characters of every skin's caption and title."""
    chars = {chr(c) for c in range(0x20, 0x7F)}
    for path in sorted(SKINS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if path.name == "catalog.yaml":
            continue
        for text in (data["caption"]["text"], data["title"]):
            chars.update(text)
    return "".join(sorted(chars))


def main(source: str) -> None:
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]  # keep the copyright and licence records
    options.notdef_outline = True
    font = subset.load_font(source, options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=characters())
    subsetter.subset(font)
    subset.save_font(font, str(OUT), options)
    print(f"{OUT.name}: {len(characters())} characters, {OUT.stat().st_size} bytes")
    write_outlines()


def write_outlines() -> None:
    """SVG outlines and advances of every character of the subset."""
    import json

    from fontTools.pens.svgPathPen import SVGPathPen
    from fontTools.ttLib import TTFont

    font = TTFont(str(OUT))
    glyph_set, cmap = font.getGlyphSet(), font.getBestCmap()
    glyphs = {}
    for ch in characters():
        name = cmap[ord(ch)]
        pen = SVGPathPen(glyph_set, ntos=lambda v: f"{v:g}")
        glyph_set[name].draw(pen)
        glyphs[ch] = {"advance": glyph_set[name].width, "d": pen.getCommands()}
    data = {"units_per_em": font["head"].unitsPerEm, "ascender": font["hhea"].ascent,
            "descender": font["hhea"].descent, "glyphs": glyphs}
    GLYPHS.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                      encoding="utf-8")
    print(f"{GLYPHS.name}: {GLYPHS.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
