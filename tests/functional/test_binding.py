"""Binding from a store photo: position, visible code, credential, rules, audit."""

from __future__ import annotations

import json

import pytest

from paver.binding import service
from paver.config import Settings
from paver.emv import MerchantAccount, build_aggregated_code
from paver.kyb.photo_gen import make_store_photo, qr_image
from paver.kyb.uscc import generate_uscc
from paver.rollout.service import PLATFORM_GUID, code_id_for
from paver.storage.models import Benefit, BindingAttempt, Code, Merchant

HANGZHOU = (30.2741, 120.1551)


def _merchant(mid: str, uscc: str, lat: float = HANGZHOU[0], lon: float = HANGZHOU[1]) -> str:
    Merchant(merchant_id=mid, partner_id="P1", name=f"Tea shop {mid}", mcc="5814",
             city="Hangzhou", lat=lat, lon=lon, datum="WGS-84", uscc=uscc).save()
    payload = build_aggregated_code(
        platform=MerchantAccount(guid=PLATFORM_GUID, merchant_id=mid),
        partner=MerchantAccount(guid="cn.partner.p1", merchant_id=f"p1-{mid}"),
        merchant_name=f"Tea shop {mid}", merchant_city="Hangzhou", mcc="5814")
    Code(code_id=code_id_for(mid), campaign_id="C1", merchant_id=mid, partner_id="P1",
         payload=payload, skin="default").save()
    return payload


@pytest.fixture
def uscc_pair() -> tuple[str, str]:
    import random

    rng = random.Random(5)
    return generate_uscc(rng), generate_uscc(rng)


def test_good_photo_binds_upgrades_and_grants_once(aws: Settings, uscc_pair) -> None:
    payload = _merchant("M1", uscc_pair[0])
    photo = make_store_photo(HANGZHOU[0] + 0.0005, HANGZHOU[1], qr=qr_image(payload))
    out = service.bind_from_photo("M1", "a" * 32, photo)
    assert out.outcome == "bound", out.reasons
    assert out.level == 1 and out.benefits == ["binding#L1"]
    assert out.evidence["distance_m"] < 100 and out.evidence["qr_matches"]
    m = Merchant.get("M1")
    assert m.bound and m.level == 1
    again = service.bind_from_photo("M1", "b" * 32, photo)
    assert again.outcome == "already_bound" and again.benefits == []
    assert Merchant.get("M1").level == 1
    assert [b.benefit_id for b in Benefit.query("M1")] == ["binding#L1"]
    assert {a.attempt_id for a in BindingAttempt.query("M1")} == {"a" * 32, "b" * 32}


def test_refusals_name_their_reasons(aws: Settings, uscc_pair) -> None:
    payload_1 = _merchant("M1", uscc_pair[0])
    _merchant("M2", uscc_pair[1])
    far = make_store_photo(31.2304, 121.4737, qr=qr_image(payload_1))  # Shanghai, ~160 km
    assert [r["code"] for r in service.bind_from_photo("M1", "1" * 32, far).reasons] == [
        "too_far"]
    no_gps = make_store_photo(None, None, qr=qr_image(payload_1))
    out = service.bind_from_photo("M1", "2" * 32, no_gps)
    assert [r["code"] for r in out.reasons] == ["no_position"] and out.reasons[0]["retry"]
    wrong_code = make_store_photo(*HANGZHOU, qr=qr_image(payload_1))
    out = service.bind_from_photo("M2", "3" * 32, wrong_code)
    assert [r["code"] for r in out.reasons] == ["qr_other_merchant"]
    assert out.evidence["qr_merchants"] == ["M1"]
    not_a_photo = service.bind_from_photo("M1", "4" * 32, b"GIF89a not a store photo")
    assert "photo_unreadable" in [r["code"] for r in not_a_photo.reasons]
    assert not Merchant.get("M1").bound and not Merchant.get("M2").bound
    assert len(list(BindingAttempt.query("M1"))) == 3


def test_invalid_or_taken_credential_is_refused(aws: Settings, uscc_pair) -> None:
    p1 = _merchant("M1", uscc_pair[0])
    p2 = _merchant("M2", uscc_pair[0])  # same credential as M1
    p3 = _merchant("M3", uscc_pair[1][:-1] + ("0" if uscc_pair[1][-1] != "0" else "1"))
    assert service.bind_from_photo("M1", "1" * 32,
                                   make_store_photo(*HANGZHOU, qr=qr_image(p1))).outcome == "bound"
    out = service.bind_from_photo("M2", "2" * 32, make_store_photo(*HANGZHOU, qr=qr_image(p2)))
    assert [r["code"] for r in out.reasons] == ["credential_taken"]
    out = service.bind_from_photo("M3", "3" * 32, make_store_photo(*HANGZHOU, qr=qr_image(p3)))
    assert [r["code"] for r in out.reasons] == ["uscc_invalid"]


def test_one_credential_written_two_ways_is_claimed_once(aws: Settings, uscc_pair) -> None:
    code = uscc_pair[0]
    grouped = f"{code[:4]}-{code[4:8]}-{code[8:12]} {code[12:]}".lower()  # as printed
    p1 = _merchant("M1", code)
    p2 = _merchant("M2", grouped)
    assert service.bind_from_photo("M1", "1" * 32,
                                   make_store_photo(*HANGZHOU, qr=qr_image(p1))).outcome == "bound"
    out = service.bind_from_photo("M2", "2" * 32, make_store_photo(*HANGZHOU, qr=qr_image(p2)))
    assert [r["code"] for r in out.reasons] == ["credential_taken"]


def test_presigned_upload_then_notification_binds(api, aws: Settings, uscc_pair) -> None:
    payload = _merchant("M1", uscc_pair[0])
    photo = make_store_photo(*HANGZHOU, qr=qr_image(payload))
    resp = api.http.post("/merchants/M1/photos", headers={"Content-Type": "application/json"},
                         body=json.dumps({"content_type": "image/jpeg", "size": len(photo)}))
    assert resp.status_code == 201
    upload = json.loads(resp.body)
    assert upload["key"].startswith("photos/M1/") and upload["fields"]["Content-Type"] == \
        "image/jpeg"
    # moto's in-process mock intercepts requests made through botocore only: upload via boto3
    # the way S3 would store the POSTed object, then deliver the notification.
    from paver.aws import client

    client("s3", aws).put_object(Bucket=aws.bucket_name("photos"), Key=upload["key"],
                                 Body=photo, ContentType="image/jpeg")
    event = {"Records": [{"s3": {"bucket": {"name": aws.bucket_name("photos")},
                                 "object": {"key": upload["key"]}}}]}
    out = api.lambda_.invoke("binding", event).payload
    assert out["results"][0]["outcome"] == "bound"
    attempts = json.loads(api.http.get("/merchants/M1/attempts").body)["attempts"]
    assert attempts[0]["outcome"] == "bound"
    view = json.loads(api.http.get("/merchants/M1").body)
    assert view["bound"] and view["level"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [({"content_type": "image/gif", "size": 10}, "content_type"),
     ({"content_type": "image/jpeg", "size": 0}, "size"),
     ({"content_type": "image/jpeg", "size": 10**9}, "size")],
)
def test_upload_request_is_validated(api, aws: Settings, uscc_pair, body, field) -> None:
    _merchant("M1", uscc_pair[0])
    resp = api.http.post("/merchants/M1/photos", headers={"Content-Type": "application/json"},
                         body=json.dumps(body))
    assert resp.status_code == 400 and field in json.loads(resp.body)["Message"]


def test_bad_key_is_rejected_not_retried(aws: Settings) -> None:
    from functions.binding import on_photo_uploaded

    out = on_photo_uploaded({"Records": [{"s3": {"bucket": {"name": "b"},
                                                  "object": {"key": "photos/../etc"}}}]}, None)
    assert out["results"][0]["outcome"] == "rejected"


def test_binding_never_lowers_a_level(aws: Settings, uscc_pair) -> None:
    payload = _merchant("M9", uscc_pair[0])
    m = Merchant.get("M9")
    m.update(actions=[Merchant.level.set(3)])
    out = service.bind_from_photo("M9", "9" * 32, make_store_photo(*HANGZHOU,
                                                                   qr=qr_image(payload)))
    assert out.outcome == "bound" and out.level == 3
    assert Merchant.get("M9").level == 3


def test_retried_binding_grants_a_benefit_lost_by_the_first_run(aws: Settings, uscc_pair,
                                                               monkeypatch) -> None:
    payload = _merchant("M5", uscc_pair[0])
    photo = make_store_photo(*HANGZHOU, qr=qr_image(payload))

    def crash(*args, **kwargs):  # the first run dies after binding, before the grant
        raise RuntimeError("throttled")

    with monkeypatch.context() as m:
        m.setattr(service, "grant_once", crash)
        with pytest.raises(RuntimeError):
            service.bind_from_photo("M5", "5" * 32, photo)
    assert Merchant.get("M5").bound and not list(Benefit.query("M5"))
    again = service.bind_from_photo("M5", "5" * 32, photo)  # S3 retries the same event
    assert again.outcome == "already_bound" and again.benefits == ["binding#L1"]
    assert [b.benefit_id for b in Benefit.query("M5")] == ["binding#L1"]


def test_a_payload_that_merely_names_the_merchant_is_not_its_code(aws: Settings,
                                                                  uscc_pair) -> None:
    _merchant("M6", uscc_pair[0])
    forged = build_aggregated_code(
        platform=MerchantAccount(guid=PLATFORM_GUID, merchant_id="M6"),
        partner=MerchantAccount(guid="cn.other.pay", merchant_id="X"),
        merchant_name="Forged", merchant_city="Hangzhou", mcc="5814")
    out = service.bind_from_photo("M6", "6" * 32,
                                  make_store_photo(*HANGZHOU, qr=qr_image(forged)))
    assert [r["code"] for r in out.reasons] == ["qr_other_merchant"]
