"""Campaign and partner routes end to end on moto: ingest, model, selection, reasons, rescoring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from chalice import Chalice
from chalice.test import Client

from functions import campaigns, ingest, partners
from functions._auth import authenticate
from paver.auth import issue_token
from paver.config import Settings
from paver.storage.models import ModelVersion, Partner, Selection
from paver.trust import artifacts
from paver.trust.features import partner_features
from paver_dev.world.partners import generate
from tests.functional.conftest import ingest_partner_world


@pytest.fixture
def world(trust_world: Path) -> Path:
    return trust_world


@pytest.fixture
def model(trust_model: Any) -> Any:
    return trust_model


@lru_cache(maxsize=1)
def _app() -> Chalice:
    """The composed app once it lists these modules; until then one built here, once (a
    Blueprint answers through the last app it was registered with)."""
    import app as root

    if {"partners", "campaigns", "ingest"} <= set(root.FUNCTION_MODULES):
        return root.app
    app = Chalice(app_name="trust-test")
    app.register_middleware(authenticate, "http")
    for mod in (partners, campaigns, ingest):
        app.register_blueprint(mod.bp)
    return app


@pytest.fixture
def api(aws: Settings, world: Path) -> Iterator[Client]:
    artifacts.reset_cache()
    ingest_partner_world(aws, world)
    with Client(_app(), stage_name="local") as c:
        yield c
    artifacts.reset_cache()


def _headers(role: str = "operator", who: str = "ops") -> dict[str, str]:
    return {"Content-Type": "application/json",
            "Authorization": f"Bearer {issue_token(role, who)}"}


def _post(c: Client, path: str, body: Any, role: str = "operator", who: str = "ops") -> Any:
    return c.http.post(path, body=json.dumps(body), headers=_headers(role, who))


def _get(c: Client, path: str, role: str = "operator", who: str = "ops") -> Any:
    return c.http.get(path, headers=_headers(role, who))


def test_auth_bounds_bad_bodies_and_missing_model(api: Client) -> None:
    assert api.http.post("/campaigns", body="{}").status_code == 401
    assert _post(api, "/campaigns", {"name": "x"}, role="partner", who="P0001").status_code == 403
    assert _get(api, "/partners/P0002/score", role="partner", who="P0001").status_code == 403
    r = _post(api, "/partners/P0002/merchants", {"metrics": [{}]}, role="partner", who="P0002")
    assert r.status_code == 200 and json.loads(r.body)["metrics"]["rejected"] == 1
    r = _post(api, "/campaigns", {"name": "Too strict", "threshold": 99})
    assert r.status_code == 400 and "outside the allowed 40..90" in r.body.decode()
    r = _post(api, "/campaigns", {"regions": ["east"]})
    assert r.status_code == 400 and "name" in r.body.decode()
    assert _post(api, "/campaigns/cmp-nope/selection", {}).status_code == 404
    assert _get(api, "/campaigns/cmp-nope/partners").status_code == 404
    r = _post(api, "/campaigns", {"name": "No model yet"})
    assert r.status_code == 201
    cid = json.loads(r.body)["campaign_id"]
    r = _post(api, f"/campaigns/{cid}/selection", {})
    assert r.status_code == 409 and "no active 'trust' model" in json.loads(r.body)["Message"]
    assert _get(api, "/partners/P0002/score").status_code == 409


def test_selection_ranking_scores_batches_and_rescoring(api: Client, aws: Settings,
                                                        model) -> None:
    artifacts.publish_trust_model(model, aws)
    artifacts.reset_cache()  # a new cold start loads the active version from S3/ModelRegistry
    assert [v.version for v in ModelVersion.query("trust") if v.active] == [model.version]
    r = _post(api, "/campaigns", {"name": "East and west", "regions": ["east", "west"],
                                  "threshold": 55})
    assert r.status_code == 201
    cid = json.loads(r.body)["campaign_id"]
    r = _post(api, f"/campaigns/{cid}/selection", {})
    assert r.status_code == 200, r.body
    body = json.loads(r.body)
    assert body["scored"] == 10 and body["model_version"] == model.version
    ranked = json.loads(_get(api, f"/campaigns/{cid}/partners").body)["partners"]
    assert [p["rank"] for p in ranked] == list(range(1, 11))
    scores = [p["trust_score"] for p in ranked]
    assert scores == sorted(scores, reverse=True)
    for p in ranked:
        assert p["tier"] in {"A", "B", "C", "D"} and p["reasons"] and p["rules_fired"]
        assert set(p["scores"]) == {"risk", "trust", "quality", "value", "overall"}
        assert set(p["explanation"]) == {"risk", "trust", "quality", "value", "overall"}
        if p["selected"]:
            assert p["trust_score"] > 55 and "selected" in p["rules_fired"]
        else:  # "why was partner X not selected?" has an answer
            assert set(p["rules_fired"]) & {"threshold_not_met", "risk_floor", "trust_floor",
                                            "quality_floor", "outside_regions", "cap",
                                            "fraud_spike", "credentials_unreliable"}
    stored = {s.partner_id: s for s in Selection.query(cid)}
    assert sorted(stored) == sorted(p["partner_id"] for p in ranked)
    assert body["selected"] == [p["partner_id"] for p in ranked if p["selected"]]

    r = _get(api, "/partners/P0002/score", role="partner", who="P0002")
    assert r.status_code == 200, r.body
    s = json.loads(r.body)
    assert 0 <= s["trust_score"] <= 100 and s["tier"] in {"A", "B", "C", "D"}
    assert s["merchants"] == 4 and len(s["explanation"]["risk"]) == 3
    assert "points" in s["explanation"]["trust"][0]["text"]
    assert _get(api, "/partners/P9999/score").status_code == 404
    r = _post(api, "/partners/P0002/merchants", {
        "merchants": [{"merchant_id": "P0002-API1", "name": "Api Shop", "mcc": "5812",
                       "city": "Chengdu", "lat": 30.6, "lon": 104.1},
                      {"merchant_id": "P0002-API2", "name": "", "mcc": "5812", "city": "X"}],
        "metrics": [{"merchant_id": "P0002-API1", "month": "2024-12", "txn_count": 5,
                     "amount": 120.0}]})
    assert r.status_code == 200, r.body
    out = json.loads(r.body)
    assert out["merchants"]["accepted"] == 1 and out["merchants"]["errors"][0]["field"] == "name"
    assert out["metrics"]["accepted"] == 1
    assert _post(api, "/partners/P9999/merchants", {"merchants": [{}]}).status_code == 404
    assert _post(api, "/partners/P0002/merchants", {"merchants": [{}] * 1001}).status_code == 400
    assert json.loads(_get(api, "/partners/P0002/score").body)["merchants"] == 5
    result = api.lambda_.invoke("rescore_partners", api.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
    assert result.payload["rescored"] == 10
    assert Partner.get("P0003").trust["model_version"] == model.version


def test_risk_decisions_on_a_partners_merchants_lower_its_risk_at_the_next_rescore(
        api: Client, aws: Settings, model) -> None:
    """The two halves talk: alerts and confirmed cases of the risk screening on P0004's code
    payments feed its risk dimension; other partners do not move; a second feed adds nothing."""
    from datetime import UTC, datetime

    from paver.storage.models import Decision, Merchant, Transaction
    from paver.trust.risk_feed import feed_new_decisions

    artifacts.publish_trust_model(model, aws)

    def rescore() -> dict[str, dict[str, float]]:
        out = api.lambda_.invoke("rescore_partners", api.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
        assert out.payload["rescored"] == 10, out.payload
        return {p.partner_id: p.trust["scores"] for p in Partner.scan()}

    before = rescore()
    merchants = [m.merchant_id for m in Merchant.by_partner.query("P0004")]
    now = datetime.now(UTC)
    for i in range(40):  # laundering through P0004's codes: screened, most flagged risky
        mid = merchants[i % len(merchants)]
        Transaction(txn_id=f"t-{i}", merchant_id=mid, amount=900.0, timestamp=now.isoformat(),
                    idempotency_key=f"k-{i:06d}", code_id=f"code-{mid}").save()
        Decision(event_id=f"t-{i}", risky=i % 4 != 0, scene="fan_in", match_degree=0.9,
                 decided_at=now, explanation={"case": {"status": "confirmed"}} if i < 10
                 else {}).save()
    Decision(event_id="transfer-1", risky=True, scene="cycle", match_degree=0.8,
             decided_at=now).save()  # a transfer between accounts: no merchant to charge
    after = rescore()
    assert after["P0004"]["risk"] < before["P0004"]["risk"] - 5, (before["P0004"],
                                                                   after["P0004"])
    assert after["P0004"]["overall"] < before["P0004"]["overall"]
    assert {p: s["risk"] for p, s in after.items() if p != "P0004"} == \
        {p: s["risk"] for p, s in before.items() if p != "P0004"}
    fed = [Merchant.get(m) for m in merchants]
    assert sum(m.risk_screened for m in fed) == 40
    # confirmed cases: alerts an investigator confirmed (t-0, t-4, t-8 were not alerts)
    assert sum(m.risk_alerts for m in fed) == 30
    assert sum(m.risk_confirmed or 0 for m in fed) == 7
    again = feed_new_decisions(aws)  # within the overlap: read again, counted once
    assert again.decisions == 41 and again.fed == 0 and again.confirmed == 0
    assert again.not_code_payments == 1
    assert sum(Merchant.get(m).risk_alerts for m in merchants) == 30
    score = json.loads(_get(api, "/partners/P0004/score").body)
    assert score["scores"]["risk"] == after["P0004"]["risk"]


def test_a_campaign_selects_with_a_model_trained_from_a_table(api: Client, aws: Settings,
                                                              model, tmp_path: Path) -> None:
    """An operator trains on its own partner history through the CLI, registers the version
    without making it active, and chooses it for a campaign (field or selection request)."""
    from click.testing import CliRunner

    from paver_dev.cli.model import group

    artifacts.publish_trust_model(model, aws)  # the world-trained model stays the active one
    h = generate(np.random.default_rng(77), 150, 6, id_prefix="OP")
    feats = partner_features(h.merchants, h.metrics, h.partners)
    truth = h.truth.set_index("partner_id")
    feats.join(truth[[c for c in truth.columns if c.startswith("outcome_")]]).reset_index() \
        .to_csv(tmp_path / "history.csv", index=False)
    r = CliRunner().invoke(group, ["train", "--partners", "--table", str(tmp_path / "history.csv"),
                                   "--label", "outcome_overall", "--models", str(tmp_path / "m"),
                                   "--publish", "--no-activate", "--json"])
    assert r.exit_code == 0, r.output
    ours = json.loads(r.output)["published"]
    assert {v.version: v.active for v in ModelVersion.query("trust")} == {
        model.version: True, ours: False}

    # a well-formed version that was never registered: 404 naming the field (malformed: 400)
    r = _post(api, "/campaigns", {"name": "Bad", "model_version": "20990101T000000Z-deadbeef"})
    assert r.status_code == 404 and "model_version" in json.loads(r.body)["Message"]
    r = _post(api, "/campaigns", {"name": "Bad", "model_version": "latest"})
    assert r.status_code == 400 and "model_version" in json.loads(r.body)["Message"]
    r = _post(api, "/campaigns", {"name": "Own history", "model_version": ours})
    assert r.status_code == 201 and json.loads(r.body)["model_version"] == ours
    cid = json.loads(r.body)["campaign_id"]
    chosen = json.loads(_post(api, f"/campaigns/{cid}/selection", {}).body)
    assert chosen["model_version"] == ours and chosen["scored"] == 10
    assert {s.model_version for s in Selection.query(cid)} == {ours}

    cid2 = json.loads(_post(api, "/campaigns", {"name": "Default"}).body)["campaign_id"]
    active = json.loads(_post(api, f"/campaigns/{cid2}/selection", {}).body)
    assert active["model_version"] == model.version
    asked = json.loads(_post(api, f"/campaigns/{cid2}/selection", {"model_version": ours}).body)
    assert asked["model_version"] == ours
    by_model = {m: {p["partner_id"]: p["trust_score"] for p in res["partners"]}
                for m, res in (("world", active), ("ours", asked))}
    assert by_model["world"] != by_model["ours"]  # two models, two sets of scores
    r = _post(api, f"/campaigns/{cid2}/selection", {"model_version": "20990101T000000Z-0bad0bad"})
    assert r.status_code == 404 and "model_version" in json.loads(r.body)["Message"]


def test_what_if_a_rules_change_flips_partners_and_stores_nothing(api: Client, aws: Settings,
                                                                  model) -> None:
    import yaml

    from paver.ruleengine import rules_dir

    artifacts.publish_trust_model(model, aws)
    artifacts.reset_cache()
    cid = json.loads(_post(api, "/campaigns", {"name": "What if", "threshold": 45}).body)[
        "campaign_id"]
    now = json.loads(_post(api, f"/campaigns/{cid}/selection", {}).body)
    stored = json.loads(_get(api, f"/campaigns/{cid}/partners").body)["partners"]
    doc = yaml.safe_load((rules_dir() / "partner_selection.yaml").read_text(encoding="utf-8"))
    doc["floors"]["risk"] = 95  # a stricter candidate
    r = _post(api, f"/campaigns/{cid}/selection", {"dry_run": True, "rules": doc})
    assert r.status_code == 200, r.body
    out = json.loads(r.body)
    assert out["dry_run"] and out["valid"] and out["selected_before"] == sorted(now["selected"])
    risky = [p for p in stored if p["selected"] and p["scores"]["risk"] < 95]
    assert risky, "the world should have selected partners with risk below 95"
    flipped = {f["partner_id"]: f for f in out["flips"]}
    for p in risky:  # each names why, in the candidate's words
        f = flipped[p["partner_id"]]
        assert f["before"]["selected"] and not f["after"]["selected"]
        assert any("below the floor 95" in reason for reason in f["after"]["reasons"])
    assert set(out["selected_after"]) == set(now["selected"]) - set(flipped)
    # nothing stored: the campaign's decisions are the ones of the rules in force
    assert json.loads(_get(api, f"/campaigns/{cid}/partners").body)["partners"] == stored
    # a candidate that is no valid policy: nothing tried, its problems named
    bad = {**doc, "floors": {**doc["floors"], "risk": "high"}}
    out = json.loads(_post(api, f"/campaigns/{cid}/selection", {"dry_run": True, "rules": bad}
                           ).body)
    assert not out["valid"] and out["problems"][0].startswith("rules.floors.risk")
    same = json.loads(_post(api, f"/campaigns/{cid}/selection", {"dry_run": True}).body)
    assert same["valid"] and same["flips"] == []  # the rules in force against themselves
    # candidate rules can only be tried: without dry_run too, nothing is stored
    assert json.loads(_post(api, f"/campaigns/{cid}/selection", {"rules": doc}).body)[
        "dry_run"]
    assert _post(api, f"/campaigns/{cid}/selection", {"dry_run": False}).status_code == 400
    assert _post(api, "/campaigns/cmp-nope/selection", {"dry_run": True, "rules": doc}
                 ).status_code == 404
