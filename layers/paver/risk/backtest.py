"""Changing the knowledge base safely: backtest versions on history, tune thresholds.

**Backtest.** Screen the same labelled history with each knowledge-base version and score each
the way ``paver risk evaluate`` does (normal events flagged as a scene count against it), then
list what the change would do: alerts gained and lost (with their transaction ids) and events
flagged by both under another scene.

**Tune.** Per scene, the lowest threshold (0.01 grid) at which the scene's alerts on a tuning
half of the labelled history reach the target precision; the other half (split by pattern
instance, as ``evaluate`` splits) says what those thresholds give on events they were not tuned
on. A threshold pinned to a number in ``rules/risk_scenes.yaml`` wins over the knowledge base's
(only ``auto`` scenes take the tuned value); the result says which scenes are pinned.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from paver.errors import InvalidInput
from paver.risk.evaluate import decided_scenes, scores, split_rows
from paver.risk.kb import KnowledgeBase, stamp_version
from paver.risk.matcher import Matcher
from paver.risk.scenes import STEP, SceneRules
from paver.risk.screening import Dataset

#: Thresholds tuning may choose (the decision grid of the scene rules).
GRID = np.round(np.arange(1, 100) * STEP, 2)


def score(truth: Sequence[str | None], pred: Sequence[str | None]) -> dict[str, Any]:
    """Scene identification and detection figures of decisions against the truth."""
    res = scores(list(truth), list(pred))
    return {k: res[k] for k in ("macro_f1", "accuracy", "detection", "per_scene")}


def backtest(ds: Dataset, X: np.ndarray, kbs: Mapping[str, KnowledgeBase], rules: SceneRules,
             rows: np.ndarray, mode: str) -> dict[str, Any]:
    """Screen ``rows`` of ``ds`` (feature rows ``X``) with every version in ``kbs``.

    Returns
    -------
    dict
        ``{"mode", "events", "versions": {version: {"macro_f1", "accuracy", "detection",
        "per_scene", "alerts"}}, "diff": {"from", "to", "gained", "lost", "scene_changed"}}``;
        the diff compares the first version with the last.
    """
    scene = ds.scene_of()
    truth = [scene[int(r)] for r in rows]
    txn = [ds.table.txn_id[int(r)] for r in rows]
    versions: dict[str, Any] = {}
    decided: dict[str, list[str | None]] = {}
    for version, kb in kbs.items():
        pred = decided_scenes(kb, Matcher(kb, rules).match(X[rows]))
        decided[version] = pred
        versions[version] = {**score(truth, pred), "alerts": sum(p is not None for p in pred)}
    names = list(kbs)
    a, b = decided[names[0]], decided[names[-1]]
    diff = {
        "from": names[0], "to": names[-1],
        "gained": [{"txn_id": t, "scene": q, "truth": s}
                   for t, p, q, s in zip(txn, a, b, truth, strict=True)
                   if p is None and q is not None],
        "lost": [{"txn_id": t, "scene": p, "truth": s}
                 for t, p, q, s in zip(txn, a, b, truth, strict=True)
                 if p is not None and q is None],
        "scene_changed": [{"txn_id": t, "from": p, "to": q, "truth": s}
                          for t, p, q, s in zip(txn, a, b, truth, strict=True)
                          if p is not None and q is not None and p != q],
    }
    return {"mode": mode, "events": len(rows), "versions": versions, "diff": diff}


def tune_thresholds(kb: KnowledgeBase, rules: SceneRules, X: np.ndarray,
                    truth: Sequence[str | None], target_precision: float) -> np.ndarray:
    """Per scene of ``kb``: the lowest grid threshold whose alerts on these rows reach
    ``target_precision`` (the most precise one when none does; 0.99 without any alert)."""
    res = Matcher(kb, rules).match(X)
    out = np.full(kb.n_scenes, GRID[-1])
    truth_arr = np.array([t or "" for t in truth], dtype=object)
    for s, name in enumerate(kb.scenes):
        mine = res.best == s
        deg = np.asarray(res.best_degree)[mine]
        right = truth_arr[mine] == name
        best_t, best_p = GRID[-1], -1.0
        for t in GRID:
            flagged = deg >= t - 1e-9
            if not flagged.any():
                break
            p = float(right[flagged].mean())
            if p >= target_precision:
                best_t = t
                break
            if p > best_p:
                best_t, best_p = t, p
        out[s] = best_t
    return out


def tune(ds: Dataset, X: np.ndarray, kb: KnowledgeBase, rules: SceneRules, rows: np.ndarray,
         target_precision: float, seed: int = 0, mode: str = "retrospective"
         ) -> tuple[KnowledgeBase, dict[str, Any]]:
    """Tune ``kb``'s thresholds on half of the labelled ``rows``, score them on the other half.

    Returns the new version (same clusters, tuned thresholds) and what it measured:
    ``{"version", "tuned_from", "mode", "target_precision", "thresholds": {scene: {"before",
    "after", "pinned"}}, "held_out": {"macro_f1", "detection", "per_scene", "events"},
    "held_out_before": {…}}``.
    """
    if not 0.0 < target_precision <= 1.0:
        raise InvalidInput("--target-precision: must lie in (0, 1]")
    tune_idx, held_idx = split_rows(dataclasses.replace(ds, table=ds.table.take(rows)), 0.5,
                                    seed)
    tune_rows, held_rows = rows[tune_idx], rows[held_idx]
    scene = ds.scene_of()
    thresholds = tune_thresholds(kb, rules, X[tune_rows],
                                 [scene[int(r)] for r in tune_rows], target_precision)
    tuned = dataclasses.replace(
        kb, thresholds=thresholds,
        meta={**kb.meta, "tuned_from": kb.version, "target_precision": target_precision,
              "tuned_on_rows": len(tune_rows), "mode": mode})
    stamp_version(tuned)
    held_truth = [scene[int(r)] for r in held_rows]
    before = score(held_truth, decided_scenes(kb, Matcher(kb, rules).match(X[held_rows])))
    after = score(held_truth, decided_scenes(tuned, Matcher(tuned, rules).match(X[held_rows])))
    report = {
        "version": tuned.version, "tuned_from": kb.version, "mode": mode,
        "target_precision": target_precision,
        "thresholds": {name: {"before": float(kb.thresholds[s]),
                              "after": float(thresholds[s]),
                              "pinned": rules.pinned(name)}
                       for s, name in enumerate(kb.scenes)},
        "tuning_events": len(tune_rows),
        "held_out": {**after, "events": len(held_rows)},
        "held_out_before": {**before, "events": len(held_rows)},
    }
    return tuned, report

