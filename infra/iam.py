"""Least-privilege IAM policies, one per Lambda function, generated from one declaration.

``ACCESS`` below is the reviewable source: for every Chalice function, the tables (and the GSIs
it queries), the object key prefixes per bucket, the queues and the streams it may touch, with
the actions. Names and ARNs are derived from ``paver.config.Settings`` and the models' logical
table names, never retyped. ``python -m infra.iam`` (``make iam``) writes
``.chalice/policies/<stage>/<function>.json`` for every stage in ``STAGES`` and wires them into
``.chalice/config.json`` (``stages.<stage>.lambda_functions.<function>.iam_policy_file``);
``tests/functional/test_iam.py`` checks the committed files equal the generated ones, that
nothing is wildcarded outside ``WILDCARD_ALLOW_LIST``, and — by running every function under
moto with a hook on botocore — that each call a function makes is allowed by its own policy.

ARNs are CloudFormation intrinsics (``Fn::Sub`` with ``${AWS::Partition}``, ``${AWS::Region}``,
``${AWS::AccountId}``; ``Fn::GetAtt`` for stream ARNs): ``chalice package`` copies the policy
document into the template verbatim, so the deployed policy names exactly this account, region
and partition (aws-cn included). The files therefore only work through ``chalice package``
(how Paver deploys), not ``chalice deploy``.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.names import (
    DATA_KEY,
    STREAM_FAILURES,
    TOKEN_SECRET,
    cfn_name,
    function_dlq,
    function_name,
)
from infra.training import TRAINING_FUNCTION
from paver.config import Settings

#: Stages whose policy files are committed.
STAGES: tuple[str, ...] = ("dev", "prod")
CHALICE_DIR = Path(__file__).resolve().parents[1] / ".chalice"

# DynamoDB: TransactWriteItems has no IAM action of its own; each item needs PutItem /
# UpdateItem / DeleteItem / ConditionCheckItem on its table (the test maps it that way).
# Reading a DynamoDB stream (what the Lambda event source mapping does with the role).
STREAM_READ = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
               "dynamodb:ListStreams")
# What the SQS event source mapping does with the worker's role.
SQS_CONSUME = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
LOGS = ("logs:CreateLogStream", "logs:PutLogEvents")
# X-Ray (active tracing): the Lambda runtime sends the segments with the function's role.
# AWS defines no resource for these two actions, so their only Resource is "*".
TRACING = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
RESOURCELESS_ACTIONS = frozenset(TRACING)
# The data key, used only through the AWS services a function calls (kms:ViaService):
# DynamoDB, S3 and SQS encrypt and decrypt with the caller's permission.
KMS_USE = ("kms:Decrypt", "kms:GenerateDataKey")


@dataclass(frozen=True)
class Access:
    """What one function may touch (logical names: ``Merchants``, bucket roles, queue roles)."""

    #: table → actions on the table itself
    tables: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: table → GSIs the function queries (``dynamodb:Query`` on ``table/T/index/I`` only)
    indexes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: (bucket role, key prefix) → object actions
    objects: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    #: bucket roles the function may list (S3 answers 403 instead of 404 for a missing key
    #: without s3:ListBucket; code that treats "no such key" as normal needs it)
    list_buckets: tuple[str, ...] = ()
    #: queue role → actions
    queues: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: tables whose stream the function consumes (event source mapping)
    streams: tuple[str, ...] = ()
    #: invoked asynchronously (S3 notification, schedule): Lambda sends the events that fail
    #: after its retries to the function's own dead-letter queue, as this role
    dead_letter: bool = False
    #: reads the bearer-token signing secret (Secrets Manager) to verify tokens
    token_secret: bool = False

    def kms_services(self) -> tuple[str, ...]:
        """The AWS services that use the data key on this function's behalf."""
        out = []
        if self.tables or self.streams:
            out.append("dynamodb")
        if self.objects or self.list_buckets:
            out.append("s3")
        if self.queues or self.streams or self.dead_letter:
            out.append("sqs")
        if self.token_secret:
            out.append("secretsmanager")
        return tuple(out)


GET, PUT, UPDATE, QUERY, SCAN = ("dynamodb:GetItem",), ("dynamodb:PutItem",), \
    ("dynamodb:UpdateItem",), ("dynamodb:Query",), ("dynamodb:Scan",)
BATCH_GET, BATCH_WRITE = ("dynamodb:BatchGetItem",), ("dynamodb:BatchWriteItem",)
DESCRIBE = ("dynamodb:DescribeTable",)  # GET /health probes every table
S3_GET, S3_PUT = ("s3:GetObject",), ("s3:PutObject",)
# The Transactions-stream screening path (API POST /risk/screen and the risk_screen function).
# Idempotency: the once-per-event marker of device/IP use counts (risk/dynamo_store.py).
_SCREEN_TABLES = {"Relations": QUERY + BATCH_WRITE + UPDATE, "Accounts": GET,
                  "Decisions": BATCH_WRITE, "Idempotency": PUT}

#: Chalice function name → what it may touch. test_iam runs each function under moto: a call
#: outside this fails, and so does a table, prefix or queue granted here that no call uses.
ACCESS: dict[str, Access] = {
    # Every route: the auth middleware reads the caller's merchant (functions/_auth.py).
    "api_handler": Access(
        tables={
            "Partners": GET + BATCH_GET + SCAN + UPDATE + DESCRIBE,  # UPDATE: default skin
            "Merchants": GET + UPDATE + BATCH_GET + BATCH_WRITE + SCAN + DESCRIBE,
            "MerchantMetrics": QUERY + BATCH_WRITE + SCAN + DESCRIBE,
            "Campaigns": GET + PUT + SCAN + DESCRIBE,
            "Selections": GET + UPDATE + QUERY + BATCH_WRITE + DESCRIBE,
            "Codes": GET + UPDATE + BATCH_GET + SCAN + DESCRIBE,  # SCAN: the operator's list
            "Transactions": GET + PUT + DESCRIBE,
            "Benefits": QUERY + DESCRIBE,
            # QUERY: the active model; GET: the version a campaign chose
            "ModelRegistry": GET + QUERY + DESCRIBE,
            "RiskScenes": QUERY + BATCH_WRITE + DESCRIBE,
            "Relations": _SCREEN_TABLES["Relations"] + DESCRIBE,
            "Accounts": _SCREEN_TABLES["Accounts"] + DESCRIBE,
            # the console's Risk alerts read the stored decisions
            "Decisions": _SCREEN_TABLES["Decisions"] + GET + SCAN + BATCH_GET + DESCRIBE,
            # analysts decide alerts' cases (a conditional update: one wins); lists join them
            "Cases": GET + UPDATE + SCAN + BATCH_GET + DESCRIBE,
            "BindingAttempts": QUERY + DESCRIBE,
            "Idempotency": _SCREEN_TABLES["Idempotency"] + DESCRIBE,
            "Claims": DESCRIBE,
            # partner skins: stored pending, read, rendered; the certifier image writes verdicts
            "PartnerSkins": GET + PUT + QUERY + DESCRIBE,
        },
        indexes={"Merchants": ("by_partner",), "Codes": ("by_campaign",)},
        objects={
            ("artifacts", "models/"): S3_GET,  # the active trust model (scores, selection)
            ("artifacts", "codes/"): S3_GET + S3_PUT,  # code images; re-skin renders anew
            ("artifacts", "risk-kb/"): S3_GET + S3_PUT,  # scene knowledge base
            # POST /risk/scenes/build reads its dataset from here: keys must be under risk/
            ("ingest", "risk/"): S3_GET,
            # POST /merchants/{id}/photos presigns the upload with this role's credentials
            # ... and the console's store-photo links (presigned GETs)
            ("photos", "photos/"): S3_PUT + S3_GET,
        },
        # KB versions listing ("no KB yet" must stay a 404); a merchant's store photos
        list_buckets=("artifacts", "photos"),
        queues={"rollout": ("sqs:GetQueueUrl", "sqs:SendMessage"),
                "skin-certify": ("sqs:GetQueueUrl", "sqs:SendMessage")},
        token_secret=True,
    ),
    "ingest": Access(
        tables={"Partners": BATCH_GET + BATCH_WRITE, "Merchants": BATCH_GET + BATCH_WRITE + UPDATE,
                "MerchantMetrics": BATCH_WRITE},
        objects={("ingest", "ingest/"): S3_GET + S3_PUT},  # the file, and its report beside it
        dead_letter=True,
    ),
    # Codes UPDATE: the photo moves the code to active; Idempotency: the upload request;
    # Claims: the credential claim, the perceptual-hash index (BatchGet of its bands, ADD)
    "binding": Access(
        tables={"Merchants": GET + UPDATE, "Codes": GET + UPDATE, "BindingAttempts": PUT,
                "Benefits": PUT, "Idempotency": GET, "Claims": GET + BATCH_GET + PUT + UPDATE},
        objects={("photos", "photos/"): S3_GET},
        dead_letter=True,
    ),
    "rollout_worker": Access(
        # Campaigns/Selections: a message's campaign exists and its partner was selected
        tables={"Partners": GET, "Merchants": BATCH_GET, "Codes": BATCH_GET + PUT,
                "Campaigns": GET, "Selections": GET, "PartnerSkins": GET},
        objects={("artifacts", "codes/"): S3_PUT},
        # the dead-letter queue: permanent errors go there at once, with the reason
        queues={"rollout": SQS_CONSUME, "rollout-dlq": ("sqs:GetQueueUrl", "sqs:SendMessage")},
    ),
    # Codes GET: a payment stored without an accrual decision is decided against its code
    "accrual": Access(
        tables={"Merchants": GET + UPDATE, "Benefits": PUT, "Idempotency": BATCH_GET + PUT,
                "Codes": GET},
        streams=("Transactions",),
    ),
    "risk_screen": Access(
        tables=_SCREEN_TABLES,
        objects={("artifacts", "risk-kb/"): S3_GET},
        list_buckets=("artifacts",),  # "no KB yet" must read as NoSuchKey, not AccessDenied
        streams=("Transactions",),
    ),
    # Decisions/Transactions/Idempotency/Merchants UPDATE: the risk feed (trust/risk_feed.py)
    "rescore_partners": Access(
        tables={"Partners": SCAN + UPDATE, "Merchants": SCAN + UPDATE, "MerchantMetrics": SCAN,
                "ModelRegistry": QUERY, "Decisions": SCAN, "Transactions": BATCH_GET,
                "Idempotency": GET + PUT},
        objects={("artifacts", "models/"): S3_GET},
        dead_letter=True,
    ),
}
FUNCTIONS: tuple[str, ...] = tuple(ACCESS)

#: The only wildcards a Resource may hold, each with why AWS leaves no narrower choice.
#: Matched against the resource string (the ``Fn::Sub`` template, before substitution).
WILDCARD_ALLOW_LIST: tuple[tuple[str, str], ...] = (
    # Lambda names each log stream at run time ("2024/01/01/[$LATEST]<id>"): the narrowest
    # grant AWS documents is every stream of the function's own log group.
    (r"arn:\$\{AWS::Partition\}:logs:\$\{AWS::Region\}:\$\{AWS::AccountId\}:"
     r"log-group:/aws/lambda/[A-Za-z0-9_.-]+:\*",
     "log streams of the function's own log group"),
    # Object keys are data (merchant and attempt ids, model and KB versions, uploaded file
    # names); a non-empty key prefix the code owns bounds them. A bare "bucket/*" fails.
    (r"arn:\$\{AWS::Partition\}:s3:::[a-z0-9.-]+/[a-z0-9_-]+(/[a-z0-9_-]+)*/\*",
     "objects under one key prefix of one bucket"),
)


def _sub(arn: str) -> dict[str, str]:
    return {"Fn::Sub": arn}


def _ddb(cfg: Settings, suffix: str) -> dict[str, str]:
    return _sub(f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:"
                f"table/{suffix}")


def stream_tables(cfg: Settings) -> dict[str, str]:
    """Logical CloudFormation id → physical name of every table a function reads a stream of."""
    return {f"{t}Table": cfg.table_name(t) for a in ACCESS.values() for t in a.streams}


def policy(cfg: Settings, fn: str, access: Access | None = None) -> dict[str, Any]:
    """The IAM policy document of one function for ``cfg.stage`` (``access``: for a function
    outside ``ACCESS``, e.g. the certifier image of ``infra/certifier.py``)."""
    a = access or ACCESS[fn]
    # the training image answers some API routes under the API's role (infra.training)
    writers = (fn, TRAINING_FUNCTION) if fn == "api_handler" else (fn,)
    st: list[dict[str, Any]] = [{
        "Sid": "OwnLogs", "Effect": "Allow", "Action": list(LOGS),
        "Resource": [_sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:"
                          f"log-group:/aws/lambda/{function_name(cfg, w)}:*") for w in writers]},
        {"Sid": "Tracing", "Effect": "Allow", "Action": list(TRACING), "Resource": ["*"]}]
    for table, actions in a.tables.items():
        st.append({"Sid": cfn_name("Table", table), "Effect": "Allow", "Action": sorted(actions),
                   "Resource": [_ddb(cfg, cfg.table_name(table))]})
    for table, indexes in a.indexes.items():
        st.append({"Sid": cfn_name("Index", table), "Effect": "Allow", "Action": ["dynamodb:Query"],
                   "Resource": [_ddb(cfg, f"{cfg.table_name(table)}/index/{i}")
                                for i in indexes]})
    for table in a.streams:
        st.append({"Sid": cfn_name("Stream", table), "Effect": "Allow", "Action": list(STREAM_READ),
                   "Resource": [{"Fn::GetAtt": [f"{table}Table", "StreamArn"]}]})
    if a.streams:  # the event source mapping sends exhausted records here, as this role
        st.append({"Sid": "StreamFailures", "Effect": "Allow", "Action": ["sqs:SendMessage"],
                   "Resource": [{"Fn::GetAtt": [STREAM_FAILURES, "Arn"]}]})
    for (role, prefix), actions in a.objects.items():
        st.append({"Sid": cfn_name("Objects", role, prefix), "Effect": "Allow",
                   "Action": sorted(actions),
                   "Resource": [_sub(f"arn:${{AWS::Partition}}:s3:::{cfg.bucket_name(role)}/"
                                     f"{prefix}*")]})
    for role in a.list_buckets:
        st.append({"Sid": cfn_name("List", role), "Effect": "Allow", "Action": ["s3:ListBucket"],
                   "Resource": [_sub(f"arn:${{AWS::Partition}}:s3:::{cfg.bucket_name(role)}")]})
    for role, actions in a.queues.items():
        st.append({"Sid": cfn_name("Queue", role), "Effect": "Allow", "Action": sorted(actions),
                   "Resource": [_sub("arn:${AWS::Partition}:sqs:${AWS::Region}:"
                                     f"${{AWS::AccountId}}:{cfg.queue_name(role)}")]})
    if a.dead_letter:
        st.append({"Sid": "DeadLetters", "Effect": "Allow", "Action": ["sqs:SendMessage"],
                   "Resource": [{"Fn::GetAtt": [function_dlq(fn), "Arn"]}]})
    if a.token_secret:
        st.append({"Sid": "TokenSecret", "Effect": "Allow",
                   "Action": ["secretsmanager:GetSecretValue"],
                   "Resource": [{"Ref": TOKEN_SECRET}]})
    st.append({"Sid": "DataKey", "Effect": "Allow", "Action": list(KMS_USE),
               "Resource": [{"Fn::GetAtt": [DATA_KEY, "Arn"]}],
               "Condition": {"StringEquals": {"kms:ViaService": [
                   _sub(f"{svc}.${{AWS::Region}}.amazonaws.com")
                   for svc in a.kms_services()]}}})
    return {"Version": "2012-10-17", "Statement": st}


def policies(cfg: Settings) -> dict[str, dict[str, Any]]:
    return {fn: policy(cfg, fn) for fn in FUNCTIONS}


def policy_path(stage: str, fn: str) -> str:
    """Path of a policy file relative to ``.chalice/`` (what config.json names)."""
    return f"policies/{stage}/{fn}.json"


def policy_files(cfg: Settings) -> dict[str, dict[str, Any]]:
    return {policy_path(cfg.stage, fn): doc for fn, doc in policies(cfg).items()}


def stage_config(stage_cfg: dict[str, Any], stage: str) -> dict[str, Any]:
    """``stage_cfg`` with every function pointed at its own policy file and ``PAVER_STAGE``
    set (other keys kept; a stage-wide ``iam_policy_file`` is dropped)."""
    out = {k: v for k, v in stage_cfg.items() if k != "iam_policy_file"}
    out["environment_variables"] = {**out.get("environment_variables", {}), "PAVER_STAGE": stage}
    lambdas = dict(out.get("lambda_functions", {}))
    for fn in FUNCTIONS:
        lambdas[fn] = {**lambdas.get(fn, {}), "iam_policy_file": policy_path(stage, fn)}
    out["lambda_functions"] = lambdas
    return out


def _strings(resource: Any) -> list[str]:
    if isinstance(resource, str):
        return [resource]
    if isinstance(resource, list):
        return [s for r in resource for s in _strings(r)]
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        return [resource["Fn::Sub"]]
    return []  # Fn::GetAtt of a resource: one exact ARN


def wildcard_problems(docs: dict[str, dict[str, Any]]) -> list[str]:
    """Every wildcard action, and every wildcard resource not in ``WILDCARD_ALLOW_LIST``."""
    problems = []
    allow = [re.compile(p) for p, _ in WILDCARD_ALLOW_LIST]
    for fn, doc in docs.items():
        for st in doc["Statement"]:
            sid = st.get("Sid", "?")
            if st.get("Effect") != "Allow" or "NotAction" in st or "NotResource" in st:
                problems.append(f"{fn}/{sid}: only plain Allow statements are expected")
            actions = st.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            for action in actions:
                if "*" in action or "?" in action:
                    problems.append(f"{fn}/{sid}: wildcard action {action!r}")
            resourceless = bool(actions) and set(actions) <= RESOURCELESS_ACTIONS
            for res in _strings(st.get("Resource", [])):
                if res == "*" and resourceless:
                    continue
                if ("*" in res or "?" in res) and not any(p.fullmatch(res) for p in allow):
                    problems.append(f"{fn}/{sid}: wildcard resource {res!r}")
    return problems


def write(root: Path = CHALICE_DIR, stages: tuple[str, ...] = STAGES) -> list[Path]:
    """(Re)write every stage's policy files and wire them into ``config.json``."""
    written = []
    config_path = root / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    for stage in stages:
        cfg = Settings(stage=stage)
        stage_dir = root / "policies" / stage
        stage_dir.mkdir(parents=True, exist_ok=True)
        for old in stage_dir.glob("*.json"):
            old.unlink()
        for rel, doc in policy_files(cfg).items():
            path = root / rel
            path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
            written.append(path)
        stages_cfg = config.setdefault("stages", {})
        stages_cfg[stage] = stage_config(stages_cfg.get(stage, {"api_gateway_stage": "api"}),
                                         stage)
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    written.append(config_path)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m infra.iam``: regenerate the policy files (refuses unlisted wildcards)."""
    del argv  # no options
    problems = [p for s in STAGES for p in wildcard_problems(policies(Settings(stage=s)))]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    for path in write():
        print(path.relative_to(CHALICE_DIR.parent))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
