"""Population stability index (paver.drift): bins fixed on the reference, the formula, levels."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from paver import drift


def test_identical_samples_are_stable() -> None:
    x = np.random.default_rng(1).normal(size=5000)
    rep = drift.compare([drift.profile("x", x)], {"x": x})
    row = rep["features"][0]
    assert row["psi"] == pytest.approx(0.0, abs=1e-9)
    assert row["level"] == "stable" and not rep["drifted"]
    assert row["reference_count"] == row["recent_count"] == 5000


def test_same_distribution_other_sample_stays_below_moderate() -> None:
    rng = np.random.default_rng(2)
    ref = drift.profile("x", rng.normal(size=5000))
    rep = drift.compare([ref], {"x": rng.normal(size=5000)})
    assert rep["features"][0]["psi"] < drift.MODERATE


def test_shifted_distribution_is_significant() -> None:
    rng = np.random.default_rng(3)
    ref = drift.profile("amount", rng.normal(0, 1, size=4000))
    rep = drift.compare([ref], {"amount": rng.normal(1.0, 1, size=4000)})
    assert rep["features"][0]["psi"] > 0.25
    assert rep["drifted"] and rep["level"] == "significant"
    assert rep["worst"]["feature"] == "amount"


def test_small_example_matches_the_formula_by_hand() -> None:
    # reference 1..10: deciles put one value in each of ten bins (cuts at 1.9, 2.8, … 9.1)
    ref = drift.profile("x", np.arange(1, 11, dtype=float), bins=10)
    assert len(ref.edges) == 9
    recent = np.array([1, 1, 1, 2, 3, 10, 10, 10, 10, 10], dtype=float)
    # bins: value 1 → bin 0, 2 → 1, 3 → 2, 10 → 9; reference share 0.1 in each of the ten
    shares = np.zeros(10)
    for v in recent:
        shares[int(v) - 1] += 0.1
    e = 0.1
    by_hand = sum((max(a, drift.EPSILON) - e) * math.log(max(a, drift.EPSILON) / e)
                  for a in shares)
    rep = drift.compare([ref], {"x": recent})
    assert rep["features"][0]["psi"] == pytest.approx(by_hand, abs=1e-4)
    assert drift.psi([0.5, 0.5, 0.0], [0.25, 0.75, 0.0]) == pytest.approx(
        (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5))


def test_constant_feature_notices_any_other_value() -> None:
    ref = drift.profile("kyc", np.full(100, 3.0))
    assert drift.compare([ref], {"kyc": np.full(50, 3.0)})["features"][0]["psi"] == 0.0
    assert drift.compare([ref], {"kyc": np.full(50, 4.0)})["features"][0]["level"] \
        == "significant"


def test_booleans_and_text_are_categorical() -> None:
    flag = drift.profile("night", np.array([0, 1] * 50 + [0] * 100))
    assert flag.kind == "categorical" and flag.categories == ["0", "1"]
    # True/False and 1/0 are the same values; the missing bin is last
    assert drift.compare([flag], {"night": [True, False, False, False] * 50})["features"][0][
        "psi"] == pytest.approx(0.0, abs=1e-9)
    region = drift.profile("region", ["east"] * 60 + ["west"] * 40)
    rep = drift.compare([region], {"region": ["north"] * 30 + ["east"] * 70})
    assert rep["features"][0]["level"] == "significant"  # an unseen value is a shift


def test_missing_values_have_their_own_bin() -> None:
    ref = drift.profile("x", np.arange(100, dtype=float))
    gone = np.full(100, np.nan)
    assert drift.compare([ref], {"x": gone})["features"][0]["level"] == "significant"


def test_no_recent_rows_is_no_data_not_stable() -> None:
    ref = drift.profile("x", np.arange(10.0))
    rep = drift.compare([ref], {})
    assert rep["features"][0]["level"] == drift.NO_DATA and rep["worst"] is None
    assert not rep["drifted"]


def test_threshold_and_levels() -> None:
    assert drift.level(0.05) == "stable"
    assert drift.level(0.15) == "moderate"
    assert drift.level(0.15, threshold=0.12) == "significant"
    assert drift.level(0.3) == "significant"


def test_profile_round_trips_through_json() -> None:
    p = drift.profile("x", np.random.default_rng(0).exponential(size=300))
    back = drift.Profile.from_dict(json.loads(json.dumps(p.to_dict())))
    assert back == p
    assert sum(back.proportions) == pytest.approx(1.0)


def test_outputs_marked_and_summary_names_the_scorer() -> None:
    rng = np.random.default_rng(5)
    refs = drift.profiles({"f": rng.normal(size=500), "score": rng.uniform(0, 100, 500)})
    a = drift.compare(refs, {"f": rng.normal(size=500), "score": rng.uniform(50, 100, 500)},
                      outputs=("score",))
    assert [r["role"] for r in a["features"]] == ["input", "output"]
    s = drift.summary({"risk": a, "value": {"worst": None}}, threshold=0.25)
    assert s["worst"]["scorer"] == "risk" and s["worst"]["feature"] == "score"
    assert s["drifted"]


def test_metric_line_is_embedded_metric_format(capsys: pytest.CaptureFixture[str]) -> None:
    lines = drift.emit({"trust": {"worst": {"psi": 0.4}}, "risk": {"worst": None}}, "dev")
    out = capsys.readouterr().out.strip().splitlines()
    assert out == lines and len(lines) == 1
    rec = json.loads(lines[0])
    meta = rec["_aws"]["CloudWatchMetrics"][0]
    assert meta["Namespace"] == "Paver" and meta["Metrics"][0]["Name"] == "DriftPSI"
    assert meta["Dimensions"] == [["Stage", "Model"]]
    assert rec["Model"] == "trust" and rec["Stage"] == "dev" and rec["DriftPSI"] == 0.4
