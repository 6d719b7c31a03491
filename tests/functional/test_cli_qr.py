"""``paver qr`` CLI contract: parse, render, skins, decode (click group on its own)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from paver import emv
from paver_dev.cli.qr import group

PAYLOAD = emv.build_aggregated_code(
    emv.MerchantAccount("com.paver.platform", "P0000012345"),
    emv.MerchantAccount("A000000333010102", "888123456789012"),
    "Chengdu Hotpot House", "Chengdu", "5812", store_label="Store 7",
    terminal_label="T-0007", campaign_ref="CAMP-2026-SC", name_zh="成都老火锅", city_zh="成都")
PROMPTPAY = "00020101021129370016A000000677010111011300660000000005802TH530376463048956"
KEYS = {"valid", "conformant", "errors", "warnings", "merchant_name", "merchant_city",
        "country_code", "currency", "mcc", "amount", "merchant_accounts", "language"}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_parse_valid(runner: CliRunner) -> None:
    result = runner.invoke(group, ["parse", PAYLOAD])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) >= KEYS
    assert out["valid"] and out["conformant"] and out["errors"] == []
    assert out["merchant_name"] == "Chengdu Hotpot House" and out["mcc"] == "5812"
    assert [(a["tag"], a["guid"]) for a in out["merchant_accounts"]] == [
        ("26", "com.paver.platform"), ("27", "A000000333010102")]
    assert out["language"]["merchant_name"] == "成都老火锅"


def test_parse_stdin_and_whitespace(runner: CliRunner) -> None:
    result = runner.invoke(group, ["parse", "-"], input=PAYLOAD + "\n")
    assert result.exit_code == 0 and json.loads(result.output)["valid"]


def test_parse_real_world_non_conformant(runner: CliRunner) -> None:
    result = runner.invoke(group, ["parse", PROMPTPAY])
    assert result.exit_code == 0
    out = json.loads(result.output)
    assert out["valid"] and not out["conformant"] and out["warnings"]


def test_parse_lower_case_crc(runner: CliRunner) -> None:
    pix = ("00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-42665544000052040000530398"
           "65802BR5913Fulano de Tal6008BRASILIA62070503***63041d3d")  # published CRC is 1D3D
    result = runner.invoke(group, ["parse", pix])
    out = json.loads(result.output)
    assert result.exit_code == 0 and out["valid"] and not out["conformant"]
    assert any("lower-case" in w for w in out["warnings"])


@pytest.mark.parametrize("payload", [PAYLOAD[:-1] + ("0" if PAYLOAD[-1] != "0" else "1"),
                                     "hello", "0002016304"])
def test_parse_invalid_exits_1(runner: CliRunner, payload: str) -> None:
    result = runner.invoke(group, ["parse", payload])
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert not out["valid"] and out["errors"]


@pytest.mark.parametrize(("name", "skin"), [("code.png", "sichuan_spicy"),
                                            ("code.svg", "northeast_snow"),
                                            ("CODE.PNG", "neutral_stand")])
def test_render_writes_verified_file(runner: CliRunner, tmp_path: Path, name: str,
                                     skin: str) -> None:
    out = tmp_path / "sub" / name
    result = runner.invoke(group, ["render", PAYLOAD, "--skin", skin, "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["verified"] is True and summary["skin"] == skin
    assert out.stat().st_size == summary["bytes"]
    if name.lower().endswith(".png"):
        with Image.open(out) as image:
            assert tuple(round(v) for v in image.info["dpi"]) == (300, 300)
        decoded = runner.invoke(group, ["decode", str(out)])
        assert decoded.exit_code == 0 and decoded.output.strip() == PAYLOAD
    else:
        assert out.read_text(encoding="utf-8").startswith("<svg")


def test_render_unknown_skin_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(group, ["render", PAYLOAD, "--skin", "vaporwave", "--out",
                                   str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert "unknown skin 'vaporwave'" in result.output and "neutral_default" in result.output
    assert not (tmp_path / "x.png").exists()


def test_render_bad_extension_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(group, ["render", PAYLOAD, "--out", str(tmp_path / "x.jpg")])
    assert result.exit_code == 2
    assert ".png or .svg" in result.output


def test_render_invalid_payload_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(group, ["render", PAYLOAD[:-4] + "0000", "--out",
                                   str(tmp_path / "x.png")])
    assert result.exit_code == 1
    assert "not a valid EMV code" in result.output
    assert not (tmp_path / "x.png").exists()


def test_skins_json_and_table(runner: CliRunner) -> None:
    result = runner.invoke(group, ["skins", "--json"])
    assert result.exit_code == 0
    listed = json.loads(result.output)
    names = {s["name"] for s in listed}
    assert len(names) >= 6 and {"jiangnan_blue", "lingnan_red", "neutral_default"} <= names
    assert all(s["module_contrast"] >= 4.5 for s in listed)
    table = runner.invoke(group, ["skins"])
    assert table.exit_code == 0 and "xinjiang_desert" in table.output


def test_decode_no_code_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), "white").save(blank)
    result = runner.invoke(group, ["decode", str(blank)])
    assert result.exit_code == 1
    assert "no QR code found" in result.output


def test_decode_unreadable_file_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    assert runner.invoke(group, ["decode", str(junk)]).exit_code == 2
    assert runner.invoke(group, ["decode", str(tmp_path / "missing.png")]).exit_code == 2


def test_certify_json_passes_a_shipped_skin(runner: CliRunner) -> None:
    result = runner.invoke(group, ["certify", "--skin", "lingnan_red", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) == {"passed", "readers", "conditions", "skins", "matrix"}
    assert out["passed"] and out["readers"] == ["zxing", "wechat", "opencv", "zbar"]
    assert [s["skin"] for s in out["skins"]] == ["plain", "lingnan_red"]
    assert all(s["passed"] and s["misses"] == [] for s in out["skins"])
    assert len(out["matrix"]) == 2 * 2 * len(out["conditions"]) * 4
    assert set(out["matrix"][0]) == {"skin", "payload", "condition", "reader", "ok", "got",
                                     "module_px"}


def test_certify_exits_1_on_any_miss(runner: CliRunner, monkeypatch: pytest.MonkeyPatch
                                     ) -> None:
    from paver import certify

    blind = {"zxing": certify.readers()["zxing"], "blind": lambda grey: []}
    monkeypatch.setattr(certify, "readers", lambda: blind)
    result = runner.invoke(group, ["certify", "--skin", "sichuan_spicy"])
    assert result.exit_code == 1
    assert "MISS" in result.output and "FAILED" in result.output
    assert "sichuan_spicy" in result.output


def test_certify_unknown_skin_exits_2(runner: CliRunner) -> None:
    result = runner.invoke(group, ["certify", "--skin", "vaporwave"])
    assert result.exit_code == 2 and "unknown skin 'vaporwave'" in result.output
