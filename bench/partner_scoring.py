"""Partner scoring end to end: 1,000 partners with 1,000,000 merchant rows (target: < 20 s).

Timed, in this process on one core: partner features from the merchant registrations and their
monthly metrics (twelve months: about twelve million metric rows), the four dimension scorers
plus the overall scorer, the explanations, and the selection rules through the durable_rules
adapter. Not timed: generating the synthetic world and training the model on a labelled
history.

``python -m bench partner_scoring`` or ``python bench/partner_scoring.py [--quick]``.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

TARGET_S = 20.0


def _row(metric: str, value: float, unit: str, target: float | None = None,
         higher_is_better: bool = True, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"benchmark": "partner_scoring", "metric": metric,
                           "value": round(value, 2), "unit": unit, **extra}
    if target is not None:
        row["target"] = target
        row["ok"] = value >= target if higher_is_better else value <= target
    return row


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Score ``1,000 × 1,000`` merchants (``100 × 100`` when ``quick``); one row per metric."""
    import numpy as np

    from paver.trust.features import partner_features, region_coverage
    from paver.trust.selection import decide, load_policy
    from paver.trust.training import train_trust_model
    from paver_dev.world.partners import generate

    n_partners, per_partner = (100, 100) if quick else (1_000, 1_000)
    history = generate(np.random.default_rng(1), 300, 20, id_prefix="H")
    model = train_trust_model(partner_features(history.merchants, history.metrics,
                                               history.partners), history.truth, seed=1)
    policy = load_policy()
    t0 = time.perf_counter()
    world = generate(np.random.default_rng(2), n_partners, per_partner)
    gen_s = time.perf_counter() - t0
    merchants, metrics = world.merchants, world.metrics
    n_merchants, n_metrics = len(merchants), len(metrics)
    gc.collect()

    t0 = time.perf_counter()
    feats = partner_features(merchants, metrics, world.partners)
    t1 = time.perf_counter()
    scores = model.score(feats)
    t2 = time.perf_counter()
    explained = model.explain(feats)
    t3 = time.perf_counter()
    coverage = region_coverage(merchants, ["east", "south"], feats.index.tolist())
    facts = [{"partner_id": pid, **f, **s, "coverage": float(c)} for pid, f, s, c in zip(
        feats.index, feats.to_dict(orient="records"), scores.to_dict(orient="records"),
        coverage, strict=True)]
    decisions = decide(facts, policy, regions=["east", "south"])
    t4 = time.perf_counter()
    total = t4 - t0
    assert len(decisions) == len(explained) == n_partners
    rows = [
        _row("partners scored", n_partners, "partners"),
        _row("merchant rows", n_merchants, "rows"),
        _row("monthly metric rows", n_metrics, "rows"),
        _row("features", t1 - t0, "s"),
        _row("five scorers", t2 - t1, "s"),
        _row("explanations", t3 - t2, "s"),
        _row("selection rules (durable_rules)", t4 - t3, "s"),
        _row("end to end", total, "s", TARGET_S if not quick else None, higher_is_better=False),
        _row("merchant rows per second", n_merchants / total, "rows/s"),
        _row("metric rows per second", n_metrics / total, "rows/s"),
        _row("selected", sum(d.selected for d in decisions), "partners"),
        _row("world generation (not timed above)", gen_s, "s"),
    ]
    return rows


if __name__ == "__main__":  # run as a script: the same table as `python -m bench`
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from bench.__main__ import main

    raise SystemExit(main(["partner_scoring", *sys.argv[1:]]))
