"""GET /drift and the drift of both models on moto: reference profiles stored with the trust
model and the knowledge base, recent partners and decisions, the metric line for the alarm."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from paver import drift
from paver.config import Settings
from paver.risk import service
from paver.risk.drift import feature_row
from paver.risk.features import FEATURE_NAMES, N_FEATURES
from paver.storage.models import Decision
from paver.trust import artifacts
from paver.trust.features import partner_features
from paver.trust.model import TrustModel
from paver.trust.training import train_trust_model
from paver_dev.world import transfers
from paver_dev.world.partners import generate
from tests.functional.conftest import ingest_partner_world

SCORERS = ("risk", "trust", "quality", "value", "overall")


@pytest.fixture(scope="module")
def model() -> TrustModel:
    h = generate(np.random.default_rng(32), 80, 6, id_prefix="H")
    return train_trust_model(partner_features(h.merchants, h.metrics, h.partners), h.truth,
                             seed=3)


@pytest.fixture(scope="module")
def partner_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pworld")
    generate(np.random.default_rng(31), 10, 4).write(d)
    return d


@pytest.fixture(scope="module")
def risk_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("rworld")
    transfers.generate(np.random.default_rng(8), 200, instances_per_scene=3).write(d)
    return d


def _worst_is_the_max(report: dict[str, Any]) -> None:
    scored = [f for f in report["features"] if f["psi"] is not None]
    assert report["worst"]["psi"] == max(f["psi"] for f in scored)
    assert report["drifted"] == (report["worst"]["psi"] >= 0.25)


def test_trust_model_keeps_reference_profiles_and_notices_a_shift(model: TrustModel) -> None:
    again = TrustModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert set(again.reference) == set(SCORERS)
    for d in SCORERS:
        names = [p["feature"] for p in again.reference[d]]
        assert names[-1] == "score"
    h = generate(np.random.default_rng(32), 80, 6, id_prefix="H")
    feats = partner_features(h.merchants, h.metrics, h.partners)
    same = again.drift(feats)
    assert set(SCORERS) <= set(same) and same["reference"]
    for d in SCORERS:
        _worst_is_the_max(same[d])
        assert same[d]["features"][-1]["role"] == "output"
    # one input of the risk scorer moved far: that feature, and the report, drift
    col = model.scorers["risk"].inputs[0]
    shifted = feats.assign(**{col: feats[col] * 10 + feats[col].abs().max() + 1})
    moved = again.drift(shifted)
    row = next(f for f in moved["risk"]["features"] if f["feature"] == col)
    assert row["level"] == "significant" and moved["drifted"]
    assert moved["worst"]["psi"] >= row["psi"]


def _ingest(aws: Settings, d: Path) -> None:

    ingest_partner_world(aws, d)


def test_drift_route(api: Any, aws: Settings, model: TrustModel, partner_world: Path,
                     risk_world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from paver.risk.screening import load_dataset

    artifacts.reset_cache()
    service.reset_cache()
    empty = json.loads(api.http.get("/drift").body)
    assert empty["trust"]["model_version"] is None and empty["risk"]["kb_version"] is None
    assert empty["drifted"] is False and empty["level"] == "no data"
    assert empty["threshold"] == 0.25
    assert api.as_("partner", "P0001").http.get("/drift").status_code == 403
    bad = api.http.get("/drift?from=yesterday")
    assert bad.status_code == 400 and "from" in json.loads(bad.body)["Message"]
    backwards = api.http.get("/drift?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z")
    assert backwards.status_code == 200  # an empty window, not an error

    artifacts.publish_trust_model(model, aws)
    _ingest(aws, partner_world)
    ds = load_dataset(risk_world / "transactions.csv", risk_world / "labels.csv")
    kb = service.build_dataset_kb(ds, cfg=aws).version
    ref = service.matcher(cfg=aws).kb.meta["drift_reference"]
    assert [p["feature"] for p in ref] == ["match_degree", *FEATURE_NAMES]
    # three events screened by the API (features by dimension), stored as decisions
    for i in range(3):
        service.screen_event({"txn_id": f"d{i}", "timestamp": "2024-03-05T02:10:00Z",
                              "from_account": f"A00001{i}", "to_account": "A999999",
                              "amount": 100 + i}, cfg=aws)
    capsys.readouterr()
    res = api.http.get("/drift")
    assert res.status_code == 200, res.body
    out = json.loads(res.body)
    assert out["trust"]["model_version"] == model.version
    assert out["trust"]["recent_count"] == 10 and out["window"]["partners"] == 10
    for d in SCORERS:
        _worst_is_the_max(out["trust"][d])
    risk = out["risk"]
    assert risk["kb_version"] == kb and risk["reference"] and risk["recent_count"] == 3
    rows = {f["feature"]: f for f in risk["features"]}
    assert rows["match_degree"]["role"] == "output" and rows["match_degree"]["recent_count"] == 3
    assert rows[FEATURE_NAMES[0]]["recent_count"] == 3  # the stored features are read back
    _worst_is_the_max(risk)
    assert out["drifted"] == (out["trust"]["drifted"] or risk["drifted"])
    # each model's worst PSI went out as an Embedded Metric Format line
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert {x["Model"]: x["DriftPSI"] for x in lines} == {
        "trust": out["trust"]["worst"]["psi"], "risk": risk["worst"]["psi"]}
    # a window that holds none of the decisions has no risk data
    past = json.loads(api.http.get("/drift?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z"
                                   ).body)
    assert past["risk"]["recent_count"] == 0 and past["risk"]["level"] == "no data"
    service.reset_cache()
    artifacts.reset_cache()


def test_risk_output_shift_is_significant(aws: Settings, risk_world: Path) -> None:
    from paver.risk.drift import risk_drift
    from paver.risk.kb import best_match_degree
    from paver.risk.screening import batch_features, load_dataset

    service.reset_cache()
    ds = load_dataset(risk_world / "transactions.csv", risk_world / "labels.csv")
    X = batch_features(ds)[0]
    kb = service.build_dataset_kb(ds, cfg=aws, features=X)
    version = kb.version
    ref = service.matcher(cfg=aws).kb.meta["drift_reference"][0]
    # the training population itself, stored the way decisions store it: nothing drifted
    degree = best_match_degree(kb, kb.scaled(X))
    service.save_decisions([{"event_id": f"t{i}", "risky": False, "scene": "x",
                             "match_degree": round(float(degree[i]), 4), "kb_version": version,
                             "feature_vector": np.round(X[i], 4).tolist()}
                            for i in range(len(X))])
    same = risk_drift(cfg=aws)
    assert same["recent_count"] == len(X) and same["worst"]["psi"] < 1e-6, same["worst"]
    with Decision.batch_write() as batch:
        for i in range(len(X)):
            batch.delete(Decision(f"t{i}"))
    # every recent event sits right on a scene (degree 0.99): far from the training mix
    service.save_decisions([{"event_id": f"s{i}", "risky": True, "scene": "x",
                             "match_degree": 0.99, "kb_version": version,
                             "feature_vector": [0.0] * N_FEATURES} for i in range(50)])
    rep = risk_drift(cfg=aws)
    rows = {f["feature"]: f for f in rep["features"]}
    expected = drift.psi(ref["proportions"],
                         drift.Profile.from_dict(ref).counts(np.full(50, 0.99)) / 50)
    assert rows["match_degree"]["psi"] == pytest.approx(expected, abs=1e-3)
    assert rows["match_degree"]["level"] == "significant" and rep["drifted"]
    assert rep["window"]["with_features"] == 50
    later = datetime.now(UTC) + timedelta(days=30)
    assert risk_drift(since=later, until=later + timedelta(days=1), cfg=aws)["recent_count"] == 0
    service.reset_cache()


def test_feature_row_reads_both_stored_shapes() -> None:
    vec = [float(i) for i in range(N_FEATURES)]
    assert feature_row({"feature_vector": vec}) == vec
    from paver.risk.matcher import feature_dict

    assert feature_row({"features": feature_dict(np.asarray(vec))}) == vec
    assert feature_row({"drivers": []}) is None and feature_row(None) is None
