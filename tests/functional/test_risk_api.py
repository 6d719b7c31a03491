"""Risk routes, the Transactions-stream handler and the demo stage, on in-process moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from paver.aws import client
from paver.config import Settings
from paver.risk import service
from paver.storage.models import Decision, Relation, RiskScene
from paver_dev.world import transfers
from tests.events import load_event


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("world")
    transfers.generate(np.random.default_rng(8), 250, instances_per_scene=4).write(d)
    return d


@pytest.fixture
def risk_api(api: Any) -> Iterator[Any]:
    """The composed app as an operator (risk routes are operators only)."""
    service.reset_cache()
    yield api
    service.reset_cache()


def _upload(aws: Settings, world: Path) -> None:
    s3 = client("s3", aws)
    for name in ("transactions.csv", "labels.csv", "accounts.csv", "devices.csv",
                 "contacts.csv"):
        s3.upload_file(str(world / name), aws.bucket_name("ingest"), f"risk/{name}")


def _post(c: Any, path: str, body: dict) -> Any:
    return c.http.post(path, body=json.dumps(body), headers={"Content-Type": "application/json"})


def test_build_list_screen(risk_api: Any, aws: Settings, world: Path) -> None:
    assert _post(risk_api, "/risk/screen", {
        "txn_id": "e1", "timestamp": "2024-03-05T10:00:00Z", "from_account": "A1",
        "to_account": "A2", "amount": 10}).status_code == 404  # no knowledge base yet
    _upload(aws, world)
    res = _post(risk_api, "/risk/scenes/build",
                {"transactions_key": "risk/transactions.csv", "labels_key": "risk/labels.csv"})
    assert res.status_code == 201, res.body
    v1 = json.loads(res.body)["version"]
    v2 = json.loads(_post(risk_api, "/risk/scenes/build",
                          {"transactions_key": "risk/transactions.csv",
                           "labels_key": "risk/labels.csv", "seed": 1}).body)["version"]
    listed = json.loads(risk_api.http.get("/risk/scenes").body)
    assert listed["kb_version"] == v2 and listed["versions"] == sorted([v1, v2])
    assert {s["scene"] for s in listed["scenes"]} == set(transfers.SCENES)
    assert all(s["sample_count"] > 0 and "title" in s for s in listed["scenes"])
    old = json.loads(risk_api.http.get(f"/risk/scenes?version={v1}").body)
    assert old["kb_version"] == v1 and len(old["scenes"]) == len(transfers.SCENES)
    assert RiskScene.count(v1) == len(transfers.SCENES)
    assert risk_api.http.get("/risk/scenes?version=nope").status_code == 404
    # an account-takeover-like event: old account, device and IP never seen, night, big amount
    body = {"txn_id": "e1", "timestamp": "2024-03-05T02:10:00Z", "from_account": "A000010",
            "to_account": "A999999", "amount": 18000, "from_device": "DX", "from_ip": "9.9.9.9"}
    res = _post(risk_api, "/risk/screen", body)
    assert res.status_code == 200, res.body
    d = json.loads(res.body)
    assert d["kb_version"] == v2 and d["event_id"] == "e1"
    assert {"top_scenes", "margin", "drivers", "exemplar", "dimensions"} <= set(d["explanation"])
    assert d["relations"]["transaction"]["elements"][0]["attrs"]["role"] == "event"
    assert d["features"]["device"]["a_device_new"] == 1.0
    assert Decision.get("e1").kb_version == v2
    assert Relation.count("acct:A000010") >= 1  # associated data recorded for later events
    bad = _post(risk_api, "/risk/screen", {**body, "amount": -5})
    assert bad.status_code == 400 and "amount" in json.loads(bad.body)["Message"]
    bad = _post(risk_api, "/risk/scenes/build", {"transactions_key": "nope.csv",
                                                 "labels_key": "risk/labels.csv"})
    # no such dataset: 404 naming the field (a valid request for something absent)
    assert bad.status_code == 404 and "nope.csv" in json.loads(bad.body)["Message"]
    assert json.loads(bad.body)["Message"].startswith("transactions_key:")


def _record(seq: str, image: dict[str, Any], name: str = "INSERT") -> dict[str, Any]:
    rec = load_event("dynamodb_transactions_insert")["Records"][0]
    rec["eventID"], rec["eventName"] = seq, name
    rec["dynamodb"].update(SequenceNumber=seq, NewImage=image,
                           Keys={"txn_id": image.get("txn_id", {"S": seq})})
    return rec


def _image(txn: str, payer: str | None, amount: str = "12.50") -> dict[str, Any]:
    img = {"txn_id": {"S": txn}, "merchant_id": {"S": "P0001-M00001"},
           "amount": {"N": amount}, "currency": {"S": "156"},
           "timestamp": {"S": "2024-03-05T10:00:00+00:00"}, "channel": {"S": "qr"},
           "idempotency_key": {"S": "k" + txn}}
    if payer:
        img["from_account"] = {"S": payer}
        img["attributes"] = {"S": json.dumps({"from_device": "D1", "from_ip": "1.2.3.4"})}
    return img


def test_payments_before_the_first_knowledge_base_are_not_silently_skipped(
        aws: Settings, world: Path) -> None:
    from functions.risk import screen_stream
    from paver.risk.screening import load_dataset

    service.reset_cache()
    out = screen_stream({"Records": [_record("1", _image("n1", "A000001")),
                                     _record("2", _image("n2", None)),  # no payer
                                     _record("3", _image("n3", "A000002"))]}, None)
    assert out["batchItemFailures"] == []
    assert (out["screened"], out["unscreened_no_kb"], out["skipped"]) == (0, 2, 1)
    for event_id in ("n1", "n3"):  # each payment has a decision that says why no verdict
        d = Decision.get(event_id)
        assert d.status == "unscreened_no_kb" and d.risky is None and d.match_degree is None
        assert "no knowledge base" in d.explanation["reason"]
    assert Relation.count("acct:A000001") >= 1  # its associated data is kept
    # once a knowledge base exists, payments are screened (and see the earlier ones)
    ds = load_dataset(world / "transactions.csv", world / "labels.csv")
    service.build_dataset_kb(ds, cfg=aws)
    out = screen_stream({"Records": [_record("4", _image("n4", "A000001"))]}, None)
    assert (out["screened"], out["unscreened_no_kb"]) == (1, 0)
    d = Decision.get("n4")
    assert d.status == "screened" and d.risky is not None and d.kb_version
    service.reset_cache()


def test_stream_handler_screens_and_reports_failures(aws: Settings, world: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.risk import screen_stream
    from paver.risk.screening import load_dataset

    service.reset_cache()
    ds = load_dataset(world / "transactions.csv", world / "labels.csv")
    service.build_dataset_kb(ds, cfg=aws)
    event = {"Records": [_record("1", _image("q1", "A000001")),
                         _record("2", _image("q2", None)),  # no payer: not screened
                         _record("3", _image("q3", "A000002"), name="MODIFY"),
                         _record("4", _image("q4", "A000003"))]}
    out = screen_stream(event, None)
    assert out["batchItemFailures"] == []
    assert (out["screened"], out["skipped"]) == (2, 2)
    assert Decision.get("q1").scene and Decision.get("q4").match_degree >= 0
    assert Relation.count("acct:A000001") >= 2  # the payment and the device usage

    calls = {"n": 0}
    real = service.Screener.screen_event

    def flaky(self: Any, e: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if e.txn_id == "q6":
            raise RuntimeError("throttled")
        return real(self, e, **kw)

    monkeypatch.setattr(service.Screener, "screen_event", flaky)
    out = screen_stream({"Records": [_record("5", _image("q5", "A000004")),
                                     _record("6", _image("q6", "A000005")),
                                     _record("7", _image("q7", "A000006"))]}, None)
    assert out["batchItemFailures"] == [{"itemIdentifier": "6"}, {"itemIdentifier": "7"}]
    assert calls["n"] == 2  # stops at the first failure; Lambda replays from it
    assert Decision.get("q5")
    service.reset_cache()


def test_demo_stage(aws: Settings, world: Path, tmp_path: Path) -> None:
    from paver_dev.demo.context import DemoContext
    from paver_dev.demo.risk import run_demo_stage

    service.reset_cache()
    ctx = DemoContext(cfg=aws, world_dir=world, out_dir=tmp_path, seed=1, quiet=True)
    run_demo_stage(ctx)
    assert ctx.summary["events_screened"] > 1000
    assert 0 < ctx.summary["risky_events"] < ctx.summary["events_screened"]
    sections = {s.title: s.html for s in ctx.report}
    html = sections["Risk-scene identification"]
    assert "Confusion matrix" in html and "macro-F1" in html and "<script" not in html
    assert "paver risk backtest" in sections["Learning from analysts"]
    assert Decision.count() >= ctx.summary["events_screened"] - 10
    from paver.risk.aws_kb import S3KBRepository

    v = ctx.state["risk"]["kb_version"]
    dropped = S3KBRepository(aws).load(v).meta["dropped_scenes"]  # < 3 training samples
    assert RiskScene.count(v) + len(dropped) == len(transfers.SCENES)
    assert {"retrospective", "realtime"} <= {m.split("_")[0] for m in ctx.state["risk"]}
    assert "realtime" in html and "retrospective" in html and "<b>correct</b>" in html
    service.reset_cache()


def test_labels_as_users_write_them_through_the_api(risk_api: Any, aws: Settings, world: Path,
                                                    tmp_path: Path) -> None:
    from tests.functional.test_risk_cli import USER_LABELS, relabel

    d = relabel(world, tmp_path / "w")
    _upload(aws, d)
    res = _post(risk_api, "/risk/scenes/build",
                {"transactions_key": "risk/transactions.csv", "labels_key": "risk/labels.csv"})
    assert res.status_code == 201, res.body
    built = {s["scene"] for s in json.loads(res.body)["scenes"]}
    listed = json.loads(risk_api.http.get("/risk/scenes").body)
    names = {s["scene"] for s in listed["scenes"]}
    assert set(USER_LABELS.values()) <= names == built
    assert not names & set(USER_LABELS)  # kept as written, never rewritten to a key
    body = {"txn_id": "e2", "timestamp": "2024-03-05T10:10:00Z", "from_account": "A000011",
            "to_account": "A000012", "amount": 300}
    got = json.loads(_post(risk_api, "/risk/screen", body).body)
    assert got["scene"] in names
    assert {s["scene"] for s in got["explanation"]["top_scenes"]} <= names
    assert Decision.get("e2").scene == got["scene"]


def test_build_takes_the_analysts_stored_decisions_in(risk_api: Any, aws: Settings,
                                                      world: Path) -> None:
    import csv
    from datetime import UTC, datetime

    from paver.risk import cases

    _upload(aws, world)
    body = {"transactions_key": "risk/transactions.csv", "labels_key": "risk/labels.csv"}
    plain = json.loads(_post(risk_api, "/risk/scenes/build", body).body)
    with (world / "labels.csv").open(encoding="utf-8") as f:
        normal = [r["txn_id"] for r in csv.DictReader(f) if not r["scene"]][:2]
    for t in normal:  # two flagged normal events: the analysts confirm one, dismiss one
        Decision(event_id=t, risky=True, scene="fan_in", match_degree=0.9, kb_version="v",
                 decided_at=datetime.now(UTC)).save()
    cases.decide(normal[0], "confirm", "cycle", "ana")
    cases.decide(normal[1], "dismiss", None, "ana")
    res = _post(risk_api, "/risk/scenes/build", {**body, "feedback": True})
    assert res.status_code == 201, res.body
    fed = json.loads(res.body)
    assert fed["meta"]["feedback_decisions"] == 2
    count = {s["scene"]: s["sample_count"] for s in plain["scenes"]}
    fed_count = {s["scene"]: s["sample_count"] for s in fed["scenes"]}
    assert fed_count["cycle"] == count["cycle"] + 1  # the confirmed one is a cycle sample now
    assert fed_count["fan_in"] == count["fan_in"]


def test_backtest_of_stored_versions_over_a_window(risk_api: Any, aws: Settings,
                                                   world: Path) -> None:
    _upload(aws, world)
    body = {"transactions_key": "risk/transactions.csv", "labels_key": "risk/labels.csv"}
    v1 = json.loads(_post(risk_api, "/risk/scenes/build", body).body)["version"]
    v2 = json.loads(_post(risk_api, "/risk/scenes/build", {**body, "seed": 3}).body)["version"]
    res = _post(risk_api, "/risk/backtest", {**body, "versions": [v1, v2],
                                             "from": "2024-03-10T00:00:00Z"})
    assert res.status_code == 200, res.body
    out = json.loads(res.body)
    assert set(out["versions"]) == {v1, v2} and out["mode"] == "retrospective"
    assert out["window"]["from"].startswith("2024-03-10")
    everything = json.loads(_post(risk_api, "/risk/backtest",
                                  {**body, "versions": [v1, v2]}).body)
    assert 0 < out["events"] < everything["events"]  # the window narrows what is screened
    for r in out["versions"].values():
        assert 0 < r["macro_f1"] <= 1 and {"precision", "recall", "f1"} <= set(r["detection"])
    d = out["diff"]
    assert (d["from"], d["to"]) == (v1, v2)
    assert (out["versions"][v2]["alerts"] - out["versions"][v1]["alerts"]
            == len(d["gained"]) - len(d["lost"]))
    assert _post(risk_api, "/risk/backtest", {**body, "versions": [v1, "nope"]}
                 ).status_code == 404
    assert _post(risk_api, "/risk/backtest", {**body, "versions": [v1, v1]}).status_code == 400
    assert _post(risk_api, "/risk/backtest", {**body, "versions": [v1]}).status_code == 400


def test_shadow_run_promotion_and_rollback(risk_api: Any, aws: Settings, world: Path) -> None:
    """A candidate version runs in shadow on the stream (stored beside, never acts), the
    report compares it with the active one; promotion and rollback are audited actions."""
    from datetime import UTC, datetime, timedelta

    from functions.risk import screen_stream
    from paver.risk import cases
    from paver.storage.models import Case

    _upload(aws, world)
    body = {"transactions_key": "risk/transactions.csv", "labels_key": "risk/labels.csv"}
    v1 = json.loads(_post(risk_api, "/risk/scenes/build", body).body)["version"]
    cand = json.loads(_post(risk_api, "/risk/scenes/build",
                            {**body, "seed": 5, "activate": False}).body)
    v2 = cand["version"]
    assert cand["active"] is False
    state = json.loads(risk_api.http.get("/risk/versions").body)
    assert state["active"] == v1 and state["shadow"] is None and v2 in state["versions"]
    ops = risk_api.as_("operator", "lead")
    r = ops.http.put("/risk/shadow", body=json.dumps({"version": v2, "note": "try seed 5"}),
                     headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.body
    assert json.loads(r.body)["shadow"] == v2
    payers = [f"A{i:06d}" for i in range(1, 31)]
    out = screen_stream({"Records": [_record(str(i), _image(f"s{i}", a))
                                     for i, a in enumerate(payers)]}, None)
    assert out["batchItemFailures"] == [] and out["screened"] == len(payers)
    rows = [Decision.get(f"s{i}") for i in range(len(payers))]
    assert all(d.kb_version == v1 and d.shadow["kb_version"] == v2 for d in rows)
    assert Case.count() == 0  # shadow verdicts open no case and take no action
    rep = json.loads(risk_api.http.get("/risk/shadow/report").body)
    assert rep["events"] == len(payers)
    assert rep["active_versions"] == [v1] and rep["shadow_versions"] == [v2]
    assert rep["alerts"]["active"] == sum(bool(d.risky) for d in rows)
    assert rep["alerts"]["shadow"] == sum(bool(d.shadow["risky"]) for d in rows)
    # the comparison itself, on verdicts whose difference is known
    shadow = {"kb_version": v2, "match_degree": 0.9}
    for eid, risky, scene, s_risky, s_scene in (
            ("x1", False, "cycle", True, "fan_in"),   # only the shadow alerts
            ("x2", True, "cycle", False, "cycle"),    # only the active alerts
            ("x3", True, "cycle", True, "fan_in")):   # both, another scene
        Decision(event_id=eid, risky=risky, scene=scene, match_degree=0.9, kb_version=v1,
                 decided_at=datetime.now(UTC),
                 shadow={**shadow, "risky": s_risky, "scene": s_scene}).save()
    cases.decide("x2", "dismiss", None, "ana")
    cases.decide("x3", "confirm", "fan_in", "ana")
    since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    rep = json.loads(risk_api.http.get(f"/risk/shadow/report?from={since}").body)
    assert rep["events"] == len(payers) + 3
    assert [x["txn_id"] for x in rep["only_shadow"] if x["txn_id"].startswith("x")] == ["x1"]
    assert [x["txn_id"] for x in rep["only_active"] if x["txn_id"].startswith("x")] == ["x2"]
    assert {"txn_id": "x3", "active": "cycle", "shadow": "fan_in"} in rep["scene_changed"]
    assert rep["analysts"] == {"confirmed": {"active": 1, "shadow": 1},
                               "dismissed": {"active": 1, "shadow": 0}}
    # promotion: v2 decides from now on, and stops shadowing; rollback returns to v1
    r = ops.http.post("/risk/versions/promote", body=json.dumps({"version": v2,
                                                                 "note": "report reviewed"}),
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.body
    state = json.loads(r.body)
    assert state["active"] == v2 and state["shadow"] is None
    screen_stream({"Records": [_record("99", _image("s99", "A000040"))]}, None)
    assert Decision.get("s99").kb_version == v2 and Decision.get("s99").shadow is None
    r = ops.http.post("/risk/versions/rollback", body=json.dumps({"note": "too many alerts"}),
                      headers={"Content-Type": "application/json"})
    state = json.loads(r.body)
    assert r.status_code == 200 and state["active"] == v1
    trail = [(e["action"], e["by"], e["version"], e["previous"]) for e in state["audit"]]
    assert trail == [("shadow", "lead", v2, None), ("promote", "lead", v2, v1),
                     ("rollback", "lead", v1, v2)]
    assert [e["note"] for e in state["audit"]] == ["try seed 5", "report reviewed",
                                                   "too many alerts"]
    assert _post(risk_api, "/risk/versions/promote", {"version": v1}).status_code == 409
    assert _post(risk_api, "/risk/versions/promote", {"version": "nope"}).status_code == 404
    assert risk_api.as_("partner", "PA").http.get("/risk/versions").status_code == 403
    service.reset_cache()
