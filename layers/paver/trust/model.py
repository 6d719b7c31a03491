"""The trust-tiering model: one scorer per dimension (``risk``, ``trust``, ``quality``,
``value``) on that dimension's partner features, plus an ``overall`` scorer stacked on the four
dimension scores. Scores are probabilities of a good outcome on a 0–100 scale; each comes with
the features that moved it most, in words (:func:`paver.trust.features.describe`).

What serves and what trains live apart: :mod:`paver.trust.scorer` (the calibrated linear
scorer, plain numpy, JSON artifacts), :mod:`paver.trust.training` (fitting it with
scikit-learn, held-out metrics; off the request path), :mod:`paver.trust.table` (models of an
operator's own table, partner histories). This module holds the model a request loads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from paver import drift
from paver.lazy import lazy_module
from paver.trust import DIMENSIONS
from paver.trust.features import describe
from paver.trust.scorer import LinearScorer, _as_float

if TYPE_CHECKING:
    import pandas as pd
else:  # pandas only when frames are built: not on every cold start (paver.lazy)
    pd = lazy_module("pandas")

ARTIFACT_KIND_TRUST = "paver.trust_model"


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


