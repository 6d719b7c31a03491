"""Demo stage: build the scene knowledge base on a training split of the world, screen the rest.

1. Load the world's transfers (``transactions.csv``, ``labels.csv`` and the side files).
2. Split by pattern instance (:func:`paver.risk.evaluate.split_rows`), build the knowledge base
   from the training side and store it (S3 artifact + ``RiskScenes``).
3. Screen the held-out side in batch; store every decision in ``Decisions`` (batch writes).
4. Screen a few events again through the API path (associated data in DynamoDB, relation
   groups with the latency budget) to show the per-event explanation.
5. Report: identification and detection scores, the confusion matrix per scene and a few
   explained decisions.
"""

from __future__ import annotations

import json
import time
from html import escape
from typing import Any

import numpy as np

from paver.demo.context import DemoContext, ReportSection
from paver.risk.evaluate import confusion, identification_metrics, split_rows
from paver.risk.matcher import Matcher
from paver.risk.screening import batch_features, load_dataset, screen_table

TRAIN_FRACTION = 0.5
MAX_API_EVENTS = 4
MAX_LOADED_ACCOUNTS = 250


def run_demo_stage(ctx: DemoContext) -> None:
    """Build, screen, store and report (see the module docstring)."""
    from paver.risk import service
    from paver.risk.dynamo_store import DynamoStore

    wd = ctx.world_dir
    with ctx.progress("risk: load + features", 2) as bar:
        ds = load_dataset(wd / "transactions.csv", wd / "labels.csv", wd)
        bar.update(1)
        t0 = time.perf_counter()
        X, builder = batch_features(ds)
        feat_s = time.perf_counter() - t0
        bar.update(1)
    train, test = split_rows(ds, TRAIN_FRACTION, ctx.seed)
    with ctx.progress("risk: knowledge base", 1) as bar:
        kb = service.build_dataset_kb(ds, rows=train, cfg=ctx.cfg, seed=ctx.seed, features=X)
        bar.update(1)
    matcher = Matcher(kb, service.rules())
    decisions: list[dict[str, Any]] = []
    with ctx.progress("risk: screen held-out", len(test)) as bar:
        t0 = time.perf_counter()
        for d in screen_table(matcher, X, ds.table, test):
            decisions.append(d)
            bar.update(1)
        screen_s = time.perf_counter() - t0
    with ctx.progress("risk: store decisions", 1) as bar:
        service.save_decisions(decisions)
        bar.update(1)
    scene = ds.scene_of()
    truth = [scene[int(r)] for r in test]
    pred = [d["scene"] if d["risky"] else "normal" for d in decisions]
    y_true = [str(t) for t in truth if t]
    y_pred = [p for t, p in zip(truth, pred, strict=True) if t]
    ident = identification_metrics(y_true, y_pred) if y_true else {
        "accuracy": 0.0, "macro_f1": 0.0, "per_scene": {}}
    is_risky = np.array([t is not None for t in truth])
    flagged = np.array([d["risky"] for d in decisions])
    tp = int((flagged & is_risky).sum())
    fp = int((flagged & ~is_risky).sum())
    fn = int((~flagged & is_risky).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    det_f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0

    # a few events again through the API path (DynamoDB-backed associated data)
    picks = _pick_examples(decisions, truth)
    api: list[dict[str, Any]] = []
    with ctx.progress("risk: API-path examples", len(picks)) as bar:
        if picks:
            accounts: set[str] = set()
            for k in picks:
                e = ds.table.event(int(test[k]))
                for acc in (e.from_account, e.to_account):
                    accounts.add(acc)
                    nbrs = [*ds.store.out_neighbours(acc), *ds.store.in_neighbours(acc)]
                    for nb in nbrs:
                        if len(accounts) < MAX_LOADED_ACCOUNTS:
                            accounts.add(nb)
            DynamoStore(ctx.cfg).bulk_load(ds.store, accounts)
            for k in picks:
                e = ds.table.event(int(test[k]))
                api.append(service.screen_event(e.to_dict(), cfg=ctx.cfg, record=False))
                bar.update(1)

    ctx.summary["events_screened"] = len(decisions) + len(api)
    ctx.summary["risky_events"] = int(flagged.sum()) + sum(1 for d in api if d["risky"])
    ctx.state["risk"] = {"kb_version": kb.version, "macro_f1": ident["macro_f1"],
                         "detection_f1": round(det_f1, 4)}
    ctx.report.append(ReportSection("Risk-scene identification", _html(
        kb, ident, (prec, rec, det_f1, tp, fp, fn), confusion(y_true, y_pred), decisions,
        truth, picks, api, len(train), len(test), feat_s, screen_s, builder.timings.total())))


def _pick_examples(decisions: list[dict[str, Any]], truth: list[str | None]) -> list[int]:
    """Indices of a few correctly flagged events of different scenes, and one normal one."""
    out: list[int] = []
    seen: set[str] = set()
    for k, (d, t) in enumerate(zip(decisions, truth, strict=True)):
        if t and d["risky"] and d["scene"] == t and t not in seen:
            out.append(k)
            seen.add(t)
        if len(out) >= MAX_API_EVENTS - 1:
            break
    for k, (d, t) in enumerate(zip(decisions, truth, strict=True)):
        if t is None and not d["risky"]:
            out.append(k)
            break
    return out


def _fmt(v: float) -> str:
    return f"{v:.3f}"


def _explained(d: dict[str, Any], truth: str | None) -> str:
    ex = d["explanation"]
    top = ", ".join(f"{escape(s['scene'])} {s['match_degree']:.3f}" for s in ex["top_scenes"])
    drivers = "".join(
        f"<li>{escape(r['meaning'])}: {r['value']} (typical for the scene "
        f"{r['scene_typical']}, for everyone {r['population_typical']}) "
        f"<small><code>{escape(r['feature'])}</code></small></li>" for r in ex["drivers"])
    dims = ", ".join(f"{escape(r['dimension'])} {r['distance']:.2f}" for r in ex["dimensions"])
    exemplar = ex.get("exemplar") or {}
    extra = ""
    if "hops_done" in d:
        extra = (f"<br>API path: hops done {d['hops_done']}, partial {d['partial']}, "
                 f"storage {escape(json.dumps(d.get('storage', {})))}, "
                 f"timings {escape(json.dumps(d.get('timings_ms', {})))}")
    return (
        f"<div class='decision'><b>{escape(d['event_id'])}</b> — truth "
        f"<i>{escape(truth or 'normal')}</i>, decided <b>{'risky' if d['risky'] else 'not risky'}"
        f"</b>, scene <b>{escape(d['scene'])}</b> (match degree {d['match_degree']:.3f}, "
        f"threshold {d['threshold']:.2f}, action {escape(d['action'])})<br>"
        f"top scenes: {top}; margin {ex['margin']:.3f}; dimension distances: {dims}<br>"
        f"nearest labelled exemplar: {escape(str(exemplar.get('txn_id', '-')))} "
        f"(distance {exemplar.get('distance', '-')}){extra}<ul>{drivers}</ul></div>"
    )


def _html(kb: Any, ident: dict[str, Any], det: tuple[float, float, float, int, int, int],
          conf: dict[str, dict[str, int]], decisions: list[dict[str, Any]],
          truth: list[str | None], picks: list[int], api: list[dict[str, Any]],
          n_train: int, n_test: int, feat_s: float, screen_s: float, feat_total: float) -> str:
    prec, rec, f1, tp, fp, fn = det
    cols = sorted({p for row in conf.values() for p in row} | set(conf))
    head = "".join(f"<th>{escape(c)}</th>" for c in cols)
    rows = "".join(
        f"<tr><th>{escape(t)}</th>" + "".join(f"<td>{conf[t].get(c, 0)}</td>" for c in cols)
        + "</tr>" for t in sorted(conf))
    per = "".join(
        f"<tr><td>{escape(s)}</td><td>{_fmt(m['precision'])}</td><td>{_fmt(m['recall'])}</td>"
        f"<td>{_fmt(m['f1'])}</td><td>{m['support']}</td></tr>"
        for s, m in ident["per_scene"].items())
    examples = "".join(_explained(decisions[k], truth[k]) for k in picks[:MAX_API_EVENTS])
    api_html = "".join(_explained(d, truth[k]) for d, k in zip(api, picks, strict=False))
    scenes = ", ".join(
        f"{escape(s['scene'])} ({s['sample_count']} samples, threshold "
        f"{s['calibrated_threshold']:.2f})" for s in kb.scene_summary())
    return (
        f"<p>Knowledge base <code>{escape(kb.version)}</code> built from {n_train} training "
        f"transactions (scenes: {scenes}); {n_test} held-out transactions screened "
        f"(features {feat_s:.2f} s, matching + explanations {screen_s:.2f} s).</p>"
        f"<p>Scene identification over risky held-out transactions: accuracy "
        f"{_fmt(ident['accuracy'])}, macro-F1 {_fmt(ident['macro_f1'])}. Detection: precision "
        f"{_fmt(prec)}, recall {_fmt(rec)}, F1 {_fmt(f1)} (tp {tp}, fp {fp}, fn {fn}).</p>"
        f"<table><tr><th>scene</th><th>precision</th><th>recall</th><th>F1</th><th>support</th>"
        f"</tr>{per}</table>"
        f"<h3>Confusion matrix (rows: true scene; columns: decided)</h3>"
        f"<table><tr><th></th>{head}</tr>{rows}</table>"
        f"<h3>Explained decisions (batch path)</h3>{examples}"
        f"<h3>The same events through the API path (DynamoDB, latency budget)</h3>{api_html}"
        f"<p>Feature timing breakdown: {feat_total:.2f} s.</p>"
    )
