"""Calibrated linear scorers: the trust-tiering model and bring-your-own-table models.

A :class:`LinearScorer` encodes a table itself (numeric: clip, optional log, median impute,
missing flag, standardise; categorical: one-hot of the frequent categories), holds logistic
regression weights chosen by stratified cross-validation (scikit-learn, imported lazily, only
to train) and a Platt calibration fitted on out-of-fold scores. It serves in plain numpy and
serialises to JSON — no pickle in an artifact, no scikit-learn import on a Lambda cold start.

:class:`TrustModel` is one scorer per dimension (``risk``, ``trust``, ``quality``, ``value``)
on that dimension's partner features, plus an ``overall`` scorer stacked on the four
dimension scores (out-of-fold while training). Scores are probabilities of a good outcome on a
0–100 scale; each comes with the features that moved it most, in words
(:func:`paver.trust.features.describe`).
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from paver import drift
from paver.errors import InvalidInput
from paver.lazy import lazy_module
from paver.trust import DIMENSIONS
from paver.trust.features import DIMENSION_FEATURES, SPECS, describe

if TYPE_CHECKING:
    import pandas as pd
else:  # pandas only when frames are built: not on every cold start (paver.lazy)
    pd = lazy_module("pandas")

ARTIFACT_KIND_TRUST = "paver.trust_model"
ARTIFACT_KIND_TABLE = "paver.table_model"
_C_GRID = tuple(float(c) for c in np.logspace(-2, 2, 9))
_MISSING = "(missing)"


class TableError(InvalidInput):
    """A training table or label is unusable; the message says what to fix."""


# ---------------------------------------------------------------------------------------------
# Encoding


@dataclass
class NumericColumn:
    name: str
    lo: float
    hi: float
    log: bool
    median: float
    mean: float
    scale: float
    missing_flag: bool
    flag_mean: float = 0.0


@dataclass
class CategoricalColumn:
    name: str
    categories: list[str]
    freqs: list[float]


def _as_float(s: pd.Series) -> np.ndarray:
    if s.dtype == bool:
        return s.to_numpy(dtype=float)
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        low = s.astype(str).str.strip().str.lower()
        mapped = low.map({"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0})
        num = pd.to_numeric(s, errors="coerce")
        return num.fillna(mapped).to_numpy(dtype=float)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)


def _as_str(s: pd.Series) -> np.ndarray:
    out = s.astype(object).where(s.notna(), _MISSING).astype(str).str.strip()
    return out.where(out != "", _MISSING).to_numpy(dtype=object)


def _fit_numeric(name: str, x: np.ndarray, force_log: bool | None = None) -> NumericColumn | None:
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return None
    lo, hi = (float(v) for v in np.percentile(finite, [0.5, 99.5]))
    clipped = np.clip(finite, lo, hi)
    skew = float(pd.Series(clipped).skew()) if clipped.size > 2 else 0.0
    log = bool(lo >= 0 and (force_log if force_log is not None else
                            math.isfinite(skew) and skew > 2.0))
    t = np.log1p(clipped) if log else clipped
    median = float(np.median(t))
    missing = bool(np.isnan(x).any())
    full = np.where(np.isfinite(x), _transform(x, lo, hi, log), median)
    scale = float(full.std())
    if scale <= 1e-12 and not missing:
        return None
    return NumericColumn(name=name, lo=lo, hi=hi, log=log, median=median, mean=float(full.mean()),
                         scale=scale if scale > 1e-12 else 1.0, missing_flag=missing,
                         flag_mean=float(np.isnan(x).mean()))


def _transform(x: np.ndarray, lo: float, hi: float, log: bool) -> np.ndarray:
    c = np.clip(x, lo, hi)
    return np.log1p(c) if log else c


def _fit_categorical(name: str, s: np.ndarray, min_count: int) -> CategoricalColumn | None:
    vals, counts = np.unique(s, return_counts=True)
    keep = counts >= min_count
    if keep.sum() < 1 or (keep.sum() == 1 and counts[keep][0] == len(s)):
        return None
    order = np.argsort(-counts[keep], kind="stable")
    cats = [str(v) for v in vals[keep][order]]
    freqs = [float(c) / len(s) for c in counts[keep][order]]
    return CategoricalColumn(name=name, categories=cats, freqs=freqs)


# ---------------------------------------------------------------------------------------------
# The scorer


@dataclass
class LinearScorer:
    """Encoding + logistic weights + Platt calibration; JSON-serialisable, serves in numpy."""

    numeric: list[NumericColumn]
    categorical: list[CategoricalColumn]
    coef: list[float]
    intercept: float
    platt: tuple[float, float] = (1.0, 0.0)
    C: float = 1.0

    # -- encoding --------------------------------------------------------------------------------
    @property
    def inputs(self) -> list[str]:
        return [c.name for c in self.numeric] + [c.name for c in self.categorical]

    def _blocks(self, df: pd.DataFrame) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """Per input column: (name, design block (n × k), baseline row (k,))."""
        n = len(df)
        out = []
        for c in self.numeric:
            x = _as_float(df[c.name]) if c.name in df else np.full(n, np.nan)
            t = np.where(np.isfinite(x), _transform(np.nan_to_num(x, nan=c.lo), c.lo, c.hi, c.log),
                         c.median)
            cols = [(t - c.mean) / c.scale]
            base = [0.0]
            if c.missing_flag:
                cols.append(np.isnan(x).astype(float))
                base.append(c.flag_mean)
            out.append((c.name, np.column_stack(cols), np.array(base)))
        for c in self.categorical:
            s = _as_str(df[c.name]) if c.name in df else np.full(n, _MISSING, dtype=object)
            block = np.column_stack([(s == cat).astype(float) for cat in c.categories])
            out.append((c.name, block, np.array(c.freqs)))
        return out

    def design(self, df: pd.DataFrame) -> np.ndarray:
        blocks = self._blocks(df)
        if not blocks:
            return np.zeros((len(df), 0))
        return np.hstack([b for _, b, _ in blocks])

    # -- serving ---------------------------------------------------------------------------------
    def decision(self, df: pd.DataFrame) -> np.ndarray:
        """Uncalibrated logit."""
        return self.design(df) @ np.asarray(self.coef) + self.intercept

    def logit(self, df: pd.DataFrame) -> np.ndarray:
        """Calibrated logit."""
        a, b = self.platt
        return a * self.decision(df) + b

    def proba(self, df: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of the positive (good) outcome."""
        return _sigmoid(self.logit(df))

    def contributions(self, df: pd.DataFrame) -> tuple[list[str], np.ndarray]:
        """Points (0–100 scale) each input adds against the training average: ``(names, n × k)``.

        A column's contribution is the score minus the score with that column at its training
        mean (numeric) or training mix (categorical).
        """
        a, b = self.platt
        blocks = self._blocks(df)
        coef = np.asarray(self.coef)
        z = np.zeros(len(df)) + self.intercept
        parts = []
        start = 0
        for _, block, base in blocks:
            w = coef[start:start + block.shape[1]]
            start += block.shape[1]
            parts.append((block - base) @ w)
            z = z + block @ w
        p = _sigmoid(a * z + b)
        names = [n for n, _, _ in blocks]
        if not parts:
            return names, np.zeros((len(df), 0))
        contrib = np.column_stack([100 * (p - _sigmoid(a * (z - d) + b)) for d in parts])
        return names, contrib

    # -- (de)serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "numeric": [asdict(c) for c in self.numeric],
            "categorical": [asdict(c) for c in self.categorical],
            "coef": [float(v) for v in self.coef],
            "intercept": float(self.intercept),
            "platt": [float(v) for v in self.platt],
            "C": float(self.C),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LinearScorer:
        return cls(
            numeric=[NumericColumn(**c) for c in d["numeric"]],
            categorical=[CategoricalColumn(**c) for c in d["categorical"]],
            coef=list(d["coef"]),
            intercept=float(d["intercept"]),
            platt=(float(d["platt"][0]), float(d["platt"][1])),
            C=float(d.get("C", 1.0)),
        )


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))


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


# ---------------------------------------------------------------------------------------------
# The trust-tiering model


@dataclass
class TrustModel:
    """Four dimension scorers and the overall scorer, with their provenance and metrics."""

    version: str
    scorers: dict[str, LinearScorer]
    overall: LinearScorer
    features: dict[str, list[str]]
    metrics: dict[str, Any] = field(default_factory=dict)
    holdout: list[str] = field(default_factory=list)
    data_hash: str = ""
    seed: int = 0
    created_at: str = ""
    source: str = ""  # what it was trained on (a world directory, an operator's table)
    #: per scorer (dimensions and ``overall``): the training partners' drift profiles of its
    #: inputs and its ``score`` (:mod:`paver.drift`); empty for models trained before drift
    reference: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def feature_list(self) -> list[str]:
        return [f for d in DIMENSIONS for f in self.features[d]]

    def _dim_scores(self, features: pd.DataFrame) -> pd.DataFrame:
        """Unrounded 0–100 dimension scores: the inputs of the overall scorer (bounded, so no
        single dimension can carry the overall score on its own)."""
        return pd.DataFrame({d: 100 * self.scorers[d].proba(features) for d in DIMENSIONS},
                            index=features.index)

    def score(self, features: pd.DataFrame) -> pd.DataFrame:
        """Scores 0–100 (one decimal) per dimension and ``overall``, indexed like ``features``."""
        dims = self._dim_scores(features)
        out = pd.DataFrame(index=features.index)
        for d in DIMENSIONS:
            out[d] = np.round(dims[d].to_numpy(), 1)
        out["overall"] = np.round(100 * self.overall.proba(dims), 1)
        return out

    def drift_columns(self, features: pd.DataFrame) -> dict[str, dict[str, np.ndarray]]:
        """Per scorer, what drift watches: its input columns and its output ``score``.

        A dimension scorer's inputs are its partner features; the overall scorer's are the
        four dimension scores (unrounded, as it reads them)."""
        dims = self._dim_scores(features)
        out: dict[str, dict[str, np.ndarray]] = {}
        for d in DIMENSIONS:
            cols = {c: _as_float(features[c]) if c in features else np.full(len(features), np.nan)
                    for c in self.scorers[d].inputs}
            out[d] = {**cols, "score": dims[d].to_numpy()}
        out["overall"] = {**{d: dims[d].to_numpy() for d in DIMENSIONS},
                          "score": 100 * self.overall.proba(dims)}
        return out

    def drift(self, features: pd.DataFrame, threshold: float = drift.SIGNIFICANT
              ) -> dict[str, Any]:
        """PSI of every scorer's inputs and score between the training partners and
        ``features`` (recent partners): one report per scorer (``risk`` … ``overall``) plus
        ``worst`` / ``drifted`` / ``level`` over all scorers (:func:`paver.drift.compare`,
        :func:`~paver.drift.summary`).
        A model without stored reference profiles answers ``reference: false``."""
        if not self.reference:
            return {"reference": False, "worst": None, "drifted": False,
                    "level": drift.NO_DATA, "recent_count": len(features)}
        recent = self.drift_columns(features)
        reports = {name: drift.compare(refs, recent.get(name, {}), threshold, outputs=("score",))
                   for name, refs in self.reference.items()}
        return {**reports, "reference": True, **drift.summary(reports, threshold),
                "recent_count": len(features)}

    def explain(self, features: pd.DataFrame, top: int = 3) -> list[dict[str, list[dict]]]:
        """Per row, per dimension (and ``overall``): the ``top`` features that moved the score
        most, as ``{"feature", "value", "points", "text"}`` (points: + raises, − lowers)."""
        per_dim: dict[str, tuple[list[str], np.ndarray]] = {
            d: self.scorers[d].contributions(features) for d in DIMENSIONS
        }
        dims = self._dim_scores(features)
        o_names, o_contrib = self.overall.contributions(dims)
        values = {c: _as_float(features[c]) for c in self.feature_list if c in features}
        out: list[dict[str, list[dict]]] = []
        for i in range(len(features)):
            row: dict[str, list[dict]] = {}
            for d in DIMENSIONS:
                names, contrib = per_dim[d]
                order = np.argsort(-np.abs(contrib[i]), kind="stable")[:top]
                items = []
                for j in order:
                    v = float(values[names[j]][i]) if names[j] in values else float("nan")
                    pts = float(contrib[i, j])
                    items.append({
                        "feature": names[j],
                        "value": None if not math.isfinite(v) else round(v, 4),
                        "points": round(pts, 1),
                        "text": f"{describe(names[j], v)} ({'raises' if pts >= 0 else 'lowers'}"
                                f" the {d} score by {abs(pts):.1f} points)",
                    })
                row[d] = items
            order = np.argsort(-np.abs(o_contrib[i]), kind="stable")
            row["overall"] = [{
                "feature": o_names[j],
                "value": round(float(dims[o_names[j]].to_numpy()[i]), 1),
                "points": round(float(o_contrib[i, j]), 1),
                "text": f"{o_names[j]} score {dims[o_names[j]].to_numpy()[i]:.0f}"
                        f" {'raises' if o_contrib[i, j] >= 0 else 'lowers'} the overall score by"
                        f" {abs(o_contrib[i, j]):.1f} points",
            } for j in order]
            out.append(row)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": ARTIFACT_KIND_TRUST,
            "version": self.version,
            "created_at": self.created_at,
            "seed": self.seed,
            "data_hash": self.data_hash,
            "features": self.features,
            "scorers": {d: s.to_dict() for d, s in self.scorers.items()},
            "overall": self.overall.to_dict(),
            "metrics": self.metrics,
            "holdout": self.holdout,
            "source": self.source,
            "reference": self.reference,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrustModel:
        if d.get("kind") != ARTIFACT_KIND_TRUST:
            raise ValueError(f"not a trust model artifact (kind={d.get('kind')!r})")
        return cls(
            version=d["version"],
            scorers={k: LinearScorer.from_dict(v) for k, v in d["scorers"].items()},
            overall=LinearScorer.from_dict(d["overall"]),
            features={k: list(v) for k, v in d["features"].items()},
            metrics=dict(d.get("metrics") or {}),
            holdout=list(d.get("holdout") or []),
            data_hash=d.get("data_hash", ""),
            seed=int(d.get("seed", 0)),
            created_at=d.get("created_at", ""),
            source=d.get("source", ""),
            reference={k: list(v) for k, v in (d.get("reference") or {}).items()},
        )


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


# ---------------------------------------------------------------------------------------------
# Bring your own table

MAX_TABLE_BYTES = 200 * 1024 * 1024


@dataclass
class TableSchema:
    numeric: list[str]
    categorical: list[str]
    dropped: dict[str, str]


@dataclass
class TableModel:
    """A scorer trained on a user's table: which label value counts as positive, which columns."""

    version: str
    label: str
    positive: str
    scorer: LinearScorer
    schema: TableSchema
    metrics: dict[str, Any]
    data_hash: str
    seed: int
    source: str
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": ARTIFACT_KIND_TABLE,
            "version": self.version,
            "label": self.label,
            "positive": self.positive,
            "scorer": self.scorer.to_dict(),
            "schema": asdict(self.schema),
            "metrics": self.metrics,
            "data_hash": self.data_hash,
            "seed": self.seed,
            "source": self.source,
            "created_at": self.created_at,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TableModel:
        if d.get("kind") != ARTIFACT_KIND_TABLE:
            raise ValueError(f"not a table model artifact (kind={d.get('kind')!r})")
        return cls(version=d["version"], label=d["label"], positive=d["positive"],
                   scorer=LinearScorer.from_dict(d["scorer"]),
                   schema=TableSchema(**d["schema"]), metrics=d.get("metrics") or {},
                   data_hash=d.get("data_hash", ""), seed=int(d.get("seed", 0)),
                   source=d.get("source", ""), created_at=d.get("created_at", ""))

    def proba(self, df: pd.DataFrame) -> np.ndarray:
        return self.scorer.proba(df)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV table with clear errors (missing, too big, not UTF-8, not CSV, empty)."""
    p = Path(path)
    if not p.is_file():
        raise TableError(f"{p}: no such file")
    size = p.stat().st_size
    if size > MAX_TABLE_BYTES:
        raise TableError(f"{p}: {size:,} bytes is over the {MAX_TABLE_BYTES:,}-byte limit")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TableError(f"{p}: not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})"
                         ) from exc
    if not text.strip():
        raise TableError(f"{p}: the file is empty")
    try:
        df = pd.read_csv(io.StringIO(text), sep=None, engine="python", skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, TypeError) as exc:
        raise TableError(f"{p}: not a readable CSV table ({exc})") from exc
    if df.shape[1] < 2 or len(df) == 0:
        raise TableError(f"{p}: need a header and rows with at least 2 columns "
                         f"(got {df.shape[1]} columns, {len(df)} rows)")
    df.columns = [str(c).strip() for c in df.columns]
    return df


def resolve_label(df: pd.DataFrame, label: str, positive: str | None) -> tuple[np.ndarray, str,
                                                                               pd.DataFrame]:
    """The 0/1 target for ``label`` (rows with no label dropped) and the positive value used."""
    if label not in df.columns:
        cols = ", ".join(map(str, df.columns[:30]))
        raise TableError(f"--label {label!r}: no such column (columns: {cols})")
    s = df[label]
    keep = s.notna() & (s.astype(str).str.strip() != "")
    df = df.loc[keep].reset_index(drop=True)
    vals = df[label].astype(str).str.strip()
    distinct = sorted(vals.unique())
    if positive is None:
        low = {v.lower() for v in distinct}
        for pos, neg in (("1", "0"), ("1.0", "0.0"), ("true", "false"), ("yes", "no")):
            if pos in low and low <= {pos, neg}:
                positive = next(v for v in distinct if v.lower() == pos)
                break
        else:
            shown = ", ".join(repr(v) for v in distinct[:10])
            raise TableError(f"--label {label!r} has values {shown}: pass --positive VALUE to "
                             "say which one is the positive class")
    if positive not in distinct:
        shown = ", ".join(repr(v) for v in distinct[:10])
        raise TableError(f"--positive {positive!r} does not occur in column {label!r} "
                         f"(values: {shown})")
    y = (vals == positive).to_numpy(dtype=int)
    if y.sum() < 2 or len(y) - y.sum() < 2:
        raise TableError(f"--label {label!r}: need at least 2 rows of each class "
                         f"(positive {int(y.sum())}, other {int(len(y) - y.sum())})")
    return y, positive, df


def infer_schema(df: pd.DataFrame, label: str) -> TableSchema:
    """Numeric vs categorical columns; identifiers, constants and empty columns are dropped."""
    numeric: list[str] = []
    categorical: list[str] = []
    dropped: dict[str, str] = {}
    n = len(df)
    for col in df.columns:
        if col == label:
            continue
        s = df[col]
        nonnull = s.dropna()
        if isinstance(s.dtype, pd.StringDtype) or s.dtype == object:
            nonnull = nonnull[nonnull.astype(str).str.strip() != ""]
        if nonnull.empty:
            dropped[col] = "empty"
            continue
        if nonnull.astype(str).nunique() == 1:
            dropped[col] = "constant"
            continue
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            numeric.append(col)
            continue
        parsed = pd.to_numeric(nonnull, errors="coerce")
        if parsed.notna().mean() >= 0.95:
            numeric.append(col)
            continue
        distinct = nonnull.astype(str).nunique()
        if distinct > 0.5 * n and (distinct > 50 or distinct == len(nonnull)):
            dropped[col] = f"looks like an identifier or free text ({distinct} distinct values)"
            continue
        categorical.append(col)
    if not numeric and not categorical:
        raise TableError("no usable feature columns besides the label")
    return TableSchema(numeric=numeric, categorical=categorical, dropped=dropped)


def evaluate_table(df: pd.DataFrame, label: str, positive: str | None = None, *,
                   folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Stratified K-fold AUC (mean, std) and Brier of the table model; schema fitted per fold."""
    from sklearn.model_selection import StratifiedKFold

    y, positive, df = resolve_label(df, label, positive)
    schema = infer_schema(df, label)
    minority = int(min(y.sum(), len(y) - y.sum()))
    if folds < 2:
        raise TableError("--folds must be at least 2")
    if minority < folds:
        raise TableError(f"--folds {folds}: the smaller class has only {minority} rows")
    aucs, briers = [], []
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(df, y):
        fit = fit_scorer(df.iloc[tr], y[tr], numeric=schema.numeric,
                         categorical=schema.categorical, seed=seed)
        p = fit.scorer.proba(df.iloc[te])
        aucs.append(auc(y[te], p))
        briers.append(brier(y[te], p))
    valid = [a for a in aucs if a is not None]
    return {
        "auc": _round(float(np.mean(valid))) if valid else None,
        "auc_std": _round(float(np.std(valid))) if valid else None,
        "brier": _round(float(np.mean(briers))),
        "n": len(y),
        "positives": int(y.sum()),
        "positive": positive,
        "folds": folds,
        "seed": seed,
        "fold_auc": [_round(a) for a in aucs],
        "numeric": schema.numeric,
        "categorical": schema.categorical,
        "dropped": schema.dropped,
    }


def train_table(df: pd.DataFrame, label: str, positive: str | None = None, *, seed: int = 0,
                source: str = "") -> TableModel:
    """Train a calibrated scorer on the whole table (cross-validated AUC in ``metrics``)."""
    y, positive, df = resolve_label(df, label, positive)
    schema = infer_schema(df, label)
    fit = fit_scorer(df, y, numeric=schema.numeric, categorical=schema.categorical, seed=seed)
    digest = data_hash(df)
    return TableModel(
        version=new_version(digest), label=label, positive=positive, scorer=fit.scorer,
        schema=schema,
        metrics={"cv_auc": _round(auc(y, fit.oof_logit)),
                 "cv_brier": _round(brier(y, _sigmoid(fit.oof_logit))),
                 "n": len(y), "positives": int(y.sum()), "C": fit.scorer.C},
        data_hash=digest, seed=seed, source=source,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


# ---------------------------------------------------------------------------------------------
# An operator's own partner history → the trust-tiering model

_TRUE = {"1", "1.0", "true", "yes", "good"}
_FALSE = {"0", "0.0", "false", "no", "bad"}


def _outcome(s: pd.Series, column: str) -> pd.Series:
    """A 0/1 outcome column (1/0, true/false, yes/no, good/bad; blank = unknown)."""
    low = s.astype(str).str.strip().str.lower()
    known = low.isin(_TRUE | _FALSE)
    blank = s.isna() | (low == "") | (low == "nan")
    bad = ~known & ~blank
    if bad.any():
        shown = ", ".join(repr(v) for v in sorted(set(s[bad].astype(str)))[:5])
        raise TableError(f"column {column!r}: outcomes must be 1/0, true/false, yes/no or "
                         f"good/bad (found {shown})")
    return low.map(lambda v: 1.0 if v in _TRUE else 0.0 if v in _FALSE else np.nan)


def partner_history(tables: Sequence[pd.DataFrame], label: str,
                    ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Features and outcomes of an operator's own partners, from one table or one per dimension.

    Each table has ``partner_id``, some of Paver's partner feature columns
    (:data:`paver.trust.features.FEATURE_NAMES`, computed the way Paver computes them from the
    partners' merchants) and outcome columns ``outcome_{risk,trust,quality,value}`` (0/1,
    1 = good); ``label`` names the overall outcome. Tables are joined on ``partner_id``.

    Returns
    -------
    (features, truth, info)
        ``features`` indexed by partner id; ``truth`` with ``partner_id`` and
        ``outcome_{dim}`` / ``outcome_overall``; ``info`` lists the columns used and ignored.
    """
    from paver.trust.features import FEATURE_NAMES

    merged: pd.DataFrame | None = None
    for t in tables:
        if "partner_id" not in t.columns:
            raise TableError("every partner-history table needs a 'partner_id' column")
        t = t.assign(partner_id=t["partner_id"].astype(str).str.strip())
        if t["partner_id"].duplicated().any():
            dup = t.loc[t["partner_id"].duplicated(), "partner_id"].iloc[0]
            raise TableError(f"partner_id {dup!r} appears twice in one table")
        if merged is None:
            merged = t
        else:
            clash = (set(merged.columns) & set(t.columns)) - {"partner_id"}
            if clash:
                raise TableError(f"column(s) {', '.join(sorted(clash))} appear in two tables")
            merged = merged.merge(t, on="partner_id", how="outer")
    if merged is None:
        raise TableError("no table given")
    merged = merged.set_index("partner_id")
    outcomes = {f"outcome_{d}": f"outcome_{d}" for d in DIMENSIONS}
    outcomes["outcome_overall"] = label
    missing = [col for col in outcomes.values() if col not in merged.columns]
    if missing:
        raise TableError(f"missing outcome column(s): {', '.join(missing)} (0/1, 1 = good)")
    truth = pd.DataFrame({k: _outcome(merged[c], c) for k, c in outcomes.items()},
                         index=merged.index)
    truth = truth.dropna()
    feats = [c for c in FEATURE_NAMES if c in merged.columns]
    ignored = sorted(c for c in merged.columns if c not in feats and c not in outcomes.values())
    features = merged.loc[truth.index, feats].apply(pd.to_numeric, errors="coerce")
    truth = truth.astype(int).reset_index()
    return features, truth, {"feature_columns": feats, "ignored_columns": ignored,
                             "partners": len(truth)}
