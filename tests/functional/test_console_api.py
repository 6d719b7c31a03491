"""Routes the console and the merchant page read: search, overrides, codes, print sheets,
milestones, binding attempts, sign-in links, risk alerts and the static pages."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image

from paver.aws import client
from paver.config import Settings
from paver.rollout import service
from paver.storage.models import (
    BindingAttempt,
    Campaign,
    Decision,
    Merchant,
    Partner,
    Selection,
    Transaction,
)

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def world(aws: Settings) -> Settings:
    for pid, region in (("PA", "east"), ("PB", "south")):
        Partner(partner_id=pid, name=f"Bank {pid}", kind="city_bank", region=region,
                guid=f"cn.bank.{pid.lower()}").save()
    for i in range(7):
        pid = "PA" if i < 5 else "PB"
        Merchant(merchant_id=f"{pid}-M{i}", partner_id=pid, name=f"Shop {i}",
                 name_zh=f"小店{i}号", mcc="5812", city="Hangzhou" if i % 2 else "Ningbo",
                 lat=30.27, lon=120.15, txn_count=4, txn_amount=250).save()
    Campaign(campaign_id="C1", name="Spring", created_at=datetime.now(UTC)).save()
    Selection(campaign_id="C1", partner_id="PA", trust_score=80, scores={}, tier="A",
              selected=True).save()
    Selection(campaign_id="C1", partner_id="PB", trust_score=40, scores={}, tier="C",
              selected=False).save()
    return aws


def _get(api: Any, path: str) -> tuple[int, Any]:
    r = api.http.get(path)
    try:
        return r.status_code, json.loads(r.body)
    except ValueError:
        return r.status_code, r.body


def test_merchant_search_pages_filters_and_stays_in_the_tenant(api: Any, world: Settings) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        path = "/merchants?limit=3" + (f"&cursor={cursor}" if cursor else "")
        status, page = _get(api, path)
        assert status == 200 and len(page["items"]) <= 3
        seen += [m["merchant_id"] for m in page["items"]]
        cursor = page["cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(f"{'PA' if i < 5 else 'PB'}-M{i}" for i in range(7))
    assert len(seen) == len(set(seen))  # no row twice across pages
    status, page = _get(api, "/merchants?q=%E5%B0%8F%E5%BA%973")  # 小店3
    assert [m["merchant_id"] for m in page["items"]] == ["PA-M3"]
    status, page = _get(api, "/merchants?q=NINGBO&partner=PA")  # case-insensitive, one partner
    assert {m["merchant_id"] for m in page["items"]} == {"PA-M0", "PA-M2", "PA-M4"}
    assert "uscc" not in page["items"][0] and page["items"][0]["totals"]["txn_count"] == 4

    partner = api.as_("partner", "PB")
    status, page = _get(partner, "/merchants")
    assert {m["merchant_id"] for m in page["items"]} == {"PB-M5", "PB-M6"}
    assert _get(partner, "/merchants?partner=PA")[0] == 403
    status, page = _get(partner, "/merchants?q=PA-M1")
    assert page["items"] == []
    status, page = _get(api.as_("merchant", "PA-M1"), "/merchants")
    assert [m["merchant_id"] for m in page["items"]] == ["PA-M1"]
    status, err = _get(api, "/merchants?limit=0")
    assert status == 400 and err["Message"].startswith("limit")
    status, err = _get(api, "/merchants?cursor=bm90LWEtY3Vyc29y")
    assert status == 400 and err["Message"].startswith("cursor")


def test_override_is_audited_idempotent_and_drives_the_rollout(api: Any, world: Settings) -> None:
    body = json.dumps({"selected": True, "note": "regional pilot approved"})
    path = "/campaigns/C1/partners/PB/override"
    r = api.http.post(path, body=body, headers=JSON)
    assert r.status_code == 200, r.body
    doc = json.loads(r.body)
    assert doc["selected"] is True and len(doc["overrides"]) == 1
    entry = doc["overrides"][0]
    assert (entry["by"], entry["selected_before"], entry["note"]) == (
        "ops", False, "regional pilot approved")
    again = json.loads(api.http.post(path, body=body, headers=JSON).body)  # a retried request
    assert len(again["overrides"]) == 1
    other = api.http.post(path, body=json.dumps({"selected": True, "note": "again"}),
                          headers=JSON)
    assert other.status_code == 409 and "already" in json.loads(other.body)["Message"]
    listed = json.loads(api.http.get("/campaigns/C1/partners").body)["partners"]
    assert next(p for p in listed if p["partner_id"] == "PB")["overrides"][0]["note"] == \
        "regional pilot approved"
    assert set(service.selected_partners("C1")) == {"PA", "PB"}
    assert api.http.post("/campaigns/C1/partners/PX/override", body=body,
                         headers=JSON).status_code == 404
    assert api.as_("partner", "PB").http.post(path, body=body, headers=JSON).status_code == 403
    short = api.http.post(path, body=json.dumps({"selected": False, "note": ""}), headers=JSON)
    assert short.status_code == 400 and "note" in json.loads(short.body)["Message"]
    assert [c["campaign_id"] for c in json.loads(api.http.get("/campaigns").body)["items"]] == \
        ["C1"]


def test_codes_list_sheet_and_tenant(api: Any, world: Settings) -> None:
    from paver.console.sheet import cell_boxes, layout_pages
    from paver.render import decode_image

    service.issue_codes("C1", "PA", [f"PA-M{i}" for i in range(5)])
    service.issue_codes("C1", "PB", ["PB-M5"])
    status, page = _get(api, "/codes?campaign=C1&partner=PA&limit=2")
    assert status == 200 and [c["merchant_id"] for c in page["items"]] == ["PA-M0", "PA-M1"]
    assert page["items"][0]["skins"] and page["cursor"]
    status, rest = _get(api, f"/codes?campaign=C1&partner=PA&cursor={page['cursor']}")
    assert [c["merchant_id"] for c in rest["items"]] == ["PA-M2", "PA-M3", "PA-M4"]
    status, mine = _get(api.as_("partner", "PB"), "/codes")
    assert [c["merchant_id"] for c in mine["items"]] == ["PB-M5"]
    assert _get(api.as_("partner", "PB"), "/codes?partner=PA")[0] == 403
    assert _get(api.as_("merchant", "PA-M1"), "/codes?campaign=C1")[0] == 403
    # the operator without a filter: every code, page by page, each once
    seen, cursor = [], ""
    while True:
        status, part = _get(api, f"/codes?limit=4{cursor}")
        assert status == 200 and len(part["items"]) <= 4
        seen += [c["code_id"] for c in part["items"]]
        if not part["cursor"]:
            break
        cursor = f"&cursor={part['cursor']}"
    assert sorted(seen) == sorted(f"code-{m}" for m in [f"PA-M{i}" for i in range(5)]
                                  + ["PB-M5"])
    # a filter given empty is a filter given wrong, not one left out
    assert _get(api, "/codes?campaign=")[0] == 400
    assert _get(api, "/codes?cursor=not%20ours")[0] == 400

    r = api.http.get("/campaigns/C1/partners/PA/sheet", headers={"Accept": "application/pdf"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf"
    assert r.body.startswith(b"%PDF") and r.body.rstrip().endswith(b"%%EOF")
    assert api.as_("partner", "PB").http.get("/campaigns/C1/partners/PA/sheet").status_code \
        == 403
    assert api.http.get("/campaigns/C1/partners/PX/sheet").status_code in (403, 404)
    # the sheet's pages: every code reads back from the printed page, crop marks outside cells
    s3 = client("s3", world)
    items = []
    payloads = []
    for i in range(5):
        code = service.get_code(f"code-PA-M{i}")
        payloads.append(code.payload)
        png = s3.get_object(Bucket=world.bucket_name("artifacts"),
                            Key=service.image_key("PA", f"PA-M{i}", "png"))["Body"].read()
        items.append((f"PA-M{i}", png))
    pages = layout_pages(items, "PA · C1")
    assert len(pages) == 1 and pages[0].size == (2480, 3508)
    found = []
    for box in cell_boxes()[:5]:
        found += decode_image(pages[0].crop(box))
    assert sorted(found) == sorted(payloads)
    left, top, _, _ = cell_boxes()[0]
    assert pages[0].getpixel((left - 40, top)) == (0, 0, 0)  # a crop mark beside the corner
    assert pages[0].getpixel((left - 5, top - 5)) == (255, 255, 255)  # and not on the cell


def test_milestones_binding_view_and_signin_link(api: Any, world: Settings) -> None:
    from paver.auth import verify_token

    _, ms = _get(api, "/merchants/PA-M1/milestones")
    progress = {m["milestone"]: m["progress"] for m in ms["milestones"]}
    assert progress["first_payment"] == 1.0 and progress["ten_payments"] == 0.4
    assert progress["amount_5000"] == 0.05  # 250 of 5,000
    assert progress["active_week"] == 0.0  # no active day yet: the weakest condition counts

    s3 = client("s3", world)
    key = "photos/PA-M1/" + "a" * 32 + ".jpg"
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="JPEG")
    s3.put_object(Bucket=world.bucket_name("photos"), Key=key, Body=buf.getvalue())
    BindingAttempt(merchant_id="PA-M1", attempt_id="a" * 32, outcome="refused",
                   reasons=["too_far"], evidence={"distance_m": 812.5},
                   created_at=datetime.now(UTC)).save()
    _, view = _get(api.as_("merchant", "PA-M1"), "/merchants/PA-M1/binding")
    a = view["attempts"][0]
    assert a["reasons"][0]["code"] == "too_far" and "too far" in a["reasons"][0]["reason"]
    assert a["distance_m"] == 812.5 and key in a["photo_url"]
    assert _get(api.as_("merchant", "PA-M2"), "/merchants/PA-M1/binding")[0] == 403

    r = api.as_("partner", "PA").http.post("/merchants/PA-M1/signin-link", body="{}",
                                           headers=JSON)
    assert r.status_code == 201
    link = json.loads(r.body)
    token = link["path"].removeprefix("/m/#token=")
    assert verify_token(token).role == "merchant" and verify_token(token).id == "PA-M1"
    assert api.as_("partner", "PB").http.post("/merchants/PA-M1/signin-link", body="{}",
                                              headers=JSON).status_code == 403
    assert api.as_("merchant", "PA-M1").http.post("/merchants/PA-M1/signin-link", body="{}",
                                                  headers=JSON).status_code == 403


def test_risk_alerts_newest_first_filtered_and_scoped(api: Any, world: Settings) -> None:
    now = datetime.now(UTC)
    rows = [("e1", True, "fan_in", 0.9, 30), ("e2", False, "cycle", 0.3, 20),
            ("e3", True, "cycle", 0.8, 10), ("e4", True, "fan_in", 0.85, 5)]
    for eid, risky, scene, md, ago in rows:
        Decision(event_id=eid, risky=risky, scene=scene, match_degree=md, kb_version="v1",
                 explanation={"threshold": 0.7, "action": "review", "explanation": {
                     "margin": 0.2, "drivers": [{"meaning": "size of this payment"}],
                     "top_scenes": []}},
                 decided_at=now - timedelta(minutes=ago)).save()
    status, out = _get(api, "/risk/alerts")
    assert [a["event_id"] for a in out["items"]] == ["e4", "e3", "e1"]  # flagged, newest first
    assert out["items"][0]["explanation"] == (
        "Looks like fan_in (match degree 0.85): size of this payment.")
    assert out["items"][0]["margin"] == 0.2 and out["scenes"] == ["cycle", "fan_in"]
    assert [a["event_id"] for a in _get(api, "/risk/alerts?scene=fan_in")[1]["items"]] == \
        ["e4", "e1"]
    since = (now - timedelta(minutes=15)).isoformat().replace("+00:00", "Z")
    assert [a["event_id"] for a in _get(api, f"/risk/alerts?status=all&from={since}")[1][
        "items"]] == ["e4", "e3"]
    page = _get(api, "/risk/alerts?status=all&limit=2")[1]
    rest = _get(api, f"/risk/alerts?status=all&limit=2&cursor={page['cursor']}")[1]
    assert [a["event_id"] for a in page["items"] + rest["items"]] == ["e4", "e3", "e2", "e1"]
    assert _get(api, "/risk/alerts?status=bogus")[0] == 400
    assert _get(api, "/risk/alerts?from=yesterday")[1]["Message"].startswith("from")
    assert _get(api.as_("partner", "PA"), "/risk/alerts")[0] == 403
    assert _get(api, "/risk/alerts/nope")[0] == 404
    status, one = _get(api, "/risk/alerts/e1")
    assert status == 200 and one["relations"] == {} and "batch" in one["relations_note"]
    Transaction(txn_id="e4", merchant_id="PA-M1", amount=20, timestamp=now.isoformat(),
                from_account="A1", idempotency_key="k-e4-0000").save()
    status, one = _get(api, "/risk/alerts/e4")
    assert set(one["relations"]) == {"transaction", "device", "behaviour", "social"}


def test_static_pages_are_public_with_a_strict_policy(api: Any, world: Settings) -> None:
    anon = api.anonymous
    for path, kind in (("/console/console.js", "text/javascript"),
                       ("/console/base.css", "text/css"), ("/m/m.js", "text/javascript"),
                       ("/m/index.html", "text/html")):
        r = anon.http.get(path)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(kind), path
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    index = anon.http.get("/console/index.html").body.decode()
    assert "http://" not in index and "https://" not in index  # no CDN, nothing external
    for bad in ("/console/..%2Fapp.py", "/console/.env", "/m/paver.py", "/console/nope.js"):
        assert anon.http.get(bad).status_code == 404, bad
    assert anon.http.get("/merchants").status_code == 401  # the API still needs a token
