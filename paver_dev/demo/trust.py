"""Demo stage: ingest the world through S3, train the trust model, create a campaign, select.

The candidates are the world's partners (``ctx.world_dir``): their files go to the ingest
bucket and through the S3 handler into DynamoDB, and the selection scores them from there.
The model learns from a *labelled partner history*: a cohort of past partners drawn by the same
generator from the same seed (ids ``H0001``…), written to ``out/demo/trust-history`` so that
``paver model train/evaluate --world out/demo/trust-history`` reproduces it. Its held-out
partners give the AUC per dimension; the candidates' own hidden outcomes
(``partner_truth.csv``, never trained on) are scored too.

Sets ``ctx.summary["partners_scored"]`` / ``["partners_selected"]`` and hands
``ctx.state["selected_partners"]`` and ``ctx.state["campaign_id"]`` to the rollout stage.
"""

from __future__ import annotations

from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

from paver.aws import client
from paver.storage.registry import bind_all
from paver.trust import DIMENSIONS
from paver.trust.artifacts import publish_trust_model
from paver.trust.ingest import handle_event, s3_event
from paver.trust.model import TrustModel
from paver.trust.selection import load_policy
from paver.trust.service import (
    campaign_partners,
    create_campaign,
    run_selection,
    trust_drift,
    world_training_data,
)
from paver.trust.training import train_trust_model
from paver_dev.demo.context import DemoContext, ReportSection

AUC_TARGET = 0.85
HISTORY_PARTNERS = 300
_FILES = ("partners.csv", "merchants.csv", "metrics.csv")
_COLOURS = {"risk": "#c0392b", "trust": "#2471a3", "quality": "#239b56", "value": "#b7950b"}


def run_demo_stage(ctx: DemoContext) -> None:
    """Ingest → train → campaign → selection; report the ranking, reasons and held-out AUC."""
    cfg = bind_all(ctx.cfg)
    bucket = cfg.bucket_name("ingest")
    s3 = client("s3", cfg)
    ingest: list[dict[str, Any]] = []
    with ctx.progress("trust: ingest via S3", len(_FILES)) as bar:
        for name in _FILES:
            key = f"ingest/world-{ctx.seed}/{name}"
            s3.put_object(Bucket=bucket, Key=key, Body=(ctx.world_dir / name).read_bytes())
            ingest.extend(handle_event(s3_event(bucket, key), cfg)["files"])
            bar.update(1)
    with ctx.progress("trust: train model", 1) as bar:
        history_dir = write_history(ctx)
        features, truth = world_training_data(history_dir)
        model = train_trust_model(features, truth, seed=ctx.seed)
        publish_trust_model(model, cfg)
        bar.update(1)
    with ctx.progress("trust: campaign selection", 1) as bar:
        regions = _campaign_regions(ctx)
        campaign = create_campaign(f"Aggregated-code rollout (seed {ctx.seed})", regions,
                                   cfg=cfg)
        result = run_selection(campaign["campaign_id"], cfg)
        bar.update(1)
    selected = list(result["selected"])
    ctx.summary["partners_scored"] = int(result["scored"])
    ctx.summary["partners_selected"] = len(selected)
    ctx.state["selected_partners"] = selected
    ctx.state["campaign_id"] = campaign["campaign_id"]
    ctx.state["trust_model_version"] = model.version
    candidates = _candidate_metrics(ctx, result)
    drivers = {p["partner_id"]: p["drivers"]
               for p in campaign_partners(campaign["campaign_id"], cfg)["partners"]}
    ctx.state["trust_auc"] = {d: model.metrics[d].get("auc") for d in model.metrics}
    ctx.report.append(ReportSection("Trust-tiered partner selection",
                                    _html(ingest, model, campaign, result, candidates,
                                          drivers) + _drift_html(trust_drift(cfg))))


def _drift_html(shift: dict[str, Any]) -> str:
    """One line: how far this world's partners sit from the history the model learnt on."""
    w = shift.get("worst")
    if not w:
        return "<h3>Drift</h3><p>No drift reference or no partners to compare.</p>"
    word = {"significant": "drifted"}.get(shift["level"], shift["level"])
    return (f"<h3>Drift</h3><p>Population stability index of every scorer's inputs and score, "
            f"the training history against this world's {shift['recent_count']} partners "
            f"(<code>GET /drift</code>, <code>paver model drift</code>): <b>{escape(word)}</b>; "
            f"worst {escape(str(w['scorer']))} scorer / {escape(str(w['feature']))} "
            f"PSI {w['psi']:.3f} ({escape(str(w['level']))}).</p>")


def write_history(ctx: DemoContext) -> Path:
    """Generate the labelled partner history for this seed into ``out_dir/trust-history``."""
    import csv

    import numpy as np

    from paver_dev.world.partners import generate

    with (ctx.world_dir / "partners.csv").open(encoding="utf-8") as f:
        n_world = sum(1 for _ in csv.DictReader(f))
    with (ctx.world_dir / "merchants.csv").open(encoding="utf-8") as f:
        n_merchants = sum(1 for _ in csv.DictReader(f))
    per_partner = min(40, max(10, round(n_merchants / max(n_world, 1))))
    rng = np.random.default_rng(np.random.SeedSequence(ctx.seed, spawn_key=(0x7472,)))
    out = ctx.out_dir / "trust-history"
    generate(rng, HISTORY_PARTNERS, per_partner, id_prefix="H").write(out)
    return out


def _candidate_metrics(ctx: DemoContext, result: dict[str, Any]) -> dict[str, Any]:
    """AUC of the candidates' scores against their hidden outcomes (never trained on)."""
    import pandas as pd

    from paver.trust.training import auc

    truth = pd.read_csv(ctx.world_dir / "partner_truth.csv", dtype={"partner_id": str})
    truth = truth.set_index("partner_id")
    rows = [p for p in result["partners"] if p["partner_id"] in truth.index]
    out: dict[str, Any] = {"n": len(rows)}
    for d in (*DIMENSIONS, "overall"):
        y = truth.loc[[p["partner_id"] for p in rows], f"outcome_{d}"].to_numpy()
        s = [p["trust_score"] if d == "overall" else p["scores"][d] for p in rows]
        out[d] = auc(y, s) if rows else None
    return out


def _campaign_regions(ctx: DemoContext) -> list[str]:
    """The regions of most partners (at least two, when the world has them)."""
    import csv

    with (ctx.world_dir / "partners.csv").open(encoding="utf-8") as f:
        counts = Counter(row["region"] for row in csv.DictReader(f))
    return [r for r, _ in counts.most_common(3)]


# ---------------------------------------------------------------------------------------------
# Report


def _bars(scores: dict[str, float], floors: dict[str, float | None]) -> str:
    """Inline SVG: one horizontal bar per dimension (0–100) with the policy floor marked."""
    w, h, pad = 160, 12, 2
    parts = [f'<svg width="{w + 40}" height="{4 * (h + pad)}" role="img" '
             f'aria-label="dimension scores">']
    for i, d in enumerate(DIMENSIONS):
        y = i * (h + pad)
        v = max(0.0, min(100.0, float(scores.get(d, 0))))
        parts.append(f'<rect x="0" y="{y}" width="{w}" height="{h}" fill="#eee"/>')
        parts.append(f'<rect x="0" y="{y}" width="{v / 100 * w:.1f}" height="{h}" '
                     f'fill="{_COLOURS[d]}"><title>{escape(d)} {v:.1f}</title></rect>')
        floor = floors.get(d)
        if floor:
            parts.append(f'<line x1="{floor / 100 * w:.1f}" x2="{floor / 100 * w:.1f}" y1="{y}" '
                         f'y2="{y + h}" stroke="#000" stroke-width="1.5"/>')
        parts.append(f'<text x="{w + 4}" y="{y + h - 2}" font-size="10">{escape(d[0].upper())} '
                     f'{v:.0f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _auc_table(model: TrustModel) -> tuple[str, bool]:
    rows, ok = [], True
    for d in (*DIMENSIONS, "overall"):
        m = model.metrics.get(d, {})
        a = m.get("auc")
        meets = a is not None and a >= AUC_TARGET
        if d != "overall":
            ok = ok and meets
        rows.append(
            f"<tr><td>{escape(d)}</td><td>{'n/a' if a is None else f'{a:.3f}'}</td>"
            f"<td>{'n/a' if m.get('brier') is None else format(m['brier'], '.3f')}</td>"
            f"<td>{'n/a' if m.get('cv_auc') is None else format(m['cv_auc'], '.3f')}</td>"
            f"<td>{m.get('positives', 'n/a')}/{m.get('n_test', 0)}</td>"
            f"<td>{'yes' if meets else 'no'}</td></tr>")
    head = ("<tr><th>dimension</th><th>held-out AUC</th><th>Brier</th><th>cv AUC (train)</th>"
            f"<th>good outcomes / held-out</th><th>AUC ≥ {AUC_TARGET}</th></tr>")
    return f"<table>{head}{''.join(rows)}</table>", ok


def _html(ingest: list[dict[str, Any]], model: TrustModel, campaign: dict[str, Any],
          result: dict[str, Any], candidates: dict[str, Any],
          drivers: dict[str, list[str]]) -> str:
    policy = load_policy()
    floors = {d: getattr(policy.floors, d) for d in DIMENSIONS}
    out: list[str] = []
    rows = "".join(
        f"<tr><td>{escape(str(f['key']))}</td><td>{escape(str(f.get('kind')))}</td>"
        f"<td>{f.get('rows', 0)}</td><td>{f.get('accepted', 0)}</td><td>{f.get('rejected', 0)}"
        f"</td><td>{escape(str(f.get('file_error') or ''))}</td></tr>" for f in ingest)
    out.append("<h3>Ingest (S3 → handler → DynamoDB)</h3><table><tr><th>object</th><th>kind</th>"
               f"<th>rows</th><th>stored</th><th>rejected</th><th>file error</th></tr>{rows}"
               "</table>")
    table, ok = _auc_table(model)
    n_test = model.metrics.get("risk", {}).get("n_test", 0)
    verdict = (f"Every dimension's scorer reaches AUC ≥ {AUC_TARGET} on the {n_test} held-out "
               "history partners." if ok else
               f"Not every dimension's scorer reaches AUC ≥ {AUC_TARGET} on the {n_test} "
               "held-out history partners.")
    n_train = model.metrics.get("risk", {}).get("n_train", 0)
    cand = ", ".join(f"{d} {'n/a' if candidates.get(d) is None else format(candidates[d], '.2f')}"
                     for d in (*DIMENSIONS, "overall"))
    out.append(
        f"<h3>Trust-tiering model {escape(model.version)}</h3>"
        f"<p>Trained on {n_train} labelled history partners (out/demo/trust-history; outcomes "
        f"observed after the window), {n_test} more held out. {escape(verdict)}</p>{table}"
        f"<p>On this world's {candidates.get('n', 0)} candidate partners (never trained on; "
        f"a small sample, so a rough figure) the AUC against their hidden outcomes is: "
        f"{escape(cand)}.</p>")
    regions = ", ".join(campaign.get("regions") or []) or "all"
    thr = (campaign.get("detail") or {}).get("effective_threshold")
    out.append(
        f"<h3>Campaign {escape(campaign['name'])} ({escape(campaign['campaign_id'])})</h3>"
        f"<p>Regions: {escape(regions)}; overall threshold: {escape(str(thr))} (claim 7: "
        f"selected partners score above it); floors: "
        f"{escape(', '.join(f'{d} ≥ {v:g}' for d, v in floors.items() if v))}; cap: "
        f"{escape(str(policy.cap))}. Scored {result['scored']}, selected "
        f"{len(result['selected'])}.</p>")
    body = []
    for p in result["partners"]:
        mark = "✔" if p["selected"] else "✘"
        reasons = "<br>".join(escape(r) for r in p["reasons"])
        model_why = "<br>".join(escape(r) for r in drivers.get(p["partner_id"], []))
        body.append(
            f"<tr><td>{p['rank']}</td><td>{escape(p['partner_id'])}</td>"
            f"<td>{escape(p['tier'])}</td><td>{p['trust_score']:.1f}</td>"
            f"<td>{_bars(p['scores'], floors)}</td><td>{mark}</td><td>{reasons}</td>"
            f"<td>{model_why}</td></tr>")
    out.append("<p>Why, in two parts: the selection rules' reasons (what decided), and the "
               "model's drivers (which dimension moved the overall score most, and which of "
               "the partner's own figures moved that dimension).</p>"
               "<table><tr><th>rank</th><th>partner</th><th>tier</th><th>overall</th>"
               "<th>risk / trust / quality / value (| = floor)</th><th>selected</th>"
               f"<th>rule reasons</th><th>model drivers</th></tr>{''.join(body)}</table>")
    return "\n".join(out)
