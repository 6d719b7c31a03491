"""Same print everywhere: captions are drawn with the shipped CJK font, never a system one."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageFont

from paver import emv, render, skins
from paver.render import CJK_FONT, render_code


def _payload() -> str:
    return emv.build_aggregated_code(emv.MerchantAccount("com.paver.platform", "P1"),
                                     emv.MerchantAccount("A000000333010102", "8881"),
                                     "West Lake Teas", "Hangzhou", "5812", name_zh="西湖茶社")


def _clear_caches() -> None:
    for fn in (render._font, render._outlines, render._raster_frame, render._raster_plan,
               render._raster_logo, render._svg_frame):
        fn.cache_clear()


def test_the_shipped_font_has_every_caption_glyph_and_its_licence() -> None:
    cmap = TTFont(CJK_FONT).getBestCmap()
    for skin in skins.load_skins().values():
        missing = [ch for ch in skin.caption.text if ord(ch) not in cmap]
        assert not missing, f"{skin.name}: run assets/fonts/make_subset.py for {missing}"
    licence = (CJK_FONT.parent / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence


def test_chinese_captions_render_without_any_system_font(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    payload = _payload()
    normal = render_code(payload, "jiangnan_blue").data
    opened: list[str] = []
    real_truetype = ImageFont.truetype

    def only_shipped(font=None, size=10, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Pillow's own default font arrives as in-memory bytes; any path but ours is refused.
        if not hasattr(font, "read"):
            opened.append(str(font))
            if str(font) != str(CJK_FONT):
                raise OSError(f"system fonts are hidden: {font}")
        return real_truetype(font, size, *args, **kwargs)

    monkeypatch.setattr(ImageFont, "truetype", only_shipped)
    _clear_caches()
    try:
        hidden = render_code(payload, "jiangnan_blue").data
    finally:
        _clear_caches()
    assert str(CJK_FONT) in opened
    assert hidden == normal  # the same print, byte for byte


def test_the_caption_is_drawn_in_chinese() -> None:
    """The caption band differs from the same skin captioned with its Latin rendition."""
    payload = _payload()
    skin = skins.get_skin("lingnan_red")
    latin = dataclasses.replace(skin, name="lingnan_red_latin", caption=dataclasses.replace(
        skin.caption, text=skin.caption.text_latin))
    chinese_png, latin_png = (render_code(payload, s).data for s in (skin, latin))
    code_y = render_code(payload, skin).code_box[1]
    with Image.open(io.BytesIO(chinese_png)) as a, Image.open(io.BytesIO(latin_png)) as b:
        band_a = np.asarray(a.convert("L"))[:code_y]
        band_b = np.asarray(b.convert("L"))[:code_y]
    text = skins.get_skin("lingnan_red").palette.text
    grey = round(0.299 * int(text[1:3], 16) + 0.587 * int(text[3:5], 16)
                 + 0.114 * int(text[5:7], 16))
    assert (band_a == grey).sum() > 500  # glyph pixels in the caption colour
    assert (band_a != band_b).sum() > 500


def test_svg_captions_are_the_same_glyphs_as_outlines() -> None:
    """No <text> (a viewer would substitute its own font): the PNG's glyphs, as paths."""
    import resvg_py

    payload = _payload()
    skin = skins.get_skin("northeast_snow")
    png = render_code(payload, skin, "png")
    svg = render_code(payload, skin, "svg").data.decode()
    assert "<text" not in svg and "font-family" not in svg
    assert f"<title>{skin.caption.text}</title>" in svg
    raster = bytes(resvg_py.svg_to_bytes(svg_string=svg, dpi=300, skip_system_fonts=True))
    text = skin.palette.text
    code_y = render._frame_geometry(skin).panel[1]  # the caption band above the white panel
    masks = []
    for data in (png.data, raster):
        with Image.open(io.BytesIO(data)) as image:
            rgb = np.asarray(image.convert("RGB"))[:code_y].astype(int)
        target = np.array([int(text[i:i + 2], 16) for i in (1, 3, 5)])
        masks.append(np.abs(rgb - target).sum(axis=2) < 60)
    overlap = (masks[0] & masks[1]).sum() / (masks[0] | masks[1]).sum()
    assert masks[0].sum() > 1000 and overlap > 0.7, overlap
    shifted = np.roll(masks[1], 12, axis=1)  # the same glyphs a little to the side do not match
    assert (masks[0] & shifted).sum() / (masks[0] | shifted).sum() < overlap - 0.2
