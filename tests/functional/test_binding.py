"""Binding from a store photo: position, visible code, credential, rules, audit."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from paver.binding import service
from paver.config import Settings, settings
from paver.emv import MerchantAccount, build_aggregated_code
from paver.kyb.uscc import generate_uscc
from paver.rollout.service import code_id_for
from paver.storage.models import Benefit, BindingAttempt, Code, Merchant
from paver_dev.photo_gen import make_store_photo, qr_image

HANGZHOU = (30.2741, 120.1551)
CST = timezone(timedelta(hours=8))
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exif"


def _shot(lat: float | None, lon: float | None, payload: str, seed: int = 0,
          age: timedelta = timedelta(minutes=10)) -> bytes:
    """A store photo taken ``age`` ago (EXIF local time, China), showing ``payload``'s code."""
    taken = (datetime.now(CST) - age).replace(tzinfo=None)
    return make_store_photo(lat, lon, qr=qr_image(payload), seed=seed, taken_at=taken)


def _merchant(mid: str, uscc: str, lat: float = HANGZHOU[0], lon: float = HANGZHOU[1]) -> str:
    Merchant(merchant_id=mid, partner_id="P1", name=f"Tea shop {mid}", mcc="5814",
             city="Hangzhou", lat=lat, lon=lon, datum="WGS-84", uscc=uscc).save()
    payload = build_aggregated_code(
        platform=MerchantAccount(guid=settings().platform_guid, merchant_id=mid),
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
    photo = _shot(HANGZHOU[0] + 0.0005, HANGZHOU[1], payload)
    out = service.bind_from_photo("M1", "a" * 32, photo)
    assert out.outcome == "bound", out.reasons
    assert out.level == 1 and out.benefits == ["binding#L1"]
    assert (out.previous_level, out.upgraded) == (0, True)
    assert out.evidence["distance_m"] < 100 and out.evidence["qr_matches"]
    m = Merchant.get("M1")
    assert m.bound and m.level == 1
    # the photo that proves installation moves the code issued → … → active, as evidence
    code = Code.get(code_id_for("M1"))
    assert out.code_status == code.status == "active"
    assert [h["status"] for h in code.history] == ["shipped", "installed", "active"]
    assert all(h["evidence"]["attempt_id"] == "a" * 32 for h in code.history)
    benefit = Benefit.get("M1", "binding#L1")
    assert benefit.reason == "bound and upgraded from L0 to L1"
    again = service.bind_from_photo("M1", "b" * 32, photo)
    assert again.outcome == "already_bound" and again.benefits == []
    assert Merchant.get("M1").level == 1
    assert [b.benefit_id for b in Benefit.query("M1")] == ["binding#L1"]
    assert {a.attempt_id for a in BindingAttempt.query("M1")} == {"a" * 32, "b" * 32}


def test_refusals_name_their_reasons(aws: Settings, uscc_pair) -> None:
    payload_1 = _merchant("M1", uscc_pair[0])
    _merchant("M2", uscc_pair[1])
    far = _shot(31.2304, 121.4737, payload_1, seed=1)  # Shanghai, ~160 km
    assert [r["code"] for r in service.bind_from_photo("M1", "1" * 32, far).reasons] == [
        "too_far"]
    no_gps = _shot(None, None, payload_1, seed=2)
    out = service.bind_from_photo("M1", "2" * 32, no_gps)
    assert [r["code"] for r in out.reasons] == ["no_position"] and out.reasons[0]["retry"]
    wrong_code = _shot(*HANGZHOU, payload_1, seed=3)
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
    assert service.bind_from_photo("M1", "1" * 32, _shot(*HANGZHOU, p1, seed=1)).outcome == \
        "bound"
    out = service.bind_from_photo("M2", "2" * 32, _shot(*HANGZHOU, p2, seed=2))
    assert [r["code"] for r in out.reasons] == ["credential_taken"]
    out = service.bind_from_photo("M3", "3" * 32, _shot(*HANGZHOU, p3, seed=3))
    assert [r["code"] for r in out.reasons] == ["uscc_invalid"]


def test_one_credential_written_two_ways_is_claimed_once(aws: Settings, uscc_pair) -> None:
    code = uscc_pair[0]
    grouped = f"{code[:4]}-{code[4:8]}-{code[8:12]} {code[12:]}".lower()  # as printed
    p1 = _merchant("M1", code)
    p2 = _merchant("M2", grouped)
    assert service.bind_from_photo("M1", "1" * 32, _shot(*HANGZHOU, p1, seed=1)).outcome == \
        "bound"
    out = service.bind_from_photo("M2", "2" * 32, _shot(*HANGZHOU, p2, seed=2))
    assert [r["code"] for r in out.reasons] == ["credential_taken"]


def test_presigned_upload_then_notification_binds(api, aws: Settings, uscc_pair) -> None:
    payload = _merchant("M1", uscc_pair[0])
    photo = _shot(*HANGZHOU, payload)
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
    out = service.bind_from_photo("M9", "9" * 32, _shot(*HANGZHOU, payload))
    assert out.outcome == "bound" and out.level == 3
    assert Merchant.get("M9").level == 3
    # already at the top: bound and its code active, but no "upgrade" benefit without one
    assert (out.upgraded, out.benefits, out.code_status) == (False, [], "active")
    assert list(Benefit.query("M9")) == []


def test_retried_binding_grants_a_benefit_lost_by_the_first_run(aws: Settings, uscc_pair,
                                                               monkeypatch) -> None:
    payload = _merchant("M5", uscc_pair[0])
    photo = _shot(*HANGZHOU, payload)

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
        platform=MerchantAccount(guid=settings().platform_guid, merchant_id="M6"),
        partner=MerchantAccount(guid="cn.other.pay", merchant_id="X"),
        merchant_name="Forged", merchant_city="Hangzhou", mcc="5814")
    out = service.bind_from_photo("M6", "6" * 32, _shot(*HANGZHOU, forged))
    assert [r["code"] for r in out.reasons] == ["qr_other_merchant"]


def test_photo_of_the_served_print_binds_its_merchant_only(api, aws: Settings,
                                                           uscc_pair) -> None:
    """A phone photo of the real print (``GET /codes/{id}/image``, Chinese name, ECI 26) in a
    real scene, with perspective, scale and JPEG: it binds its merchant, and nobody else."""
    import io

    from PIL import Image, ImageFilter

    from paver.rollout import service as rollout
    from paver.storage.models import Partner

    Partner(partner_id="P1", name="Hangzhou City Bank", kind="city_bank", region="east",
            guid="cn.hzbank.pay").save()
    for mid, uscc in (("M1", uscc_pair[0]), ("M2", uscc_pair[1])):
        Merchant(merchant_id=mid, partner_id="P1", name=f"Tea shop {mid}", mcc="5814",
                 city="Hangzhou", name_zh=f"西湖龙井茶社{mid}", city_zh="杭州",
                 lat=HANGZHOU[0], lon=HANGZHOU[1], datum="WGS-84", uscc=uscc).save()
    assert rollout.issue_codes("C1", "P1", ["M1", "M2"], aws).issued == ["M1", "M2"]
    served = api.http.get(f"/codes/{code_id_for('M1')}/image", headers={"Accept": "image/png"})
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/png"
    print_png = served.body
    taken = (datetime.now(CST) - timedelta(minutes=10)).replace(tzinfo=None)  # a fresh photo
    photo = make_store_photo(HANGZHOU[0] + 0.0004, HANGZHOU[1], printed=print_png, seed=3,
                             quality=75, taken_at=taken)
    with Image.open(io.BytesIO(photo)) as opened:
        assert opened.size == (1600, 1200) and opened.format == "JPEG"

    other = service.bind_from_photo("M2", "c" * 32, photo)
    assert other.outcome == "refused"
    assert [r["code"] for r in other.reasons] == ["qr_other_merchant"]
    assert other.evidence["qr_merchants"] == ["M1"]

    own = service.bind_from_photo("M1", "d" * 32, photo)
    assert own.outcome == "bound", own.reasons
    assert own.evidence["qr_matches"] and own.level == 1

    with Image.open(io.BytesIO(print_png)) as sheet:
        smudged = sheet.convert("RGB").filter(ImageFilter.GaussianBlur(9))
    unreadable = make_store_photo(*HANGZHOU, printed=smudged, seed=4, taken_at=taken)
    out = service.bind_from_photo("M2", "e" * 32, unreadable)
    assert [r["code"] for r in out.reasons] == ["qr_not_found"]
    assert not Merchant.get("M2").bound


def _codes(out: service.BindingOutcome) -> list[str]:
    return [r["code"] for r in out.reasons]


def _upload(api, aws: Settings, merchant_id: str, photo: bytes, **device: float) -> dict:
    """Ask for the presigned upload (with the phone's position), store the photo, notify."""
    from paver.aws import client

    resp = api.http.post(f"/merchants/{merchant_id}/photos",
                         headers={"Content-Type": "application/json"},
                         body=json.dumps({"content_type": "image/jpeg", "size": len(photo),
                                          **device}))
    assert resp.status_code == 201, resp.body
    key = json.loads(resp.body)["key"]
    client("s3", aws).put_object(Bucket=aws.bucket_name("photos"), Key=key, Body=photo,
                                 ContentType="image/jpeg")
    event = {"Records": [{"s3": {"bucket": {"name": aws.bucket_name("photos")},
                                 "object": {"key": key}}}]}
    return api.lambda_.invoke("binding", event).payload["results"][0]


def test_a_photo_reused_for_a_second_merchant_is_refused(aws: Settings, uscc_pair) -> None:
    """The same picture, even re-encoded smaller, cannot bind a second shop."""
    import io

    from PIL import Image

    p1 = _merchant("M1", uscc_pair[0])
    _merchant("M2", uscc_pair[1])
    photo = _shot(*HANGZHOU, p1, seed=4)
    assert service.bind_from_photo("M1", "1" * 32, photo).outcome == "bound"
    out = service.bind_from_photo("M2", "2" * 32, photo)
    assert "photo_reused" in _codes(out)
    assert out.evidence["reused_by"] == ["M1"] and out.evidence["reuse_distance"] == 0
    reason = next(r["reason"] for r in out.reasons if r["code"] == "photo_reused")
    assert "another merchant" in reason
    smaller = io.BytesIO()
    Image.open(io.BytesIO(photo)).resize((480, 360)).save(
        smaller, "JPEG", quality=60, exif=Image.open(io.BytesIO(photo)).info["exif"])
    again = service.bind_from_photo("M2", "3" * 32, smaller.getvalue())
    assert "photo_reused" in _codes(again) and again.evidence["reuse_distance"] <= 6
    assert not Merchant.get("M2").bound
    # the same merchant sending its own photo again is no reuse; nor is another shop's photo
    assert "photo_reused" not in _codes(service.bind_from_photo("M1", "4" * 32, photo))
    other = service.bind_from_photo("M2", "5" * 32, _shot(*HANGZHOU, p1, seed=5))
    assert "photo_reused" not in _codes(other)
    assert other.evidence["reuse_distance"] is None or other.evidence["reuse_distance"] > 6


def test_upload_position_5_km_from_the_exif_is_refused(api, aws: Settings, uscc_pair) -> None:
    """EXIF says the shop; the phone that uploads says 5 km away: refused, with the reason."""
    payload = _merchant("M1", uscc_pair[0])
    photo = _shot(*HANGZHOU, payload)
    five_km_north = HANGZHOU[0] + 5.0 / 111.2
    out = _upload(api, aws, "M1", photo, device_lat=five_km_north, device_lon=HANGZHOU[1],
                  device_accuracy_m=50)
    assert out["outcome"] == "refused"
    assert {r["code"] for r in out["reasons"]} == {"device_far_from_photo",
                                                   "device_far_from_address"}
    assert 4_800 < out["evidence"]["device_exif_m"] < 5_000  # 5 km less the 50 m accuracy
    assert not Merchant.get("M1").bound
    attempts = json.loads(api.http.get("/merchants/M1/attempts").body)["attempts"]
    assert set(attempts[0]["reasons"]) == {"device_far_from_photo", "device_far_from_address"}
    # the phone at the shop (a coarse 300 m fix, 200 m off) binds
    near = _upload(api, aws, "M1", photo, device_lat=HANGZHOU[0] + 0.0018,
                   device_lon=HANGZHOU[1], device_accuracy_m=300)
    assert near["outcome"] == "bound", near["reasons"]
    assert near["evidence"]["device_exif_m"] == 0.0
    assert Code.get(code_id_for("M1")).history[-1]["evidence"]["photo_key"].startswith(
        "photos/M1/")


def test_capture_time_against_upload_time(aws: Settings, uscc_pair) -> None:
    payload = _merchant("M1", uscc_pair[0])
    old = service.bind_from_photo("M1", "1" * 32,
                                  _shot(*HANGZHOU, payload, seed=1, age=timedelta(days=5)))
    assert _codes(old) == ["photo_stale"] and old.reasons[0]["retry"]
    assert 119 < old.evidence["capture_age_h"] < 121
    future = service.bind_from_photo("M1", "2" * 32,
                                     _shot(*HANGZHOU, payload, seed=2, age=-timedelta(hours=3)))
    assert _codes(future) == ["capture_after_upload"]
    # the upload time is when the photo reached storage, not when it is checked
    late = service.bind_from_photo("M1", "3" * 32,
                                   _shot(*HANGZHOU, payload, seed=3, age=timedelta(days=5)),
                                   uploaded_at=datetime.now(CST) - timedelta(days=4, hours=23))
    assert late.outcome == "bound", late.reasons


def test_exif_written_by_editing_software_is_refused(aws: Settings, uscc_pair) -> None:
    """Real photos: one saved by GIMP (Software tag), one straight from a Nikon transfer."""
    _merchant("M1", uscc_pair[0])
    edited = service.bind_from_photo("M1", "1" * 32, (FIXTURES / "Canon_40D.jpg").read_bytes())
    assert "photo_edited" in _codes(edited)
    assert (edited.evidence["software"], edited.evidence["edited_by"]) == ("GIMP 2.4.5", "GIMP")
    camera = service.bind_from_photo("M1", "2" * 32, (FIXTURES / "DSCN0010.jpg").read_bytes())
    assert "photo_edited" not in _codes(camera)
    assert camera.evidence["software"] == "Nikon Transfer 1.1 W"
    assert "photo_stale" in _codes(camera)  # taken in 2008


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"device_lat": 91, "device_lon": 120, "device_accuracy_m": 5}, "device_lat"),
     ({"device_lat": 30, "device_lon": -181, "device_accuracy_m": 5}, "device_lon"),
     ({"device_lat": 30, "device_lon": 120, "device_accuracy_m": 50_000}, "device_accuracy_m"),
     ({"device_lat": 30, "device_lon": 120}, "device_accuracy_m"),
     ({"device_lon": 120, "device_accuracy_m": 5}, "device_lat")],
)
def test_upload_position_is_validated(api, aws: Settings, uscc_pair, extra, field) -> None:
    _merchant("M1", uscc_pair[0])
    resp = api.http.post("/merchants/M1/photos", headers={"Content-Type": "application/json"},
                         body=json.dumps({"content_type": "image/jpeg", "size": 10, **extra}))
    assert resp.status_code == 400 and field in json.loads(resp.body)["Message"]
