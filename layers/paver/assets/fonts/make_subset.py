"""Rebuild ``NotoSansSC-Bold-subset.ttf`` from the full Noto Sans SC Bold font.

The full font (OFL-1.1) comes from the npm package ``@expo-google-fonts/noto-sans-sc``
(``700Bold/NotoSansSC_700Bold.ttf``; ``npm pack @expo-google-fonts/noto-sans-sc``). The subset
keeps printable ASCII and every non-ASCII character of the shipped skins' captions and titles,
so a render needs no system font (Lambda has none). Run after adding a skin with new
characters (a test fails until you do)::

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


if __name__ == "__main__":
    main(sys.argv[1])
