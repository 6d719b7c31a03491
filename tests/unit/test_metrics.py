"""Evaluation metrics (``sklearn.metrics`` underneath) against counts worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from paver.risk.evaluate import confusion, detection_metrics, identification_metrics
from paver.trust.training import auc, brier

TRUTH = ["fan-out", "gather", None, "fan-out", None]
DECIDED = ["fan-out", None, "fan-out", "gather", None]


def test_auc_counts_ordered_pairs_and_is_undefined_for_one_class() -> None:
    # pairs (positive, negative): (0.9, 0.1) (0.9, 0.5) (0.4, 0.1) ok, (0.4, 0.5) wrong → 3/4
    assert auc(np.array([0, 1, 1, 0]), np.array([0.1, 0.9, 0.4, 0.5])) == pytest.approx(0.75)
    assert auc(np.array([1, 1]), np.array([0.2, 0.3])) is None


def test_brier_is_the_mean_squared_error_of_the_probability() -> None:
    assert brier(np.array([1, 0]), np.array([0.9, 0.3])) == pytest.approx((0.01 + 0.09) / 2)
    assert brier(np.array([0, 0]), np.array([0.1, 0.3])) == pytest.approx(0.05)


def test_identification_counts_flagged_normals_against_the_scene() -> None:
    got = identification_metrics(TRUTH, DECIDED)
    # fan-out: decided 2× (one a normal event) of which 1 right; 2 true of which 1 found
    assert got["per_scene"]["fan-out"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5,
                                           "support": 2}
    assert got["per_scene"]["gather"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                          "support": 1}
    assert got["accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert got["macro_f1"] == pytest.approx(0.25)


def test_confusion_lists_the_pairs_that_occur() -> None:
    assert confusion(TRUTH, DECIDED) == {
        "fan-out": {"fan-out": 1, "gather": 1}, "gather": {"normal": 1},
        "normal": {"fan-out": 1, "normal": 1}}


def test_detection_counts_and_rates() -> None:
    risky = np.array([t is not None for t in TRUTH])
    flagged = np.array([d is not None for d in DECIDED])
    got = detection_metrics(risky, flagged)
    assert {k: got[k] for k in ("tp", "fp", "fn", "tn")} == {"tp": 2, "fp": 1, "fn": 1, "tn": 1}
    assert got["precision"] == pytest.approx(2 / 3) and got["recall"] == pytest.approx(2 / 3)
    none = detection_metrics(np.zeros(2, bool), np.zeros(2, bool))
    assert (none["precision"], none["recall"], none["f1"], none["tn"]) == (0.0, 0.0, 0.0, 2)
