"""An analyst decides an alert's case: audited, exactly once under retries and concurrency."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

from paver.config import Settings
from paver.risk import cases
from paver.risk.feedback import labelled_rows, with_feedback
from paver.storage.models import Case, Decision

JSON = {"Content-Type": "application/json"}


def _alert(event_id: str, risky: bool = True, scene: str = "fan_in") -> None:
    Decision(event_id=event_id, risky=risky, scene=scene, match_degree=0.9, kb_version="v1",
             explanation={"threshold": 0.5}, decided_at=datetime.now(UTC)).save()


def _decide(api: Any, event_id: str, body: dict) -> tuple[int, dict]:
    r = api.http.post(f"/risk/alerts/{event_id}/decision", body=json.dumps(body), headers=JSON)
    return r.status_code, json.loads(r.body)


def test_a_decision_is_audited_and_a_retry_changes_nothing(api: Any, aws: Settings) -> None:
    _alert("e1")
    ana = api.as_("operator", "ana")
    status, case = _decide(ana, "e1", {"decision": "escalate", "note": "ask the bank"})
    assert status == 201 and case["status"] == "escalated" and case["changed"]
    status, case = _decide(ana, "e1", {"decision": "escalate", "note": "ask the bank"})
    assert status == 200 and not case["changed"] and len(case["history"]) == 1  # a retry
    # an escalated case is decided later, by someone else, with another scene
    status, case = _decide(api.as_("operator", "bo"), "e1",
                           {"decision": "confirm", "scene": "Gather Scatter", "note": "hub"})
    assert status == 201 and case["status"] == "confirmed" and case["scene"] == "Gather Scatter"
    first, second = case["history"]
    assert (first["analyst"], first["before"], first["after"]) == ("ana", "open", "escalated")
    assert (second["analyst"], second["before"], second["after"]) == (
        "bo", "escalated", "confirmed")
    assert second["at"] >= first["at"]
    # decided: a different decision now conflicts, naming the current state
    status, body = _decide(ana, "e1", {"decision": "dismiss"})
    assert status == 409 and body["Current"]["status"] == "confirmed"


def test_two_analysts_at_once_one_wins_the_other_gets_409(api: Any, aws: Settings) -> None:
    _alert("e2")
    results: dict[str, tuple[int, dict]] = {}
    barrier = threading.Barrier(2)

    def decide(who: str, decision: str) -> None:
        barrier.wait()
        try:
            case, changed = cases.decide("e2", decision, "cycle" if decision == "confirm"
                                         else None, who)
            results[who] = (201 if changed else 200, case)
        except cases.CaseConflict as exc:
            results[who] = (409, exc.current or {})

    threads = [threading.Thread(target=decide, args=a)
               for a in (("ana", "confirm"), ("bo", "dismiss"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(code for code, _ in results.values())
    assert codes == [201, 409]
    stored = Case.get("e2", consistent_read=True)
    assert len(stored.history) == 1 and int(stored.version) == 1
    loser = next(case for code, case in results.values() if code == 409)
    assert loser["status"] == stored.status  # the 409 carries the winner's state


def test_refusals_name_the_field(api: Any, aws: Settings) -> None:
    _alert("e3", risky=False)
    assert _decide(api, "nope", {"decision": "dismiss"})[0] == 404
    status, body = _decide(api, "e3", {"decision": "dismiss"})
    assert status == 409 and "no alert" in body["Message"]
    _alert("e4")
    status, body = _decide(api, "e4", {"decision": "confirm", "scene": "fan\tin"})
    assert status == 400 and body["Message"].startswith("scene")
    status, body = _decide(api, "e4", {"decision": "approve"})
    assert status == 400 and body["Message"].startswith("decision")
    assert _decide(api.as_("partner", "PA"), "e4", {"decision": "dismiss"})[0] == 403


def test_decided_cases_are_feedback_for_the_next_version(api: Any, aws: Settings) -> None:
    for e in ("f1", "f2", "f3"):
        _alert(e)
    ana = api.as_("operator", "ana")
    _decide(ana, "f1", {"decision": "confirm"})  # the alert's own scene
    _decide(ana, "f2", {"decision": "dismiss", "note": "payroll"})
    _decide(ana, "f3", {"decision": "escalate"})
    fb = {f.txn_id: f for f in cases.feedback_rows()}
    assert (fb["f1"].decision, fb["f1"].scene) == ("confirm", "fan_in")
    assert fb["f2"].decision == "dismiss" and fb["f3"].decision == "escalate"
    labels = with_feedback({}, fb)
    assert labels["f1"].scene == "fan_in" and labels["f2"].scene is None
    assert "f3" not in labels  # escalated: still unlabelled
    assert list(labelled_rows(["f0", "f1", "f2", "f3"], labels)) == [1, 2]


def test_alerts_list_by_case_status(api: Any, aws: Settings) -> None:
    for e in ("g1", "g2", "g3"):
        _alert(e)
    _alert("g4", risky=False)
    ana = api.as_("operator", "ana")
    _decide(ana, "g1", {"decision": "confirm", "scene": "cycle"})
    _decide(ana, "g2", {"decision": "escalate"})

    def ids(status: str) -> set[str]:
        r = api.http.get(f"/risk/alerts?status={status}")
        assert r.status_code == 200, r.body
        return {a["event_id"] for a in json.loads(r.body)["items"]}

    assert ids("open") == {"g3"} and ids("escalated") == {"g2"} and ids("confirmed") == {"g1"}
    assert ids("dismissed") == set() and ids("flagged") == {"g1", "g2", "g3"}
    one = json.loads(api.http.get("/risk/alerts/g1").body)
    assert one["case"]["status"] == "confirmed" and one["case"]["scene"] == "cycle"
    assert json.loads(api.http.get("/risk/alerts/g4").body)["case"] is None  # no alert


def test_a_re_screen_keeps_the_audit_trail(api: Any, aws: Settings) -> None:
    from paver.risk.service import save_decisions

    _alert("h1")
    _decide(api.as_("operator", "ana"), "h1", {"decision": "dismiss", "note": "payroll"})
    # the stream replays the payment: its screening decision is written again
    save_decisions([{"event_id": "h1", "risky": True, "scene": "fan_in", "match_degree": 0.91,
                     "kb_version": "v2", "explanation": {}}])
    one = json.loads(api.http.get("/risk/alerts/h1").body)
    assert one["kb_version"] == "v2" and one["case"]["status"] == "dismissed"
    assert one["case"]["history"][0]["note"] == "payroll"

