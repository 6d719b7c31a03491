"""The calibrated linear scorer that serves every trust score in plain numpy: a table's
columns encoded (clip, log, impute, missing flag, standardise; frequent categories one-hot),
logistic weights and a Platt calibration, serialised to JSON (no pickle, no scikit-learn)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from paver.errors import InvalidInput
from paver.lazy import lazy_module

if TYPE_CHECKING:
    import pandas as pd
else:  # pandas only when frames are built: not on every cold start (paver.lazy)
    pd = lazy_module("pandas")

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
