"""Fitting scorers and the trust-tiering model (scikit-learn, imported here only: training
runs apart from serving): stratified cross-validated logistic regression with a Platt
calibration on out-of-fold scores, held-out metrics (``sklearn.metrics``), versions from
the data's hash."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from paver import drift
from paver.lazy import lazy_module
from paver.trust import DIMENSIONS
from paver.trust.features import DIMENSION_FEATURES, SPECS
from paver.trust.model import TrustModel
from paver.trust.scorer import (
    LinearScorer,
    TableError,
    _as_float,
    _as_str,
    _fit_categorical,
    _fit_numeric,
    _sigmoid,
)

if TYPE_CHECKING:
    import pandas as pd
else:  # pandas only when frames are built: not on every cold start (paver.lazy)
    pd = lazy_module("pandas")

#: Regularisation strengths the cross-validation chooses among.
_C_GRID = tuple(float(c) for c in np.logspace(-2, 2, 9))

@dataclass
class FitResult:
    scorer: LinearScorer
    oof_logit: np.ndarray  # calibrated out-of-fold logits on the training rows


def fit_scorer(df: pd.DataFrame, y: np.ndarray, *, numeric: Sequence[str] = (),
               categorical: Sequence[str] = (), seed: int = 0, folds: int = 5,
               min_category: int | None = None,
               signs: Mapping[str, int] | None = None,
               log: Collection[str] | None = None) -> FitResult:
    """Fit a calibrated logistic scorer.

    The regularisation strength ``C`` is picked from a log grid by stratified
    ``folds``-fold cross-validated log-loss; Platt calibration is fitted on the out-of-fold
    scores of that ``C``; the final weights use every row.

    ``signs`` maps numeric columns to the direction an operator expects (+1: higher raises the
    score, -1: lowers it). A column whose fitted weight contradicts it (collinear features do
    that) is dropped and the rest refitted, so every explanation reads the expected way round.

    ``log`` names the numeric columns to take ``log1p`` of (when non-negative); by default a
    column is logged when it is non-negative and strongly right-skewed.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y, dtype=int)
    n = len(y)
    minority = int(min(y.sum(), n - y.sum()))
    if minority < 2:
        raise TableError("need at least 2 rows of each class to train")
    min_cat = min_category if min_category is not None else max(3, int(0.01 * n))
    num_cols = [c for c in (_fit_numeric(name, _as_float(df[name]),
                                         None if log is None else name in log)
                            for name in numeric) if c]
    cat_cols = [c for c in (_fit_categorical(name, _as_str(df[name]), min_cat)
                            for name in categorical) if c]
    shell = LinearScorer(numeric=num_cols, categorical=cat_cols, coef=[], intercept=0.0)
    X = shell.design(df)
    k = max(2, min(folds, minority))
    cv = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(X, y))

    def oof(C: float) -> np.ndarray:
        out = np.zeros(n)
        for tr, te in cv:
            m = LogisticRegression(C=C, max_iter=5000).fit(X[tr], y[tr])
            out[te] = m.decision_function(X[te])
        return out

    while True:
        best: tuple[float, float, np.ndarray] | None = None
        if X.shape[1] == 0:
            best = (1.0, 0.0, np.zeros(n))
            coef, icpt = [], 0.0
            break
        for C in _C_GRID:
            z = oof(C)
            p = np.clip(_sigmoid(z), 1e-9, 1 - 1e-9)
            loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
            if best is None or loss < best[1] - 1e-9:
                best = (C, loss, z)
        assert best is not None
        final = LogisticRegression(C=best[0], max_iter=5000).fit(X, y)
        coef, icpt = final.coef_[0].tolist(), float(final.intercept_[0])
        wrong, pos = set(), 0
        for c in shell.numeric:
            if (signs or {}).get(c.name, 0) * coef[pos] < 0:
                wrong.add(c.name)
            pos += 2 if c.missing_flag else 1
        if not wrong:
            break
        shell.numeric = [c for c in shell.numeric if c.name not in wrong]
        X = shell.design(df)
    C, _, z = best
    platt = LogisticRegression(C=1e6, max_iter=5000).fit(z[:, None], y)
    a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    num_cols = shell.numeric
    scorer = LinearScorer(numeric=num_cols, categorical=cat_cols, coef=coef, intercept=icpt,
                          platt=(a, b), C=C)
    return FitResult(scorer=scorer, oof_logit=a * z + b)


# ---------------------------------------------------------------------------------------------
# Metrics


def auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC (``sklearn.metrics.roc_auc_score``); ``None`` when only one class is present."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype=int)
    if len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, np.asarray(score, dtype=float)))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Brier score (``sklearn.metrics.brier_score_loss``): mean squared error of ``p``."""
    from sklearn.metrics import brier_score_loss

    return float(brier_score_loss(np.asarray(y, dtype=int), np.asarray(p, dtype=float)))




def data_hash(*frames: pd.DataFrame) -> str:
    """SHA-256 of the frames' CSV text (what a model was trained on)."""
    h = hashlib.sha256()
    for df in frames:
        buf = io.StringIO()
        df.to_csv(buf, float_format="%.10g", lineterminator="\n")
        h.update(buf.getvalue().encode("utf-8"))
    return h.hexdigest()


def new_version(digest: str) -> str:
    """Sortable version id: UTC timestamp plus the data hash prefix."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{digest[:8]}"


def split_holdout(labels: pd.Series, seed: int, test_size: float = 0.3) -> list[str]:
    """Held-out partner ids: a stratified share of ``labels`` (index: partner id)."""
    rng = np.random.default_rng(seed)
    held: list[str] = []
    for _, group in labels.groupby(labels):
        ids = np.array(sorted(group.index.astype(str)))
        k = round(len(ids) * test_size)
        if len(ids) >= 2:
            k = min(max(k, 1), len(ids) - 1)
        held.extend(rng.permutation(ids)[:k].tolist())
    return sorted(held)


def train_trust_model(features: pd.DataFrame, truth: pd.DataFrame, *, seed: int = 7,
                      test_size: float = 0.3) -> TrustModel:
    """Train the four dimension scorers and the overall scorer on labelled partner history.

    Parameters
    ----------
    features
        :func:`paver.trust.features.partner_features` output (index ``partner_id``), or an
        operator's own partner history with any of those columns (at least one per dimension;
        the model then scores with those only).
    truth
        ``partner_id`` and ``outcome_{risk,trust,quality,value,overall}`` (0/1, 1 = good).
    seed
        Fixes the held-out split and the cross-validation folds.
    test_size
        Share of partners held out (stratified by the overall outcome) for the metrics.
    """
    truth = truth.set_index(truth["partner_id"].astype(str)) if "partner_id" in truth else truth
    common = features.index.intersection(truth.index)
    if len(common) < 10:
        raise TableError(f"need at least 10 labelled partners to train, got {len(common)}")
    used = {d: [c for c in DIMENSION_FEATURES[d] if c in features.columns] for d in DIMENSIONS}
    lacking = [d for d in DIMENSIONS if not used[d]]
    if lacking:
        raise TableError(f"no feature column for dimension(s) {', '.join(lacking)}: give at "
                         f"least one of {', '.join(DIMENSION_FEATURES[lacking[0]])}")
    labels = {d: truth.loc[common, f"outcome_{d}"].astype(int) for d in (*DIMENSIONS, "overall")}
    held = split_holdout(labels["overall"], seed, test_size)
    train_ids = common.difference(pd.Index(held))
    test_ids = pd.Index(held)
    X_train, X_test = features.loc[train_ids], features.loc[test_ids]
    scorers: dict[str, LinearScorer] = {}
    oof = pd.DataFrame(index=train_ids)
    metrics: dict[str, Any] = {}
    for d in DIMENSIONS:
        cols = used[d]
        signs = {c: 1 if SPECS[c].better == "higher" else -1 for c in cols}
        fit = fit_scorer(X_train, labels[d].loc[train_ids].to_numpy(), numeric=cols, seed=seed,
                         signs=signs, log={c for c in cols if SPECS[c].log})
        scorers[d] = fit.scorer
        oof[d] = 100 * _sigmoid(fit.oof_logit)
    o_fit = fit_scorer(oof, labels["overall"].loc[train_ids].to_numpy(), numeric=list(DIMENSIONS),
                       seed=seed, signs=dict.fromkeys(DIMENSIONS, 1), log=())
    model = TrustModel(version="", scorers=scorers, overall=o_fit.scorer,
                       features={d: list(used[d]) for d in DIMENSIONS},
                       holdout=[str(p) for p in test_ids], seed=seed)
    cv_scores = {**{d: oof[d].to_numpy() for d in DIMENSIONS}, "overall": o_fit.oof_logit}
    test_scores = model.score(X_test) if len(test_ids) else None
    for d in (*DIMENSIONS, "overall"):
        m: dict[str, Any] = {
            "cv_auc": _round(auc(labels[d].loc[train_ids].to_numpy(), cv_scores[d])),
            "n_train": len(train_ids),
        }
        if test_scores is not None:
            yt = labels[d].loc[test_ids].to_numpy()
            m.update(auc=_round(auc(yt, test_scores[d].to_numpy())),
                     brier=_round(brier(yt, test_scores[d].to_numpy() / 100)),
                     n_test=len(test_ids), positives=int(yt.sum()))
        metrics[d] = m
    model.metrics = metrics
    # drift reference: the training partners as every scorer saw them (bins + shares only)
    model.reference = {name: [p.to_dict() for p in drift.profiles(cols)]
                       for name, cols in model.drift_columns(X_train).items()}
    model.data_hash = data_hash(features.loc[common, model.feature_list].sort_index(),
                                truth.loc[common, [f"outcome_{d}" for d in
                                                   (*DIMENSIONS, "overall")]].sort_index())
    model.version = new_version(model.data_hash)
    model.created_at = datetime.now(UTC).isoformat(timespec="seconds")
    return model


def evaluate_trust_model(model: TrustModel, features: pd.DataFrame,
                         truth: pd.DataFrame) -> dict[str, Any]:
    """AUC and Brier per dimension on ``features``' partners against ``truth``."""
    truth = truth.set_index(truth["partner_id"].astype(str)) if "partner_id" in truth else truth
    common = features.index.intersection(truth.index)
    scores = model.score(features.loc[common])
    out: dict[str, Any] = {}
    for d in (*DIMENSIONS, "overall"):
        y = truth.loc[common, f"outcome_{d}"].astype(int).to_numpy()
        out[d] = {"auc": _round(auc(y, scores[d].to_numpy())),
                  "brier": _round(brier(y, scores[d].to_numpy() / 100)),
                  "n": len(common), "positives": int(y.sum())}
    return out


def _round(v: float | None, nd: int = 4) -> float | None:
    return None if v is None else round(float(v), nd)
