"""Skin certification: every shipped skin is read by four readers under camera conditions;
a plain symbol is the floor, and a skin with a known design flaw fails."""

from __future__ import annotations

import dataclasses

import pytest
from PIL import Image

from paver import certify, skins

SHIPPED = sorted(skins.load_skins())


@pytest.fixture(scope="module")
def readers() -> dict[str, certify.Reader]:
    return certify.readers()


def test_payloads_are_long_chinese_and_ascii() -> None:
    payloads = certify.certification_payloads()
    assert set(payloads) == {"chinese", "ascii"}
    assert all(len(p) >= 200 for p in payloads.values())
    assert payloads["ascii"].isascii() and not payloads["chinese"].isascii()


def test_conditions_cover_the_phone_camera() -> None:
    names = {c.name for c in certify.CONDITIONS}
    assert names == {"module_2.2px", "blur", "tilt", "jpeg_q35", "faded_uneven_light",
                     "rotated_90", "small_blurred_jpeg"}
    far = next(c for c in certify.CONDITIONS if c.name == "module_2.2px")
    assert far.module_sizes[0] == 2.2


def test_the_plain_symbol_floor_passes_every_cell(readers) -> None:
    report = certify.certify_skin(certify.PLAIN, readers)
    assert len(report.cells) == 2 * len(certify.CONDITIONS) * 4
    assert report.passed, [c for c in report.cells if not c.ok]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_skin_is_certified(name: str, readers) -> None:
    report = certify.certify_skin(name, readers)
    assert {c.reader for c in report.cells} == set(certify.READERS)
    assert report.passed, [c.to_dict() for c in report.cells if not c.ok]
    assert all(c.module_px is not None for c in report.cells)


def test_a_pale_print_is_caught(readers) -> None:
    """Modules at 1.9:1 contrast (validation would refuse the skin; certification too)."""
    skin = skins.get_skin("neutral_default")
    pale = dataclasses.replace(skin, name="neutral_default_pale",
                               palette=dataclasses.replace(skin.palette, module="#BDBDBD"))
    report = certify.certify_skin(pale, readers)
    assert not report.passed
    misses = {(c.reader, c.condition) for c in report.cells if not c.ok}
    assert ("zbar", "faded_uneven_light") in misses
    assert report.to_dict()["misses"] and not report.to_dict()["passed"]


def test_the_writers_eci_899_symbol_fails_wechat_and_zxing_text(readers) -> None:
    import numpy as np
    import zxingcpp

    payload = certify.certification_payloads()["chinese"]
    barcode = zxingcpp.create_barcode(payload.encode(), zxingcpp.BarcodeFormat.QRCode,
                                      ec_level="H")
    matrix = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False)) < 128
    reads = certify.read_symbol(matrix, payload, readers)
    assert reads["wechat"] == 0 and reads["zxing"] == 0  # nothing, and mojibake
    from paver.render import qr_matrix

    assert certify.read_symbol(qr_matrix(payload), payload, readers) == \
        dict.fromkeys(readers, len(certify.CONDITIONS))


def test_a_reader_that_sees_another_text_fails_the_cell() -> None:
    payload = certify.certification_payloads()["ascii"]
    frames = [Image.new("L", (8, 8), 255)] * 2
    assert certify._read(lambda g: [payload], frames, payload) == (True, None, 0)
    ok, wrong, _ = certify._read(lambda g: ["something else"], frames, payload)
    assert not ok and wrong == "something else"
    assert certify._read(lambda g: [], frames, payload) == (False, None, None)

    def crash(grey):
        raise RuntimeError("reader bug")

    assert certify._read(crash, frames, payload)[0] is False


def test_format_matrix_lists_every_reading(readers) -> None:
    report = certify.certify_skin(certify.PLAIN, {"zxing": readers["zxing"]},
                                  certify.CONDITIONS[:2])
    text = certify.format_matrix([report])
    assert "plain" in text and "module_2.2px" in text and "ok@2.2" in text
    assert text.splitlines()[-1].startswith("plain") and "passed" in text
