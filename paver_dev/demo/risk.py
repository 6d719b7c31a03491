"""Demo stage: build the scene knowledge base on a training split of the world, screen the rest.

1. Load the world's transfers (``transactions.csv``, ``labels.csv`` and the side files).
2. Split by pattern instance (:func:`paver.risk.evaluate.split_rows`).
3. **Retrospective** (features over the whole window) and **realtime** (each event from its past
   and itself only, :mod:`paver.risk.replay`): build a knowledge base from the training side,
   screen the held-out side, score it (normal events flagged as a scene count against it). The
   realtime knowledge base is the one stored (S3 artifact + ``RiskScenes``): it is what the
   stream handler's past-only relation data matches against. Retrospective decisions are stored
   in ``Decisions`` (batch writes).
4. Screen a few held-out events again through the API path: the associated data that existed
   *before* each event is loaded into DynamoDB (events in time order), the event itself is
   recorded and screened with the latency budget.
5. Report both modes' figures side by side, the confusion matrix, and explained decisions —
   correct ones, misses and false positives — in the user's units.
"""

from __future__ import annotations

import time
from html import escape
from typing import Any

import numpy as np

from paver.risk.evaluate import (
    confusion,
    detection_metrics,
    identification_metrics,
    split_rows,
)
from paver.risk.explain import decision_lines
from paver.risk.kb import KnowledgeBase
from paver.risk.matcher import Matcher
from paver.risk.screening import (
    build_kb_from_rows,
    dataset_features,
    load_dataset,
    screen_table,
    side_store,
)
from paver_dev.demo.context import DemoContext, ReportSection

TRAIN_FRACTION = 0.5
MAX_API_EVENTS = 4
MAX_LOADED_ACCOUNTS = 250
EXAMPLES_PER_KIND = 2


def _score(truth: list[str | None], decisions: list[dict[str, Any]]) -> dict[str, Any]:
    pred = [d["scene"] if d["risky"] else None for d in decisions]
    ident = identification_metrics(truth, pred)
    flagged = np.array([d["risky"] for d in decisions], dtype=bool)
    detection = detection_metrics(np.array([t is not None for t in truth]), flagged)
    detection.pop("tn")  # the report's detection tile shows tp/fp/fn only
    return {**ident, "detection": detection, "confusion": confusion(truth, pred),
            "flagged": int(flagged.sum())}


def run_demo_stage(ctx: DemoContext) -> None:
    """Build, screen, store and report (see the module docstring)."""
    from paver.risk import service
    from paver.risk.dynamo_store import DynamoStore
    from paver.risk.replay import past_store

    wd = ctx.world_dir
    rules = service.rules()
    with ctx.progress("risk: load + features (retrospective, realtime)", 3) as bar:
        ds = load_dataset(wd / "transactions.csv", wd / "labels.csv", wd)
        bar.update(1)
        X_retro, retro_s = dataset_features(ds, "retrospective")
        bar.update(1)
        X_rt, rt_s = dataset_features(ds, "realtime")
        bar.update(1)
    train, test = split_rows(ds, TRAIN_FRACTION, ctx.seed)
    scene = ds.scene_of()
    truth = [scene[int(r)] for r in test]
    modes: dict[str, dict[str, Any]] = {}
    with ctx.progress("risk: knowledge bases", 2) as bar:
        kb_retro = build_kb_from_rows(X_retro, ds, train, rules, seed=ctx.seed)
        bar.update(1)
        kb_rt = service.build_dataset_kb(ds, rows=train, cfg=ctx.cfg, seed=ctx.seed,
                                         features=X_rt)
        bar.update(1)
    for mode, X, kb, feat_s in (("retrospective", X_retro, kb_retro, retro_s),
                                ("realtime", X_rt, kb_rt, rt_s)):
        decisions: list[dict[str, Any]] = []
        with ctx.progress(f"risk: screen held-out ({mode})", len(test)) as bar:
            t0 = time.perf_counter()
            for d in screen_table(Matcher(kb, rules), X, ds.table, test):
                decisions.append(d)
                bar.update(1)
            screen_s = time.perf_counter() - t0
        modes[mode] = {"kb": kb, "decisions": decisions, "score": _score(truth, decisions),
                       "features_s": feat_s, "screen_s": screen_s}
    retro = modes["retrospective"]
    with ctx.progress("risk: store decisions", 1) as bar:
        service.save_decisions(retro["decisions"])
        bar.update(1)

    # a few events again through the API path, each with only its past in DynamoDB
    picks = _pick_examples(modes["realtime"]["decisions"], truth)
    picks.sort(key=lambda k: float(ds.table.ts[int(test[k])]))
    api: list[dict[str, Any]] = []
    side = side_store(ds)
    with ctx.progress("risk: API-path examples", len(picks)) as bar:
        for k in picks:
            row = int(test[k])
            e = ds.table.event(row)
            past = past_store(ds.table, side, row)
            accounts: set[str] = {e.from_account, e.to_account}
            for acc in (e.from_account, e.to_account):
                for nb in [*past.out_neighbours(acc), *past.in_neighbours(acc)]:
                    if len(accounts) < MAX_LOADED_ACCOUNTS:
                        accounts.add(nb)
            DynamoStore(ctx.cfg).bulk_load(past, accounts)
            api.append(service.screen_event(e.to_dict(), cfg=ctx.cfg, record=True))
            bar.update(1)

    # KPI: every held-out event is screened once per mode; the API examples are re-screens
    ctx.summary["events_screened"] = len(retro["decisions"])
    ctx.summary["risky_events"] = retro["score"]["flagged"]
    ctx.state["risk"] = {
        "kb_version": kb_rt.version,
        **{f"{m}_macro_f1": v["score"]["macro_f1"] for m, v in modes.items()},
        **{f"{m}_detection_f1": round(v["score"]["detection"]["f1"], 4)
           for m, v in modes.items()},
        "macro_f1": modes["realtime"]["score"]["macro_f1"],
        "detection_f1": round(modes["realtime"]["score"]["detection"]["f1"], 4),
    }
    ctx.report.append(ReportSection("Risk-scene identification", _html(
        modes, truth, picks, api, len(train), len(test), ctx.seed)))
    with ctx.progress("risk: feedback loop, backtest, tuning", 1) as bar:
        loop = feedback_loop(ds, X_retro, rules, ctx.seed)
        bar.update(1)
    ctx.state["risk_feedback"] = loop["figures"]
    ctx.report.append(ReportSection("Learning from analysts", loop["html"]))


def feedback_loop(ds: Any, X: np.ndarray, rules: Any, seed: int,
                  target_precision: float = 0.95) -> dict[str, Any]:
    """Issue 16's loop on the world's history (retrospective features): v1 from the first
    quarter's labels; v1's alerts on the next part decided from the true labels (confirm
    with the true scene, dismiss normals); v2 = v1's labels + those decisions; both
    backtested on the last part. Then v1's thresholds tuned to ``target_precision`` on half
    of the later events, scored on the other half."""
    import dataclasses

    from paver.risk.backtest import backtest, tune
    from paver.risk.evaluate import split_history
    from paver.risk.feedback import Feedback, with_decisions

    first, nxt, last = split_history(ds)
    scene = ds.scene_of()
    txn = ds.table.txn_id
    v1 = build_kb_from_rows(X, ds, first, rules, seed=seed)
    res = Matcher(v1, rules).match(X[nxt])
    alerts = [int(r) for r, risky in zip(nxt, res.risky, strict=True) if risky]
    decisions = {txn[r]: Feedback(txn[r], "confirm" if scene[r] else "dismiss", scene[r],
                                  "analyst (the true label)") for r in alerts}
    known = dataclasses.replace(ds, labels={txn[int(r)]: ds.labels[txn[int(r)]] for r in first})
    ds2, rows2 = with_decisions(known, decisions)
    v2 = build_kb_from_rows(X, ds2, rows2, rules, seed=seed)
    bt = backtest(ds, X, {"v1": v1, "v2": v2}, rules, last, "retrospective")
    _, tuned = tune(ds, X, v1, rules, np.sort(np.concatenate([nxt, last])), target_precision,
                    seed=seed)
    confirmed = sum(1 for d in decisions.values() if d.decision == "confirm")
    a, b = bt["versions"]["v1"], bt["versions"]["v2"]
    figures = {
        "data": f"the demo's synthetic world (seed {seed}), its history in time: v1 from the "
                "first quarter's labels, its alerts on the next part decided from the true "
                "labels, both versions screened on the last part (retrospective mode); the "
                "same loop on IBM AMLSim samples: README, Learning from analysts",
        "v1": {"macro_f1": a["macro_f1"], "detection": a["detection"]},
        "v2": {"macro_f1": b["macro_f1"], "detection": b["detection"]},
        "tuned": {"target_precision": target_precision,
                  "held_out_detection_precision": tuned["held_out"]["detection"]["precision"],
                  "held_out_detection_recall": tuned["held_out"]["detection"]["recall"]},
    }
    rows = "".join(
        f"<tr><td>{v}</td><td>{escape(trained)}</td><td>{_fmt(r['macro_f1'])}</td>"
        f"<td>{_fmt(r['detection']['precision'])}</td><td>{_fmt(r['detection']['recall'])}"
        f"</td><td>{_fmt(r['detection']['f1'])}</td><td>{r['alerts']}</td></tr>"
        for v, r, trained in (
            ("v1", a, f"labels of the first quarter ({len(first)} events)"),
            ("v2", b, f"the same labels and {len(decisions)} analyst decisions on v1's alerts "
                      f"({confirmed} confirmed, {len(decisions) - confirmed} dismissed)")))
    d = bt["diff"]
    th = "".join(
        f"<tr><td>{escape(s)}</td><td>{t['before']:.2f}</td><td>{t['after']:.2f}</td></tr>"
        for s, t in tuned["thresholds"].items())
    before, after = tuned["held_out_before"]["detection"], tuned["held_out"]["detection"]
    html = (
        "<p>Analysts' decisions on alerts feed the next knowledge-base version: a confirmed "
        "alert becomes a risky sample of its scene, a dismissed one a normal sample close to "
        "a scene; events nobody labelled or decided are no samples (<code>paver risk build "
        f"--feedback</code>). Data: this demo's synthetic world (seed {seed}); the decisions "
        "come from its true labels (the same loop on IBM AMLSim samples is in the README). "
        f"The last part of the history ({bt['events']} events) was seen by neither version "
        "(<code>paver risk backtest</code>; flagged normals count against their scene):</p>"
        "<table><tr><th>version</th><th>trained on</th><th>scene macro-F1</th>"
        "<th>detection precision</th><th>recall</th><th>F1</th><th>alerts</th></tr>"
        f"{rows}</table><p>v1 → v2: {len(d['gained'])} alerts gained, {len(d['lost'])} lost, "
        f"{len(d['scene_changed'])} named another scene.</p>"
        f"<p>Thresholds tuned to precision {target_precision} (<code>paver risk tune</code>, "
        f"v1, on half of the later events by pattern instance); on the other half "
        f"({tuned['held_out']['events']} events) detection precision {_fmt(before['precision'])}"
        f" → {_fmt(after['precision'])}, recall {_fmt(before['recall'])} → "
        f"{_fmt(after['recall'])}.</p><table><tr><th>scene</th><th>threshold before</th>"
        f"<th>tuned</th></tr>{th}</table>")
    return {"figures": figures, "html": html}


def _pick_examples(decisions: list[dict[str, Any]], truth: list[str | None]) -> list[int]:
    """A correct decision, a miss and a false positive (if any), and one normal event."""
    out: list[int] = []
    for want in ("correct", "miss", "false_positive", "normal"):
        for k, (d, t) in enumerate(zip(decisions, truth, strict=True)):
            if k not in out and _kind(d, t) == want:
                out.append(k)
                break
    return out[:MAX_API_EVENTS]


def _kind(d: dict[str, Any], truth: str | None) -> str:
    if truth is None:
        return "false_positive" if d["risky"] else "normal"
    return "correct" if d["risky"] and d["scene"] == truth else "miss"


def _fmt(v: float) -> str:
    return f"{v:.3f}"


def _explained(d: dict[str, Any], truth: str | None) -> str:
    lines = decision_lines(d)
    kind = {"correct": "correct", "miss": "miss", "false_positive": "false positive",
            "normal": "correctly not flagged"}[_kind(d, truth)]
    extra = ""
    if "hops_done" in d:
        st = d.get("storage", {})
        extra = (f"<br><small>API path: hops done {d['hops_done']}, partial {d['partial']}, "
                 f"{st.get('queries', '-')} storage queries, {st.get('ms', '-')} ms</small>")
    items = "".join(f"<li>{escape(x.strip().lstrip('- '))}</li>" for x in lines[1:])
    return (f"<div class='decision'><b>{escape(kind)}</b> — truth "
            f"<i>{escape(truth or 'normal')}</i>: {escape(lines[0])}{extra}<ul>{items}</ul></div>")


def _mode_html(mode: str, m: dict[str, Any], truth: list[str | None]) -> str:
    sc = m["score"]
    det = sc["detection"]
    per = "".join(
        f"<tr><td>{escape(s)}</td><td>{_fmt(v['precision'])}</td><td>{_fmt(v['recall'])}</td>"
        f"<td>{_fmt(v['f1'])}</td><td>{v['support']}</td></tr>"
        for s, v in sc["per_scene"].items())
    conf = sc["confusion"]
    cols = sorted({p for row in conf.values() for p in row} | set(conf))
    head = "".join(f"<th>{escape(c)}</th>" for c in cols)
    rows = "".join(
        f"<tr><th>{escape(t)}</th>" + "".join(f"<td>{conf[t].get(c, 0)}</td>" for c in cols)
        + "</tr>" for t in sorted(conf))
    shown: dict[str, int] = {}
    examples = []
    for d, t in zip(m["decisions"], truth, strict=True):
        k = _kind(d, t)
        if k != "normal" and shown.get(k, 0) < EXAMPLES_PER_KIND:
            shown[k] = shown.get(k, 0) + 1
            examples.append(_explained(d, t))
    kb: KnowledgeBase = m["kb"]
    return (
        f"<h3>{escape(mode)}</h3>"
        f"<p>Mode <b>{escape(mode)}</b>: macro-F1 {_fmt(sc['macro_f1'])}, accuracy over risky "
        f"events {_fmt(sc['accuracy'])}; detection precision {_fmt(det['precision'])}, recall "
        f"{_fmt(det['recall'])}, F1 {_fmt(det['f1'])} (tp {det['tp']}, fp {det['fp']}, "
        f"fn {det['fn']}). Knowledge base <code>{escape(kb.version)}</code>; features "
        f"{m['features_s']:.2f} s, matching + explanations {m['screen_s']:.2f} s.</p>"
        f"<table><tr><th>scene ({escape(mode)})</th><th>precision</th><th>recall</th><th>F1</th>"
        f"<th>support</th></tr>{per}</table>"
        f"<h4>Confusion matrix, {escape(mode)} (rows: true scene; columns: decided)</h4>"
        f"<table><tr><th></th>{head}</tr>{rows}</table>"
        f"<h4>Explained decisions, {escape(mode)}: correct, misses and false positives</h4>"
        + "".join(examples)
    )


def _html(modes: dict[str, dict[str, Any]], truth: list[str | None], picks: list[int],
          api: list[dict[str, Any]], n_train: int, n_test: int, seed: int) -> str:
    api_html = "".join(_explained(d, truth[k]) for k, d in zip(picks, api, strict=False))
    return (
        f"<p>Held-out evaluation on the demo world (seed {seed}): {n_train} training and "
        f"{n_test} held-out transactions, split by pattern instance. Precision counts every "
        f"held-out event decided as the scene, normal events included. "
        f"<b>Retrospective</b>: every event's relation data over the whole window (before and "
        f"after it) — daily monitoring of a closed window. <b>Realtime</b>: each event from "
        f"what happened before it and itself — what the stream handler delivers.</p>"
        + "".join(_mode_html(mode, m, truth) for mode, m in modes.items())
        + f"<h3>Through the API path (realtime: only each event's past in DynamoDB)</h3>"
        f"{api_html}"
    )
