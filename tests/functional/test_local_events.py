"""The local event sources of ``paver serve``: SQS, DynamoDB streams and S3 notifications
delivered to handlers with Lambda's batch semantics, on in-process moto."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

import pytest

from paver.aws import client, queue_url
from paver.config import Settings
from paver.storage.models import Transaction
from paver_dev.local_events import (
    EventPump,
    S3Trigger,
    SqsSource,
    StreamSource,
    sources_from_app,
)


def _wait(cond: Callable[[], bool], what: str, limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.05)


def test_sqs_failed_messages_return_and_the_others_are_deleted(aws: Settings) -> None:
    seen: list[str] = []
    failed_once: set[str] = set()
    lock = threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures = []
        with lock:
            for rec in event["Records"]:
                assert rec["eventSource"] == "aws:sqs" and rec["receiptHandle"]
                seen.append(rec["body"])
                if rec["body"] == "b" and "b" not in failed_once:
                    failed_once.add("b")
                    failures.append({"itemIdentifier": rec["messageId"]})
        return {"batchItemFailures": failures}

    sqs = client("sqs", aws)
    url = queue_url("rollout", aws)
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    pump = EventPump(aws, sqs=[SqsSource("rollout_worker", aws.queue_name("rollout"), handler)])
    pump.start()
    try:
        _wait(lambda: seen.count("b") == 2, "the failed message redelivered")
        _wait(lambda: pump.stats.delivered.get("rollout_worker") == 3, "three deletions")
    finally:
        pump.stop()
    assert sorted(seen) == ["a", "b", "b", "c"]  # only the failed one came back
    assert pump.stats.failed["rollout_worker"] == 1
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_stream_replays_from_the_first_reported_failure(aws: Settings) -> None:
    batches: list[list[str]] = []
    state = {"failed": False}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event["Records"]
        assert all(isinstance(r["dynamodb"].get("ApproximateCreationDateTime", 0), float | int)
                   for r in records)
        batches.append([r["dynamodb"]["NewImage"]["txn_id"]["S"] for r in records])
        if not state["failed"] and len(records) >= 2:
            state["failed"] = True
            return {"batchItemFailures": [
                {"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]}
        return {"batchItemFailures": []}

    for i in range(3):
        Transaction(txn_id=f"t{i}", merchant_id="M1", amount=1.5,
                    timestamp="2026-12-01T10:00:00+08:00", idempotency_key=f"k-{i:08d}").save()
    pump = EventPump(aws, streams=[StreamSource("accrual", aws.table_name("Transactions"),
                                                handler)])
    pump.start()
    try:
        _wait(lambda: len(batches) >= 2, "the replayed batch")
    finally:
        pump.stop()
    assert batches[0] == ["t0", "t1", "t2"]
    assert batches[1] == ["t1", "t2"]  # from the failed record on, as Lambda does
    assert pump.stats.failed["accrual"] == 1


def test_s3_notifications_reach_only_the_matching_function(aws: Settings) -> None:
    events: list[dict[str, Any]] = []
    bucket = aws.bucket_name("ingest")
    trig = S3Trigger("ingest", bucket, "ingest/", (".csv", ".jsonl"),
                     lambda e, c: events.append(e))
    pump = EventPump(aws, s3=[trig]).start()
    s3 = client("s3", aws)
    try:
        s3.put_object(Bucket=bucket, Key="ingest/a.csv", Body=b"x")
        s3.put_object(Bucket=bucket, Key="ingest/a.csv.report.json", Body=b"{}")  # no trigger
        s3.put_object(Bucket=bucket, Key="risk/b.csv", Body=b"x")  # another prefix
        _wait(lambda: len(events) >= 1, "the S3 event")
        s3.put_object(Bucket=bucket, Key="ingest/b.jsonl", Body=b"x")
        _wait(lambda: len(events) >= 2, "the second S3 event")
    finally:
        pump.stop()
    # keys arrive URL-encoded, as in AWS (the handlers unquote them)
    keys = [unquote_plus(e["Records"][0]["s3"]["object"]["key"]) for e in events]
    assert keys == ["ingest/a.csv", "ingest/b.jsonl"]
    assert events[0]["Records"][0]["s3"]["bucket"]["name"] == bucket


def test_sources_come_from_the_app_and_the_deployment_wiring(aws: Settings) -> None:
    from app import app
    from infra.template import S3_TRIGGERS

    sqs, streams, s3 = sources_from_app(app, aws, S3_TRIGGERS)
    assert [(s.name, s.batch_size) for s in sqs] == [("rollout_worker", 10)]
    assert sorted((s.name, s.table) for s in streams) == [
        ("accrual", aws.table_name("Transactions")),
        ("risk_screen", aws.table_name("Transactions"))]
    assert {(t.name, t.bucket, t.prefix) for t in s3} == {
        ("ingest", aws.bucket_name("ingest"), "ingest/"),
        ("binding", aws.bucket_name("photos"), "photos/")}
    # the very handlers the app registered (the deployment invokes the same ones)
    assert {s.handler for s in streams} == {app.handler_map["accrual"],
                                            app.handler_map["risk_screen"]}


def test_stream_can_start_after_what_was_already_handled(aws: Settings) -> None:
    batches: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        batches.append([r["dynamodb"]["NewImage"]["txn_id"]["S"] for r in event["Records"]])
        return {"batchItemFailures": []}

    def txn(i: int) -> None:
        Transaction(txn_id=f"t{i}", merchant_id="M1", amount=1.5,
                    timestamp="2026-12-01T10:00:00+08:00", idempotency_key=f"k-{i:08d}").save()

    txn(0)  # handled before the pump starts (e.g. by the demo's own stages)
    pump = EventPump(aws, streams=[StreamSource("accrual", aws.table_name("Transactions"),
                                                handler)], stream_start="LATEST").start()
    try:
        _wait(pump.streams_ready.is_set, "the stream iterators")
        txn(1)
        _wait(lambda: batches, "the new record")
    finally:
        pump.stop()
    assert [t for b in batches for t in b] == ["t1"]
