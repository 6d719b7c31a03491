"""Run the demo: embedded AWS → world → every stage that exists → summary.json + report.html."""

from __future__ import annotations

import importlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from paver_dev.demo.context import DemoContext, ReportSection
from paver_dev.demo.report import write_report
from paver_dev.local_aws import aws_environment
from paver_dev.world import WorldOptions, generate_world

log = logging.getLogger(__name__)

#: The job's stages in order: (title, "module:function"). Each takes a DemoContext.
STAGES: tuple[tuple[str, str], ...] = (
    ("selection", "paver_dev.demo.trust:run_demo_stage"),
    ("rollout", "paver_dev.demo.rollout:run_demo_stage"),
    ("binding", "paver_dev.demo.binding:run_demo_stage"),
    ("risk", "paver_dev.demo.risk:run_demo_stage"),
)


def _load(ref: str) -> Callable[[DemoContext], None]:
    module, func = ref.split(":")
    return getattr(importlib.import_module(module), func)


def run_demo(opts: WorldOptions, out_dir: Path, quiet: bool = False) -> dict[str, Any]:
    """Run every stage and write ``summary.json`` and ``report.html`` into ``out_dir``.

    Returns
    -------
    dict
        The summary (also written to ``summary.json``).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    with aws_environment() as cfg:
        ctx = DemoContext(cfg=cfg, world_dir=out_dir / "world", out_dir=out_dir,
                          seed=opts.seed, quiet=quiet)
        t0 = time.perf_counter()
        with ctx.progress("world", 1) as bar:
            counts = generate_world(opts, ctx.world_dir)
            bar.update(1)
        timings["world"] = time.perf_counter() - t0
        ctx.report.append(ReportSection("Synthetic world", _world_html(opts, counts)))
        for title, ref in STAGES:
            t0 = time.perf_counter()
            _load(ref)(ctx)
            timings[title] = round(time.perf_counter() - t0, 2)
        summary = {**ctx.summary, "model_figures": model_figures(ctx), "seed": opts.seed,
                   "stage_seconds": timings, "stages": ["world", *[t for t, _ in STAGES]]}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    write_report(out_dir / "report.html", ctx.report, summary)
    return summary


def model_figures(ctx: DemoContext) -> dict[str, Any]:
    """The models' quality as the run measured it, each figure saying how: the trust model's
    AUC per dimension on held-out partners, and scene identification on held-out events in
    both modes (realtime: each event sees only its past; retrospective: the whole window)."""
    risk = ctx.state.get("risk", {})
    return {
        "trust_auc": {"data": "held-out partners of the demo world",
                      "per_dimension": ctx.state.get("trust_auc", {})},
        "risk_scenes": {
            "data": "held-out events of the demo world (normal events flagged count against "
                    "the scene that flagged them)",
            **{mode: {"macro_f1": risk.get(f"{mode}_macro_f1"),
                      "detection_f1": risk.get(f"{mode}_detection_f1")}
               for mode in ("realtime", "retrospective")},
        },
        "risk_feedback": ctx.state.get("risk_feedback", {}),
    }


def _world_html(opts: WorldOptions, counts: dict[str, int]) -> str:
    from html import escape

    rows = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in counts.items())
    return (
        f"<p>Seed {opts.seed}: {opts.partners} partners × {opts.merchants_per_partner} merchants, "
        f"{opts.accounts} accounts.</p><table><tr><th>file</th><th>rows</th></tr>{rows}</table>"
    )
