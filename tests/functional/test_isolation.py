"""Authentication and tenant isolation, route by route: 401 vs 403, expiry, forgery."""

from __future__ import annotations

import json

import jwt
import pytest

from paver.auth import issue_token
from paver.config import Settings
from paver.rollout import service
from paver.storage.models import Campaign, Merchant, Partner, Selection

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def tenants(aws: Settings) -> Settings:
    for pid, region in (("PA", "east"), ("PB", "south")):
        Partner(partner_id=pid, name=f"Bank {pid}", kind="city_bank", region=region,
                guid=f"cn.bank.{pid.lower()}").save()
    for mid, pid in (("MA", "PA"), ("MB", "PB")):
        Merchant(merchant_id=mid, partner_id=pid, name=f"Shop {mid}", mcc="5812",
                 city="Hangzhou", lat=30.27, lon=120.15).save()
    Campaign(campaign_id="C1", name="Spring").save()
    Selection(campaign_id="C1", partner_id="PA", trust_score=80, scores={}, tier="A",
              selected=True).save()
    service.issue_codes("C1", "PA", ["MA"])
    Selection(campaign_id="C1", partner_id="PB", trust_score=80, scores={}, tier="A",
              selected=True).save()
    service.issue_codes("C1", "PB", ["MB"])
    return aws


# (method, path, body) of every route that touches merchant MB / partner PB / campaigns.
FOREIGN = [
    ("GET", "/merchants/MB", None),
    ("GET", "/merchants/MB/benefits", None),
    ("GET", "/merchants/MB/attempts", None),
    ("POST", "/merchants/MB/photos", {"content_type": "image/jpeg", "size": 1000}),
    ("PUT", "/merchants/MB/skin", {"skin": "neutral_default"}),
    ("POST", "/transactions", {"idempotency_key": "k-00000001", "merchant_id": "MB",
                               "amount": "1.00"}),
    ("GET", "/codes/code-MB", None),
    ("GET", "/codes/code-MB/image", None),
    ("PUT", "/codes/code-MB/status", {"status": "shipped"}),
    ("GET", "/partners/PB/score", None),
    ("POST", "/partners/PB/merchants", {"merchants": []}),
    ("GET", "/merchants/NOPE", None),
]
OPERATOR_ONLY = [
    ("POST", "/campaigns", {"name": "x", "regions": ["east"]}),
    ("POST", "/campaigns/C1/selection", None),
    ("GET", "/campaigns/C1/partners", None),
    ("POST", "/campaigns/C1/rollout", None),
    ("GET", "/campaigns/C1/progress", None),
    ("POST", "/risk/screen", {"txn_id": "t1", "timestamp": "2026-11-01T10:00:00Z",
                              "from_account": "A000001", "to_account": "A000002",
                              "amount": 10}),
    ("GET", "/risk/scenes", None),
    ("POST", "/risk/scenes/build", {"transactions_key": "t.csv", "labels_key": "l.csv"}),
]


def _call(client, method: str, path: str, body) -> int:
    kw = {"headers": JSON, "body": json.dumps(body)} if body is not None else {}
    return client.http.request(method, path, **kw).status_code


@pytest.mark.parametrize(("role", "pid", "expected"), [
    (None, "", 401),  # no credential at all
    ("partner", "PA", 403),  # partner A on partner B's merchants, codes and on campaigns
    ("merchant", "MA", 403),  # merchant A on merchant B and on campaigns
])
def test_every_route_refuses_the_wrong_principal(api, tenants, role: str | None, pid: str,
                                                 expected: int) -> None:
    client = api.as_(role, pid) if role else api.anonymous
    got = {f"{m} {p}": _call(client, m, p, b) for m, p, b in FOREIGN + OPERATOR_ONLY}
    assert got == dict.fromkeys(got, expected)


def test_own_resources_are_reachable(api, tenants) -> None:
    partner, merchant = api.as_("partner", "PA"), api.as_("merchant", "MA")
    assert partner.http.get("/merchants/MA").status_code == 200
    assert partner.http.get("/codes/code-MA").status_code == 200
    assert partner.http.put("/codes/code-MA/status", headers=JSON,
                            body=json.dumps({"status": "shipped"})).status_code == 200
    assert merchant.http.get("/merchants/MA").status_code == 200
    assert merchant.http.get("/codes/code-MA").status_code == 200
    assert merchant.http.put("/codes/code-MA/status", headers=JSON,
                             body=json.dumps({"status": "installed"})).status_code == 403
    assert merchant.http.post("/merchants/MA/photos", headers=JSON, body=json.dumps(
        {"content_type": "image/jpeg", "size": 1000})).status_code == 201


def test_operator_sees_everything_and_gets_404_for_unknown(api, tenants) -> None:
    assert api.http.get("/merchants/MB").status_code == 200
    assert api.http.get("/merchants/NOPE").status_code == 404
    assert api.http.get("/codes/code-NOPE").status_code == 404


def test_health_is_public_but_detail_needs_an_operator(api, tenants) -> None:
    anonymous = api.anonymous.http.get("/health")
    assert anonymous.status_code == 200 and json.loads(anonymous.body) == {"status": "ok"}
    for role, pid in (("partner", "PA"), ("merchant", "MA")):
        assert json.loads(api.as_(role, pid).http.get("/health").body) == {"status": "ok"}
    detail = json.loads(api.http.get("/health").body)  # the operator
    assert detail["status"] == "ok" and detail["tables"] and detail["versions"]["paver"]
    bad = api.anonymous.http.get("/health", headers={"Authorization": "Bearer garbage"})
    assert bad.status_code == 401


@pytest.mark.parametrize("token", [
    "garbage",
    issue_token("operator", "ops", ttl_s=1, now=1_000_000),  # expired long ago
    jwt.encode({"iss": "paver", "sub": "ops", "role": "operator", "iat": 2_000_000_000,
                "exp": 2_000_003_600}, "x" * 40, algorithm="HS256"),  # forged: other secret
    jwt.encode({"iss": "paver", "sub": "ops", "role": "root", "iat": 2_000_000_000,
                "exp": 2_000_003_600},
               "paver-local-development-secret-not-for-production", algorithm="HS256"),
])
def test_bad_tokens_get_401(api, tenants, token: str) -> None:
    resp = api.anonymous.http.get("/merchants/MA", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401
    assert resp.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_non_bearer_scheme_is_refused(api, tenants) -> None:
    resp = api.anonymous.http.get("/merchants/MA", headers={"Authorization": "Basic b3BzOng="})
    assert resp.status_code == 401
