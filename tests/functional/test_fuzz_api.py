"""Bad input everywhere: a bounded fuzz of every route of the app, refused at the edge.

The routes and their bodies come from the app's own OpenAPI 3.1 description
(:mod:`functions._openapi`, also written by ``paver openapi``): request bodies are generated
from each Pydantic model's JSON schema, then mutated (wrong types, missing and extra fields,
huge strings, oversized list items, lists over their bound, huge numbers, nested junk,
non-JSON bytes, deep nesting), path and query parameters get unicode edge cases, very long and
injection-looking strings, and the Content-Type and caller vary. Every answer must be below
500; input the published document calls invalid (checked with a JSON Schema validator) must
be refused with a 4xx, and a 400 must name the offending field.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from functions._openapi import api_routes
from paver.aws import client, reset_clients
from paver.config import Settings
from paver.risk import service as risk_service
from paver.storage import registry
from paver.storage.models import Campaign, Code, Merchant, Partner, Selection
from paver_dev.world import transfers

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FUZZ = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))

INJECTIONS = [
    "'; DROP TABLE Merchants--", "../../etc/passwd", "..%2F..%2Fetc%2Fpasswd",
    "<script>alert(1)</script>", "${jndi:ldap://x/a}", "{{7*7}}", "%00", "\x00",
    "' OR '1'='1", "$(reboot)", "\u202egnp.exe", "\ufeffM1", "M1\u200b", "𝕄𝟙", "饺子馆",
    "\U0001f4a9" * 40, "é" * 129, "a" * 129, "a" * 5000, "..", ".", "-", "null", "undefined",
    "NaN", "-1", "9" * 400, " M1 ", "M1\n", "M1;M2",
]
KNOWN_IDS = ["P1", "M1", "C1", "code-M1", "code-M0", "ops"]
CONTENT_TYPES = [
    "application/json", "application/json; charset=utf-8", "text/plain",
    "application/x-www-form-urlencoded", "application/octet-stream",
    "multipart/form-data; boundary=x", "application/xml", None,
]
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    from app import app
    from functions._openapi import generate

    return generate(app)


def _operations() -> list[tuple[str, str]]:
    from app import app

    return [(path, method) for path, methods in api_routes(app) for method in methods]


# ---------------------------------------------------------------------------------------------
# JSON Schema (OpenAPI 3.1, as Pydantic emits it) → Hypothesis strategies


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def body_schema(op: dict[str, Any]) -> dict[str, Any] | None:
    body = op.get("requestBody")
    return body["content"]["application/json"]["schema"] if body else None


def is_valid(schema: dict[str, Any], spec: dict[str, Any], body: bytes) -> bool:
    """Whether ``body`` is a JSON document the published schema accepts."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return False
    root = {**schema, "components": spec["components"]}  # "#/components/..." resolves here
    try:
        return Draft202012Validator(root).is_valid(data)
    except RecursionError:
        return False


def from_schema(schema: dict[str, Any], spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values (mostly) valid for ``schema``."""
    schema = _resolve(schema, spec)
    if "anyOf" in schema and "properties" not in schema:
        return st.one_of([from_schema(s, spec) for s in schema["anyOf"]])
    return _from_schema(schema, spec)


def _from_schema(schema: dict[str, Any], spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    if schema.get("type") == "null":
        return st.none()
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    typ = schema.get("type")
    if typ == "string":
        lo, hi = schema.get("minLength", 0), schema.get("maxLength", 300)
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(
                lambda s: lo <= len(s) <= hi)
        if schema.get("format") == "date-time":
            return st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
        if schema.get("format") == "date":
            return st.dates().map(str)
        return st.text(min_size=lo, max_size=min(hi, 300))
    if typ == "integer":
        hi = schema.get("maximum", schema.get("exclusiveMaximum", 2**63) - 1)
        return st.integers(schema.get("minimum"), hi)
    if typ == "number":
        lo = schema.get("minimum", schema.get("exclusiveMinimum"))
        hi = schema.get("maximum", schema.get("exclusiveMaximum"))
        if "multipleOf" in schema:  # decimal places: whole multiples, as JSON numbers
            step = schema["multipleOf"]
            return st.integers(1 if lo is not None and lo >= 0 else -10**6,
                               int((hi if hi is not None else 1e6) / step)).map(
                lambda n: round(n * step, 6))
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False,
                         exclude_min="exclusiveMinimum" in schema,
                         exclude_max="exclusiveMaximum" in schema)
    if typ == "boolean":
        return st.booleans()
    if typ == "array":
        return st.lists(from_schema(schema.get("items") or {}, spec),
                        max_size=min(schema.get("maxItems", 5), 5))
    if typ == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: from_schema(v, spec) for k, v in props.items() if k in required},
            optional={k: from_schema(v, spec) for k, v in props.items() if k not in required})
    return JUNK


def mutated(schema: dict[str, Any], spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A valid-looking body with one thing wrong (or junk instead of a body)."""
    schema = _resolve(schema, spec)
    props = list(schema.get("properties", {}))
    base = from_schema(schema, spec)
    wrong = st.sampled_from([None, 1, -1, 1e308, -1e308, 2**64, True, "", "x" * 100_000, [],
                             {}, [1, [2, [3]]], {"a": {"b": {"c": None}}}, "\ud800", "NaN"])
    # huge numbers: beyond DynamoDB's 38 digits, beyond float, beyond any bound
    huge = st.sampled_from([10**300, -(10**300), 10**39, 2**64, 1e308, -1e308, 9.99e125,
                            int("9" * 400)])

    def oversized_items(fld: str) -> st.SearchStrategy[Any]:
        """A list field whose items are too big, or too many."""
        prop = _resolve(schema["properties"][fld], spec)
        items = prop.get("items") or {}
        bad_item = st.sampled_from(["x" * 100_000, "饺" * 40_000, 10**300, -1e308,
                                    {"a": "x" * 50_000}, [[0] * 1000] * 3])
        too_many = st.just([None] * (prop.get("maxItems", 1_000) + 1))
        row = _resolve(items, spec) if items else {}
        if row.get("properties"):  # a row with one field far too big
            @st.composite
            def big_row(draw: st.DrawFn) -> list[Any]:
                valid = dict(draw(from_schema(items, spec)))
                valid[draw(st.sampled_from(sorted(row["properties"])))] = draw(
                    huge | st.just("x" * 100_000))
                return [valid]

            return big_row() | st.lists(bad_item, min_size=1, max_size=3) | too_many
        return st.lists(bad_item, min_size=1, max_size=3) | too_many

    @st.composite
    def one_wrong(draw: st.DrawFn) -> Any:
        body = dict(draw(base))
        action = draw(st.sampled_from(["type", "drop", "extra", "huge", "junk", "number",
                                       "items"]))
        if action == "extra" or not props:
            body[draw(st.sampled_from(["zz_extra", "__proto__", "$where", "a" * 300]))] = \
                draw(JUNK)
            return body
        fld = draw(st.sampled_from(props))
        if action == "drop":
            body.pop(fld, None)
        elif action == "huge":
            body[fld] = draw(st.sampled_from(["x" * 300_000, "饺" * 70_000, [0] * 50_000]))
        elif action == "number":
            body[fld] = draw(huge)
        elif action == "items":
            list_fields = [f for f in props if _resolve(schema["properties"][f], spec).get(
                "type") == "array"]
            target = draw(st.sampled_from(list_fields)) if list_fields else fld
            body[target] = draw(oversized_items(target)) if list_fields else draw(huge)
        elif action == "junk":
            body[fld] = draw(JUNK)
        else:
            body[fld] = draw(wrong)
        return body

    return one_wrong() | JUNK


def _encode(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=True).encode()


RAW: list[bytes] = [
    b"", b"{", b"null", b"[]", b"\"x\"", b"\xff\xfe\x00{", b"{\"a\": NaN}", b"\x00" * 10,
    b"[" * 200_000, b"{\"a\":" * 100_000, b"[" * 900 + b"]" * 900, b"1" * 5000,
    b"{\"a\": 1e99999}", b"{\"name\": \"\\ud800\"}", b"<xml/>", b"a=b&c=d",
    "{\"name\": \"饺子\"}".encode("utf-16"), "{\"name\": \"饺子\"}".encode("gb18030"),
]
RAW_BODIES = st.sampled_from(RAW) | st.binary(max_size=200)


def body_strategy(op: dict[str, Any], spec: dict[str, Any]) -> st.SearchStrategy[bytes]:
    schema = body_schema(op)
    if schema is None:
        return st.just(b"") | JUNK.map(_encode) | RAW_BODIES
    return (from_schema(schema, spec).map(_encode) | mutated(schema, spec).map(_encode)
            | RAW_BODIES)


def param_value() -> st.SearchStrategy[str]:
    return (st.sampled_from(KNOWN_IDS) | st.sampled_from(INJECTIONS)
            | st.text(min_size=1, max_size=200))


# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One in-process moto for the module with a little data, so fuzzed ids reach past 'not
    found' into the handlers; the composed app behind chalice's test client."""
    from chalice.test import Client
    from moto import mock_aws

    from app import app
    from tests.conftest import ApiClient, isolate

    with pytest.MonkeyPatch.context() as mp, mock_aws():
        isolate(mp)
        cfg = Settings.from_env(dict(os.environ))
        registry.create_all(cfg)
        Partner(partner_id="P1", name="Hangzhou City Bank", kind="city_bank", region="east",
                guid="cn.hzbank.pay").save()
        Merchant(merchant_id="M1", partner_id="P1", name="Noodle House", mcc="5812",
                 city="Hangzhou").save()
        Campaign(campaign_id="C1", name="Spring").save()
        Selection(campaign_id="C1", partner_id="P1", trust_score=80, scores={}, tier="A",
                  selected=True).save()
        # a code whose images were never written (e.g. a half-finished issue)
        Code(code_id="code-M1", campaign_id="C1", merchant_id="M1", partner_id="P1",
             payload="000201", skin="classic", status="issued").save()
        s3 = client("s3", cfg)
        s3.put_object(Bucket=cfg.bucket_name("ingest"), Key="risk/junk.csv", Body=b"a,b\n1,2\n")
        # a small scene knowledge base, so /risk/screen gets past "no knowledge base"
        world = tmp_path_factory.mktemp("risk")
        transfers.generate(np.random.default_rng(8), 120, instances_per_scene=2).write(world)
        for name in ("transactions.csv", "labels.csv"):
            s3.upload_file(str(world / name), cfg.bucket_name("ingest"), f"risk/{name}")
        risk_service.reset_cache()
        risk_service.build_kb("risk/transactions.csv", "risk/labels.csv", cfg=cfg)
        with Client(app, stage_name="local") as c:
            yield ApiClient(c)
        risk_service.reset_cache()
        registry.unbind()
        reset_clients()


def _call(api: Any, method: str, url: str, body: bytes, ctype: str | None,
          caller: str) -> Any:
    headers = {"Content-Type": ctype} if ctype else {}
    c = {"operator": api, "partner": api.as_("partner", "P1"),
         "merchant": api.as_("merchant", "M1"), "anonymous": api.anonymous}[caller]
    return c.http.request(method, url, headers=headers, body=body)


def _allowed_fields(op: dict[str, Any], spec: dict[str, Any], body: bytes) -> set[str]:
    names = {"body"}
    for p in op.get("parameters", []):
        names.add(p["name"])
    schema = body_schema(op)
    if schema is not None:
        names.update(_resolve(schema, spec).get("properties", {}))
    try:
        sent = json.loads(body)
    except (ValueError, RecursionError):
        sent = None
    if isinstance(sent, dict):  # an unexpected key is named as itself
        names.update(sent)
    return names


def _check_rows(resp: Any, schema: dict[str, Any], spec: dict[str, Any], body: bytes,
                what: str) -> None:
    """Batch fields validated row by row (``x-row-schema``): every row the row schema refuses
    is rejected and reported with the field it names, never stored."""
    if not body:  # an optional body left out: no rows to check
        return
    sent, reply = json.loads(body), json.loads(resp.body)
    for fld, prop in _resolve(schema, spec).get("properties", {}).items():
        row_schema = (prop.get("items") or {}).get("x-row-schema")
        if row_schema is None or not sent.get(fld):
            continue
        rows = _resolve(row_schema, spec)
        bad = sum(not is_valid(row_schema, spec, _encode(r)) for r in sent[fld]
                  if not (isinstance(r, dict) and r.get("partner_id") is None
                          and is_valid(row_schema, spec, _encode({**r, "partner_id": "P1"}))))
        report = reply[fld]
        assert report["rejected"] >= bad, f"{what} → {bad} invalid {fld} rows, " \
                                          f"{report['rejected']} rejected"
        names = set(rows["properties"])
        for err in report["errors"]:  # a whole-row error names the field in its reason
            named = err["field"] in names or (err["field"] == "(row)" and (
                "row" in err["reason"] or any(n in err["reason"] for n in names)))
            assert named, f"{what} → {err}"


def _param_valid(op: dict[str, Any], values: dict[str, str]) -> bool:
    for p in op.get("parameters", []):
        if p["name"] in values and not Draft202012Validator(p["schema"]).is_valid(
                values[p["name"]]):
            return False
    return True


def _check(resp: Any, op: dict[str, Any], spec: dict[str, Any], body: bytes, what: str,
           params: dict[str, str] | None = None, ctype: str | None = "application/json") -> None:
    """No 5xx; input the published document rejects is refused (4xx); a 400 names the field."""
    assert resp.status_code < 500, f"{what} → {resp.status_code} {resp.body[:300]!r}"
    schema = body_schema(op)
    # no body at all is valid where the document says the body is optional
    optional = body == b"" and not op.get("requestBody", {}).get("required", False)
    invalid = not _param_valid(op, params or {}) or (
        schema is not None and not optional and not is_valid(schema, spec, body))
    if invalid:
        assert 400 <= resp.status_code < 500, \
            f"{what} → {resp.status_code}: invalid input accepted {resp.body[:200]!r}"
    elif schema is not None and resp.status_code == 200:
        _check_rows(resp, schema, spec, body, what)
    if resp.status_code == 400:
        msg = json.loads(resp.body)["Message"]
        assert any(msg.startswith((f"{n}:", f"{n}.")) for n in _allowed_fields(op, spec, body)), \
            f"{what} → 400 without naming the field: {msg[:200]!r}"


@pytest.mark.parametrize(("path", "method"), _operations(),
                         ids=[f"{m} {p}" for p, m in _operations()])
def test_route_survives_bad_input(seeded: Any, spec: dict[str, Any], path: str,
                                  method: str) -> None:
    op = spec["paths"][path][method.lower()]
    path_params = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
    query_params = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]

    @FUZZ
    @given(params=st.fixed_dictionaries({n: param_value() for n in path_params}),
           raw=st.booleans(),
           query=st.fixed_dictionaries({}, optional={n: param_value() for n in query_params}),
           body=body_strategy(op, spec),
           ctype=st.sampled_from(CONTENT_TYPES).filter(bool) | st.sampled_from(CONTENT_TYPES),
           caller=st.sampled_from(["operator"] * 6 + ["partner"] * 2 +
                                  ["merchant", "anonymous"]))
    def run(params: dict[str, str], raw: bool, query: dict[str, str], body: bytes,
            ctype: str | None, caller: str) -> None:
        url = path
        for name, value in params.items():
            safe = raw and not set(value) & set("/?#% \x00\n\r\t")
            url = url.replace("{" + name + "}", value if safe else quote(value, safe=""))
        if query:
            url += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
        resp = _call(seeded, method, url, body, ctype, caller)
        _check(resp, op, spec, body, f"{method} {url[:120]} ({caller}, {ctype}, {body[:80]!r})",
               {**params, **query}, ctype)

    run()


@pytest.mark.parametrize("size", [1_000_001, 3_000_000])
def test_oversized_bodies_are_refused(seeded: Any, spec: dict[str, Any], size: int) -> None:
    from app import app
    from functions._openapi import body_model

    for path, methods in api_routes(app):
        for method, entry in methods.items():
            if body_model(entry.view_function) is None:
                continue
            url = path.replace("{", "").replace("}", "")
            url = re.sub(r"(partner_id|merchant_id|code_id|campaign_id)", "X1", url)
            body = b'{"name": "' + b"a" * size + b'"}'
            resp = seeded.http.request(method, url, headers={"Content-Type": "application/json"},
                                       body=body)
            assert resp.status_code in (400, 413), (path, resp.status_code)
            assert json.loads(resp.body)["Message"].startswith("body:")


def test_every_body_route_has_its_model_in_the_spec(spec: dict[str, Any]) -> None:
    from app import app
    from functions._auth import PUBLIC_PATHS
    from functions._openapi import body_model

    for path, methods in api_routes(app):
        for method, entry in methods.items():
            op = spec["paths"][path][method.lower()]
            parses = "parse_body" in inspect.unwrap(entry.view_function).__code__.co_names
            model = body_model(entry.view_function)
            assert parses == (model is not None), (method, path)
            assert ("requestBody" in op) == parses, (method, path)
            if model is not None:
                assert body_schema(op) == {"$ref": f"#/components/schemas/{model.__name__}"}
                props = spec["components"]["schemas"][model.__name__]["properties"]
                assert set(props) == {f.alias or n for n, f in model.model_fields.items()}
            names = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert names == set(entry.view_args)
            assert bool(op["security"]) == (path not in PUBLIC_PATHS)


@pytest.mark.timeout(120)
def test_cli_writes_the_openapi_document(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from paver_dev.cli import cli

    out = tmp_path / "api" / "openapi.json"
    res = CliRunner().invoke(cli, ["openapi", "--out", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["openapi"] == "3.1.0" and "/transactions" in doc["paths"]
    assert doc["components"]["schemas"]["TransactionIn"]["required"] == [
        "idempotency_key", "merchant_id", "amount"]
    stdout = CliRunner().invoke(cli, ["openapi"])
    assert json.loads(stdout.output) == doc


#: One valid body per model (the field-by-field test below breaks one field at a time).
VALID_BODIES: dict[str, dict[str, Any]] = {
    "CampaignIn": {"name": "Spring", "regions": ["east"], "threshold": 60},
    "SelectionIn": {"model_version": "20260101T000000000000Z-0123abcd"},
    "MerchantBatch": {
        "merchants": [{"merchant_id": "M9", "partner_id": "P1", "name": "Tea", "mcc": "5812",
                       "city": "Hangzhou", "lat": 30.1, "lon": 120.2}],
        "metrics": [{"merchant_id": "M1", "month": "2026-01", "txn_count": 3, "amount": 9.5}]},
    "StatusChange": {"status": "shipped"},
    "SkinChoice": {"skin": "classic"},
    "TransactionIn": {"idempotency_key": "order-0001", "merchant_id": "M1", "amount": "5.00",
                      "timestamp": "2026-11-01T10:00:00+08:00", "code_id": "code-M1",
                      "scan_ref": "scan-0123456789abcdef01234567", "from_account": "A1"},
    "PhotoUploadRequest": {"content_type": "image/jpeg", "size": 1000, "device_lat": 30.27,
                           "device_lon": 120.15, "device_accuracy_m": 25},
    "EventIn": {"txn_id": "e1", "timestamp": "2024-03-05T10:00:00Z", "from_account": "A1",
                "to_account": "A2", "amount": 10, "from_ip": "1.2.3.4"},
    "BuildIn": {"transactions_key": "risk/junk.csv", "labels_key": "risk/junk.csv"},
    "SkinSpec": {"name": "fuzz_skin", "title": "Fuzz", "frame": "sticker", "motif": "plain",
                 "palette": {"module": "#111418", "background": "#FFFFFF", "frame": "#2B3440",
                             "accent": "#3D4856", "text": "#FFFFFF"},
                 "caption": {"zh": "扫码付款", "en": "PAY"},
                 "logo": {"image_base64": "not-an-image", "fraction": 0.2}},
    "OverrideIn": {"selected": True, "note": "pilot approved"},
    "CaseDecisionIn": {"decision": "confirm", "scene": "fan_in", "note": "hub account"},
    "ShadowIn": {"version": "20261205T000000000000Z-0bad0bad", "note": "try it"},
    "PromoteIn": {"version": "20261205T000000000000Z-0bad0bad", "note": "reviewed"},
    "RollbackIn": {"note": "too many alerts"},
    "BacktestIn": {"transactions_key": "risk/t.csv", "labels_key": "risk/l.csv",
                   "versions": ["v1", "v2"], "from": "2024-03-10T00:00:00Z"},
    "SigninLinkIn": {"ttl": 3600},
}
NASTY: list[Any] = [
    "\ud800", "x" * 300_000, 1e-200, int("1" * 41), -(2**63), None, [[[[]]]], {"$ne": 1},
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "'; DROP TABLE Merchants--",
    True, "12", 10**300, 10**39, -1e308, ["x" * 100_000], [10**300],
]
#: Batch rows follow CSV-cell semantics (a number may come as its text, see trust/ingest.py):
#: these are type changes a row may legitimately coerce, so rows get every other nasty value.
ROW_COERCIBLE: list[Any] = [True, "12"]
RAW_EACH_ROUTE: list[bytes] = [
    b"", b"null", b"\xff\xfe\x00{", b"{\"a\": NaN}", b"[" * 200_000, b"{\"a\":" * 100_000,
    b"1" * 5000, "{\"name\": \"饺子\"}".encode("utf-16"),
]


def _nested(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(field path, body with that one field replaced by a marker) for every field."""
    out = []
    for key, value in body.items():
        out.append((key, {**body, key: "@@"}))
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for sub in value[0]:
                out.append((f"{key}.0.{sub}", {**body, key: [{**value[0], sub: "@@"}]}))
    return out


def test_every_field_survives_nasty_values(seeded: Any, spec: dict[str, Any]) -> None:
    from app import app
    from functions._openapi import body_model

    failures = []
    for path, methods in api_routes(app):
        for method, entry in methods.items():
            model = body_model(entry.view_function)
            if model is None:
                continue
            op = spec["paths"][path][method.lower()]
            url = path
            for arg, known in (("partner_id", "P1"), ("merchant_id", "M1"),
                               ("code_id", "code-M1"), ("campaign_id", "C1")):
                url = url.replace("{" + arg + "}", known)
            bodies = [(f"{fld}={value!r:.40}",
                       json.dumps(template).replace('"@@"', json.dumps(value)).encode())
                      for fld, template in _nested(VALID_BODIES[model.__name__])
                      for value in NASTY
                      if "." not in fld or value not in ROW_COERCIBLE]
            bodies += [(f"body={raw[:20]!r}", raw) for raw in RAW_EACH_ROUTE]
            for what, body in bodies:
                resp = seeded.http.request(method, url, body=body,
                                           headers={"Content-Type": "application/json"})
                try:
                    _check(resp, op, spec, body, f"{method} {url} {what}")
                except AssertionError as exc:
                    failures.append(str(exc).splitlines()[0][:300])
    assert not failures, "\n".join(failures)
