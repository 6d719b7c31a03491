"""The trust demo stage: ingest via S3, train, campaign, select; summary, state and report."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from paver.config import Settings
from paver.storage.models import Selection
from paver.trust import artifacts
from paver_dev.demo import trust as trust_demo
from paver_dev.demo.context import DemoContext
from paver_dev.world.partners import generate


def test_demo_stage_selects_and_reports(aws: Settings, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trust_demo, "HISTORY_PARTNERS", 150)
    artifacts.reset_cache()
    world = tmp_path / "world"
    generate(np.random.default_rng(4), 8, 4).write(world)
    ctx = DemoContext(cfg=aws, world_dir=world, out_dir=tmp_path / "out", seed=4, quiet=True)
    trust_demo.run_demo_stage(ctx)
    assert ctx.summary["partners_scored"] == 8
    selected = ctx.state["selected_partners"]
    assert ctx.summary["partners_selected"] == len(selected)
    stored = [s for s in Selection.query(ctx.state["campaign_id"]) if s.selected]
    assert sorted(s.partner_id for s in stored) == sorted(selected)
    assert (tmp_path / "out" / "trust-history" / "partner_truth.csv").exists()
    section = ctx.report[-1]
    assert section.title == "Trust-tiered partner selection"
    html = section.html
    assert "<svg" in html and "held-out AUC" in html and "P0001" in html
    assert re.search(r"risk</td><td>0\.\d{3}</td>", html)
    for d in ("risk", "trust", "quality", "value"):
        assert ctx.state["trust_auc"][d] >= 0.75
    assert "<script" not in html
    # drift of the world's 8 partners against the history, worst feature named with its PSI
    assert re.search(r"<h3>Drift</h3><p>.* 8 partners .*PSI \d\.\d{3} \((stable|moderate|"
                     r"significant)\)", html)
    artifacts.reset_cache()


def test_cli_train_publish_goes_to_s3_and_the_registry(aws: Settings, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from paver.storage.models import ModelVersion
    from paver_dev.cli.model import group

    artifacts.reset_cache()
    generate(np.random.default_rng(6), 60, 6).write(tmp_path / "w")
    r = CliRunner().invoke(group, ["train", "--world", str(tmp_path / "w"), "--models",
                                   str(tmp_path / "m"), "--publish"])
    assert r.exit_code == 0, r.output
    active = [v for v in ModelVersion.query("trust") if v.active]
    assert len(active) == 1 and "published to S3/ModelRegistry as " + active[0].version in r.output
    assert active[0].data_hash and "fraud_rate" in active[0].features
    assert set(active[0].metrics) == {"risk", "trust", "quality", "value", "overall"}
    artifacts.reset_cache()
    assert artifacts.active_trust_model(aws).version == active[0].version
    artifacts.reset_cache()
