"""Every body field is bounded at the edge: oversized, out-of-range, non-ASCII or control input
is a 400 naming the field, never a 500 from DynamoDB or a value that breaks a later step."""

from __future__ import annotations

import json
from typing import Any

import pytest

from paver.config import Settings
from paver.storage.models import Campaign, Merchant, MerchantMetric, Partner

JSON = {"Content-Type": "application/json"}


def _post(api: Any, path: str, body: Any) -> Any:
    return api.http.post(path, headers=JSON, body=json.dumps(body))


def _field_error(resp: Any, field: str) -> None:
    assert resp.status_code == 400, (resp.status_code, resp.body[:200])
    assert json.loads(resp.body)["Message"].startswith(f"{field}"), resp.body[:200]


@pytest.fixture
def partner(aws: Settings) -> Settings:
    Partner(partner_id="P1", name="Bank", kind="city_bank", region="east",
            guid="cn.bank.p1").save()
    Merchant(merchant_id="P1-M1", partner_id="P1", name="Shop", mcc="5812", city="X").save()
    return aws


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "regions": ["e" * 450_000]}, "regions.0"),  # one 450 kB region
    ({"name": "x", "regions": ["e" * 19_000] * 50}, "regions.0"),  # 50 × 19 kB
    ({"name": "x", "regions": ["east"] * 51}, "regions"),
    ({"name": "x", "regions": [""]}, "regions.0"),  # empty region
    ({"name": "x", "regions": ["   "]}, "regions.0"),  # blank after stripping
    ({"name": "Spring\x00sale"}, "name"),  # NUL
    ({"name": "Spring\x1b[31m"}, "name"),  # terminal escape
    ({"name": "Spring\u202esale"}, "name"),  # bidi override
    ({"name": "x", "threshold": 1e-200}, "threshold"),  # below DynamoDB's smallest number
    ({"name": "x", "threshold": True}, "threshold"),
])
def test_campaign_bodies_are_bounded(api: Any, aws: Settings, body: dict, field: str) -> None:
    _field_error(_post(api, "/campaigns", body), field)
    assert Campaign.count() == 0


def test_a_plain_campaign_is_still_created(api: Any, aws: Settings) -> None:
    resp = _post(api, "/campaigns", {"name": "Spring 春季", "regions": ["east", "west"],
                                     "threshold": 55.5})
    assert resp.status_code == 201, resp.body


@pytest.mark.parametrize(("row", "field"), [
    ({"txn_count": 10**300}, "txn_count"),  # out of DynamoDB's (and int64's) range
    ({"txn_count": True}, "txn_count"),
    ({"amount": 1e-200}, "amount"),
    ({"amount": "١٢"}, "amount"),  # Arabic-Indic digits
    ({"month": "٢٠٢٤-05"}, "month"),
    ({"refunds": 10**13}, "refunds"),
])
def test_metric_rows_are_bounded(api: Any, partner: Settings, row: dict, field: str) -> None:
    metric = {"merchant_id": "P1-M1", "month": "2024-05", "txn_count": 1, "amount": 1, **row}
    resp = _post(api, "/partners/P1/merchants", {"metrics": [metric]})
    assert resp.status_code == 200, resp.body
    report = json.loads(resp.body)["metrics"]
    assert report["accepted"] == 0 and report["errors"][0]["field"] == field
    assert MerchantMetric.count() == 0


def test_an_mcc_in_arabic_indic_digits_is_refused(api: Any, partner: Settings) -> None:
    row = {"merchant_id": "P1-M2", "name": "Tea", "mcc": "٥٨١٢", "city": "X"}
    report = json.loads(_post(api, "/partners/P1/merchants", {"merchants": [row]}).body)
    assert report["merchants"]["errors"][0]["field"] == "mcc"
    assert not Merchant.count("P1-M2")


@pytest.mark.parametrize("size", [True, False, "١٠٠٠", 1.5])
def test_photo_size_is_a_plain_integer(api: Any, partner: Settings, size: Any) -> None:
    body = {"content_type": "image/jpeg", "size": size}
    _field_error(_post(api, "/merchants/P1-M1/photos", body), "size")


@pytest.mark.parametrize(("patch", "field"), [
    ({"amount": 1e-200}, "amount"), ({"amount": True}, "amount"),
    ({"currency": "١٥٦"}, "currency"), ({"from_ip": "x" * 60}, "from_ip"),
])
def test_risk_event_fields_are_bounded(api: Any, aws: Settings, patch: dict, field: str) -> None:
    event = {"txn_id": "e1", "timestamp": "2026-11-01T10:00:00Z", "from_account": "A1",
             "to_account": "A2", "amount": 10, **patch}
    _field_error(_post(api, "/risk/screen", event), field)


@pytest.mark.parametrize("path", ["/merchants/M١", "/codes/code-١"])
def test_path_ids_are_ascii(api: Any, aws: Settings, path: str) -> None:
    resp = api.http.get(path)
    assert resp.status_code == 400


def test_progress_of_an_unknown_campaign_is_404(api: Any, aws: Settings) -> None:
    assert api.http.get("/campaigns/nope/progress").status_code == 404
    assert api.http.get("/campaigns/nope/partners").status_code == 404
    Campaign(campaign_id="C1", name="Spring").save()
    resp = api.http.get("/campaigns/C1/progress")
    assert resp.status_code == 200 and json.loads(resp.body)["total"] == 0
