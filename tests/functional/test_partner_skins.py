"""Partner skins through the API: defined with the partner's own logo, validated at the edge,
certified by the four readers (zxing-cpp, OpenCV WeChat, OpenCV QRCodeDetector, zbar), offered
only when certified, rendered for the partner's merchants; tenant isolation."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from paver.aws import client, queue_url
from paver.config import Settings
from paver.emv import decode
from paver.render import decode_image
from paver.storage.models import Code, Merchant, Partner, PartnerSkin
from tests.functional.test_rollout import world  # noqa: F401 - the same partners and merchants

pytestmark = pytest.mark.usefixtures("world")
JSON = {"Content-Type": "application/json"}
PHOTO = Path(__file__).resolve().parents[2] / "paver_dev" / "assets" / "photos" / "DSCN0010.jpg"
LOGO_RED = (200, 30, 40)


def drawn_logo() -> bytes:
    """A transparent PNG logo: a red disc with a white bar (transparency flattened on upload)."""
    image = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 20, 380, 380), fill=(*LOGO_RED, 255))
    draw.rectangle((150, 90, 250, 310), fill=(255, 255, 255, 255))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def photo_logo() -> bytes:
    """A JPEG logo cut from a real camera photo (many colours, JPEG noise)."""
    with Image.open(PHOTO) as photo:
        crop = photo.convert("RGB").crop((200, 100, 520, 420))
    buf = io.BytesIO()
    crop.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def spec(name: str = "acme_red", logo_bytes: bytes | None = None, **over) -> dict:
    body = {
        "name": name, "title": "Acme red", "frame": "sticker", "motif": "kapok",
        "palette": {"module": "#111418", "background": "#FFFFFF", "frame": "#8C1D18",
                    "accent": "#D9534F", "text": "#FFFFFF"},
        "caption": {"zh": "扫码付款", "en": "ACME PAY"},
        "logo": {"image_base64": base64.b64encode(logo_bytes or drawn_logo()).decode(),
                 "fraction": 0.2},
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    return body


def _post(api, path: str, body: dict):
    resp = api.http.post(path, body=json.dumps(body), headers=JSON)
    return resp.status_code, json.loads(resp.body)


def _put(api, path: str, body: dict):
    resp = api.http.put(path, body=json.dumps(body), headers=JSON)
    return resp.status_code, json.loads(resp.body)


def _drain_rollout(cfg: Settings) -> None:
    from paver.rollout import service

    sqs, url = client("sqs", cfg), queue_url("rollout", cfg)
    while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        out = service.process_records([{"messageId": m["MessageId"], "body": m["Body"]}
                                       for m in msgs])
        assert out == {"batchItemFailures": []}
        for m in msgs:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def _png_colors(data: bytes) -> set[tuple[int, int, int]]:
    with Image.open(io.BytesIO(data)) as image:
        return {c for _, c in image.convert("RGB").getcolors(maxcolors=1 << 16)}


def test_partner_skin_with_own_logo_is_certified_and_printed(api, aws: Settings) -> None:
    partner = api.as_("partner", "P1")
    status, body = _post(partner, "/partners/P1/skins", spec())
    assert status == 201, body
    assert body["status"] == "certified" and body["offered"] is True
    assert body["failures"] == []
    # 2 payloads × 7 camera conditions × 4 readers, all read
    assert body["certification"]["cells"] == 56
    assert body["certification"]["readers"] == ["zxing", "wechat", "opencv", "zbar"]
    assert Partner.get("P1").skins == ["acme_red"]

    status, listed = 200, json.loads(partner.http.get("/partners/P1/skins").body)
    assert "acme_red" in listed["offered"]
    status, body = _put(partner, "/partners/P1/default-skin", {"skin": "acme_red"})
    assert status == 200 and body["default_skin"] == "acme_red"
    assert body["skins"][0] == "acme_red"

    assert api.http.post("/campaigns/C1/rollout").status_code == 202
    _drain_rollout(aws)
    code = Code.get("code-M0")
    assert code.skin == "acme_red"
    img = partner.http.get("/codes/code-M0/image", headers={"Accept": "image/png"})
    assert img.status_code == 200
    assert decode_image(Image.open(io.BytesIO(img.body))) == [code.payload]
    assert decode(code.payload).valid
    colors = _png_colors(img.body)
    # the partner's palette and its own logo's red are on the print
    assert (0x8C, 0x1D, 0x18) in colors
    assert any(abs(r - LOGO_RED[0]) < 12 and g < 50 and b < 60 for r, g, b in colors)

    # the merchant chooses among its partner's skins, certified own ones included
    merchant = api.as_("merchant", "M1")
    choices = json.loads(merchant.http.get("/merchants/M1/skins").body)
    assert choices["default_skin"] == "acme_red" and choices["skin"] == "acme_red"
    assert choices["choices"][0] == "acme_red" and "neutral_default" in choices["choices"]
    assert api.as_("merchant", "M0").http.get("/merchants/M1/skins").status_code == 403
    status, view = _put(merchant, "/merchants/M1/skin", {"skin": "neutral_default"})
    assert status == 200 and view["skin"] == "neutral_default"
    status, view = _put(merchant, "/merchants/M1/skin", {"skin": "acme_red"})
    assert status == 200 and view["skin"] == "acme_red"
    assert Merchant.get("M1").skin == "acme_red"
    svg = merchant.http.get("/codes/code-M1/image?format=svg")
    assert svg.status_code == 200 and b"data:image/png;base64," in svg.body


def test_photo_logo_is_validated_by_its_bytes_and_certified(api, aws: Settings) -> None:
    status, body = _post(api, "/partners/P1/skins", spec("photo_logo", photo_logo()))
    assert status == 201, body["failures"][:3]
    assert body["logo_bytes"] < 64 * 1024  # reduced to a small palette PNG


def test_logo_too_large_is_refused_with_failing_cells(api, aws: Settings) -> None:
    partner = api.as_("partner", "P1")
    status, body = _post(partner, "/partners/P1/skins",
                         spec("big_logo", logo={"fraction": 0.38}))
    assert status == 422, body
    assert body["status"] == "refused" and body["offered"] is False
    assert body["failures"], body
    for cell in body["failures"]:
        assert cell["skin"] == "big_logo" and cell["ok"] is False
        assert cell["reader"] in ("zxing", "wechat", "opencv", "zbar")
        assert cell["condition"]
    # never offered: not the default, not a merchant's choice, not in the partner's list
    status, err = _put(partner, "/partners/P1/default-skin", {"skin": "big_logo"})
    assert status == 400 and "refused" in err["Message"]
    status, err = _put(api.as_("merchant", "M0"), "/merchants/M0/skin", {"skin": "big_logo"})
    assert status == 400
    assert "big_logo" not in (Partner.get("P1").skins or [])
    assert "big_logo" not in json.loads(
        api.as_("merchant", "M0").http.get("/merchants/M0/skins").body)["choices"]
    assert json.loads(partner.http.get("/partners/P1/skins/big_logo").body)["status"] == \
        "refused"
    # a refused name may be defined again, and then it is certified
    status, body = _post(partner, "/partners/P1/skins", spec("big_logo"))
    assert status == 201 and body["status"] == "certified"


@pytest.mark.parametrize(("over", "field", "words"), [
    ({"palette": {"module": "#8A8A8A"}}, "palette.module", "below 4.5"),
    ({"palette": {"module": "#FFFFFF", "background": "#111111"}}, "palette.module",
     "darker"),
    ({"palette": {"text": "#8C1D18"}}, "palette.text", "contrast"),
    ({"palette": {"frame": "red"}}, "palette.frame", "pattern"),
    ({"caption": {"zh": "龍鳳呈祥"}}, "caption.zh", "not in the shipped font"),
    ({"caption": {"en": "Café"}}, "caption.en", "pattern"),
    ({"motif": "dragons"}, "motif", "not one of"),
    ({"frame": "banner"}, "frame", "pattern"),
    ({"name": "neutral_default"}, "name", "catalogue skin"),
    ({"name": "Bad Name"}, "name", "pattern"),
    ({"logo": {"fraction": 0.6}}, "logo.fraction", "0.4"),
    ({"unknown": 1}, "unknown", "Extra inputs"),
])
def test_invalid_definitions_get_400_naming_the_field(api, aws: Settings, over: dict,
                                                     field: str, words: str) -> None:
    body = spec(**over)
    status, err = _post(api, "/partners/P1/skins", body)
    assert status == 400, err
    assert field in err["Message"] and words in err["Message"], err["Message"]
    assert list(PartnerSkin.query("P1")) == []


def _png(size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (255, 255, 255)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize(("data", "words"), [
    (b"GIF89a" + b"\x00" * 100, "unsupported_type"),
    (_png((2100, 2100)), "decompression_bomb"),  # 4.4 MP, a few kB of PNG
    (_png((20, 20)), "too small"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "corrupt_image"),
])
def test_logo_bytes_are_checked(api, aws: Settings, data: bytes, words: str) -> None:
    status, err = _post(api, "/partners/P1/skins", spec(logo_bytes=data))
    assert status == 400, err
    assert "logo.image_base64" in err["Message"] and words in err["Message"], err


def test_logo_byte_cap(api, aws: Settings) -> None:
    import numpy as np

    noise = np.random.default_rng(1).integers(0, 255, (430, 430, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, "PNG")
    assert len(buf.getvalue()) > 512 * 1024
    status, err = _post(api, "/partners/P1/skins", spec(logo_bytes=buf.getvalue()))
    assert status == 400 and "logo.image_base64" in err["Message"], err


def test_tenant_isolation(api, aws: Settings) -> None:
    assert _post(api.as_("partner", "P1"), "/partners/P1/skins", spec())[0] == 201
    other = api.as_("partner", "P2")
    for path in ("/partners/P1/skins", "/partners/P1/skins/acme_red",
                 "/partners/P1/skins/no_such_skin"):
        resp = other.http.get(path)
        assert resp.status_code == 403, (path, resp.body)
    assert _post(other, "/partners/P1/skins", spec("mine"))[0] == 403
    assert _put(other, "/partners/P1/default-skin", {"skin": "acme_red"})[0] == 403
    # P2 cannot use P1's skin for itself, nor P2's merchant... P2 has no such skin
    assert _put(other, "/partners/P2/default-skin", {"skin": "acme_red"})[0] == 400
    assert api.as_("merchant", "M0").http.get("/partners/P1/skins").status_code == 403
    # operators see everything, and get 404 for what does not exist
    assert api.http.get("/partners/P1/skins/acme_red").status_code == 200
    assert api.http.get("/partners/P1/skins/no_such_skin").status_code == 404
    assert api.http.get("/partners/P9/skins").status_code == 404
    assert _post(api, "/partners/P9/skins", spec())[0] == 404


def test_queued_certification_answers_pending_then_the_verdict(api, aws: Settings,
                                                               monkeypatch) -> None:
    """Deployed stages queue the certification for the certifier image (SQS)."""
    from functions import skin_certifier

    monkeypatch.setenv("PAVER_SKIN_CERTIFICATION", "queue")
    partner = api.as_("partner", "P1")
    status, body = _post(partner, "/partners/P1/skins", spec())
    assert status == 202 and body["status"] == "pending" and body["offered"] is False
    assert body["links"]["self"] == "/partners/P1/skins/acme_red"
    # pending is not offered
    assert _put(partner, "/partners/P1/default-skin", {"skin": "acme_red"})[0] == 400
    # a retried submit changes nothing
    assert _post(partner, "/partners/P1/skins", spec())[0] == 202
    # another definition under the same name is a conflict
    assert _post(partner, "/partners/P1/skins", spec(motif="waves"))[0] == 409

    sqs, url = client("sqs", aws), queue_url("skin-certify", aws)
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(msgs) == 2
    records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in msgs]
    records.append({"messageId": "junk", "body": "not json"})
    assert skin_certifier.handler({"Records": records}, None) == {"batchItemFailures": []}
    view = json.loads(partner.http.get("/partners/P1/skins/acme_red").body)
    assert view["status"] == "certified" and view["certification"]["cells"] == 56
    assert Partner.get("P1").skins == ["acme_red"]  # the duplicate message added nothing
    assert _put(partner, "/partners/P1/default-skin", {"skin": "acme_red"})[0] == 200


def test_certifier_image_stays_within_its_policy(api, aws: Settings, monkeypatch) -> None:
    """The certifier (container image, outside Chalice) calls only what infra/certifier.py
    grants it, and uses every grant; its SAM resources name the stage's queue."""
    from functions import skin_certifier
    from infra import certifier
    from infra.iam import policy
    from tests.functional.test_iam import Recorder, allowed

    monkeypatch.setenv("PAVER_SKIN_CERTIFICATION", "queue")
    assert _post(api, "/partners/P1/skins", spec())[0] == 202
    sqs, url = client("sqs", aws), queue_url("skin-certify", aws)
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    rec = Recorder()
    rec.install(monkeypatch)
    out = rec.run(lambda: skin_certifier.handler(
        {"Records": [{"messageId": m["MessageId"], "body": m["Body"]} for m in msgs]}, None))
    assert out == {"batchItemFailures": []}
    doc = policy(aws, certifier.CERTIFIER, certifier.ACCESS)
    calls = set(rec.calls)
    assert calls and all(allowed(doc, *c, {}) for c in calls), calls
    # the data key only through the services the certifier's calls reach, and SQS (Lambda
    # polls its queue): AWS uses it on the function's behalf, so no call records it
    [key] = [st for st in doc["Statement"] if st["Sid"] == "DataKey"]
    via = {v["Fn::Sub"].split(".", 1)[0]
           for v in key["Condition"]["StringEquals"]["kms:ViaService"]}
    assert via == {action.split(":", 1)[0] for action, _ in calls} | {"sqs"}, via
    for st in doc["Statement"]:
        if st["Sid"] in ("OwnLogs", "Tracing", "QueueSkinCertify", "DataKey"):  # used by AWS
            continue
        for action in st["Action"]:
            one = {"Statement": [{**st, "Action": [action]}]}
            assert any(allowed(one, *c, {}) for c in calls), (st["Sid"], action)
    from app import app
    from infra.template import merge_template

    stack = merge_template(app, aws)
    res = stack["Resources"]["SkinCertifier"]["Properties"]
    assert res["PackageType"] == "Image" and res["Policies"] == [doc]
    assert res["ImageUri"] == {"Ref": certifier.IMAGE_PARAMETER}
    assert certifier.IMAGE_PARAMETER in stack["Parameters"]
    assert res["Events"]["SkinCertifySqsEventSource"]["Properties"]["Queue"] == {
        "Fn::GetAtt": ["SkinCertifyQueue", "Arn"]}
