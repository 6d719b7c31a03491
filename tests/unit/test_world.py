"""The synthetic world: deterministic for a seed, injected scenes present, options checked."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from paver_dev.cli import cli
from paver_dev.world import WorldOptionError, WorldOptions, generate_world

SMALL = {"partners": 6, "merchants_per_partner": 5, "accounts": 400}
SCENES = {"fan_in", "fan_out", "cycle", "scatter_gather", "gather_scatter",
          "shared_device_mule_ring", "account_takeover_new_device", "fake_customer_service_scam"}


def _digest(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    generate_world(WorldOptions(seed=11, **SMALL), out)
    return out


def test_same_seed_same_files_other_seed_other_files(world: Path, tmp_path: Path) -> None:
    generate_world(WorldOptions(seed=11, **SMALL), tmp_path / "again")
    assert _digest(tmp_path / "again") == _digest(world)
    generate_world(WorldOptions(seed=12, **SMALL), tmp_path / "other")
    other = _digest(tmp_path / "other")
    assert other["merchants.csv"] != _digest(world)["merchants.csv"]
    assert other["transactions.csv"] != _digest(world)["transactions.csv"]


def test_every_file_is_written_with_rows(world: Path) -> None:
    for name in ("partners.csv", "merchants.csv", "metrics.csv", "partner_truth.csv",
                 "transactions.csv", "labels.csv", "accounts.csv", "devices.csv",
                 "contacts.csv", "world.json"):
        assert (world / name).stat().st_size > 0, name
    with (world / "partners.csv").open() as f:
        partners = list(csv.DictReader(f))
    assert len(partners) == SMALL["partners"]
    with (world / "merchants.csv").open() as f:
        merchants = list(csv.DictReader(f))
    assert len(merchants) == SMALL["partners"] * SMALL["merchants_per_partner"]
    assert {m["partner_id"] for m in merchants} == {p["partner_id"] for p in partners}


def test_injected_scenes_are_present_and_normal_traffic_dominates(world: Path) -> None:
    with (world / "labels.csv").open() as f:
        labels = list(csv.DictReader(f))
    scenes = {row["scene"] for row in labels if row["scene"]}
    assert SCENES.issubset(scenes)
    risky = sum(1 for row in labels if row["scene"])
    assert risky < len(labels) / 2


@pytest.mark.parametrize(("kwargs", "flag"), [
    ({"partners": 1}, "--partners"), ({"merchants_per_partner": 0}, "--merchants-per-partner"),
    ({"accounts": 10}, "--accounts"), ({"seed": -1}, "--seed"),
])
def test_bad_options_are_named(kwargs: dict, flag: str) -> None:
    with pytest.raises(WorldOptionError, match=flag):
        WorldOptions(**{**SMALL, **kwargs}).validate()


def test_cli_reports_bad_options_without_traceback(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["world", "--partners", "1", "--out", str(tmp_path / "w")])
    assert res.exit_code == 2
    assert "--partners" in res.output and "Traceback" not in res.output
