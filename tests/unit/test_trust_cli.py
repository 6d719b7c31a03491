"""``paver model``: world and table modes, JSON contract, exit 2 with no traceback on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paver_dev.cli.model import group
from paver_dev.world.partners import generate

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


def _history(tmp_path: Path, seed: int = 21, partners: int = 200, shuffle: bool = False,
             ) -> Path:
    """An operator's own partner history: Paver's partner features of its partners (a few
    columns left out) and the outcomes it observed later, as it would export them."""
    from paver.trust.features import partner_features

    h = generate(np.random.default_rng(seed), partners, 6, id_prefix="OP")
    feats = partner_features(h.merchants, h.metrics, h.partners).drop(
        columns=["incident_trend", "growth", "avg_ticket"])
    truth = h.truth.set_index("partner_id")
    table = feats.join(truth[[c for c in truth.columns if c.startswith("outcome_")]])
    if shuffle:  # outcomes unrelated to the features: nothing to learn
        rng = np.random.default_rng(0)
        for c in [c for c in table.columns if c.startswith("outcome_")]:
            table[c] = rng.permutation(table[c].to_numpy())
    table["outcome_trust"] = table["outcome_trust"].map({1: "yes", 0: "no"})
    table["region_note"] = "exported"  # not a feature: ignored
    path = tmp_path / ("shuffled.csv" if shuffle else "history.csv")
    table.reset_index().to_csv(path, index=False)
    return path


def test_train_a_trust_model_on_your_own_partner_history(tmp_path: Path) -> None:
    """Held-out AUC (30 % of partners never seen in training); outcomes shuffled away from
    the features fall to chance, so the figure measures the history, not the code."""
    models = tmp_path / "models"
    r = CliRunner().invoke(group, ["train", "--partners", "--table", str(_history(tmp_path)),
                                   "--label", "outcome_overall", "--models", str(models),
                                   "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["partners"] == 200 and out["ignored_columns"] == ["region_note"]
    assert "growth" not in out["features"]["value"] and out["features"]["risk"]
    assert out["source"] == "table:history.csv"
    held = {d: out["metrics"][d]["auc"] for d in ("risk", "trust", "quality", "value",
                                                  "overall")}
    assert out["metrics"]["overall"]["n_test"] == 60
    assert held["overall"] > 0.75 and min(held.values()) > 0.6, held
    r = CliRunner().invoke(group, ["evaluate", "--partners", "--table",
                                   str(tmp_path / "history.csv"), "--label", "outcome_overall",
                                   "--models", str(models), "--json"])
    assert r.exit_code == 0, r.output
    ev = json.loads(r.output)
    assert ev["partners"] == "held-out partners" and ev["n"] == 60
    assert ev["metrics"]["overall"]["auc"] == held["overall"]

    r = CliRunner().invoke(group, ["train", "--partners", "--table",
                                   str(_history(tmp_path, shuffle=True)), "--label",
                                   "outcome_overall", "--models", str(tmp_path / "m2"), "--json"])
    assert r.exit_code == 0, r.output
    chance = json.loads(r.output)["metrics"]["overall"]["auc"]
    assert chance < 0.65 and chance < held["overall"] - 0.15, (chance, held)


def test_one_table_per_dimension(tmp_path: Path) -> None:
    import pandas as pd

    from paver.trust.features import DIMENSION_FEATURES

    full = pd.read_csv(_history(tmp_path))
    args = ["train", "--label", "outcome_overall", "--models", str(tmp_path / "m"), "--json"]
    for d, cols in DIMENSION_FEATURES.items():
        keep = ["partner_id", *[c for c in cols if c in full], f"outcome_{d}"]
        keep += ["outcome_overall"] if d == "risk" else []
        full[keep].to_csv(tmp_path / f"{d}.csv", index=False)
        args += ["--dimension-table", f"{d}={tmp_path / f'{d}.csv'}"]
    r = CliRunner().invoke(group, args)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["partners"] == 200 and out["metrics"]["overall"]["auc"] > 0.75


@pytest.mark.parametrize(("drop", "patch", "needle"), [
    ("outcome_quality", None, "outcome_quality"),
    (None, ("outcome_risk", "maybe"), "'outcome_risk'"),
    ("partner_id", None, "partner_id"),
])
def test_partner_history_errors_exit_2(tmp_path: Path, drop: str | None,
                                       patch: tuple[str, str] | None, needle: str) -> None:
    import pandas as pd

    table = pd.read_csv(_history(tmp_path, partners=30))
    if drop:
        table = table.drop(columns=[drop])
    if patch:
        table[patch[0]] = table[patch[0]].astype(object)
        table.loc[3, patch[0]] = patch[1]
    bad = tmp_path / "bad.csv"
    table.to_csv(bad, index=False)
    r = CliRunner().invoke(group, ["train", "--partners", "--table", str(bad), "--label",
                                   "outcome_overall", "--models", str(tmp_path / "m")])
    assert r.exit_code == 2 and needle in r.output and "Traceback" not in r.output


def test_what_if_offline_names_the_flips_and_their_reasons(world: Path, tmp_path: Path) -> None:
    import yaml

    from paver.ruleengine import rules_dir

    r = CliRunner().invoke(group, ["train", "--world", str(world), "--models", str(tmp_path)])
    assert r.exit_code == 0, r.output
    doc = yaml.safe_load((rules_dir() / "partner_selection.yaml").read_text(encoding="utf-8"))
    doc["floors"]["trust"] = 90
    cand = tmp_path / "candidate.yaml"
    cand.write_text(yaml.safe_dump(doc), encoding="utf-8")
    args = ["what-if", "--rules", str(cand), "--world", str(world), "--models", str(tmp_path)]
    r = CliRunner().invoke(group, [*args, "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["scored"] == 120 and out["flips"]
    lost = [f for f in out["flips"] if f["before"]["selected"] and not f["after"]["selected"]]
    gained = [f for f in out["flips"] if f["after"]["selected"] and not f["before"]["selected"]]
    assert lost and len(lost) + len(gained) == len(out["flips"])
    for f in lost:  # the stricter floor, in its own words
        assert any("below the floor 90" in x for x in f["after"]["reasons"])
    for f in gained:  # places the cap had kept from them
        assert any("at most" in x for x in f["before"]["reasons"])
    assert set(out["selected_after"]) == (set(out["selected_before"]) - {
        f["partner_id"] for f in lost}) | {f["partner_id"] for f in gained}
    text = CliRunner().invoke(group, args).output
    assert f"{len(out['flips'])} would change" in text
    doc["floors"]["trust"] = "high"
    cand.write_text(yaml.safe_dump(doc), encoding="utf-8")
    r = CliRunner().invoke(group, args)
    assert r.exit_code == 2 and "floors.trust" in r.output and "Traceback" not in r.output


def test_drift_offline_same_partners_stable_other_world_drifted(world: Path,
                                                                  tmp_path: Path) -> None:
    r = CliRunner().invoke(group, ["train", "--world", str(world), "--models", str(tmp_path)])
    assert r.exit_code == 0, r.output
    same = CliRunner().invoke(group, ["drift", "--world", str(world), "--models", str(tmp_path),
                                      "--json"])
    assert same.exit_code == 0, same.output
    out = json.loads(same.output)
    assert out["recent_count"] == 120 and out["threshold"] == 0.25
    # the training partners are 70 % of these: nothing has moved far
    assert not out["drifted"], out["worst"]
    for d in ("risk", "trust", "quality", "value", "overall"):
        assert out[d]["features"][-1] == {**out[d]["features"][-1], "feature": "score",
                                          "role": "output"}
    other = tmp_path / "other"
    generate(np.random.default_rng(9), 60, 2).write(other)  # far smaller portfolios
    moved = CliRunner().invoke(group, ["drift", "--world", str(other), "--models",
                                       str(tmp_path), "--json"])
    res = json.loads(moved.output)
    assert moved.exit_code == 0 and res["drifted"] and res["worst"]["psi"] >= 0.25
    text = CliRunner().invoke(group, ["drift", "--world", str(other), "--models",
                                      str(tmp_path)]).output
    assert "DRIFTED" in text and res["worst"]["feature"][:34] in text
