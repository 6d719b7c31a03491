"""Skins as validated data and the verified renderer: every skinned code must scan."""

from __future__ import annotations

import dataclasses
import io
import shutil
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import resvg_py
import yaml
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from paver import emv, qr_symbol, render, skins
from paver.png import adler32_combine
from paver.render import RenderError, ScanVerificationError, render_code
from paver.skins import SkinError
from paver.svg_raster import rasterise_svg

SHIPPED = sorted(skins.load_skins())
PAYLOAD = emv.build_aggregated_code(
    emv.MerchantAccount("com.paver.platform", "P0000012345"),
    emv.MerchantAccount("A000000333010102", "888123456789012", {"02": "T0001"}),
    "Hangzhou West Lake Tea", "Hangzhou", "5812", postal_code="310000",
    store_label="Store 0012", terminal_label="T-0001", campaign_ref="CAMP-2026-Q1",
    name_zh="杭州西湖龙井茶社", city_zh="杭州")


def read_all(pixels: Any) -> list[bytes]:
    """Independent QR decode of a whole image with zxing-cpp's robust default settings.

    QR only, as a payment app scans: with every format on, a column of QR modules can pass for
    a Codabar symbol.
    """
    return [b.bytes for b in zxingcpp.read_barcodes(pixels, formats=zxingcpp.BarcodeFormat.QRCode)]


# ------------------------------------------------------------------------------ catalogue

def test_at_least_six_skins_with_regional_themes() -> None:
    shipped = skins.load_skins()
    assert len(shipped) >= 6
    regions = {s.region for s in shipped.values()}
    assert {"jiangnan", "lingnan", "sichuan", "northeast", "xinjiang", "neutral"} <= regions
    assert {s.size.kind for s in shipped.values()} == {"sticker", "stand"}
    for skin in shipped.values():
        assert skins.contrast_ratio(skin.palette.module, skin.palette.background) >= 4.5
        assert skin.quiet_zone_modules >= 4
        assert skin.logo is None or skin.logo.fraction <= skins.MAX_LOGO_FRACTION


def test_contrast_ratio_matches_wcag() -> None:
    assert skins.contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert skins.contrast_ratio("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)
    assert skins.contrast_ratio("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)


@pytest.mark.parametrize(("region", "partner_kind", "default"), [
    ("浙江省", "service_provider", "jiangnan_blue"),
    ("Guangdong", "acquiring_bank", "lingnan_red"),
    ("chongqing", "acquiring_bank", "sichuan_spicy"),
    ("黑龙江", "service_provider", "northeast_snow"),
    ("新疆维吾尔自治区", "acquiring_bank", "xinjiang_desert"),
    ("lingnan", "acquiring_bank", "lingnan_red"),
    ("Atlantis", "acquiring_bank", "neutral_default"),
    (None, "acquiring_bank", "neutral_default"),
])
def test_skins_for_partner_defaults_by_region(region: str | None, partner_kind: str,
                                              default: str) -> None:
    choice = skins.skins_for_partner(partner_kind, region)
    assert choice.default.name == default
    assert choice.names[0] == default
    assert len(set(choice.names)) == len(choice.names)
    assert choice.pick().name == default


def test_partner_override_and_merchant_pick() -> None:
    choice = skins.skins_for_partner("acquiring_bank", "guangdong", partner_id="demo-bank-hz")
    assert choice.default.name == "jiangnan_blue"  # the partner's own default wins
    assert "lingnan_red" in choice.names and "neutral_stand" in choice.names
    assert choice.pick("neutral_stand").name == "neutral_stand"
    with pytest.raises(SkinError, match="not offered"):
        skins.skins_for_partner("acquiring_bank").pick("sichuan_spicy")
    with pytest.raises(SkinError, match="unknown partner kind 'florist'"):
        skins.skins_for_partner("florist")
    with pytest.raises(SkinError, match="unknown skin 'nope'"):
        skins.get_skin("nope")


def _skin_dir(tmp_path: Path, edit: dict[str, Any], name: str = "lingnan_red") -> Path:
    src = skins.SKINS_DIR / f"{name}.yaml"
    data = yaml.safe_load(src.read_text(encoding="utf-8"))
    for path, value in edit.items():
        node = data
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True),
                                           encoding="utf-8")
    return tmp_path


_DELETE = object()


@pytest.mark.parametrize(("edit", "field", "fragment"), [
    ({"palette.module": "#D98A8E"}, "palette.module", "below 4.5"),
    ({"palette.module": "#FFFFFF", "palette.background": "#111111"}, "palette.module",
     "dark on light"),
    ({"palette.module": "red"}, "palette.module", "#RRGGBB"),
    ({"palette.text": "#B3242C"}, "palette.text", "below 3.0"),
    ({"logo.fraction": 0.4}, "logo.fraction", "stop scanning"),
    ({"quiet_zone_modules": 2}, "quiet_zone_modules", "greater than or equal to 4"),
    ({"frame.style": "zigzag"}, "frame.style", "not one of"),
    ({"logo.mark": "dragon"}, "logo.mark", "not one of"),
    ({"size.code_mm": 58}, "size.code_mm", "does not fit"),
    ({"size.code_mm": 12}, "size.code_mm", "greater than or equal to 20"),
    ({"size.height_mm": 50}, "size.height_mm", "too short"),
    ({"caption.text_latin": "扫码"}, "caption.text_latin", "ASCII"),
    ({"caption.text": _DELETE}, "caption.text", "required"),
    ({"palette.glitter": "#FFFFFF"}, "palette.glitter", "Extra inputs are not permitted"),
    ({"name": "other"}, "name", "does not match"),
])
def test_invalid_skin_errors_name_skin_and_field(tmp_path: Path, edit: dict[str, Any],
                                                 field: str, fragment: str) -> None:
    with pytest.raises(SkinError) as info:
        skins.load_skins(_skin_dir(tmp_path, edit))
    message = str(info.value)
    assert "skin 'lingnan_red'" in message
    assert f"field '{field}'" in message
    assert fragment in message
    # file:line of the field, or of its section when the field is missing
    where, line, _ = message.split(":", 2)
    assert where == "lingnan_red.yaml"
    text = (tmp_path / "lingnan_red.yaml").read_text(encoding="utf-8").splitlines()
    key = field.split(".")[-1] if edit.get(field) is not _DELETE else field.split(".")[0]
    assert text[int(line) - 1].strip().startswith(f"{key}:"), (line, text[int(line) - 1])


def test_catalog_rejects_unknown_skin(tmp_path: Path) -> None:
    for src in skins.SKINS_DIR.glob("*.yaml"):
        shutil.copy(src, tmp_path / src.name)
    assert skins.load_catalog(tmp_path).default == "neutral_default"
    catalog = yaml.safe_load((tmp_path / "catalog.yaml").read_text(encoding="utf-8"))
    catalog["regions"]["lingnan"]["skins"] = ["canton_gold"]
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(catalog, allow_unicode=True),
                                           encoding="utf-8")
    with pytest.raises(SkinError, match=r"regions\.lingnan\.skins names unknown skin"):
        skins.load_catalog(tmp_path)


# ------------------------------------------------------------------------------ rendering

@pytest.fixture(scope="module")
def rendered() -> dict[tuple[str, str], render.RenderedCode]:
    assert len(PAYLOAD) >= 200
    return {(name, fmt): render_code(PAYLOAD, name, fmt) for name in SHIPPED
            for fmt in ("png", "svg")}


@pytest.mark.parametrize("name", SHIPPED)
def test_every_skin_png_scans_back_exactly(name: str,
                                           rendered: dict[tuple[str, str], Any]) -> None:
    code = rendered[(name, "png")]
    assert code.verified and code.content_type == "image/png"
    assert set(code.timings) == {"encode", "compose", "serialize", "verify", "total"}
    with Image.open(io.BytesIO(code.data)) as image:
        assert image.mode == "P" and image.size == (code.width_px, code.height_px)
        assert tuple(round(v) for v in image.info["dpi"]) == (300, 300)
        skin = skins.get_skin(name)
        assert abs(image.width / 300 * 25.4 - skin.size.width_mm) < 0.2
        assert read_all(image.convert("L")) == [PAYLOAD.encode()]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_skin_svg_rasterised_scans_back_exactly(
        name: str, rendered: dict[tuple[str, str], Any]) -> None:
    code = rendered[(name, "svg")]
    assert code.verified and code.content_type == "image/svg+xml"
    svg = code.data.decode()
    skin = skins.get_skin(name)
    assert f'width="{skin.size.width_mm:g}mm"' in svg and "<image" not in svg  # pure vector
    png = resvg_py.svg_to_bytes(svg_string=svg, dpi=300)
    with Image.open(io.BytesIO(bytes(png))) as image:
        assert read_all(image.convert("L")) == [PAYLOAD.encode()]


@pytest.mark.parametrize("name", SHIPPED)
def test_quiet_zone_and_logo_size(name: str, rendered: dict[tuple[str, str], Any]) -> None:
    code = rendered[(name, "png")]
    skin = skins.get_skin(name)
    with Image.open(io.BytesIO(code.data)) as image:
        rgb = np.asarray(image.convert("RGB"))
    x, y, size = code.code_box
    q = skins.MIN_QUIET_ZONE * code.module_px
    ring = rgb[y - q:y + size + q, x - q:x + size + q].copy()
    ring[q:-q, q:-q] = 0  # keep only the quiet zone
    bg = np.array([int(skin.palette.background[i:i + 2], 16) for i in (1, 3, 5)])
    mask = np.ones(ring.shape[:2], bool)
    mask[q:-q, q:-q] = False
    assert (ring[mask] == bg).all()
    # The logo covers at most MAX_LOGO_FRACTION of the code width.
    symbol = rgb[y:y + size, x:x + size]
    module = np.array([int(skin.palette.module[i:i + 2], 16) for i in (1, 3, 5)])
    dark = (symbol == module).all(axis=2)
    row = dark[size // 2]
    mid = size // 2
    left = mid - np.argmax(row[:mid][::-1])
    right = mid + np.argmax(row[mid:])
    assert (right - left) / size <= skins.MAX_LOGO_FRACTION + 2 / code.modules
    layout = render._layout(skin, code.modules)
    assert skin.logo is None or layout.logo_modules / code.modules <= skin.logo.fraction


def test_png_writer_is_standard(rendered: dict[tuple[str, str], Any]) -> None:
    data = rendered[("jiangnan_blue", "png")].data
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos, idat, kinds = 8, b"", []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == \
            zlib.crc32(kind + body)
        kinds.append(kind)
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"pHYs" in kinds
    raw = zlib.decompress(idat)  # checks the combined Adler-32 too
    with Image.open(io.BytesIO(data)) as image:
        expected = np.asarray(image)
        depth = data[24]  # IHDR bit depth
        assert depth in (4, 8) and data[25] == 3  # palette colour type
        stride = -(-image.width * depth // 8)
        lines = np.frombuffer(raw, np.uint8).reshape(image.height, stride + 1)
    # Undo the filters (None and Up are the only ones written) and unpack the nibbles.
    assert set(np.unique(lines[:, 0]).tolist()) <= {0, 2}
    rows = np.zeros((lines.shape[0], stride), np.uint8)
    for y, line in enumerate(lines):
        rows[y] = line[1:] if line[0] == 0 else line[1:] + rows[y - 1]
    if depth == 4:
        rows = np.stack([rows >> 4, rows & 15], axis=2).reshape(len(rows), -1)
    assert (rows[:, :expected.shape[1]] == expected).all()


def test_adler32_combine() -> None:
    a, b = b"frame rows" * 1000, bytes(range(256)) * 300
    assert adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b)) == \
        zlib.adler32(a + b)


def test_svg_subset_rasteriser_without_resvg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "resvg_py", None)  # import fails -> parse the SVG back
    code = render_code(PAYLOAD, "lingnan_red", "svg")
    grey = rasterise_svg(code.data.decode(), code.width_px, code.height_px, render.DPI)
    assert read_all(grey) == [PAYLOAD.encode()]
    broken = code.data.decode().replace('id="modules"', 'id="modules" fill-opacity="0"')
    broken = broken.replace(f'fill="{skins.get_skin("lingnan_red").palette.module}" d=',
                            'fill="#FFFDF7" d=')
    assert read_all(rasterise_svg(broken, code.width_px, code.height_px, render.DPI)) == []


def _variant(name: str, **changes: Any) -> skins.Skin:
    skin = skins.get_skin(name)
    return dataclasses.replace(skin, name=f"{name}_variant", **changes)


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_unscannable_rendering_raises(fmt: str) -> None:
    base = skins.get_skin("neutral_default")
    pale = _variant("neutral_default",
                    palette=dataclasses.replace(base.palette, module="#F4F4F4"))
    with pytest.raises(ScanVerificationError, match="did not scan back"):
        render_code(PAYLOAD, pale, fmt)
    assert base.logo is not None
    huge_logo = _variant("neutral_default", logo=dataclasses.replace(base.logo, fraction=0.6))
    with pytest.raises(ScanVerificationError):
        render_code(PAYLOAD, huge_logo, fmt)


def test_code_reading_another_payload_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    other = emv.encode([("26", [("00", "cn.other"), ("01", "X")]), ("52", "5812"),
                        ("53", "156"), ("58", "CN"), ("59", "Other"), ("60", "Hangzhou")])
    real = render.qr_matrix
    monkeypatch.setattr(render, "qr_matrix", lambda payload: real(other))
    with pytest.raises(ScanVerificationError):
        render_code(PAYLOAD, "neutral_default")


def test_render_input_errors() -> None:
    with pytest.raises(RenderError, match="unknown format 'jpg'"):
        render_code(PAYLOAD, "neutral_default", "jpg")
    with pytest.raises(RenderError, match="not a valid EMV code"):
        render_code(PAYLOAD[:-4] + "0000", "neutral_default")
    with pytest.raises(RenderError, match="too long for skin"):
        render_code("a" * 1200, "neutral_default", require_emv=False)
    with pytest.raises(SkinError, match="unknown skin"):
        render_code(PAYLOAD, "no_such_skin")


def test_short_payload_and_plain_text(rendered: dict[tuple[str, str], Any]) -> None:
    short = emv.build_aggregated_code(emv.MerchantAccount("a.b", "1"),
                                      emv.MerchantAccount("c.d", "2"), "X", "Y", "5812")
    code = render_code(short, "sichuan_spicy")
    assert code.modules < rendered[("sichuan_spicy", "png")].modules
    with Image.open(io.BytesIO(code.data)) as image:
        assert read_all(image.convert("L")) == [short.encode()]


def test_decode_image_reads_a_photo_like_image(tmp_path: Path,
                                               rendered: dict[tuple[str, str], Any]) -> None:
    with Image.open(io.BytesIO(rendered[("xinjiang_desert", "png")].data)) as image:
        photo = image.convert("RGB").rotate(11, expand=True, fillcolor=(90, 90, 90))
    photo = photo.resize((photo.width * 3 // 4, photo.height * 3 // 4))
    path = tmp_path / "photo.jpg"
    photo.save(path, quality=80)
    assert render.decode_image(path) == [PAYLOAD]


# ------------------------------------------------------------------------------ QR masks

def _writer(payload: str, mask: int) -> np.ndarray:
    """zxing-cpp's writer's symbol for ``mask``: lower-case letters, which it writes as one
    byte segment without ECI (as the renderer does), so the symbols must be identical."""
    barcode = zxingcpp.create_barcode(payload.encode(), zxingcpp.BarcodeFormat.QRCode,
                                      ec_level="H", data_mask=mask, eci="0")
    return np.asarray(barcode.to_image(scale=1, add_quiet_zones=False)) < 128


def test_mask_candidates_equal_the_writers_symbols_for_every_version() -> None:
    versions = set()
    for length in [*range(1, 200, 5), *range(200, 1272, 13), 1271]:
        payload = "".join(chr(97 + (i * 7 + length) % 26) for i in range(length))
        base = _writer(payload, 0)
        candidates = qr_symbol.mask_candidates(render._symbol(payload))
        versions.add((base.shape[0] - 17) // 4)
        for mask in range(8):
            assert (candidates[mask] == _writer(payload, mask)).all(), (length, mask)
    assert versions == set(range(1, 41))


def _reference_penalty(m: np.ndarray) -> int:
    """ISO/IEC 18004 7.8.3, written the slow obvious way (outside the symbol is light)."""
    n = len(m)
    score = 0
    lines = [list(m[i]) for i in range(n)] + [list(m[:, j]) for j in range(n)]
    for line in lines:
        run, prev = 0, None
        for v in [*line, None]:
            if v == prev:
                run += 1
            else:
                score += 3 + run - 5 if run >= 5 else 0
                run, prev = 1, v
        padded = [False] * 4 + [bool(v) for v in line] + [False] * 4
        core = [True, False, True, True, True, False, True]
        for t in range(4, len(padded) - 10):
            if padded[t:t + 7] == core:
                score += 40 * (not any(padded[t - 4:t])) + 40 * (not any(padded[t + 7:t + 11]))
    score += 3 * sum(m[i, j] == m[i + 1, j] == m[i, j + 1] == m[i + 1, j + 1]
                     for i in range(n - 1) for j in range(n - 1))
    score += 10 * int(abs(m.sum() * 100 / (n * n) - 50) // 5)
    return score


@pytest.mark.parametrize("length", [3, 40, 120])
def test_mask_penalties_match_the_standard(length: int) -> None:
    payload = "".join(chr(65 + (i * 11) % 26) for i in range(length)).lower()
    candidates = qr_symbol.mask_candidates(render._symbol(payload))
    fast = qr_symbol.mask_penalties(candidates)
    assert fast.tolist() == [_reference_penalty(c) for c in candidates]
    chosen = render.qr_matrix(payload)
    assert (chosen == candidates[int(np.argmin(fast))]).all()


@pytest.mark.parametrize("name_zh", ["一", "日本", "杭州西湖龙井茶社"])
def test_cjk_is_written_as_utf8_bytes_not_kanji_mode(name_zh: str) -> None:
    # Given text, the writer would put kanji in Shift_JIS; EMV wants UTF-8 (caught once by
    # the verification step: the code read back as different bytes).
    payload = emv.build_aggregated_code(
        emv.MerchantAccount("com.paver.platform", "P1"),
        emv.MerchantAccount("A000000333010102", "0"), "0", "City", "5812", name_zh=name_zh)
    code = render_code(payload, "jiangnan_blue")
    with Image.open(io.BytesIO(code.data)) as image:
        assert read_all(image.convert("L")) == [payload.encode("utf-8")]
    assert render.decode_image(Image.open(io.BytesIO(code.data))) == [payload]


@settings(max_examples=12, deadline=None)
@given(name=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1,
                    max_size=25),
       merchant_id=st.text(alphabet="0123456789", min_size=1, max_size=30),
       name_zh=st.none() | st.text(alphabet=st.characters(min_codepoint=0x4E00,
                                                          max_codepoint=0x9FA5),
                                   min_size=1, max_size=25),
       skin=st.sampled_from(SHIPPED))
def test_any_aggregated_code_renders_and_reads_back(name: str, merchant_id: str,
                                                    name_zh: str | None, skin: str) -> None:
    payload = emv.build_aggregated_code(
        emv.MerchantAccount("com.paver.platform", "P1"),
        emv.MerchantAccount("A000000333010102", merchant_id), name, "City", "5812",
        name_zh=name_zh)
    code = render_code(payload, skin)
    with Image.open(io.BytesIO(code.data)) as image:
        assert read_all(image.convert("L")) == [payload.encode("utf-8")]
