"""Held-out evaluation: split by pattern instance, build on one side, screen the other.

Split: for every scene, its groups (pattern instances) are shuffled with the seed and a
``train_fraction`` of them goes to training (at least one group on each side when the scene has
two or more); a group is never on both sides. Normal rows (empty scene, or absent from the labels
file) are split by the same fraction. Features use no labels; the knowledge base is built from
the training rows only, and the test rows are screened.

Modes (the JSON says which one, ``mode``)
-----------------------------------------
``retrospective``
    Features over the whole window at once: an event's relation groups see the window's
    transfers before *and after* it (what an AML team's daily monitoring of a closed window sees).
``realtime``
    Events replayed in timestamp order; each event's relation groups come only from what happened
    before it and the event itself (:mod:`paver.risk.replay`) — what the stream handler delivers.

Metrics (over the **test** side; ``normal`` = not flagged)
----------------------------------------------------------
``per_scene``
    Per labelled scene: precision counts **every** test event decided as that scene, normal
    events included (a flagged normal is a false positive of the scene it was flagged as);
    recall over the scene's risky test events (a miss — decided normal or another scene — is a
    false negative).
``macro_f1``
    Mean of the per-scene F1 over the scenes present in the test side.
``accuracy``
    Share of the risky test events decided as their own scene.
``detection``
    Risky vs normal over all test events (precision, recall, F1 and the counts).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import numpy as np

from paver.risk.matcher import Matcher
from paver.risk.scenes import SceneRules
from paver.risk.screening import Dataset, build_kb_from_rows, dataset_features

#: How an event that is not flagged is shown in confusion matrices.
NORMAL = "normal"


def split_rows(ds: Dataset, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices (groups never straddle the split)."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError("--train-fraction: must be strictly between 0 and 1")
    rng = np.random.default_rng(seed)
    scene = ds.scene_of()
    group = ds.group_of()
    by_group: dict[str, list[int]] = {}
    group_scene: dict[str, Counter[str]] = {}
    normal: list[int] = []
    for i, (s, g) in enumerate(zip(scene, group, strict=True)):
        if s is None:
            normal.append(i)
        else:
            key = g or f"_row{i}"
            by_group.setdefault(key, []).append(i)
            group_scene.setdefault(key, Counter())[s] += 1
    scene_groups: dict[str, list[str]] = {}
    for g in sorted(by_group):
        scene_groups.setdefault(group_scene[g].most_common(1)[0][0], []).append(g)
    train: list[int] = []
    test: list[int] = []
    for s in sorted(scene_groups):
        gs = scene_groups[s]
        perm = [gs[i] for i in rng.permutation(len(gs))]
        n_train = round(train_fraction * len(gs))
        if len(gs) >= 2:
            n_train = min(len(gs) - 1, max(1, n_train))
        for k, g in enumerate(perm):
            (train if k < n_train else test).extend(by_group[g])
    nm = np.asarray(normal, dtype=np.int64)
    nm = nm[rng.permutation(len(nm))]
    n_train = round(train_fraction * len(nm))
    train.extend(nm[:n_train].tolist())
    test.extend(nm[n_train:].tolist())
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(test, dtype=np.int64))


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def identification_metrics(y_true: list[str | None], y_pred: list[str | None]
                           ) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-scene P/R/F1 (``None`` = normal, in truth or decision).

    Pass **every** screened event: a normal event decided as a scene counts against that
    scene's precision. Scenes are the labelled scenes present in ``y_true``.
    """
    scenes = sorted({t for t in y_true if t is not None})
    per: dict[str, dict[str, float]] = {}
    for s in scenes:
        tp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == s and p == s)
        fp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t != s and p == s)
        fn = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == s and p != s)
        p, r, f = _prf(tp, fp, fn)
        per[s] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4),
                  "support": sum(1 for t in y_true if t == s)}
    risky = [(t, p) for t, p in zip(y_true, y_pred, strict=True) if t is not None]
    acc = sum(1 for t, p in risky if t == p) / max(1, len(risky))
    macro = float(np.mean([v["f1"] for v in per.values()])) if per else 0.0
    return {"accuracy": round(acc, 4), "macro_f1": round(macro, 4), "per_scene": per}


def detection_metrics(y_true: list[str | None], flagged: Any) -> dict[str, Any]:
    """Risky or not, whatever the scene: precision, recall, F1 and the four counts."""
    is_risky = np.array([t is not None for t in y_true], dtype=bool)
    flagged = np.asarray(flagged, dtype=bool)
    tp = int((flagged & is_risky).sum())
    fp = int((flagged & ~is_risky).sum())
    fn = int((~flagged & is_risky).sum())
    tn = int((~flagged & ~is_risky).sum())
    p, r, f = _prf(tp, fp, fn)
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4),
            "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def decided_scenes(kb: Any, res: Any) -> list[str | None]:
    """Per matched row: the scene it was flagged as, or ``None`` when not flagged."""
    return [kb.scenes[int(b)] if risky else None
            for b, risky in zip(res.best, res.risky, strict=True)]


def confusion(y_true: list[str | None], y_pred: list[str | None]) -> dict[str, dict[str, int]]:
    """``{true: {decided: count}}`` with ``normal`` for ``None`` (rows and columns)."""
    out: dict[str, dict[str, int]] = {}
    for t, p in zip(y_true, y_pred, strict=True):
        row = out.setdefault(NORMAL if t is None else t, {})
        k = NORMAL if p is None else p
        row[k] = row.get(k, 0) + 1
    return out


def evaluate_dataset(ds: Dataset, rules: SceneRules, train_fraction: float = 0.5, seed: int = 0,
                     features: np.ndarray | None = None, mode: str = "retrospective",
                     matcher_factory: Any = None) -> dict[str, Any]:
    """Split, build, screen and score (see the module docstring).

    ``features`` are the rows of ``mode`` when given (else they are computed);
    ``matcher_factory(kb, rules)`` replaces :class:`Matcher` (tests put stubs there).
    """
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    if features is not None:
        X, feat_s = features, 0.0
    else:
        X, feat_s = dataset_features(ds, mode)
    t1 = time.perf_counter()
    train, test = split_rows(ds, train_fraction, seed)
    kb = build_kb_from_rows(X, ds, train, rules, seed=seed)
    t2 = time.perf_counter()
    matcher = (matcher_factory or Matcher)(kb, rules)
    res = matcher.match(X[test])
    t3 = time.perf_counter()
    scene = ds.scene_of()
    group = ds.group_of()
    truth = [scene[int(r)] for r in test]
    pred = decided_scenes(kb, res)
    ident = identification_metrics(truth, pred)
    risky_idx = [k for k, t in enumerate(truth) if t is not None]
    best_only = [kb.scenes[int(res.best[k])] for k in risky_idx]

    def side(rows: np.ndarray) -> dict[str, int]:
        risky_rows = [int(i) for i in rows if scene[int(i)]]
        return {"groups": len({group[i] for i in risky_rows}), "risky_rows": len(risky_rows),
                "normal_rows": len(rows) - len(risky_rows)}

    y_true = [str(truth[k]) for k in risky_idx]
    missing = sorted(set(y_true) - set(kb.scenes))
    return {
        "mode": mode,
        **ident,
        "detection": detection_metrics(truth, res.risky),
        "best_scene_accuracy": round(
            sum(1 for a, b in zip(y_true, best_only, strict=True) if a == b)
            / max(1, len(y_true)), 4),
        "confusion": confusion(truth, pred),
        "normal_flagged_as": dict(Counter(p for t, p in zip(truth, pred, strict=True)
                                          if t is None and p is not None)),
        "train": side(train),
        "test": side(test),
        "scenes_without_training_samples": missing,
        "kb_version": kb.version,
        "data": {"transactions": ds.table.source, "rows": len(ds.table),
                 "split": "by pattern instance", "train_fraction": train_fraction,
                 "seed": seed},
        "seconds": {"features": round(feat_s if features is None else t1 - t0, 3),
                    "build": round(t2 - t1, 3), "screen": round(t3 - t2, 3),
                    "total": round(time.perf_counter() - t0, 3),
                    "cpu_total": round(time.process_time() - cpu0, 3)},
        "train_fraction": train_fraction,
        "seed": seed,
    }
