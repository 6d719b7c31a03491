"""The ``paver kyb`` CLI contract: JSON on stdout, exit 0 / 1, never a traceback."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from paver.kyb.uscc import corrupt_uscc, generate_uscc
from paver_dev.cli.kyb import group
from paver_dev.photo_gen import make_store_photo

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exif"


def run(*args: str) -> Result:
    return CliRunner().invoke(group, list(args), catch_exceptions=False)


def as_json(result: Result) -> dict[str, object]:
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return json.loads(lines[0])


@pytest.mark.parametrize(
    ("name", "lat", "lon"),
    [("DSCN0010.jpg", 43.467448, 11.885127), ("DSCN0012.jpg", 43.467157, 11.885395)],
)
def test_exif_real_photo(name: str, lat: float, lon: float) -> None:
    result = run("exif", str(FIXTURES / name))
    assert result.exit_code == 0
    out = as_json(result)
    assert set(out) == {"lat", "lon", "datum"}
    assert out["datum"] == "WGS-84"
    assert out["lat"] == pytest.approx(lat, abs=1e-5)
    assert out["lon"] == pytest.approx(lon, abs=1e-5)


def test_exif_southern_western_heic(tmp_path: Path) -> None:
    path = tmp_path / "store.heic"
    path.write_bytes(make_store_photo(-34.6037, -58.3816, size=(96, 72), fmt="heif"))
    result = run("exif", str(path))
    assert result.exit_code == 0
    out = as_json(result)
    assert out["lat"] == pytest.approx(-34.6037, abs=1e-7)
    assert out["lon"] == pytest.approx(-58.3816, abs=1e-7)


def test_exif_no_position() -> None:
    result = run("exif", str(FIXTURES / "Canon_40D.jpg"))
    assert result.exit_code == 1
    out = as_json(result)
    assert set(out) == {"error", "message"}
    assert out["error"] == "no_position"
    assert "no_gps" in str(out["message"])


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"just some text, named like a photo\n", "unsupported_type"),
        (b"", "empty_file"),
        (b"\xff\xd8\xff\xe0broken", "corrupt_image"),
    ],
)
def test_exif_refused_files(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    result = run("exif", str(path))
    assert result.exit_code == 1
    assert as_json(result)["error"] == code


def test_exif_gif_missing_file_and_limits(tmp_path: Path) -> None:
    gif = tmp_path / "photo.jpg"
    Image.new("P", (4, 4)).save(gif, format="GIF")
    assert as_json(run("exif", str(gif)))["error"] == "unsupported_type"
    missing = run("exif", str(tmp_path / "nope.jpg"))
    assert missing.exit_code == 1
    assert as_json(missing)["error"] == "unreadable_file"
    photo = FIXTURES / "DSCN0010.jpg"
    assert as_json(run("exif", "--max-bytes", "1000", str(photo)))["error"] == "too_large"
    assert as_json(run("exif", "--max-pixels", "1000", str(photo)))["error"] == (
        "decompression_bomb"
    )


def test_uscc_valid_and_invalid() -> None:
    ok = run("uscc", "91350100M000100Y43")
    assert ok.exit_code == 0
    assert as_json(ok) == {"valid": True, "reason": None}
    bad = run("uscc", "91350100M000100Y44")
    assert bad.exit_code == 1
    assert as_json(bad) == {"valid": False, "reason": "bad_check_character"}
    short = run("uscc", "12345")
    assert short.exit_code == 1
    assert as_json(short) == {"valid": False, "reason": "wrong_length"}


def test_uscc_generated_and_corrupted() -> None:
    rng = random.Random(2024)
    for _ in range(5):
        code = generate_uscc(rng)
        assert run("uscc", code).exit_code == 0
        assert run("uscc", corrupt_uscc(code, rng)).exit_code == 1
