"""Scorers: JSON round trip, explanations that read the right way, AUC on world and real data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paver.trust import DIMENSIONS
from paver.trust.features import SPECS, partner_features
from paver.trust.model import TrustModel
from paver.trust.scorer import LinearScorer, TableError
from paver.trust.table import evaluate_table, read_table, resolve_label, train_table
from paver.trust.training import auc, fit_scorer, train_trust_model
from paver_dev.world.partners import generate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "trust"
AUC_FLOOR = 0.75  # the acceptance bar is 0.85 on a 300-partner world; this guards regressions


@pytest.fixture(scope="module")
def trained() -> tuple[TrustModel, pd.DataFrame, pd.DataFrame]:
    w = generate(np.random.default_rng(11), 200, 12)
    feats = partner_features(w.merchants, w.metrics, w.partners)
    return train_trust_model(feats, w.truth, seed=7), feats, w.truth


def test_held_out_auc_per_dimension_clears_the_floor(trained) -> None:
    model, _, _ = trained
    for d in (*DIMENSIONS, "overall"):
        m = model.metrics[d]
        assert m["n_test"] == 60 and m["auc"] >= AUC_FLOOR, (d, m)
        assert 0 < m["brier"] < 0.2


def test_artifact_round_trips_through_json(trained) -> None:
    model, feats, _ = trained
    again = TrustModel.from_dict(json.loads(json.dumps(model.to_dict())))
    pd.testing.assert_frame_equal(again.score(feats), model.score(feats))
    assert again.version == model.version and len(again.data_hash) == 64
    assert set(model.holdout) <= set(feats.index)


def test_scores_are_0_100_and_explanations_read_the_expected_way(trained) -> None:
    model, feats, _ = trained
    s = model.score(feats)
    assert ((s >= 0) & (s <= 100)).all().all()
    for row in model.explain(feats.head(25)):
        for d in DIMENSIONS:
            assert 1 <= len(row[d]) <= 3
            for item in row[d]:
                assert item["text"].endswith("points)")
        assert 1 <= len(row["overall"]) <= 4
        assert {i["feature"] for i in row["overall"]} <= set(DIMENSIONS)
    for d, scorer in model.scorers.items():  # no weight contradicts the operator's intuition
        pos = 0
        for c in scorer.numeric:
            sign = 1 if SPECS[c.name].better == "higher" else -1
            assert sign * scorer.coef[pos] >= 0, (d, c.name)
            pos += 2 if c.missing_flag else 1


def test_missing_and_unseen_values_are_handled() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=200), "c": rng.choice(["a", "b", "c"], 200)})
    y = (df["x"] + (df["c"] == "a") + rng.normal(0, 0.5, 200) > 0.3).astype(int).to_numpy()
    df.loc[::7, "x"] = np.nan
    scorer = fit_scorer(df, y, numeric=["x"], categorical=["c"], seed=1).scorer
    odd = pd.DataFrame({"x": [np.nan, 1e9], "c": ["zzz", None]})
    p = scorer.proba(odd)
    assert np.isfinite(p).all()
    again = LinearScorer.from_dict(json.loads(json.dumps(scorer.to_dict())))
    assert np.allclose(again.proba(df), scorer.proba(df))


def test_auc_helper() -> None:
    assert auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert auc(np.array([1, 1]), np.array([0.1, 0.2])) is None


def test_german_credit_matches_a_tuned_logistic_regression() -> None:
    df = read_table(FIXTURES / "german_credit.csv")
    assert df.shape == (1000, 21)
    res = evaluate_table(df, "creditability", "bad", folds=5, seed=0)
    assert res["n"] == 1000 and res["positives"] == 300
    assert res["auc"] >= 0.775, res  # a carefully tuned logistic regression: about 0.78
    assert len(res["categorical"]) == 13 and len(res["numeric"]) == 7


def test_breast_cancer_from_scikit_learn() -> None:
    from sklearn.datasets import load_breast_cancer

    df = load_breast_cancer(as_frame=True).frame
    res = evaluate_table(df, "target", None, folds=3, seed=1)
    assert res["auc"] > 0.98 and res["positive"] == "1"


def test_label_errors_are_clear() -> None:
    df = pd.DataFrame({"a": range(20), "y": ["good", "bad"] * 10, "id": [f"r{i}" for i in
                                                                         range(20)]})
    with pytest.raises(TableError, match="no such column"):
        resolve_label(df, "nope", None)
    with pytest.raises(TableError, match="pass --positive"):
        resolve_label(df, "y", None)
    with pytest.raises(TableError, match="does not occur"):
        resolve_label(df, "y", "meh")
    with pytest.raises(TableError, match="at least 2 rows of each class"):
        resolve_label(df.assign(y=["good"] * 19 + ["bad"]), "y", "bad")
    model = train_table(df, "y", "bad", seed=0)
    assert "id" in model.schema.dropped


def test_read_table_errors(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("name,y\ncaf\xe9,1\n".encode("latin-1"))
    with pytest.raises(TableError, match="not UTF-8"):
        read_table(bad)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(TableError, match="empty"):
        read_table(empty)
    with pytest.raises(TableError, match="no such file"):
        read_table(tmp_path / "missing.csv")
