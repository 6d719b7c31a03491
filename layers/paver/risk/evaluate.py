"""Held-out evaluation: split by pattern instance, build on one side, screen the other.

Split: for every scene, its groups (pattern instances) are shuffled with the seed and a
``train_fraction`` of them goes to training (at least one group on each side when the scene has
two or more); a group is never on both sides. Normal rows (empty scene, or absent from the labels
file) are split by the same fraction. Features are computed once over the whole window (they use
no labels), the knowledge base is built from the training rows only, and the test rows are
screened.

Metrics
-------
``accuracy`` / ``macro_f1`` / ``per_scene``
    Scene identification over the **risky test transactions**: the prediction of a transaction
    is its best scene when the rules call it risky and ``normal`` otherwise (a miss counts as an
    error); macro-F1 averages the per-scene F1 over the scenes present in the test side.
``detection``
    Risky vs normal over all test transactions (precision, recall, F1 and the counts).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import numpy as np

from paver.risk.matcher import Matcher
from paver.risk.scenes import SceneRules
from paver.risk.screening import Dataset, batch_features, build_kb_from_rows


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


def identification_metrics(y_true: list[str], y_pred: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-scene P/R/F1 over risky transactions (labels = true scenes)."""
    scenes = sorted(set(y_true))
    per: dict[str, dict[str, float]] = {}
    for s in scenes:
        tp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == s and p == s)
        fp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t != s and p == s)
        fn = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == s and p != s)
        p, r, f = _prf(tp, fp, fn)
        per[s] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4),
                  "support": sum(1 for t in y_true if t == s)}
    acc = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == p) / max(1, len(y_true))
    macro = float(np.mean([v["f1"] for v in per.values()])) if per else 0.0
    return {"accuracy": round(acc, 4), "macro_f1": round(macro, 4), "per_scene": per}


def confusion(y_true: list[str], y_pred: list[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for t, p in zip(y_true, y_pred, strict=True):
        row = out.setdefault(t, {})
        row[p] = row.get(p, 0) + 1
    return out


def evaluate_dataset(ds: Dataset, rules: SceneRules, train_fraction: float = 0.5, seed: int = 0,
                     features: np.ndarray | None = None) -> dict[str, Any]:
    """Split, build, screen and score (see the module docstring)."""
    t0 = time.perf_counter()
    X = features if features is not None else batch_features(ds)[0]
    t1 = time.perf_counter()
    train, test = split_rows(ds, train_fraction, seed)
    kb = build_kb_from_rows(X, ds, train, rules, seed=seed)
    t2 = time.perf_counter()
    matcher = Matcher(kb, rules)
    res = matcher.match(X[test])
    t3 = time.perf_counter()
    scene = ds.scene_of()
    group = ds.group_of()
    truth = [scene[int(r)] for r in test]
    pred = [kb.scenes[int(b)] if risky else "normal"
            for b, risky in zip(res.best, res.risky, strict=True)]
    risky_idx = [k for k, t in enumerate(truth) if t is not None]
    y_true = [str(truth[k]) for k in risky_idx]
    y_pred = [pred[k] for k in risky_idx]
    ident = identification_metrics(y_true, y_pred)
    best_only = [kb.scenes[int(res.best[k])] for k in risky_idx]
    is_risky = np.array([t is not None for t in truth])
    tp = int((res.risky & is_risky).sum())
    fp = int((res.risky & ~is_risky).sum())
    fn = int((~res.risky & is_risky).sum())
    tn = int((~res.risky & ~is_risky).sum())
    p, r, f = _prf(tp, fp, fn)

    def side(rows: np.ndarray) -> dict[str, int]:
        risky_rows = [int(i) for i in rows if scene[int(i)]]
        return {"groups": len({group[i] for i in risky_rows}), "risky_rows": len(risky_rows),
                "normal_rows": len(rows) - len(risky_rows)}

    missing = sorted(set(y_true) - set(kb.scenes))
    return {
        **ident,
        "detection": {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4),
                      "tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "best_scene_accuracy": round(
            sum(1 for a, b in zip(y_true, best_only, strict=True) if a == b)
            / max(1, len(y_true)), 4),
        "confusion": confusion(y_true, y_pred),
        "normal_flagged_as": dict(Counter(p for t, p in zip(truth, pred, strict=True)
                                          if t is None and p != "normal")),
        "train": side(train),
        "test": side(test),
        "scenes_without_training_samples": missing,
        "kb_version": kb.version,
        "seconds": {"features": round(t1 - t0, 3), "build": round(t2 - t1, 3),
                    "screen": round(t3 - t2, 3)},
        "train_fraction": train_fraction,
        "seed": seed,
    }
