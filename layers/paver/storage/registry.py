"""Bind models to a stage and endpoint; create every table, bucket and queue the app needs.

Binding happens once per process, at the composition root: ``app.py`` binds in a middleware
that runs before every handler (HTTP, SQS, DynamoDB stream, direct invoke), the other Lambda
entry points (``functions/skin_certifier.py``) and the developer tooling
(``paver_dev.local_aws.aws_environment``) call :func:`bind_all` themselves, and the test
fixtures bind to moto (:func:`create_all` binds). The rest of the core assumes bound models.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from pynamodb.connection import Connection
from pynamodb.models import Model

from paver.aws import client
from paver.config import BUCKETS, QUEUES, Settings, settings
from paver.storage.models import ALL_MODELS

#: Logical table name of every model (captured before binding rewrites Meta.table_name).
LOGICAL_NAMES: dict[type[Model], str] = {m: m.Meta.table_name for m in ALL_MODELS}
_bound: tuple[str, str | None, str] | None = None


def bind_all(cfg: Settings | None = None) -> Settings:
    """Point every model at the stage-prefixed table on the configured endpoint.

    Idempotent and cheap on repeat (one tuple comparison), so an entry point may call it on
    every invocation. PynamoDB reads ``Meta.host``/``region`` when it builds a connection and
    caches the connection per class, so the cache is dropped whenever the binding changes.

    Parameters
    ----------
    cfg
        Where to bind; ``None``: the process environment (:func:`paver.config.settings`).

    Returns
    -------
    Settings
        The settings bound to.
    """
    global _bound
    cfg = cfg or settings()
    key = (cfg.prefix, cfg.endpoint_url, cfg.region)
    if _bound == key:
        return cfg
    for model, logical in LOGICAL_NAMES.items():
        model.Meta.table_name = cfg.table_name(logical)
        model.Meta.host = cfg.endpoint_url
        model.Meta.region = cfg.region
        model._connection = None
    _bound = key
    return cfg


@lru_cache(maxsize=8)
def _connection(region: str, host: str | None) -> Connection:
    return Connection(region=region, host=host)


def connection(cfg: Settings | None = None) -> Connection:
    """A cached PynamoDB connection for transactions (a new one costs a botocore client)."""
    cfg = cfg or settings()
    return _connection(cfg.region, cfg.endpoint_url)


def cancellation_code(exc: Exception, index: int) -> str | None:
    """Why item ``index`` of a cancelled DynamoDB transaction failed (``None``: it did not).

    DynamoDB answers one reason per item, in order, ``None`` for items that were fine: keep the
    positions, or a failure of item 1 reads as a failure of item 0.
    """
    reasons = list(getattr(exc, "cancellation_reasons", None) or [])
    if index >= len(reasons) or reasons[index] is None:
        return None
    code = getattr(reasons[index], "code", None)
    return None if code in (None, "None") else code


def condition_failed(exc: Exception, index: int | None = None) -> bool:
    """Whether a DynamoDB write was refused because its condition did not hold.

    The one test for a failed condition, whatever raised it: a single put/update/delete
    (PynamoDB's ``PutError``/``UpdateError``/``DeleteError`` carry
    ``ConditionalCheckFailedException``) or a cancelled transaction (``TransactWriteError``:
    with ``index``, whether item ``index`` failed its condition, see :func:`cancellation_code`;
    without, whether any item did). Anything else — throttling, a missing table — is not a
    failed condition and the caller re-raises it.
    """
    if index is not None:
        return cancellation_code(exc, index) == "ConditionalCheckFailed"
    if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
        return True
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return any(getattr(r, "code", None) == "ConditionalCheckFailed" for r in reasons if r)


def unbind() -> None:
    """Forget the binding so the next :func:`bind_all` rebinds (tests switch endpoints)."""
    global _bound
    _bound = None
    _connection.cache_clear()


def _keys(key_schema: list[dict[str, str]]) -> list[dict[str, str]]:
    # DynamoDB wants HASH before RANGE; PynamoDB does not promise an order for indexes.
    return sorted(
        ({"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in key_schema),
        key=lambda k: k["KeyType"] != "HASH",
    )


def table_schema(model: type[Model]) -> dict[str, Any]:
    """Key schema, attribute definitions, indexes and stream of a model, in DynamoDB's terms."""
    schema = model._get_schema()
    out: dict[str, Any] = {
        "AttributeDefinitions": [
            {"AttributeName": a["AttributeName"], "AttributeType": a["AttributeType"]}
            for a in schema["attribute_definitions"]
        ],
        "KeySchema": _keys(schema["key_schema"]),
        "BillingMode": "PAY_PER_REQUEST",
    }
    gsis = [
        {
            "IndexName": g["index_name"],
            "KeySchema": _keys(g["key_schema"]),
            "Projection": {"ProjectionType": g["projection"]["ProjectionType"]},
        }
        for g in schema["global_secondary_indexes"]
    ]
    if gsis:
        out["GlobalSecondaryIndexes"] = gsis
    stream = getattr(model.Meta, "stream_view_type", None)
    if stream:
        out["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream}
    return out


def ttl_attribute(model: type[Model]) -> str | None:
    """The model's DynamoDB TTL attribute (``None``: its items never expire).

    ``CreateTable`` takes no TTL, so it is not in :func:`table_schema`: :func:`create_all`
    turns it on after creating the table, the deployment template declares it
    (``TimeToLiveSpecification``).
    """
    attr = model._ttl_attribute()
    return attr.attr_name if attr is not None else None


def create_all(cfg: Settings | None = None) -> dict[str, list[str]]:
    """Create every table, bucket and queue that does not exist yet (idempotent).

    Returns
    -------
    dict
        Names created per kind (``tables``, ``buckets``, ``queues``).
    """
    cfg = bind_all(cfg)  # tooling and fixtures create then use: bind to what was created
    ddb = client("dynamodb", cfg)
    existing = set(_all_tables(ddb))
    created: dict[str, list[str]] = {"tables": [], "buckets": [], "queues": []}
    for model in ALL_MODELS:
        name = model.Meta.table_name
        if name in existing:
            continue
        ddb.create_table(TableName=name, **table_schema(model))
        created["tables"].append(name)
    for model in ALL_MODELS:
        if model.Meta.table_name in created["tables"]:
            ddb.get_waiter("table_exists").wait(TableName=model.Meta.table_name)
            ttl = ttl_attribute(model)
            if ttl:
                ddb.update_time_to_live(TableName=model.Meta.table_name, TimeToLiveSpecification={
                    "Enabled": True, "AttributeName": ttl})
    s3 = client("s3", cfg)
    have = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for role in BUCKETS:
        name = cfg.bucket_name(role)
        if name not in have:
            kwargs: dict[str, Any] = {"Bucket": name}
            if cfg.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": cfg.region}
            s3.create_bucket(**kwargs)
            created["buckets"].append(name)
    sqs = client("sqs", cfg)
    for role in QUEUES:
        dlq = sqs.create_queue(QueueName=cfg.queue_name(f"{role}-dlq"))["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sqs.create_queue(
            QueueName=cfg.queue_name(role),
            Attributes={
                "VisibilityTimeout": "120",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}),
            },
        )
        created["queues"].append(cfg.queue_name(role))
    return created


def _all_tables(ddb: Any) -> list[str]:
    names: list[str] = []
    for page in ddb.get_paginator("list_tables").paginate():
        names.extend(page.get("TableNames", []))
    return names


def reachability(cfg: Settings | None = None) -> dict[str, bool]:
    """Whether each table can be described on the configured endpoint (for ``/health``)."""
    cfg = cfg or settings()
    ddb = client("dynamodb", cfg)
    out: dict[str, bool] = {}
    for model, logical in LOGICAL_NAMES.items():
        try:
            ddb.describe_table(TableName=model.Meta.table_name)
            out[logical] = True
        except Exception:  # any failure means "not reachable" for a health probe
            out[logical] = False
    return out
