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


def split_history(ds: Dataset, cuts: tuple[float, ...] = (0.25, 0.6)) -> list[np.ndarray]:
    """Row indices of consecutive parts of the window, in time: the parts end at the given
    fractions of the events (in time order). A pattern instance belongs to the part where it
    starts (instances never straddle parts), a normal event to the part of its own time —
    how a team meets its history: what was labelled first, what came next, what came last."""
    order = np.argsort(ds.table.ts, kind="stable")
    bounds = [float(ds.table.ts[order[min(len(order) - 1, int(c * len(order)))]])
              for c in cuts]
    scene, group = ds.scene_of(), ds.group_of()
    start: dict[str, float] = {}
    for i in order.tolist():
        if scene[i] is not None:
            start.setdefault(group[i] or f"_row{i}", float(ds.table.ts[i]))
    parts: list[list[int]] = [[] for _ in range(len(cuts) + 1)]
    for i in range(len(ds.table)):
        t = (start[group[i] or f"_row{i}"] if scene[i] is not None else float(ds.table.ts[i]))
        parts[sum(t >= b for b in bounds)].append(i)
    return [np.asarray(p, dtype=np.int64) for p in parts]


def _labels(y: list[str | None]) -> list[str]:
    return [NORMAL if v is None else v for v in y]


def detection_metrics(is_risky: np.ndarray, flagged: np.ndarray) -> dict[str, Any]:
    """Risky vs normal: precision, recall and F1 of ``flagged`` (0 where undefined) and the
    counts ``tp``, ``fp``, ``fn``, ``tn`` (``sklearn.metrics``, imported here: evaluation only)."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    truth = np.asarray(is_risky, dtype=bool)
    decided = np.asarray(flagged, dtype=bool)
    tn, fp, fn, tp = (int(v) for v in
                      confusion_matrix(truth, decided, labels=[False, True]).ravel())
    p, r, f, _ = precision_recall_fscore_support(truth, decided, labels=[True], average=None,
                                                 zero_division=0.0)
    return {"precision": float(p[0]), "recall": float(r[0]), "f1": float(f[0]),
            "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def identification_metrics(y_true: list[str | None], y_pred: list[str | None]
                           ) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-scene P/R/F1 (``None`` = normal, in truth or decision).

    Pass **every** screened event: a normal event decided as a scene counts against that
    scene's precision. Scenes are the labelled scenes present in ``y_true``.
    """
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    scenes = sorted({t for t in y_true if t is not None})
    per: dict[str, dict[str, float]] = {}
    if scenes:
        prec, rec, f1, support = precision_recall_fscore_support(
            _labels(y_true), _labels(y_pred), labels=scenes, average=None, zero_division=0.0)
        per = {s: {"precision": round(float(prec[i]), 4), "recall": round(float(rec[i]), 4),
                   "f1": round(float(f1[i]), 4), "support": int(support[i])}
               for i, s in enumerate(scenes)}
    risky = [(t, p) for t, p in zip(y_true, y_pred, strict=True) if t is not None]
    acc = (accuracy_score([t for t, _ in risky], _labels([p for _, p in risky]))
           if risky else 0.0)
    macro = float(np.mean([v["f1"] for v in per.values()])) if per else 0.0
    return {"accuracy": round(float(acc), 4), "macro_f1": round(macro, 4), "per_scene": per}


def scores(y_true: list[str | None], y_pred: list[str | None]) -> dict[str, Any]:
    """Scene identification (:func:`identification_metrics`) and detection of the same
    decisions (flagged = decided as any scene), rounded as every report shows them."""
    det = detection_metrics(np.array([t is not None for t in y_true], dtype=bool),
                            np.array([p is not None for p in y_pred], dtype=bool))
    return {**identification_metrics(y_true, y_pred),
            "detection": {k: round(v, 4) if isinstance(v, float) else v
                          for k, v in det.items()}}


def decided_scenes(kb: Any, res: Any) -> list[str | None]:
    """Per matched row: the scene it was flagged as, or ``None`` when not flagged."""
    return [kb.scenes[int(b)] if risky else None
            for b, risky in zip(res.best, res.risky, strict=True)]


def confusion(y_true: list[str | None], y_pred: list[str | None]) -> dict[str, dict[str, int]]:
    """``{true: {decided: count}}`` with ``normal`` for ``None`` (rows and columns; only the
    pairs that occur)."""
    from sklearn.metrics import confusion_matrix

    truth, decided = _labels(y_true), _labels(y_pred)
    labels = list(dict.fromkeys(truth + decided))
    matrix = confusion_matrix(truth, decided, labels=labels)
    return {t: {d: int(matrix[i, j]) for j, d in enumerate(labels) if matrix[i, j]}
            for i, t in enumerate(labels) if matrix[i].any()}


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
        **scores(truth, pred),
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
