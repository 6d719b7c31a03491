"""``paver risk`` commands through click's runner: build, screen, evaluate, convert-amlsim."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paver_dev.cli.risk import group
from paver_dev.world import transfers

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "amlsim"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("world")
    transfers.generate(np.random.default_rng(21), 250, instances_per_scene=4).write(d)
    return d


def _run(args: list[str]) -> object:
    return CliRunner().invoke(group, args, catch_exceptions=False)


def test_build_then_screen_keeps_versions(world: Path, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    args = ["build", "--transactions", str(world / "transactions.csv"), "--labels",
            str(world / "labels.csv"), "--kb", str(kb)]
    first = _run(args)
    assert first.exit_code == 0, first.output
    v1 = json.loads(first.output)["version"]
    summary = json.loads(first.output)["scenes"]
    assert {s["scene"] for s in summary} == set(transfers.SCENES)
    assert all(s["sample_count"] >= 3 for s in summary)
    v2 = json.loads(_run([*args, "--seed", "1"]).output)["version"]
    assert v1 != v2
    res = _run(["screen", "--transactions", str(world / "transactions.csv"), "--kb", str(kb)])
    assert res.exit_code == 0
    lines = res.output.strip().splitlines()
    n_rows = sum(1 for _ in (world / "transactions.csv").open()) - 1
    assert len(lines) == n_rows
    d = json.loads(lines[0])
    assert d["kb_version"] == v2
    assert {"event_id", "risky", "scene", "match_degree", "threshold", "action",
            "explanation"} <= set(d)
    assert {"top_scenes", "margin", "dimensions", "drivers", "exemplar"} <= set(d["explanation"])
    old = _run(["screen", "--transactions", str(world / "transactions.csv"), "--kb", str(kb),
                "--kb-version", v1, "--only-risky"])
    assert old.exit_code == 0
    assert all(json.loads(x)["kb_version"] == v1 and json.loads(x)["risky"]
               for x in old.output.strip().splitlines())
    listed = json.loads(_run(["scenes", "--kb", str(kb)]).output)
    assert listed["versions"] == sorted([v1, v2])


def test_evaluate_json_contract(world: Path) -> None:
    res = _run(["evaluate", "--transactions", str(world / "transactions.csv"), "--labels",
                str(world / "labels.csv"), "--train-fraction", "0.5", "--seed", "3", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert {"accuracy", "macro_f1", "per_scene", "detection"} <= set(out)
    assert set(out["detection"]) >= {"precision", "recall", "f1"}
    for m in out["per_scene"].values():
        assert set(m) == {"precision", "recall", "f1", "support"}
    assert out["train"]["groups"] + out["test"]["groups"] == 4 * len(transfers.SCENES)
    assert 0.0 <= out["macro_f1"] <= 1.0 and out["detection"]["f1"] > 0.5
    table = _run(["evaluate", "--transactions", str(world / "transactions.csv"), "--labels",
                  str(world / "labels.csv"), "--train-fraction", "0.5", "--seed", "3"])
    assert "macro-F1" in table.output and "detection" in table.output


def test_bad_input_exits_2_with_the_line(tmp_path: Path, world: Path) -> None:
    bad = tmp_path / "t.csv"
    bad.write_text("txn_id,timestamp,from_account,to_account,amount,currency,channel\n"
                   "t1,2024-03-01T00:00:00Z,A,B,12,CNY,transfer\n"
                   "t2,2024-03-01T00:00:00Z,A,B,twelve,CNY,transfer\n", encoding="utf-8")
    res = CliRunner().invoke(group, ["screen", "--transactions", str(bad), "--kb",
                                     str(tmp_path / "kb")])
    assert res.exit_code == 2
    assert "t.csv:3: amount: not a number" in res.output
    assert "Traceback" not in res.output
    res = CliRunner().invoke(group, ["build", "--transactions", str(world / "transactions.csv"),
                                     "--labels", str(bad), "--kb", str(tmp_path / "kb")])
    assert res.exit_code == 2 and "missing column" in res.output
    res = CliRunner().invoke(group, ["screen", "--transactions", str(world / "transactions.csv"),
                                     "--kb", str(tmp_path / "empty")])
    assert res.exit_code == 2 and "no knowledge base yet" in res.output
    res = CliRunner().invoke(group, ["evaluate", "--transactions", str(bad), "--labels",
                                     str(bad), "--train-fraction", "1.5"])
    assert res.exit_code == 2


def test_convert_amlsim_then_evaluate(tmp_path: Path) -> None:
    out = tmp_path / "aml"
    res = _run(["convert-amlsim", "--nodes", str(FIXTURES / "fanin" / "nodes.csv"),
                "--transactions", str(FIXTURES / "fanin" / "transactions.csv"),
                "--nodes", str(FIXTURES / "cycle" / "nodes.csv"),
                "--transactions", str(FIXTURES / "cycle" / "transactions.csv"),
                "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["risky_transactions"] == 240
    ev = _run(["evaluate", "--transactions", str(out / "transactions.csv"), "--labels",
               str(out / "labels.csv"), "--train-fraction", "0.5", "--seed", "0", "--json"])
    got = json.loads(ev.output)
    assert set(got["per_scene"]) == {"fan_in", "cycle"}
    assert got["detection"]["f1"] > 0.9


def test_sample_amlsim_then_convert(tmp_path: Path) -> None:
    src = FIXTURES / "cycle"
    res = _run(["sample-amlsim", "--nodes", str(src / "nodes.csv"), "--transactions",
                str(src / "transactions.csv"), "--instances", "4", "--normal-accounts", "10",
                "--seed", "1", "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    kept = json.loads(res.output)
    assert kept["instances"] == 4 and kept["seed"] == 1
    conv = _run(["convert-amlsim", "--nodes", str(tmp_path / "s" / "nodes.csv"),
                 "--transactions", str(tmp_path / "s" / "transactions.csv"),
                 "--out", str(tmp_path / "c")])
    assert conv.exit_code == 0, conv.output
    report = json.loads(conv.output)["samples"][0]
    assert report["groups"] == 4 and report["scenes"] == {"cycle": 4}
    assert report["transactions_rows"] == kept["transactions_rows"]
    bad = _run(["sample-amlsim", "--nodes", str(src / "nodes.csv"), "--transactions",
                str(src / "transactions.csv"), "--instances", "99", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "asked for 99" in bad.output


#: Scene labels as users write them (hyphen, space and capitals, Chinese).
USER_LABELS = {"fan_out": "fan-out", "gather_scatter": "Gather Scatter",
               "scatter_gather": "分散转入"}


def relabel(world: Path, out: Path) -> Path:
    """A copy of ``world`` whose labels.csv names some scenes as users write them."""
    shutil.copytree(world, out)
    rows = list(csv.reader((world / "labels.csv").open(encoding="utf-8")))
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(rows[0])
        for txn, scene, grp in rows[1:]:
            w.writerow([txn, f"  {USER_LABELS.get(scene, scene)} " if scene else "", grp])
    return out


def test_labels_as_users_write_them_end_to_end(world: Path, tmp_path: Path) -> None:
    d = relabel(world, tmp_path / "w")
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nscenes:\n  分散转入:\n    title: 分散转入 (scatter then gather)\n"
                     "    severity: critical\n    action: block\n    threshold: 0.01\n"
                     "  Gather Scatter:\n    action: hold\n", encoding="utf-8")
    kb = tmp_path / "kb"
    res = _run(["build", "--transactions", str(d / "transactions.csv"), "--labels",
                str(d / "labels.csv"), "--kb", str(kb), "--rules", str(rules)])
    assert res.exit_code == 0, res.output
    names = {s["scene"] for s in json.loads(res.output)["scenes"]}
    assert set(USER_LABELS.values()) <= names and "fan_out" not in names
    res = _run(["screen", "--transactions", str(d / "transactions.csv"), "--kb", str(kb),
                "--rules", str(rules), "--only-risky"])
    decisions = [json.loads(x) for x in res.output.strip().splitlines()]
    by_scene = {x["scene"]: x for x in decisions}
    assert set(USER_LABELS.values()) <= set(by_scene)
    # the rules file refers to scenes by label: its threshold and action apply
    assert by_scene["分散转入"]["threshold"] == 0.01 and by_scene["分散转入"]["action"] == "block"
    assert by_scene["Gather Scatter"]["action"] == "hold"
    assert by_scene["fan-out"]["explanation"]["top_scenes"][0]["scene"] == "fan-out"
    ev = _run(["evaluate", "--transactions", str(d / "transactions.csv"), "--labels",
               str(d / "labels.csv"), "--seed", "2", "--json"])
    assert ev.exit_code == 0, ev.output
    got = json.loads(ev.output)
    assert set(USER_LABELS.values()) <= set(got["per_scene"]) and got["mode"] == "retrospective"
    table = _run(["evaluate", "--transactions", str(d / "transactions.csv"), "--labels",
                  str(d / "labels.csv"), "--seed", "2"])
    assert "分散转入" in table.output and "Gather Scatter" in table.output
