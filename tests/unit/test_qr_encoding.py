"""Codes every wallet reads: byte-mode symbols, the one reader (text), four real readers.

The four readers are zxing-cpp (its text, through :func:`paver.qr_reader.read_payloads`),
OpenCV's WeChat engine, OpenCV's QRCodeDetector and zbar (see :mod:`paver.certify`).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import resvg_py
import segno
import zxingcpp
from PIL import Image

from paver import certify, emv, render, skins
from paver.qr_reader import read_payloads
from paver.qr_symbol import byte_mode_symbol, version_for
from paver.render import ScanVerificationError, render_code

SHIPPED = sorted(skins.load_skins())
#: The payloads of tests/: test_skins_render's, test_cli_qr's (both with a Chinese language
#: template) and an ASCII one.
PAYLOADS = {
    "hangzhou": emv.build_aggregated_code(
        emv.MerchantAccount("com.paver.platform", "P0000012345"),
        emv.MerchantAccount("A000000333010102", "888123456789012", {"02": "T0001"}),
        "Hangzhou West Lake Tea", "Hangzhou", "5812", postal_code="310000",
        store_label="Store 0012", terminal_label="T-0001", campaign_ref="CAMP-2026-Q1",
        name_zh="杭州西湖龙井茶社", city_zh="杭州"),
    "chengdu": emv.build_aggregated_code(
        emv.MerchantAccount("com.paver.platform", "P0000012345"),
        emv.MerchantAccount("A000000333010102", "888123456789012"),
        "Chengdu Hotpot House", "Chengdu", "5812", store_label="Store 7",
        terminal_label="T-0007", campaign_ref="CAMP-2026-SC", name_zh="成都老火锅",
        city_zh="成都"),
    "ascii": emv.build_aggregated_code(
        emv.MerchantAccount("com.paver.platform", "P0000012345"),
        emv.MerchantAccount("A000000333010102", "888123456789012"),
        "Harbin Ice Market", "Harbin", "5411", store_label="Store 3",
        terminal_label="T-0003", campaign_ref="CAMP-2026-NE"),
}


@pytest.fixture(scope="module")
def readers() -> dict[str, certify.Reader]:
    return certify.readers()


def _grey(symbol: np.ndarray, module_px: int = 4) -> np.ndarray:
    return np.asarray(certify.plain_print(symbol, module_px)[0])


# ------------------------------------------------------------------------ the symbol itself

@pytest.mark.parametrize("length", [1, 7, 30, 90, 200, 400, 700, 1000, 1270])
def test_ascii_symbol_equals_the_writers_byte_segment(length: int) -> None:
    # Lower-case letters: zxing-cpp's writer also uses one byte segment and no ECI for them.
    data = "".join(chr(97 + (i * 7 + length) % 26) for i in range(length)).encode()
    barcode = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.QRCode, ec_level="H",
                                      data_mask=0, eci="0")
    writer = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False)) < 128
    assert (byte_mode_symbol(data, eci=False) == writer).all()


@pytest.mark.parametrize("length", [1, 12, 60, 150, 300, 450])
def test_utf8_symbol_equals_segnos_eci_26_byte_segment(length: int) -> None:
    text = "".join("杭州西湖龙井茶社ab12"[(i * 5) % 12] for i in range(length))
    data = text.encode()
    version = version_for(len(data), eci=True)
    reference = segno.make_qr(text, error="h", boost_error=False, eci=True, encoding="utf-8",
                              mode="byte", mask=0, version=version)
    assert (byte_mode_symbol(data, eci=True) == np.array(reference.matrix, bool)).all()


def test_too_long_for_level_h_is_refused() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        byte_mode_symbol(b"x" * 1300, eci=False)


# ------------------------------------------------------------------------ readers agree

@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_every_reader_returns_the_payload_text_of_a_plain_symbol(
        name: str, readers: dict[str, certify.Reader]) -> None:
    payload = PAYLOADS[name]
    grey = _grey(render.qr_matrix(payload))
    assert {r: read(grey) for r, read in readers.items()} == {r: [payload] for r in readers}


def test_the_writers_default_for_bytes_is_what_wallets_misread(
        readers: dict[str, certify.Reader]) -> None:
    """zxing-cpp's writer given bytes adds ECI 899: the reason for our own layout."""
    payload = PAYLOADS["hangzhou"]
    barcode = zxingcpp.create_barcode(payload.encode(), zxingcpp.BarcodeFormat.QRCode,
                                      ec_level="H")
    grey = _grey(np.asarray(barcode.to_image(scale=1, add_quiet_zones=False)) < 128)
    text = read_payloads(grey)
    assert len(text) == 1 and text[0] != payload and "æ" in text[0]  # Latin-1 mojibake
    assert readers["wechat"](grey) == []
    assert zxingcpp.read_barcodes(grey)[0].bytes == payload.encode()  # bytes hide it


def test_a_print_a_wallet_would_misread_is_never_stored(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    payload = PAYLOADS["hangzhou"]

    def writer_default(text: str) -> np.ndarray:
        barcode = zxingcpp.create_barcode(text.encode(), zxingcpp.BarcodeFormat.QRCode,
                                          ec_level="H", data_mask=0)
        return np.asarray(barcode.to_image(scale=1, add_quiet_zones=False)) < 128

    monkeypatch.setattr(render, "_symbol", writer_default)
    for fmt in ("png", "svg"):
        with pytest.raises(ScanVerificationError, match="did not scan back"):
            render_code(payload, "jiangnan_blue", fmt)


@pytest.mark.parametrize("skin", SHIPPED)
def test_every_reader_returns_the_text_on_every_skin_png_and_svg(
        skin: str, readers: dict[str, certify.Reader]) -> None:
    for payload in PAYLOADS.values():
        png = render_code(payload, skin, "png")
        svg = render_code(payload, skin, "svg")
        raster = resvg_py.svg_to_bytes(svg_string=svg.data.decode(), dpi=300)
        for data in (png.data, bytes(raster)):
            with Image.open(io.BytesIO(data)) as image:
                grey = np.asarray(image.convert("L"))
            got = {r: certify._read(read, [Image.fromarray(grey)], payload)[0]
                   for r, read in readers.items()}
            assert got == dict.fromkeys(readers, True), (skin, payload[-30:])


def test_reader_returns_distinct_texts_and_nothing_for_no_code() -> None:
    payload = PAYLOADS["chengdu"]
    grey = _grey(render.qr_matrix(payload))
    twice = np.hstack([grey, grey])
    assert read_payloads(twice) == [payload]
    assert read_payloads(twice, thorough=False) == [payload]
    assert read_payloads(np.full((200, 200), 255, np.uint8)) == []
    rgba = Image.fromarray(grey).convert("RGBA")
    assert read_payloads(rgba) == [payload]
