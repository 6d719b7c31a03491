"""Bring-your-own-table models and partner histories: an operator's own CSV/JSONL table
(schema inferred, label resolved) trained into a :class:`~paver.trust.scorer.LinearScorer`,
and a history of partner outcomes turned into the trust model's truth."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from paver.lazy import lazy_module
from paver.trust import DIMENSIONS
from paver.trust.scorer import LinearScorer, TableError, _sigmoid
from paver.trust.training import _round, auc, brier, data_hash, fit_scorer, new_version

if TYPE_CHECKING:
    import pandas as pd
else:  # pandas only when frames are built: not on every cold start (paver.lazy)
    pd = lazy_module("pandas")

ARTIFACT_KIND_TABLE = "paver.table_model"

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
