"""Population stability index (PSI): has a model's input or output moved since training?

For one feature, the reference (training) sample fixes the bins once — quantile cut points
for a numeric feature (about :data:`BINS` bins of equal reference mass), one bin per value for
a categorical or boolean one, plus a bin for missing values — and keeps the reference share of
every bin (a :class:`Profile`, stored with the model). A recent sample is counted into the same
bins and

    PSI = Σ_bins (recent_share − reference_share) · ln(recent_share / reference_share)

with every share floored at :data:`EPSILON` (an empty bin would make the logarithm infinite).
Usual reading: below 0.1 stable, 0.1 to 0.25 moderate, above 0.25 significant; the alarm
threshold is ``Settings.drift_psi_threshold`` (``PAVER_DRIFT_PSI``, default 0.25).

numpy only: it runs on the serving path (no pandas, scipy or scikit-learn import).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

#: Quantile bins of a numeric feature (fewer when the reference has ties).
BINS = 10
#: Floor of a bin's share in the PSI sum (an empty bin would be infinitely surprising).
EPSILON = 1e-4
#: Where "moderate" starts (the usual reading of PSI).
MODERATE = 0.1
#: Where "significant" starts when no threshold is configured.
SIGNIFICANT = 0.25
#: A categorical feature keeps at most this many values of its own; the rest share one bin.
MAX_CATEGORIES = 30
OTHER = "(other)"
MISSING = "(missing)"
#: Levels, from none to most shift; ``no data`` when the recent sample has no row.
LEVELS = ("stable", "moderate", "significant")
NO_DATA = "no data"
#: CloudWatch Embedded Metric Format: namespace and metric of the worst PSI per model.
METRIC_NAMESPACE = "Paver"
METRIC_NAME = "DriftPSI"


@dataclass
class Profile:
    """A feature's reference bins and the reference share of each.

    Attributes
    ----------
    feature
        The feature's name.
    kind
        ``numeric`` (bins between ``edges``) or ``categorical`` (one bin per ``categories``
        entry, then :data:`OTHER`).
    edges
        Numeric: increasing cut points; bin ``i`` holds ``edges[i-1] <= x < edges[i]`` (the
        first bin everything below ``edges[0]``, the last everything from ``edges[-1]`` up).
    categories
        Categorical: the reference values (as text).
    proportions
        Reference share of every bin, the missing-value bin last; sums to 1.
    count
        Reference rows.
    """

    feature: str
    kind: str
    proportions: list[float]
    count: int
    edges: list[float] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Profile:
        return cls(feature=str(d["feature"]), kind=str(d["kind"]),
                   proportions=[float(p) for p in d["proportions"]], count=int(d["count"]),
                   edges=[float(e) for e in d.get("edges") or []],
                   categories=[str(c) for c in d.get("categories") or []])

    def counts(self, values: Sequence[Any] | np.ndarray) -> np.ndarray:
        """How many of ``values`` fall in each of this profile's bins (missing last)."""
        if self.kind == "numeric":
            x = _floats(values)
            finite = np.isfinite(x)
            idx = np.searchsorted(np.asarray(self.edges, dtype=float), x[finite], side="right")
            out = np.bincount(idx, minlength=len(self.edges) + 1).astype(float)
            return np.append(out, float((~finite).sum()))
        text = [_text(v) for v in values]
        index = {c: i for i, c in enumerate(self.categories)}
        out = np.zeros(len(self.categories) + 2)
        for t in text:
            out[len(self.categories) + 1 if t is None else index.get(t, len(self.categories))] += 1
        return out


def _floats(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Values as floats; ``None``, text and booleans that are not numbers become NaN/0/1."""
    arr = np.asarray(values)
    if arr.dtype.kind in "biuf":
        return arr.astype(float)
    out = np.full(len(arr), np.nan)
    for i, v in enumerate(arr.tolist()):
        with contextlib.suppress(TypeError, ValueError):  # not a number: stays NaN
            out[i] = float(v)
    return out


def _text(v: Any) -> str | None:
    """A categorical value as text (``None``/NaN/blank: missing; ``True`` and 1 alike)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, bool | np.bool_):
        return "1" if v else "0"
    if isinstance(v, int | float | np.integer | np.floating) and float(v).is_integer():
        return str(int(v))
    s = str(v).strip()
    return s or None


def _is_categorical(values: np.ndarray) -> bool:
    """Text and booleans are categorical; so is a numeric column of only 0s and 1s."""
    if values.dtype.kind == "b":
        return True
    if values.dtype.kind not in "iuf":
        x = _floats(values)
        known = np.array([_text(v) is not None for v in values.tolist()], dtype=bool)
        if known.any() and np.isnan(x[known]).any():
            return True  # some value is no number
        values = x
    x = values.astype(float)
    x = x[np.isfinite(x)]
    return x.size > 0 and bool(np.isin(x, (0.0, 1.0)).all())


def profile(feature: str, values: Sequence[Any] | np.ndarray, bins: int = BINS) -> Profile:
    """The reference profile of one feature from its training values.

    Numeric: cut points at the reference's ``1/bins … (bins-1)/bins`` quantiles (ties merge
    bins); a constant feature gets cut points just around its value, so any other value
    lands in a bin the reference left empty. Categorical (text, booleans, 0/1): one bin per
    value (the :data:`MAX_CATEGORIES` most frequent; the rest share :data:`OTHER`).
    """
    arr = np.asarray(values)
    if _is_categorical(arr):
        text = [_text(v) for v in arr.tolist()]
        vals, counts = np.unique([t for t in text if t is not None], return_counts=True)
        order = np.argsort(-counts, kind="stable")[:MAX_CATEGORIES]
        cats = sorted(str(vals[i]) for i in order)
        p = Profile(feature=feature, kind="categorical", proportions=[], count=len(text),
                    categories=cats)
    else:
        x = _floats(arr)
        finite = x[np.isfinite(x)]
        if finite.size == 0:
            edges: list[float] = []
        elif float(finite.min()) == float(finite.max()):
            c = float(finite[0])
            edges = [c, float(np.nextafter(c, np.inf))]
        else:
            qs = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])
            # ties merge cut points; a cut at the minimum leaves bin 0 empty in the reference
            # (values below anything seen in training land there)
            edges = [float(e) for e in np.unique(qs)]
        p = Profile(feature=feature, kind="numeric", proportions=[], count=len(x), edges=edges)
    counts_ = p.counts(arr)
    total = counts_.sum()
    p.proportions = [float(c / total) if total else 0.0 for c in counts_]
    return p


def profiles(columns: Mapping[str, Sequence[Any] | np.ndarray], bins: int = BINS
             ) -> list[Profile]:
    """:func:`profile` of every column, in the mapping's order."""
    return [profile(name, values, bins) for name, values in columns.items()]


def psi(reference: Sequence[float] | np.ndarray, recent: Sequence[float] | np.ndarray,
        epsilon: float = EPSILON) -> float:
    """PSI of two vectors of bin shares (each sums to 1), shares floored at ``epsilon``."""
    e = np.maximum(np.asarray(reference, dtype=float), epsilon)
    a = np.maximum(np.asarray(recent, dtype=float), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def level(value: float | None, threshold: float = SIGNIFICANT) -> str:
    """``stable`` below 0.1, ``moderate`` below ``threshold``, ``significant`` from it."""
    if value is None:
        return NO_DATA
    if value >= threshold:
        return "significant"
    return "moderate" if value >= min(MODERATE, threshold) else "stable"


def compare(reference: Iterable[Profile | Mapping[str, Any]],
            recent: Mapping[str, Sequence[Any] | np.ndarray],
            threshold: float = SIGNIFICANT, outputs: Sequence[str] = ()) -> dict[str, Any]:
    """PSI of every profiled feature between its reference and the ``recent`` values.

    Parameters
    ----------
    reference
        The stored profiles (or their dicts).
    recent
        Feature name → recent values (a feature absent here counts as no data).
    threshold
        PSI from which a feature is ``significant`` and the report ``drifted``.
    outputs
        Names of the model's outputs (scores), marked ``"role": "output"``; others are inputs.

    Returns
    -------
    dict
        ``{"features": [{"feature", "role", "psi", "level", "reference_count",
        "recent_count"}], "worst": {"feature", "psi", "level"} | None, "drifted": bool,
        "level": the worst level}``, features in reference order.
    """
    rows: list[dict[str, Any]] = []
    for ref in reference:
        p = ref if isinstance(ref, Profile) else Profile.from_dict(ref)
        values = recent.get(p.feature)
        n = 0 if values is None else len(values)
        value: float | None = None
        if n:
            counts = p.counts(values)
            value = round(psi(p.proportions, counts / counts.sum()), 4)
        rows.append({"feature": p.feature,
                     "role": "output" if p.feature in outputs else "input",
                     "psi": value, "level": level(value, threshold),
                     "reference_count": p.count, "recent_count": n})
    scored = [r for r in rows if r["psi"] is not None]
    worst = max(scored, key=lambda r: r["psi"]) if scored else None
    return {
        "features": rows,
        "worst": ({k: worst[k] for k in ("feature", "psi", "level")} if worst else None),
        "drifted": bool(worst and worst["psi"] >= threshold),
        "level": worst["level"] if worst else NO_DATA,
    }


def summary(reports: Mapping[str, Mapping[str, Any]], threshold: float) -> dict[str, Any]:
    """The worst of several reports (a model's scorers): ``{"worst", "drifted", "level"}``;
    ``worst`` names the report (``scorer``) it comes from."""
    worst: dict[str, Any] | None = None
    for name, rep in reports.items():
        w = rep.get("worst")
        if w and (worst is None or w["psi"] > worst["psi"]):
            worst = {"scorer": name, **w}
    return {"worst": worst, "drifted": bool(worst and worst["psi"] >= threshold),
            "level": worst["level"] if worst else NO_DATA}


def metric_line(model: str, value: float, stage: str, at: float | None = None) -> str:
    """One CloudWatch Embedded Metric Format record: ``Paver/DriftPSI`` by ``Stage`` and
    ``Model``. Printed to a Lambda's stdout, CloudWatch Logs turns it into the metric (no API
    call, no IAM grant); the deployment template's alarm watches it."""
    return json.dumps({
        "_aws": {"Timestamp": int((time.time() if at is None else at) * 1000),
                 "CloudWatchMetrics": [{"Namespace": METRIC_NAMESPACE,
                                        "Dimensions": [["Stage", "Model"]],
                                        "Metrics": [{"Name": METRIC_NAME, "Unit": "None"}]}]},
        "Stage": stage, "Model": model, METRIC_NAME: round(float(value), 4),
    })


def emit(report: Mapping[str, Any], stage: str) -> list[str]:
    """Print the worst PSI of each model in a drift report (``trust``, ``risk``) as an EMF
    record; return the lines printed (a model with no data prints none)."""
    lines = []
    for model in ("trust", "risk"):
        worst = (report.get(model) or {}).get("worst")
        if worst and worst.get("psi") is not None:
            lines.append(metric_line(model, worst["psi"], stage))
    for line in lines:
        print(line, flush=True)
    return lines


def lines(reports: Mapping[str, Mapping[str, Any]], threshold: float) -> list[str]:
    """A readable table of reports (``{name: report}``): one row per feature, worst first."""
    out = [f"{'model':<10} {'feature':<34} {'role':<6} {'psi':>7}  level"]
    for name, rep in reports.items():
        rows = sorted(rep.get("features") or [], key=lambda r: -(r["psi"] or -1.0))
        for r in rows:
            value = "    n/a" if r["psi"] is None else f"{r['psi']:7.3f}"
            out.append(f"{name:<10} {r['feature'][:34]:<34} {r['role']:<6} {value}  {r['level']}")
    worst = summary(reports, threshold)
    w = worst["worst"]
    out.append(f"threshold {threshold:g}: " + (
        "no recent data" if w is None else
        f"worst {w['scorer']} / {w['feature']} psi {w['psi']:.3f} ({w['level']}); "
        + ("DRIFTED" if worst["drifted"] else "not drifted")))
    return out
