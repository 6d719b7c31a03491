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


def _bucket(role: str, cfg: Settings, functions: set[str]) -> dict[str, dict[str, Any]]:
    name = cfg.bucket_name(role)
    logical = f"{cfn_name(role)}Bucket"
    props: dict[str, Any] = {
        "BucketName": name,
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "VersioningConfiguration": {"Status": "Enabled"},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    }
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


def _queues(cfg: Settings) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
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
        out[f"{dlq}Alarm"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmDescription": f"messages in {cfg.queue_name(role + '-dlq')}: failed for good",
            "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}],
            "Statistic": "Maximum", "Period": 300, "EvaluationPeriods": 1, "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching"}}
    return out


def _event_sources(app: Any, cfg: Settings) -> dict[str, dict[str, Any]]:
    """Patch Chalice's stream/queue event sources: our ARNs, partial batch responses."""
    out: dict[str, dict[str, Any]] = {}
    for src in app.event_sources:
        kind = type(src).__name__
        fn = cfn_name(src.name)
        if kind == "DynamoDBEventConfig":
            table = next((n for n in LOGICAL_NAMES.values() if f"-{n}/" in src.stream_arn), None)
            props: dict[str, Any] = {"FunctionResponseTypes": ["ReportBatchItemFailures"],
                                     "MaximumRetryAttempts": 10,
                                     "BisectBatchOnFunctionError": True}
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


def merge_template(app: Any, cfg: Settings) -> dict[str, Any]:
    """The whole merge template for one stage."""
    functions = {f.name for f in getattr(app, "pure_lambda_functions", [])}
    resources: dict[str, Any] = {}
    for model in ALL_MODELS:
        name, res = table_resource(model, cfg)
        resources[name] = res
    for role in BUCKETS:
        resources.update(_bucket(role, cfg, functions))
    resources.update(_queues(cfg))
    resources.update(_event_sources(app, cfg))
    return {"Resources": resources}


def write_merge_template(app: Any, cfg: Settings, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merge_template(app, cfg), indent=2), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m infra.template OUT.json``: write the merge template for ``PAVER_STAGE``."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m infra.template OUT.json", file=sys.stderr)
        return 2
    from app import app

    write_merge_template(app, Settings.from_env(), Path(args[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
