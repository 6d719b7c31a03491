"""Least privilege: every AWS call a function makes is allowed by that function's own policy.

Each Lambda function (the API handler for every route, and each event-driven function) runs
a realistic scenario on in-process moto while a hook on botocore records every call as
(IAM action, resource ARN) — boto3 and PynamoDB calls alike, plus presigned POSTs (signed with
the function's role, so the role needs the upload permission). Every recorded call must be
allowed by the policy ``infra.iam`` generates for that function; nothing else is granted
than what ``infra.iam`` declares, and the committed ``.chalice/policies/*`` files must equal
the generated ones. A wildcard in an Action fails; a wildcard in a Resource fails unless it is
in ``infra.iam.WILDCARD_ALLOW_LIST``.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import botocore.client
import botocore.signers
import numpy as np
import pytest

from infra import iam
from infra.template import TOKEN_SECRET
from paver import secret_store
from paver.config import Settings
from paver.secret_store import SECRET_ID_ENV
from tests.events import stream_records

ACCOUNT, REGION = "123456789012", "us-east-1"  # moto's defaults
Call = tuple[str, str]  # (IAM action, resource ARN)


# --------------------------------------------------------------------------------------------
# botocore call → (action, resource)


def _table(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def _secret_arn(secret_id: str) -> str:
    if secret_id.startswith("arn:"):
        return secret_id
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret_id}"


def _queue_arn(url: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{urlparse(url).path.rstrip('/').rsplit('/', 1)[-1]}"


_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
             "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
_S3_ACTIONS = {"HeadObject": "GetObject", "GetObject": "GetObject", "PutObject": "PutObject",
               "DeleteObject": "DeleteObject", "CreateMultipartUpload": "PutObject",
               "UploadPart": "PutObject", "CompleteMultipartUpload": "PutObject",
               "AbortMultipartUpload": "AbortMultipartUpload"}


def to_iam(service: str, op: str, params: dict[str, Any]) -> list[Call]:
    """The (action, resource) pairs IAM evaluates for one API call (``*`` when unknown)."""
    if service == "dynamodb":
        if op in ("BatchWriteItem", "BatchGetItem"):
            return [(f"dynamodb:{op}", _table(t)) for t in params["RequestItems"]]
        if op in ("TransactWriteItems", "TransactGetItems"):
            out = []
            for item in params["TransactItems"]:
                (kind, body), = item.items()
                out.append((f"dynamodb:{_TRANSACT[kind]}", _table(body["TableName"])))
            return out
        if "TableName" in params:
            arn = _table(params["TableName"])
            if params.get("IndexName"):
                arn += f"/index/{params['IndexName']}"
            return [(f"dynamodb:{op}", arn)]
        return [(f"dynamodb:{op}", "*")]
    if service == "s3":
        if op in _S3_ACTIONS:
            return [(f"s3:{_S3_ACTIONS[op]}", f"arn:aws:s3:::{params['Bucket']}/{params['Key']}")]
        if op in ("ListObjects", "ListObjectsV2"):
            return [("s3:ListBucket", f"arn:aws:s3:::{params['Bucket']}")]
        if "Bucket" in params:
            return [(f"s3:{op}", f"arn:aws:s3:::{params['Bucket']}")]
        return [(f"s3:{op}", "*")]
    if service == "sqs":
        if "QueueUrl" in params:
            action = "SendMessage" if op == "SendMessageBatch" else op
            return [(f"sqs:{action}", _queue_arn(params["QueueUrl"]))]
        if "QueueName" in params:
            return [(f"sqs:{op}", f"arn:aws:sqs:{REGION}:{ACCOUNT}:{params['QueueName']}")]
        return [(f"sqs:{op}", "*")]
    if service == "dynamodbstreams" and "StreamArn" in params:
        return [(f"dynamodb:{op}", params["StreamArn"])]
    if service == "secretsmanager" and "SecretId" in params:
        return [(f"secretsmanager:{op}", _secret_arn(params["SecretId"]))]
    return [(f"{service}:{op}", "*")]


class Recorder:
    """Patches botocore so every API call (and presigned POST) is recorded while active."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.raw: list[tuple[str, str]] = []
        self.active = False

    def install(self, mp: pytest.MonkeyPatch) -> None:
        real_call = botocore.client.BaseClient._make_api_call
        real_post = botocore.signers.S3PostPresigner.generate_presigned_post
        rec = self

        def make_api_call(client: Any, op: str, params: dict[str, Any]) -> Any:
            if rec.active:
                service = client.meta.service_model.service_name
                rec.raw.append((service, op))
                rec.calls.extend(to_iam(service, op, params))
            return real_call(client, op, params)

        def presigned_post(self: Any, request_dict: dict, fields: dict | None = None,
                           conditions: list | None = None, **kw: Any) -> Any:
            if rec.active:
                bucket = next(c["bucket"] for c in conditions or [] if isinstance(c, dict)
                              and "bucket" in c)
                rec.calls.append(("s3:PutObject", f"arn:aws:s3:::{bucket}/{fields['key']}"))
            return real_post(self, request_dict, fields, conditions, **kw)

        real_url = botocore.signers.RequestSigner.generate_presigned_url

        def presigned_url(self: Any, request_dict: dict, operation_name: str,
                          *args: Any, **kw: Any) -> Any:
            # a presigned GET (e.g. a store photo link) is signed with the role's credentials
            if rec.active and operation_name == "GetObject":
                url = urllib.parse.urlsplit(request_dict["url"])
                host_bucket = url.hostname.split(".s3.")[0] if ".s3." in (
                    url.hostname or "") else ""
                path = urllib.parse.unquote(url.path).lstrip("/")
                resource = f"{host_bucket}/{path}" if host_bucket else path
                rec.calls.append(("s3:GetObject", f"arn:aws:s3:::{resource}"))
            return real_url(self, request_dict, operation_name, *args, **kw)

        mp.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
        mp.setattr(botocore.signers.S3PostPresigner, "generate_presigned_post", presigned_post)
        mp.setattr(botocore.signers.RequestSigner, "generate_presigned_url", presigned_url)

    def run(self, fn: Callable[[], Any]) -> Any:
        self.active = True
        try:
            return fn()
        finally:
            self.active = False


# --------------------------------------------------------------------------------------------
# A small IAM evaluator: Allow statements, action and resource patterns with * and ?


def _pattern(p: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                              for c in p), re.S)


def _resolve(value: Any, stream_arns: dict[str, str]) -> str:
    """A policy Resource with CloudFormation intrinsics resolved the way moto names things
    (``stream_arns``: logical id → ARN of the stream tables and the token secret)."""
    if isinstance(value, str):
        return value
    if "Fn::Sub" in value:
        return (value["Fn::Sub"].replace("${AWS::Partition}", "aws")
                .replace("${AWS::Region}", REGION).replace("${AWS::AccountId}", ACCOUNT))
    if "Fn::GetAtt" in value:
        logical, attr = value["Fn::GetAtt"]
        if attr == "Arn":  # a queue or key only the Lambda runtime uses: matches no call
            return f"<runtime-only {logical}>"
        assert attr == "StreamArn", value
        return stream_arns[logical]
    if "Ref" in value:
        return stream_arns[value["Ref"]]
    raise AssertionError(f"unsupported intrinsic in policy: {value}")


def allowed(policy: dict[str, Any], action: str, resource: str,
            stream_arns: dict[str, str]) -> bool:
    for st in policy["Statement"]:
        if st["Effect"] != "Allow":
            continue
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        if not any(_pattern(a.lower()).fullmatch(action.lower()) for a in actions):
            continue
        if any(_pattern(_resolve(r, stream_arns)).fullmatch(resource) for r in resources):
            return True
    return False


def test_evaluator_basics() -> None:
    pol = {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"],
                          "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:s3:::b/photos/*"}]}]}
    assert allowed(pol, "s3:GetObject", "arn:aws:s3:::b/photos/M1/x.jpg", {})
    assert not allowed(pol, "s3:GetObject", "arn:aws:s3:::b/codes/x.png", {})
    assert not allowed(pol, "s3:PutObject", "arn:aws:s3:::b/photos/x.jpg", {})
    assert to_iam("dynamodb", "Query", {"TableName": "T", "IndexName": "i"}) == [
        ("dynamodb:Query", _table("T") + "/index/i")]
    assert to_iam("dynamodb", "TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "A"}}, {"Update": {"TableName": "B"}}]}) == [
        ("dynamodb:PutItem", _table("A")), ("dynamodb:UpdateItem", _table("B"))]


# --------------------------------------------------------------------------------------------
# Static checks on the generated and committed policies


@pytest.mark.parametrize("stage", iam.STAGES)
def test_committed_policies_equal_generated(stage: str) -> None:
    expected = iam.policy_files(Settings(stage=stage))
    root = Path(__file__).resolve().parents[2] / ".chalice"
    for rel, doc in expected.items():
        path = root / rel
        assert path.is_file(), f"{path} missing: run `make iam`"
        assert json.loads(path.read_text(encoding="utf-8")) == doc, \
            f"{path} is stale: run `make iam`"
    committed = {str(p.relative_to(root)) for p in (root / "policies" / stage).glob("*.json")}
    assert committed == set(expected), "policy files no function uses: run `make iam`"
    config = json.loads((root / "config.json").read_text(encoding="utf-8"))
    assert config["stages"][stage] == iam.stage_config(config["stages"][stage], stage), \
        "config.json does not wire the per-function policies: run `make iam`"


def test_every_function_has_its_own_policy() -> None:
    from app import app

    names = {"api_handler"} | {f.name for f in app.pure_lambda_functions}
    names |= {s.name for s in app.event_sources}
    assert names == set(iam.FUNCTIONS), "a function without a declared policy (infra/iam.py)"


@pytest.mark.parametrize("stage", iam.STAGES)
def test_no_wildcards_outside_the_allow_list(stage: str) -> None:
    problems = iam.wildcard_problems(iam.policies(Settings(stage=stage)))
    assert problems == []


def test_wildcard_check_catches_broad_grants() -> None:
    bad = {"f": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["dynamodb:*"], "Resource": [_table("x")]},
        {"Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:s3:::paver-dev-photos/*"}]},
        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "*"},
        # "*" is the only resource X-Ray defines, but not for an action riding along with it
        {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "sqs:SendMessage"],
         "Resource": ["*"]},
        {"Effect": "Allow", "Action": list(iam.TRACING), "Resource": ["*"]}]}}
    problems = iam.wildcard_problems(bad)
    assert len(problems) == 4, problems


# --------------------------------------------------------------------------------------------
# Dynamic check: run every function under moto and check each recorded call


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    rec.install(monkeypatch)
    return rec


@pytest.fixture(scope="module")
def risk_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from paver_dev.world import transfers

    d = tmp_path_factory.mktemp("risk")
    transfers.generate(np.random.default_rng(8), 150, instances_per_scene=3).write(d)
    return d


#: Statements no code path calls: Lambda uses them itself (logs, X-Ray segments, the stream
#: and queue event source mappings, the dead-letter queue of async invokes), AWS services use
#: them on the function's behalf (the data key; checked on its own in ``_check``), or S3 needs
#: them to answer 404 rather than 403 for a missing key.
def _runtime_only(fn: str, sid: str) -> bool:
    return (sid in ("OwnLogs", "Tracing", "DeadLetters", "DataKey")
            or sid.startswith(("Stream", "List"))
            or (fn == "rollout_worker" and sid == "QueueRollout"))


def _kms_services_used(fn_name: str, calls: set[Call]) -> set[str]:
    """Services that encrypt or decrypt with the data key for this function: those its calls
    reach, plus SQS where Lambda itself polls a queue or sends failures (stream failures, the
    async dead-letter queue)."""
    used = {action.split(":", 1)[0] for action, _ in calls}
    access = iam.ACCESS[fn_name]
    if access.streams or access.dead_letter or (fn_name == "rollout_worker" and access.queues):
        used.add("sqs")
    return used


def _check(fn_name: str, rec: Recorder, cfg: Settings) -> None:
    from paver.aws import client

    assert rec.calls, f"{fn_name}: the scenario made no AWS call"
    policy = iam.policies(cfg)[fn_name]
    stream_arns = {}
    for logical, table in iam.stream_tables(cfg).items():
        desc = client("dynamodb", cfg).describe_table(TableName=table)["Table"]
        stream_arns[logical] = desc["LatestStreamArn"]
    stream_arns[TOKEN_SECRET] = client("secretsmanager", cfg).describe_secret(
        SecretId=os.environ[SECRET_ID_ENV])["ARN"]
    calls = set(rec.calls)
    denied = sorted(c for c in calls if not allowed(policy, *c, stream_arns))
    assert denied == [], f"{fn_name}: calls its policy does not allow: {denied}"
    [key] = [st for st in policy["Statement"] if st["Sid"] == "DataKey"]
    via = {v["Fn::Sub"].split(".", 1)[0]
           for v in key["Condition"]["StringEquals"]["kms:ViaService"]}
    assert via == _kms_services_used(fn_name, calls), f"{fn_name}: data key via {via}"
    unused = []
    for st in policy["Statement"]:
        if _runtime_only(fn_name, st["Sid"]):
            continue
        for action in st["Action"]:
            one = {"Version": "2012-10-17", "Statement": [{**st, "Action": [action]}]}
            if not any(allowed(one, *c, stream_arns) for c in calls):
                unused.append(f"{st['Sid']}:{action}")
    assert unused == [], f"{fn_name}: grants no call in the scenario uses: {unused}"


def _json(resp: Any, status: int | tuple[int, ...] = 200) -> Any:
    ok = status if isinstance(status, tuple) else (status,)
    assert resp.status_code in ok, resp.body[:500]
    return json.loads(resp.body) if resp.body else None


def _post(api: Any, path: str, body: Any) -> Any:
    return api.http.post(path, body=json.dumps(body), headers={"Content-Type": "application/json"})


def _put(api: Any, path: str, body: Any) -> Any:
    return api.http.put(path, body=json.dumps(body), headers={"Content-Type": "application/json"})


@pytest.fixture
def seeded(aws: Settings, trust_world: Path, trust_model: Any) -> Iterator[Settings]:
    """Partners and merchants ingested, a trust model published, caches cold."""
    from paver.risk import service as risk_service
    from paver.trust import artifacts
    from tests.functional.conftest import ingest_partner_world

    artifacts.reset_cache()
    risk_service.reset_cache()
    ingest_partner_world(aws, trust_world)
    artifacts.publish_trust_model(trust_model, aws)
    artifacts.reset_cache()  # the functions load it cold, from S3
    yield aws
    artifacts.reset_cache()
    risk_service.reset_cache()


def _drain(cfg: Settings) -> list[dict[str, Any]]:
    from paver.aws import client, queue_url

    sqs, url = client("sqs", cfg), queue_url("rollout", cfg)
    out = []
    while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        out += [{"messageId": m["MessageId"], "body": m["Body"], "receiptHandle": "x",
                 "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs",
                 "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{cfg.queue_name('rollout')}",
                 "awsRegion": REGION, "md5OfBody": ""} for m in msgs]
        for m in msgs:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out



def _photo_for(cfg: Settings, merchant_id: str) -> bytes:
    """A store photo at the merchant's registered position showing its issued code."""
    from paver.rollout.service import code_id_for
    from paver.storage.models import Code, Merchant
    from paver_dev.photo_gen import make_store_photo, qr_image

    m = Merchant.get(merchant_id)
    payload = Code.get(code_id_for(merchant_id)).payload
    taken = datetime.now(timezone(timedelta(hours=8))).replace(tzinfo=None) - timedelta(minutes=5)
    return make_store_photo((m.lat or 30.27) + 0.0003, m.lon or 120.15, qr=qr_image(payload),
                            taken_at=taken)


@pytest.fixture
def token_secret(aws: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The token signing secret in Secrets Manager, named by the environment as deployed."""
    from paver.aws import client

    arn = client("secretsmanager", aws).create_secret(
        Name=f"{aws.prefix}/token-secret", SecretString="s" * 64)["ARN"]
    monkeypatch.delenv("PAVER_TOKEN_SECRET", raising=False)
    monkeypatch.setenv(SECRET_ID_ENV, arn)
    secret_store.reset_cache()
    yield arn
    secret_store.reset_cache()


def test_all_functions_stay_within_their_policies(token_secret: str, api: Any, seeded: Settings,
                                                  recorder: Recorder, risk_world: Path,
                                                  trust_world: Path, trust_model: Any) -> None:
    """One story through every function; each function's calls checked against its policy."""
    from functions import binding, codes, ingest, merchants, partners, risk
    from paver.aws import client
    from paver.kyb.uscc import generate_uscc
    from paver.storage.models import Merchant
    from paver.trust.ingest import s3_event

    cfg = seeded
    per_fn: dict[str, Recorder] = defaultdict(Recorder)

    def run(fn_name: str, fn: Callable[[], Any]) -> Any:
        rec = per_fn[fn_name]
        recorder.calls, recorder.raw = rec.calls, rec.raw  # route the records to fn_name
        return recorder.run(fn)

    # ingest: S3 drops under ingest/ (partners, merchants, metrics files)
    for name in ("partners.csv", "merchants.csv", "metrics.csv"):
        key = f"ingest/again/{name}"
        client("s3", cfg).put_object(Bucket=cfg.bucket_name("ingest"), Key=key,
                                     Body=(trust_world / name).read_bytes())
        out = run("ingest", lambda k=key: ingest.ingest(s3_event(cfg.bucket_name("ingest"), k),
                                                        None))
        assert out, out
    # ... and a file that registers a new merchant (created, not updated)
    import csv
    import io

    with (trust_world / "merchants.csv").open(encoding="utf-8", newline="") as f:
        first = next(csv.DictReader(f))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(first))
    writer.writeheader()
    writer.writerow({**first, "merchant_id": f"{first['partner_id']}-M99999"})
    key = "ingest/again/new-merchant.csv"
    client("s3", cfg).put_object(Bucket=cfg.bucket_name("ingest"), Key=key,
                                 Body=buf.getvalue().encode())
    assert run("ingest", lambda: ingest.ingest(s3_event(cfg.bucket_name("ingest"), key), None))

    # api_handler: the trust, rollout, binding, accrual and risk routes
    def api_story() -> dict[str, Any]:
        secret_store.reset_cache()  # a cold start reads the signing secret
        h = _json(api.http.get("/health"))
        assert h["status"] == "ok", h
        pid = "P0001"
        _json(_post(api, f"/partners/{pid}/merchants", {
            "merchants": [{"merchant_id": f"{pid}-API1", "name": "Api Shop", "mcc": "5812",
                           "city": "Chengdu", "lat": 30.6, "lon": 104.1}],
            "metrics": [{"merchant_id": f"{pid}-API1", "month": "2024-12", "txn_count": 5,
                         "amount": 120.0}]}))
        _json(api.http.get(f"/partners/{pid}/score"))
        cid = _json(_post(api, "/campaigns", {"name": "All", "threshold": 40}), 201)[
            "campaign_id"]
        sel = _json(_post(api, f"/campaigns/{cid}/selection", {}))
        assert sel["selected"], sel
        # a campaign may score with a registered version it names (not only the active one)
        chosen = _json(_post(api, f"/campaigns/{cid}/selection",
                             {"model_version": trust_model.version}))
        assert chosen["model_version"] == trust_model.version
        ranked = _json(api.http.get(f"/campaigns/{cid}/partners"))["partners"]
        _json(api.http.get("/campaigns"))
        out = next((p for p in ranked if not p["selected"]), None)
        if out is not None:  # the console's override, audited
            _json(_post(api, f"/campaigns/{cid}/partners/{out['partner_id']}/override",
                        {"selected": False, "note": "kept out"}), 409)
            _json(_post(api, f"/campaigns/{cid}/partners/{out['partner_id']}/override",
                        {"selected": True, "note": "pilot approved"}))
        _json(api.http.post(f"/campaigns/{cid}/rollout"), 202)
        return {"campaign_id": cid, "partner_id": sel["selected"][0]}

    story = run("api_handler", api_story)

    # rollout_worker: the SQS messages the rollout sent
    records = _drain(cfg)
    assert records
    out = run("rollout_worker", lambda: codes.rollout_worker(
        {"Records": records}, None))
    assert out == {"batchItemFailures": []}, out
    # ... and a message that cannot succeed, which the worker dead-letters itself
    stray = {**records[0], "messageId": "stray", "body": json.dumps(
        {**json.loads(records[0]["body"]), "campaign_id": "no-such-campaign"})}
    out = run("rollout_worker", lambda: codes.rollout_worker({"Records": [stray]}, None))
    assert out == {"batchItemFailures": []}, out

    merchant = next(m for m in Merchant.by_partner.query(story["partner_id"]))
    mid = merchant.merchant_id
    from paver.rollout.service import code_id_for

    Merchant(mid).update(actions=[Merchant.uscc.set(generate_uscc(__import__("random").Random(3))),
                                  Merchant.lat.set(30.2741), Merchant.lon.set(120.1551),
                                  Merchant.datum.set("WGS-84")])
    photo = _photo_for(cfg, mid)

    def api_story_2() -> dict[str, Any]:
        code_id = code_id_for(mid)
        _json(api.http.get(f"/campaigns/{story['campaign_id']}/progress"))
        _json(api.http.get(f"/codes/{code_id}"))
        img = api.http.get(f"/codes/{code_id}/image", headers={"Accept": "image/png"})
        assert img.status_code == 200
        _json(_put(api, f"/codes/{code_id}/status", {"status": "shipped"}))
        up = _json(_post(api, f"/merchants/{mid}/photos",
                         {"content_type": "image/jpeg", "size": len(photo)}), 201)
        _json(api.http.get(f"/merchants/{mid}/attempts"))
        # the console's reads
        _json(api.http.get("/merchants?q=shop&limit=5"))
        _json(api.http.get(f"/merchants?partner={story['partner_id']}&limit=5"))
        _json(api.http.get(f"/codes?campaign={story['campaign_id']}&limit=5"))
        _json(api.http.get(f"/codes?partner={story['partner_id']}&limit=5"))
        _json(api.http.get("/codes?limit=5"))
        sheet = api.http.get(f"/campaigns/{story['campaign_id']}/partners/"
                             f"{story['partner_id']}/sheet", headers={"Accept": "application/pdf"})
        assert sheet.status_code == 200
        _json(api.http.get(f"/merchants/{mid}/milestones"))
        _json(_post(api, f"/merchants/{mid}/signin-link", {}), 201)
        return up

    upload = run("api_handler", api_story_2)
    from paver.rollout.service import allowed_skins
    from paver.storage.models import Code, Partner

    skin = next(k for k in allowed_skins(Partner.get(story["partner_id"]))
                if k != Code.get(code_id_for(mid)).skin)
    run("api_handler", lambda: _json(_put(api, f"/merchants/{mid}/skin", {"skin": skin})))

    # partner skins (deployed stages queue the certification for the certifier image)
    from paver import partner_skins
    from tests.functional.test_partner_skins import spec as skin_spec

    pid = story["partner_id"]

    def api_skins() -> str:
        pending = _json(_post(api, f"/partners/{pid}/skins", skin_spec("own_skin")), 202)
        _json(api.http.get(f"/partners/{pid}/skins"))
        _json(api.http.get(f"/partners/{pid}/skins/own_skin"))
        return pending["status"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAVER_SKIN_CERTIFICATION", "queue")
        assert run("api_handler", api_skins) == "pending"
    item = partner_skins.get_skin(pid, "own_skin")
    partner_skins.certify_stored(pid, "own_skin", item.spec_hash, cfg)  # the certifier image
    run("api_handler", lambda: (
        _json(_put(api, f"/partners/{pid}/default-skin", {"skin": "own_skin"})),
        _json(_put(api, f"/merchants/{mid}/skin", {"skin": "own_skin"}))))
    # the rollout worker prints a new merchant on the partner's own default skin
    Merchant(merchant_id=f"{pid}-SKIN1", partner_id=pid, name="Skin Shop", mcc="5812",
             city="Hangzhou").save()
    msg = {**records[0], "messageId": "own-skin", "body": json.dumps(
        {"campaign_id": story["campaign_id"], "partner_id": pid,
         "merchant_ids": [f"{pid}-SKIN1"]})}
    out = run("rollout_worker", lambda: codes.rollout_worker({"Records": [msg]}, None))
    assert out == {"batchItemFailures": []}, out
    assert Code.get(code_id_for(f"{pid}-SKIN1")).skin == "own_skin"

    # binding: the photo lands where the presigned POST put it, S3 notifies
    client("s3", cfg).put_object(Bucket=cfg.bucket_name("photos"), Key=upload["key"],
                                 Body=photo, ContentType="image/jpeg")
    event = {"Records": [{"s3": {"bucket": {"name": cfg.bucket_name("photos")},
                                 "object": {"key": upload["key"]}}}]}
    out = run("binding", lambda: binding.on_photo_uploaded(event, None))
    assert out["results"][0]["outcome"] == "bound", out
    assert out["results"][0]["code_status"] == "active", out

    seen = run("api_handler", lambda: _json(api.http.get(f"/merchants/{mid}/binding")))
    assert seen["attempts"][0]["photo_url"], seen

    def api_story_payments() -> None:  # through the code the photo made active
        paid_at = datetime.now(UTC).isoformat()  # payments are reported within a day of now
        for i in range(2):
            _json(_post(api, "/transactions", {"idempotency_key": f"order-{i:06d}",
                                               "merchant_id": mid, "amount": "12.50",
                                               "code_id": code_id_for(mid),
                                               "timestamp": paid_at}), 201)
        replay = _json(_post(api, "/transactions", {
            "idempotency_key": "order-000000", "merchant_id": mid, "amount": "12.50",
            "code_id": code_id_for(mid), "timestamp": paid_at}))
        assert replay["replayed"] is True and replay["accrues"] is True
        _json(api.http.get(f"/merchants/{mid}"))
        _json(api.http.get(f"/merchants/{mid}/benefits"))

    run("api_handler", api_story_payments)

    # accrual and risk_screen: the Transactions stream, as Lambda delivers it
    stream = stream_records(cfg)
    assert len(stream) == 2
    import copy

    undecided = copy.deepcopy(stream)  # as if written by a path that did not decide accrual
    for key in ("accrues", "accrual_code", "accrual_reason"):
        undecided[1]["dynamodb"]["NewImage"].pop(key)
    out = run("accrual", lambda: merchants.accrual_stream({"Records": undecided}, None))
    assert out["batchItemFailures"] == [], out
    assert Merchant.get(mid).txn_count == 2

    # risk: build a knowledge base through the API, then screen (API and stream)
    s3 = client("s3", cfg)
    for name in ("transactions.csv", "labels.csv", "accounts.csv", "devices.csv",
                 "contacts.csv"):
        s3.upload_file(str(risk_world / name), cfg.bucket_name("ingest"), f"risk/{name}")

    def api_story_3() -> None:
        _json(_post(api, "/risk/scenes/build", {"transactions_key": "risk/transactions.csv",
                                                "labels_key": "risk/labels.csv"}), 201)
        _json(api.http.get("/risk/scenes"))
        _json(_post(api, "/risk/screen", {"txn_id": "e1", "timestamp": "2024-03-05T02:10:00Z",
                                          "from_account": "A000010", "to_account": "A999999",
                                          "amount": 18000, "from_device": "DX"}))

    run("api_handler", api_story_3)

    def api_story_4() -> None:  # the console's Risk alerts
        alerts = _json(api.http.get("/risk/alerts?status=all"))
        assert alerts["items"], alerts
        _json(api.http.get(f"/risk/alerts/{alerts['items'][0]['event_id']}"))
        # an analyst decides an alert's case (a conditional update)
        _json(api.http.post("/risk/alerts/iam-alert/decision",
                            body=json.dumps({"decision": "escalate"}),
                            headers={"Content-Type": "application/json"}), 201)
        assert [a["event_id"] for a in _json(api.http.get("/risk/alerts?status=escalated"))[
            "items"]] == ["iam-alert"]
        # drift: the trust model and partners, the knowledge base and the recent decisions
        shift = _json(api.http.get("/drift"))
        assert shift["trust"]["model_version"] and shift["risk"]["recent_count"] > 0, shift

    from paver.storage.models import Decision

    Decision(event_id="iam-alert", risky=True, scene="fan_in", match_degree=0.9,
             kb_version="v0").save()  # set-up, outside the policy under test
    run("api_handler", api_story_4)
    from paver.risk import service as risk_service

    risk_service.reset_cache()  # the stream function has its own cold start
    for r in stream:  # code payments with a payer are screened
        r["dynamodb"]["NewImage"]["from_account"] = {"S": "A000001"}
        r["dynamodb"]["NewImage"]["attributes"] = {
            "S": json.dumps({"from_device": "D1", "from_ip": "1.2.3.4"})}
    out = run("risk_screen", lambda: risk.screen_stream({"Records": stream}, None))
    assert out["batchItemFailures"] == [], out

    # rescore_partners: the daily schedule
    from paver.trust import artifacts

    artifacts.reset_cache()
    cw = api.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                      detail={}, resources=[])
    out = run("rescore_partners", lambda: partners.rescore(cw, None))
    assert out["rescored"] > 0 and out["drift"]["level"] != "no data", out

    assert set(per_fn) == set(iam.FUNCTIONS), "a function not exercised"
    for fn, rec in per_fn.items():
        _check(fn, rec, cfg)
