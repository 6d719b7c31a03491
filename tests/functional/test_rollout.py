"""Rollout: SQS fan-out, codes issued once, rendered, scanned back, tracked, re-skinned."""

from __future__ import annotations

import json

import pytest

from paver.aws import client, queue_url
from paver.config import Settings, settings
from paver.emv import decode
from paver.render import decode_image
from paver.rollout import service
from paver.storage.models import Campaign, Code, Merchant, Partner, Selection

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def world(aws: Settings) -> Settings:
    Partner(partner_id="P1", name="Hangzhou City Bank", kind="city_bank", region="east",
            guid="cn.hzbank.pay").save()
    Partner(partner_id="P2", name="Rural Coop", kind="rural_bank", region="west",
            guid="cn.ruralcoop.pay").save()
    for i in range(3):
        Merchant(merchant_id=f"M{i}", partner_id="P1", name=f"Dumpling Bar {i}", mcc="5812",
                 city="Hangzhou", name_zh=f"饺子馆{i}", city_zh="杭州",
                 partner_merchant_id=f"HZB{i:04d}").save()
    Merchant(merchant_id="X1", partner_id="P2", name="Farm shop", mcc="5411",
             city="Lanzhou").save()
    Campaign(campaign_id="C1", name="Spring").save()
    for pid, sel in (("P1", True), ("P2", False)):
        Selection(campaign_id="C1", partner_id=pid, trust_score=80 if sel else 40,
                  scores={}, tier="A" if sel else "C", selected=sel).save()
    return aws


def _drain(cfg: Settings) -> list[dict]:
    sqs = client("sqs", cfg)
    url = queue_url("rollout", cfg)
    responses = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return responses
        responses.append(service.process_records(
            [{"messageId": m["MessageId"], "body": m["Body"]} for m in msgs]))
        for m in msgs:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_rollout_issues_each_selected_merchant_once(api, world: Settings) -> None:
    resp = api.http.post("/campaigns/C1/rollout")
    assert resp.status_code == 202
    assert json.loads(resp.body) == {"campaign_id": "C1", "partners": 1, "merchants": 3,
                                     "messages": 1}
    assert _drain(world) == [{"batchItemFailures": []}]
    codes = {c.merchant_id: c for c in Code.by_campaign.query("C1")}
    assert set(codes) == {"M0", "M1", "M2"}  # P2 was not selected
    first_issue = {m: c.issued_at for m, c in codes.items()}
    parsed = decode(codes["M1"].payload)
    assert parsed.valid and parsed.conformant
    assert [(a.guid, a.merchant_id) for a in parsed.merchant_accounts] == [
        (settings().platform_guid, "M1"), ("cn.hzbank.pay", "HZB0001")]
    assert parsed.language and parsed.language.merchant_name == "饺子馆1"
    png = api.http.get(f"/codes/{codes['M1'].code_id}/image", headers={"Accept": "image/png"})
    assert png.status_code == 200 and png.headers["Content-Type"] == "image/png"
    import io

    from PIL import Image

    assert decode_image(Image.open(io.BytesIO(png.body))) == [codes["M1"].payload]
    svg = api.http.get(f"/codes/{codes['M1'].code_id}/image?format=svg")
    assert svg.body.startswith(b"<svg") or b"<svg" in svg.body[:200]
    # Re-running the rollout issues nothing twice.
    assert api.http.post("/campaigns/C1/rollout").status_code == 202
    _drain(world)
    again = {c.merchant_id: c.issued_at for c in Code.by_campaign.query("C1")}
    assert again == first_issue
    progress = json.loads(api.http.get("/campaigns/C1/progress").body)
    assert progress["by_status"] == {"issued": 3, "shipped": 0, "installed": 0, "active": 0}


def test_status_moves_only_forward_one_step(api, world: Settings) -> None:
    service.issue_codes("C1", "P1", ["M0"])
    cid = service.code_id_for("M0")
    ok = api.http.put(f"/codes/{cid}/status", body=json.dumps({"status": "shipped"}),
                      headers=JSON)
    assert ok.status_code == 200 and json.loads(ok.body)["status"] == "shipped"
    skip = api.http.put(f"/codes/{cid}/status", body=json.dumps({"status": "active"}),
                        headers=JSON)
    assert skip.status_code == 409 and "not allowed" in json.loads(skip.body)["Message"]
    same = api.http.put(f"/codes/{cid}/status", body=json.dumps({"status": "shipped"}),
                        headers=JSON)
    assert same.status_code == 200  # a retried request answers the code unchanged
    back = api.http.put(f"/codes/{cid}/status", body=json.dumps({"status": "issued"}),
                        headers=JSON)
    assert back.status_code == 409
    bad = api.http.put(f"/codes/{cid}/status", body=json.dumps({"status": "lost"}),
                       headers=JSON)
    assert bad.status_code == 400 and "status" in json.loads(bad.body)["Message"]
    assert [h["status"] for h in json.loads(api.http.get(f"/codes/{cid}").body)["history"]] == [
        "issued", "shipped"]


def test_merchant_chooses_a_skin_from_its_partners_set(api, world: Settings) -> None:
    service.issue_codes("C1", "P1", ["M2"])
    allowed = service.allowed_skins(Partner.get("P1"))
    other = next(s for s in allowed if s != Code.get(service.code_id_for("M2")).skin)
    resp = api.http.put("/merchants/M2/skin", body=json.dumps({"skin": other}), headers=JSON)
    assert resp.status_code == 200 and json.loads(resp.body)["skin"] == other
    assert Merchant.get("M2").skin == other
    from paver.skins import load_skins

    outside = next(n for n in load_skins() if n not in allowed)
    refused = api.http.put("/merchants/M2/skin", body=json.dumps({"skin": outside}),
                           headers=JSON)
    assert refused.status_code == 400 and "skin" in json.loads(refused.body)["Message"]


def test_unknown_ids_and_unselected_campaigns(api, world: Settings) -> None:
    assert api.http.post("/campaigns/NOPE/rollout").status_code == 404
    Campaign(campaign_id="C2", name="Empty").save()
    resp = api.http.post("/campaigns/C2/rollout")
    # a state conflict (run the selection first), not a bad request: the body was valid
    assert resp.status_code == 409 and "selected" in json.loads(resp.body)["Message"]
    assert api.http.get("/codes/code-NOPE").status_code == 404
    assert api.http.get("/codes/bad%20id").status_code == 400


def test_worker_reports_only_failed_messages(world: Settings, monkeypatch) -> None:
    real = service.issue_codes

    def flaky(campaign_id, partner_id, ids, cfg=None):
        if "M1" in ids:
            raise RuntimeError("S3 throttled")
        return real(campaign_id, partner_id, ids, cfg)

    monkeypatch.setattr(service, "issue_codes", flaky)
    out = service.process_records([
        {"messageId": "a", "body": json.dumps({"campaign_id": "C1", "partner_id": "P1",
                                               "merchant_ids": ["M0"]})},
        {"messageId": "b", "body": json.dumps({"campaign_id": "C1", "partner_id": "P1",
                                               "merchant_ids": ["M1"]})},
        {"messageId": "c", "body": "{not json"},
    ])
    assert out == {"batchItemFailures": [{"itemIdentifier": "b"}]}
    assert [c.merchant_id for c in Code.by_campaign.query("C1")] == ["M0"]


def _dead_letters(cfg: Settings) -> list[tuple[dict | str, str]]:
    """(body, reason) of every message on the rollout dead-letter queue."""
    sqs, url = client("sqs", cfg), queue_url("rollout-dlq", cfg)
    out = []
    while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                      MessageAttributeNames=["All"]).get("Messages", []):
        for m in msgs:
            try:
                body = json.loads(m["Body"])
            except ValueError:
                body = m["Body"]
            out.append((body, m["MessageAttributes"]["reason"]["StringValue"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


@pytest.mark.parametrize(("message", "reason"), [
    ({"campaign_id": "NOPE", "partner_id": "P1", "merchant_ids": ["M0"]},
     "campaign 'NOPE' not found"),
    ({"campaign_id": "C1", "partner_id": "P2", "merchant_ids": ["X1"]},  # not selected
     "partner_id: 'P2' was not selected for campaign 'C1'"),
    ({"campaign_id": "C1", "partner_id": "P9", "merchant_ids": ["M0"]},  # no such partner
     "partner_id: 'P9' was not selected"),
    ({"campaign_id": "C1", "merchant_ids": ["M0"]}, "partner_id: required string"),
    ("{not json", "body: not JSON"),
])
def test_a_message_that_cannot_succeed_goes_straight_to_the_dlq_with_its_reason(
        world: Settings, caplog: pytest.LogCaptureFixture, message, reason: str) -> None:
    body = message if isinstance(message, str) else json.dumps(message)
    out = service.process_records([{"messageId": "m1", "body": body}])
    assert out == {"batchItemFailures": []}  # not retried ...
    [(dead_body, dead_reason)] = _dead_letters(world)  # ... but dead-lettered at once
    assert dead_reason.startswith(reason) and dead_body == message
    assert not list(Code.scan())  # no code for an unknown campaign or unselected partner
    assert "Traceback" not in caplog.text


def test_merchants_that_cannot_get_a_code_are_dead_lettered_the_rest_issued(
        world: Settings) -> None:
    out = service.process_records([{"messageId": "m1", "body": json.dumps(
        {"campaign_id": "C1", "partner_id": "P1", "merchant_ids": ["M0", "X1", "M9"]})}])
    assert out == {"batchItemFailures": []}
    assert [c.merchant_id for c in Code.scan()] == ["M0"]
    [(body, reason)] = _dead_letters(world)
    assert body == {"campaign_id": "C1", "partner_id": "P1", "merchant_ids": ["M9", "X1"]}
    assert "M9: merchant not found for this partner" in reason


def test_merchant_of_another_partner_is_refused(world: Settings) -> None:
    res = service.issue_codes("C1", "P1", ["X1", "M0"])
    assert res.issued == ["M0"] and "X1" in res.failed
