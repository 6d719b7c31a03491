"""The merge template ``chalice package --merge-template`` adds to Chalice's SAM output.

Everything is derived from code, never retyped: tables from the PynamoDB models (through
``paver.storage.registry.table_schema``), bucket/queue names from ``paver.config``, and the event
sources from the Chalice app itself. What Chalice cannot express is added here: S3 notifications
to the ingest and binding functions, stream ARNs of our own tables, ``ReportBatchItemFailures``,
dead-letter queues with alarms, point-in-time recovery, encryption, public access blocks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from paver.config import BUCKETS, QUEUES, Settings
from paver.storage.models import ALL_MODELS
from paver.storage.registry import LOGICAL_NAMES, table_schema

#: S3-triggered functions (Chalice ``lambda_function`` names) and what triggers them.
S3_TRIGGERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # bucket role: (function name, key prefix, key suffixes); suffixes keep the ingest
    # function from being triggered by the report objects it writes next to each file.
    "ingest": ("ingest", "ingest/", (".csv", ".jsonl")),
    "photos": ("binding", "photos/", ("",)),
}
VISIBILITY_TIMEOUT_S = 360  # six times the worker's 60 s timeout, as AWS recommends
MAX_RECEIVE_COUNT = 5


def cfn_name(name: str) -> str:
    """Chalice's logical id for a function name (``rollout_worker`` → ``RolloutWorker``)."""
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]", name) if p)


def table_resource(model: type, cfg: Settings) -> tuple[str, dict[str, Any]]:
    logical = LOGICAL_NAMES[model]
    props = {"TableName": cfg.table_name(logical), **table_schema(model),
             "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
             "SSESpecification": {"SSEEnabled": True}}
    if "StreamSpecification" in props:  # CloudFormation has no StreamEnabled flag
        props["StreamSpecification"] = {
            "StreamViewType": props["StreamSpecification"]["StreamViewType"]}
    return f"{logical}Table", {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain",
                               "UpdateReplacePolicy": "Retain", "Properties": props}


def private_bucket_properties(name: str) -> dict[str, Any]:
    """Properties of a private bucket: no public access, encrypted, versioned (every bucket of
    Paver's, and the optional web bucket of ``infra/web.py``)."""
    return {
        "BucketName": name,
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "VersioningConfiguration": {"Status": "Enabled"},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    }


def _bucket(role: str, cfg: Settings, functions: set[str]) -> dict[str, dict[str, Any]]:
    name = cfg.bucket_name(role)
    logical = f"{cfn_name(role)}Bucket"
    props: dict[str, Any] = private_bucket_properties(name)
    if role == "photos":
        # The merchant page uploads the store photo from the browser by presigned POST (the
        # signed policy, not the origin, limits what may be written).
        props["CorsConfiguration"] = {"CorsRules": [{
            "AllowedMethods": ["POST"], "AllowedOrigins": ["*"], "AllowedHeaders": ["*"],
            "MaxAge": 3000}]}
    out: dict[str, dict[str, Any]] = {}
    bucket: dict[str, Any] = {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
                              "UpdateReplacePolicy": "Retain", "Properties": props}
    trigger = S3_TRIGGERS.get(role)
    if trigger and trigger[0] in functions:
        fn = cfn_name(trigger[0])
        perm = f"{fn}S3InvokePermission"
        out[perm] = {"Type": "AWS::Lambda::Permission", "Properties": {
            "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com",
            "FunctionName": {"Ref": fn}, "SourceAccount": {"Ref": "AWS::AccountId"},
            # A literal ARN, not a Ref: bucket → permission → bucket would be a cycle.
            "SourceArn": f"arn:aws:s3:::{name}"}}
        configs = []
        for suffix in trigger[2]:
            rules = [{"Name": "prefix", "Value": trigger[1]}]
            if suffix:
                rules.append({"Name": "suffix", "Value": suffix})
            configs.append({"Event": "s3:ObjectCreated:*",
                            "Function": {"Fn::GetAtt": [fn, "Arn"]},
                            "Filter": {"S3Key": {"Rules": rules}}})
        props["NotificationConfiguration"] = {"LambdaConfigurations": configs}
        bucket["DependsOn"] = [perm]
    out[logical] = bucket
    return out


#: Where stream records go once their retries are exhausted (never silently dropped).
STREAM_FAILURES = "StreamFailureQueue"


def stream_failure_queue_name(cfg: Settings) -> str:
    return f"{cfg.prefix}-stream-failures"


def _alarm(logical: str, name: str, what: str) -> dict[str, Any]:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": f"messages in {name}: {what}",
        "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [logical, "QueueName"]}}],
        "Statistic": "Maximum", "Period": 300, "EvaluationPeriods": 1, "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching"}}


def _queues(cfg: Settings) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {
        STREAM_FAILURES: {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": stream_failure_queue_name(cfg), "MessageRetentionPeriod": 1209600,
            "SqsManagedSseEnabled": True}},
        f"{STREAM_FAILURES}Alarm": _alarm(
            STREAM_FAILURES, stream_failure_queue_name(cfg),
            "stream records that exhausted their retries (replay them from the pointers)"),
    }
    for role in QUEUES:
        q, dlq = f"{cfn_name(role)}Queue", f"{cfn_name(role)}DeadLetterQueue"
        out[dlq] = {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": cfg.queue_name(f"{role}-dlq"), "MessageRetentionPeriod": 1209600,
            "SqsManagedSseEnabled": True}}
        out[q] = {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": cfg.queue_name(role), "VisibilityTimeout": VISIBILITY_TIMEOUT_S,
            "SqsManagedSseEnabled": True,
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
                              "maxReceiveCount": MAX_RECEIVE_COUNT}}}
        out[f"{dlq}Alarm"] = _alarm(dlq, cfg.queue_name(role + "-dlq"), "failed for good")
    return out


def _event_sources(app: Any, cfg: Settings) -> dict[str, dict[str, Any]]:
    """Patch Chalice's stream/queue event sources: our ARNs, partial batch responses."""
    out: dict[str, dict[str, Any]] = {}
    for src in app.event_sources:
        kind = type(src).__name__
        fn = cfn_name(src.name)
        if kind == "DynamoDBEventConfig":
            table = next((n for n in LOGICAL_NAMES.values() if f"-{n}/" in src.stream_arn), None)
            props: dict[str, Any] = {
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "MaximumRetryAttempts": 10, "BisectBatchOnFunctionError": True,
                "DestinationConfig": {"OnFailure": {
                    "Type": "SQS", "Destination": {"Fn::GetAtt": [STREAM_FAILURES, "Arn"]}}}}
            if table:
                props["Stream"] = {"Fn::GetAtt": [f"{table}Table", "StreamArn"]}
            event = f"{fn}DynamodbEventSource"
        elif kind == "SQSEventConfig":
            props = {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
            event = f"{fn}SqsEventSource"
        else:
            continue
        out[fn] = {"Properties": {"Events": {event: {"Properties": props}}}}
    return out


#: Lambda runtime of every function and of the layer. python3.11 runs on Amazon Linux 2
#: (glibc 2.26), but the pinned numpy, scipy, scikit-learn, pandas, pillow and zxing-cpp ship
#: only manylinux_2_27/2_28 wheels: python3.12 runs on Amazon Linux 2023 (glibc 2.34).
RUNTIME = "python3.12"
LOG_RETENTION_DAYS = 90
LAYER_LOGICAL_ID = "DependenciesLayer"


def all_functions(app: Any) -> list[str]:
    """Chalice names of every Lambda function the app packages (the API handler first)."""
    names = ["api_handler"] if getattr(app, "routes", None) else []
    for name in [f.name for f in getattr(app, "pure_lambda_functions", [])] + [
            s.name for s in getattr(app, "event_sources", [])]:
        if name not in names:
            names.append(name)
    return names


def _logical(fn: str) -> str:
    return "APIHandler" if fn == "api_handler" else cfn_name(fn)


def _functions(app: Any, cfg: Settings, layer_zip: str | None) -> dict[str, dict[str, Any]]:
    """Name each function (so its log group and IAM policy can name it), create its log group
    with a retention, set the runtime and attach the dependencies layer."""
    from infra.iam import function_name

    out: dict[str, dict[str, Any]] = {}
    for fn in all_functions(app):
        name = function_name(cfg, fn)
        props: dict[str, Any] = {"FunctionName": name, "Runtime": RUNTIME}
        if layer_zip:
            props["Layers"] = [{"Ref": LAYER_LOGICAL_ID}]
        if fn == "api_handler":  # only the routes verify bearer tokens
            props["Environment"] = {"Variables": {"PAVER_TOKEN_SECRET": {"Ref": "TokenSecret"}}}
        out[_logical(fn)] = {"Properties": props}
        out[f"{_logical(fn)}LogGroup"] = {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": f"/aws/lambda/{name}", "RetentionInDays": LOG_RETENTION_DAYS}}
    if layer_zip:
        out[LAYER_LOGICAL_ID] = {"Type": "AWS::Serverless::LayerVersion", "Properties": {
            "LayerName": f"{cfg.prefix}-dependencies", "ContentUri": layer_zip,
            "CompatibleRuntimes": [RUNTIME], "CompatibleArchitectures": ["x86_64"],
            "RetentionPolicy": "Retain",
            "Description": "Paver's pinned dependencies, built by infra/layer.py"}}
    return out


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def merge_template(app: Any, cfg: Settings, layer_zip: str | None = None) -> dict[str, Any]:
    """The whole merge template for one stage (``layer_zip``: attach it as a layer)."""
    functions = {f.name for f in getattr(app, "pure_lambda_functions", [])}
    resources: dict[str, Any] = {}
    for model in ALL_MODELS:
        name, res = table_resource(model, cfg)
        resources[name] = res
    for role in BUCKETS:
        resources.update(_bucket(role, cfg, functions))
    resources.update(_queues(cfg))
    resources.update(_event_sources(app, cfg))
    _deep_merge(resources, _functions(app, cfg, layer_zip))
    out: dict[str, Any] = {"Resources": resources}
    if "APIHandler" in resources:
        out["Parameters"] = {"TokenSecret": {
            "Type": "String", "NoEcho": True, "MinLength": 32,
            "Description": "HS256 secret for bearer tokens (PAVER_TOKEN_SECRET)"}}
    return out


def write_merge_template(app: Any, cfg: Settings, path: Path,
                         layer_zip: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merge_template(app, cfg, layer_zip), indent=2), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m infra.template OUT.json [LAYER.zip]``: the merge template for ``PAVER_STAGE``
    (with the dependencies layer when its zip is given)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print("usage: python -m infra.template OUT.json [LAYER.zip]", file=sys.stderr)
        return 2
    from app import app

    write_merge_template(app, Settings.from_env(), Path(args[0]),
                         args[1] if len(args) == 2 else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
