"""``paver model``: world and table modes, JSON contract, exit 2 with no traceback on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paver.cli.model import group
from paver.world.partners import generate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "trust"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("world")
    generate(np.random.default_rng(8), 120, 8).write(d)
    return d


def test_train_then_evaluate_a_world(world: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(group, ["train", "--world", str(world), "--models", str(tmp_path),
                                   "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["model"] == "trust" and set(out["metrics"]) >= {"risk", "overall"}
    assert (tmp_path / "trust" / "ACTIVE").read_text().strip() == out["version"]
    r = CliRunner().invoke(group, ["evaluate", "--world", str(world), "--models", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "held-out partners (36 partners)" in r.output
    for d in ("risk", "trust", "quality", "value", "overall"):
        assert d in r.output


def test_evaluate_table_prints_the_json_contract(tmp_path: Path) -> None:
    from sklearn.datasets import load_breast_cancer

    csv = tmp_path / "bc.csv"
    load_breast_cancer(as_frame=True).frame.to_csv(csv, index=False)
    r = CliRunner().invoke(group, ["evaluate", "--table", str(csv), "--label", "target",
                                   "--positive", "1", "--folds", "3", "--seed", "0", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert {"auc", "auc_std", "n"} <= out.keys() and out["n"] == 569 and out["auc"] > 0.98
    r = CliRunner().invoke(group, ["train", "--table", str(csv), "--label", "target",
                                   "--models", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "m" / "table-bc" / "ACTIVE").exists()


@pytest.mark.parametrize("args, message", [
    (["--label", "creditability"], "pass --positive"),
    (["--label", "nope"], "no such column"),
    (["--label", "creditability", "--positive", "bad", "--folds", "1"], "--folds"),
])
def test_bad_label_exits_2_without_traceback(args: list[str], message: str) -> None:
    r = CliRunner().invoke(group, ["evaluate", "--table", str(FIXTURES / "german_credit.csv"),
                                   *args])
    assert r.exit_code == 2 and message in r.output
    assert "Traceback" not in r.output


def test_bad_file_and_missing_mode_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"a,b\n\xff\xfe,1\n")
    for args in (["evaluate", "--table", str(bad), "--label", "b"],
                 ["evaluate", "--table", str(tmp_path / "none.csv"), "--label", "b"],
                 ["train"],
                 ["train", "--world", str(tmp_path)],
                 ["evaluate", "--world", str(tmp_path), "--models", str(tmp_path)]):
        r = CliRunner().invoke(group, args)
        assert r.exit_code == 2, (args, r.output)
        assert "Error:" in r.output and "Traceback" not in r.output
