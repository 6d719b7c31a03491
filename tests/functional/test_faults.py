"""Faults on the real code paths: DynamoDB throttling and conditional-check failures, S3 errors,
lost responses and Lambda/SQS redelivery, injected into ingest, rollout, accrual and screening.

Faults are injected with botocore's event system on the very clients the code uses (boto3
clients from :func:`paver.aws.client`, PynamoDB's per-model botocore client):

- ``before-call`` answers an operation with an error without sending it: the SDK does not
  retry it, as after its retries are exhausted (a persistent fault);
- ``before-send`` answers one HTTP attempt: the SDK's retry policy sees it (a transient fault);
- ``after-call`` fails after the service did the work (the response was lost).

Each test shows: no record lost, none counted twice, and every failure surfaced (raised to
the S3 invoke, reported in ``batchItemFailures`` or moved to the dead-letter queue).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError

from functions.ingest import handle_s3_event
from paver.accrual.accrual import process_stream
from paver.accrual.transactions import TransactionConflict, TransactionIn, record_transaction
from paver.aws import client, queue_url
from paver.config import Settings
from paver.rollout import service as rollout
from paver.storage.models import (
    Benefit,
    Campaign,
    Code,
    Decision,
    IdempotencyRecord,
    Merchant,
    MerchantMetric,
    Partner,
    Selection,
)
from paver.storage.registry import connection
from paver.trust.ingest import s3_event
from tests.events import stream_records

# ---------------------------------------------------------------------------------------------
# Fault injection


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _error(code: str, status: int = 400, **extra: Any) -> tuple[Any, dict[str, Any]]:
    http = AWSResponse("https://fault.invalid", status, {}, _Raw(b""))
    return http, {"Error": {"Code": code, "Message": f"injected {code}"},
                  "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}}, **extra}


class Fault:
    """Fail calls of ``operation`` on a botocore client whose request body contains ``match``."""

    def __init__(self, botocore_client: Any, operation: str, code: str, *,
                 match: str | None = None, times: int | None = None, status: int = 400,
                 **extra: Any) -> None:
        service = botocore_client.meta.service_model.service_id.hyphenize()
        self.events = botocore_client.meta.events
        self.event = f"before-call.{service}.{operation}"
        self.code, self.match, self.times, self.status, self.extra = code, match, times, \
            status, extra
        self.calls = self.injected = 0

    def __call__(self, params: dict[str, Any], **_: Any) -> Any:
        self.calls += 1
        body = params.get("body") or b""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        text += params.get("url_path", "")
        if self.match is not None and self.match not in text:
            return None
        if self.times is not None and self.injected >= self.times:
            return None
        self.injected += 1
        return _error(self.code, self.status, **self.extra)

    def __enter__(self) -> Fault:
        self.events.register(self.event, self, unique_id=f"fault-{id(self)}")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.events.unregister(self.event, unique_id=f"fault-{id(self)}")


@contextmanager
def transient(botocore_client: Any, operation: str, code: str, status: int,
              times: int = 1) -> Iterator[list[int]]:
    """The first ``times`` HTTP attempts of ``operation`` fail; the SDK's retries see them."""
    service = botocore_client.meta.service_model.service_id.hyphenize()
    hits: list[int] = []
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}",
                       "message": "injected"}).encode()

    def handler(request: Any, **_: Any) -> Any:
        if len(hits) >= times:
            return None
        hits.append(1)
        return AWSResponse(request.url, status, {"x-amzn-ErrorType": code}, _Raw(body))

    event = f"before-send.{service}.{operation}"
    botocore_client.meta.events.register_first(event, handler, unique_id="transient")
    try:
        yield hits
    finally:
        botocore_client.meta.events.unregister(event, unique_id="transient")


@contextmanager
def lost_response(botocore_client: Any, operation: str, times: int = 1) -> Iterator[list[int]]:
    """The service does the work, then the connection drops before the answer arrives."""
    service = botocore_client.meta.service_model.service_id.hyphenize()
    hits: list[int] = []

    def handler(**_: Any) -> None:
        if len(hits) < times:
            hits.append(1)
            raise ConnectionClosedError(endpoint_url="https://dynamodb.invalid")

    event = f"after-call.{service}.{operation}"
    botocore_client.meta.events.register(event, handler, unique_id="lost")
    try:
        yield hits
    finally:
        botocore_client.meta.events.unregister(event, unique_id="lost")


def ddb(model: Any) -> Any:
    """The botocore client PynamoDB uses for ``model``."""
    return model._get_connection().connection.client


THROTTLED = "ProvisionedThroughputExceededException"

# ---------------------------------------------------------------------------------------------
# Ingest (S3 event → validated rows)


def _partners_csv() -> bytes:
    return b"partner_id,name,kind,region,guid\nP1,Hangzhou Bank,city_bank,east,cn.hz.pay\n"


def _merchants_csv(n: int) -> bytes:
    rows = ["merchant_id,partner_id,name,mcc,city"]
    # new merchant ids live in their partner's namespace
    rows += [f"P1-M{i:03d},P1,Shop {i},5812,Hangzhou" for i in range(n)]
    return ("\n".join(rows) + "\n").encode()


def _drop(cfg: Settings, key: str, body: bytes) -> dict[str, Any]:
    bucket = cfg.bucket_name("ingest")
    client("s3", cfg).put_object(Bucket=bucket, Key=key, Body=body)
    return s3_event(bucket, key)


def _has_report(cfg: Settings, key: str) -> bool:
    resp = client("s3", cfg).list_objects_v2(Bucket=cfg.bucket_name("ingest"),
                                             Prefix=key + ".report.json")
    return resp.get("KeyCount", 0) > 0


def test_ingest_s3_read_error_is_raised_for_retry_and_the_retry_ingests_once(
        aws: Settings) -> None:
    handle_s3_event(_drop(aws, "ingest/p.csv", _partners_csv()))
    event = _drop(aws, "ingest/m.csv", _merchants_csv(30))
    s3 = client("s3", aws)
    with Fault(s3, "GetObject", "InternalError", status=500) as fault, \
            pytest.raises(s3.exceptions.ClientError, match="InternalError"):
        handle_s3_event(event)  # raised: the S3 invoke is retried by Lambda, then its DLQ
    assert fault.injected == 1
    assert Merchant.count() == 0 and not _has_report(aws, "ingest/m.csv")
    for _ in range(2):  # Lambda's retry, and a duplicate delivery of the same S3 event
        out = handle_s3_event(event)["files"][0]
        assert (out["accepted"], out["rejected"], out["file_error"]) == (30, 0, None)
    assert Merchant.count() == 30 and _has_report(aws, "ingest/m.csv")


def test_ingest_throttled_mid_file_surfaces_and_the_retry_completes(aws: Settings) -> None:
    handle_s3_event(_drop(aws, "ingest/p.csv", _partners_csv()))
    event = _drop(aws, "ingest/m.csv", _merchants_csv(60))  # three batch writes of 25
    # The second batch write stays throttled after the SDK's retries: the file fails loudly.
    with Fault(ddb(Merchant), "BatchWriteItem", THROTTLED, match="P1-M03") as fault, \
            pytest.raises(Exception, match=THROTTLED):
        handle_s3_event(event)
    assert fault.injected == 1
    assert 0 < Merchant.count() < 60 and not _has_report(aws, "ingest/m.csv")
    # A throttle the SDK's retry absorbs changes nothing.
    with transient(ddb(Merchant), "BatchWriteItem", THROTTLED, 400) as hits:
        out = handle_s3_event(event)["files"][0]
    assert hits == [1] and out["accepted"] == 60
    assert Merchant.count() == 60
    assert Merchant.get("P1-M059").partner_id == "P1"


def test_ingest_unprocessed_items_are_resent_and_never_dropped(aws: Settings) -> None:
    """A batch write that keeps answering 'unprocessed' (throttled) fails the file."""
    handle_s3_event(_drop(aws, "ingest/p.csv", _partners_csv()))
    Merchant(merchant_id="M000", partner_id="P1", name="x", mcc="5812", city="x").save()
    metrics = "merchant_id,month,txn_count,amount\n" + "".join(
        f"M000,2026-{m:02d},{m},{m}.5\n" for m in range(1, 13))
    event = _drop(aws, "ingest/metrics.csv", metrics.encode())
    table = MerchantMetric.Meta.table_name
    resent: list[int] = []

    def unprocessed(parsed: dict[str, Any], params: Any = None, **_: Any) -> None:
        resent.append(1)  # every write is done, but the service says the last one was not
        parsed["UnprocessedItems"] = {table: [{"PutRequest": {"Item": {
            "merchant_id": {"S": "M000"}, "month": {"S": "2026-12"},
            "partner_id": {"S": "P1"}, "txn_count": {"N": "12"}, "amount": {"N": "12.5"}}}}]}

    events = ddb(MerchantMetric).meta.events
    events.register("after-call.dynamodb.BatchWriteItem", unprocessed, unique_id="unproc")
    try:
        with pytest.raises(Exception, match="max_retry_attempts"):
            handle_s3_event(event)
    finally:
        events.unregister("after-call.dynamodb.BatchWriteItem", unique_id="unproc")
    assert len(resent) == MerchantMetric.Meta.max_retry_attempts  # resent, then surfaced
    assert handle_s3_event(event)["files"][0]["accepted"] == 12
    assert MerchantMetric.count("M000") == 12


# ---------------------------------------------------------------------------------------------
# Rollout (SQS messages → codes)


@pytest.fixture
def rollout_world(aws: Settings) -> Settings:
    Partner(partner_id="P1", name="Hangzhou City Bank", kind="city_bank", region="east",
            guid="cn.hzbank.pay").save()
    for i in range(3):
        Merchant(merchant_id=f"M{i}", partner_id="P1", name=f"Dumpling Bar {i}", mcc="5812",
                 city="Hangzhou").save()
    # the worker checks the campaign and the selection before issuing
    Campaign(campaign_id="C1", name="Spring").save()
    Selection(campaign_id="C1", partner_id="P1", trust_score=80, scores={}, tier="A",
              selected=True).save()
    return aws


def _msg(mid: str, *merchants: str) -> dict[str, str]:
    return {"messageId": mid, "body": json.dumps(
        {"campaign_id": "C1", "partner_id": "P1", "merchant_ids": list(merchants)})}


def test_rollout_faults_fail_only_their_message_and_the_retry_issues_once(
        rollout_world: Settings) -> None:
    batch = [_msg("a", "M0"), _msg("b", "M1"), _msg("c", "M2")]
    s3 = client("s3", rollout_world)
    with Fault(s3, "PutObject", "SlowDown", status=503, match="/M1.") as s3_fault, \
            Fault(ddb(Code), "PutItem", THROTTLED, match="code-M2") as ddb_fault:
        out = rollout.process_records(batch)
    assert s3_fault.injected and ddb_fault.injected == 1
    assert out == {"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "c"}]}
    assert [c.merchant_id for c in Code.scan()] == ["M0"]
    first = Code.get("code-M0").issued_at
    # Lambda redelivers the failed messages (and, say, the whole batch once more).
    assert rollout.process_records(batch[1:]) == {"batchItemFailures": []}
    assert rollout.process_records(batch) == {"batchItemFailures": []}
    codes = list(Code.scan())
    assert sorted(c.merchant_id for c in codes) == ["M0", "M1", "M2"]
    assert Code.get("code-M0").issued_at == first  # issued once, never re-issued


def test_rollout_conditional_failure_means_another_worker_issued_it(
        rollout_world: Settings) -> None:
    with Fault(ddb(Code), "PutItem", "ConditionalCheckFailedException") as fault:
        res = rollout.issue_codes("C1", "P1", ["M0", "M1"])
    assert fault.injected == 2
    assert res.issued == [] and res.already == ["M0", "M1"] and res.failed == {}


def test_rollout_message_failing_max_receive_count_lands_in_the_dlq(
        rollout_world: Settings, caplog: pytest.LogCaptureFixture) -> None:
    cfg = rollout_world
    sqs = client("sqs", cfg)
    url, dlq = queue_url("rollout", cfg), queue_url("rollout-dlq", cfg)
    for mid in ("M0", "M1"):
        sqs.send_message(QueueUrl=url, MessageBody=_msg("", mid)["body"])
    receives: dict[str, int] = {}
    caplog.set_level(logging.ERROR, logger="paver.rollout.service")
    with Fault(client("s3", cfg), "PutObject", "AccessDenied", status=403, match="/M1."):
        for _ in range(12):  # the Lambda poller: receive, handle, delete what succeeded
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       VisibilityTimeout=0).get("Messages", [])
            if not msgs:
                break
            out = rollout.process_records(
                [{"messageId": m["MessageId"], "body": m["Body"]} for m in msgs])
            failed = {f["itemIdentifier"] for f in out["batchItemFailures"]}
            for m in msgs:
                receives[m["MessageId"]] = receives.get(m["MessageId"], 0) + 1
                if m["MessageId"] not in failed:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10,
                               AttributeNames=["All"]).get("Messages", [])
    assert [json.loads(m["Body"])["merchant_ids"] for m in dead] == [["M1"]]
    dead_id = dead[0]["MessageId"]
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "RedrivePolicy"])["Attributes"]["RedrivePolicy"])
    assert receives[dead_id] == policy["maxReceiveCount"] == 5
    assert sorted(receives.values()) == [1, 5]  # the good message was handled once
    assert [c.merchant_id for c in Code.scan()] == ["M0"]
    # the reason, per delivery, in the log (the DLQ keeps the message itself)
    reasons = [r for r in caplog.records if dead_id in r.getMessage() and r.exc_info]
    assert len(reasons) == 5 and "AccessDenied" in str(reasons[0].exc_info[1])


# ---------------------------------------------------------------------------------------------
# Accrual (Transactions stream → merchant totals, exactly once)


@pytest.fixture
def payments(aws: Settings) -> list[dict[str, Any]]:
    """Five payments of 100.00 to M1 (from five payers) through its active aggregated code, as
    the Transactions stream holds them."""
    from paver.storage.models import Code

    Merchant(merchant_id="M1", partner_id="P1", name="Noodle House", mcc="5812",
             city="Hangzhou").save()
    Code(code_id="code-M1", campaign_id="C1", merchant_id="M1", partner_id="P1", payload="x",
         skin="neutral_default", status="active",
         history=[{"status": "active", "at": "2026-10-01T00:00:00+00:00"}]).save()
    for i in range(5):
        record_transaction(TransactionIn(
            idempotency_key=f"order-{i:06d}", merchant_id="M1", amount=Decimal("100"),
            timestamp=f"2026-11-0{1 + i}T10:00:00+08:00", from_account=f"A{i:04d}",
            code_id="code-M1"))
    return stream_records(aws)


def _txn(rec: dict[str, Any]) -> str:
    return rec["dynamodb"]["NewImage"]["txn_id"]["S"]


def _seq(rec: dict[str, Any]) -> str:
    return rec["dynamodb"]["SequenceNumber"]


def _totals() -> tuple[int, Decimal]:
    m = Merchant.get("M1", consistent_read=True)
    return int(m.txn_count or 0), Decimal(str(m.txn_amount or 0))


def test_accrual_throttled_transaction_is_reported_and_counted_once(
        payments: list[dict[str, Any]]) -> None:
    tx_client = connection().client
    with Fault(tx_client, "TransactWriteItems", THROTTLED, match=_txn(payments[2])):
        out = process_stream(payments)
    assert out.response() == {"batchItemFailures": [
        {"itemIdentifier": _seq(r)} for r in payments[2:]]}  # it stopped there
    assert _totals() == (2, Decimal("200"))
    # Lambda retries from the lowest failed sequence number: records 2.. come again.
    retry = process_stream(payments[2:])
    assert retry.accrued == [_txn(r) for r in payments[2:]] and retry.duplicates == []
    assert retry.failures == []
    assert _totals() == (5, Decimal("500"))


def test_accrual_cancelled_transaction_is_retried_not_taken_for_a_duplicate(
        payments: list[dict[str, Any]]) -> None:
    """A transaction cancelled for throttling or a conflict is not 'counted before'."""
    reasons = [{"Code": "None"}, {"Code": "TransactionConflict"}]
    with Fault(connection().client, "TransactWriteItems", "TransactionCanceledException",
               match=_txn(payments[0]), CancellationReasons=reasons):
        out = process_stream(payments[:1])
    assert out.failures == [{"itemIdentifier": _seq(payments[0])}] and out.duplicates == []
    assert process_stream(payments).accrued == [_txn(r) for r in payments]
    assert _totals() == (5, Decimal("500"))


def test_accrual_lost_commit_response_is_not_counted_twice(
        payments: list[dict[str, Any]]) -> None:
    """The transaction commits but its answer is lost: the record fails, the retry finds the
    marker and adds nothing; the merchant's milestones are still evaluated."""
    with lost_response(connection().client, "TransactWriteItems") as hits:
        out = process_stream(payments[:1])
    assert hits == [1] and out.failures == [{"itemIdentifier": _seq(payments[0])}]
    assert _totals() == (1, Decimal("100"))  # it did commit
    assert list(Benefit.query("M1")) == []
    retry = process_stream(payments[:1])
    assert retry.duplicates == [_txn(payments[0])] and retry.failures == []
    assert _totals() == (1, Decimal("100"))
    assert {b.benefit_id for b in Benefit.query("M1")} == {"milestone#first_payment"}


def test_accrual_marker_precheck_throttled_falls_back_to_the_conditional_guard(
        payments: list[dict[str, Any]]) -> None:
    assert len(process_stream(payments).accrued) == 5
    with Fault(ddb(IdempotencyRecord), "BatchGetItem", THROTTLED) as fault:
        again = process_stream(payments)  # a redelivered batch while reads are throttled
    assert fault.injected == 1
    assert len(again.duplicates) == 5 and again.accrued == [] and again.failures == []
    assert _totals() == (5, Decimal("500"))


def test_accrual_milestone_write_failure_is_reported_and_granted_on_redelivery(
        payments: list[dict[str, Any]]) -> None:
    """Totals are counted, but granting the milestone keeps failing: the records are reported
    for retry instead of the benefit being silently dropped; the retry grants it once."""
    with Fault(ddb(Benefit), "PutItem", THROTTLED) as fault:
        out = process_stream(payments[:1])
    assert fault.injected == 1
    assert out.accrued == [_txn(payments[0])]
    assert out.failures == [{"itemIdentifier": _seq(payments[0])}]
    assert list(Benefit.query("M1")) == []
    retry = process_stream(payments[:1])
    assert retry.duplicates == [_txn(payments[0])] and retry.failures == []
    assert retry.benefits == ["M1:milestone#first_payment"]
    assert _totals() == (1, Decimal("100"))


# ---------------------------------------------------------------------------------------------
# Screening (Transactions stream → risk decisions)


@pytest.fixture
def risk_kb(aws: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    from paver.risk import service
    from paver_dev.world import transfers

    d = tmp_path_factory.mktemp("risk")
    transfers.generate(np.random.default_rng(8), 120, instances_per_scene=2).write(d)
    s3 = client("s3", aws)
    for name in ("transactions.csv", "labels.csv"):
        s3.upload_file(str(d / name), aws.bucket_name("ingest"), f"risk/{name}")
    service.reset_cache()
    service.build_kb("risk/transactions.csv", "risk/labels.csv", cfg=aws)
    yield aws
    service.reset_cache()


def _screen(records: list[dict[str, Any]]) -> dict[str, Any]:
    from paver.risk.service import screen_stream_records

    return screen_stream_records(records)


def test_screening_decision_write_throttled_reports_the_batch_and_retry_decides_once(
        risk_kb: Settings, payments: list[dict[str, Any]]) -> None:
    with Fault(ddb(Decision), "BatchWriteItem", THROTTLED) as fault:
        out = _screen(payments)
    assert fault.injected == 1
    assert out["batchItemFailures"] == [{"itemIdentifier": _seq(r)} for r in payments]
    assert Decision.count() == 0
    again = _screen(payments)
    assert again["batchItemFailures"] == [] and again["screened"] == 5
    assert sorted(d.event_id for d in Decision.scan()) == sorted(_txn(r) for r in payments)


def test_screening_store_fault_stops_at_the_failed_record_and_retry_completes(
        risk_kb: Settings, payments: list[dict[str, Any]]) -> None:
    from paver.storage.models import Relation

    bad = _txn(payments[2])
    with Fault(ddb(Relation), "BatchWriteItem", "InternalServerError", status=500,
               match=bad) as fault:
        out = _screen(payments)
    assert fault.injected == 1
    assert out["batchItemFailures"] == [{"itemIdentifier": _seq(r)} for r in payments[2:]]
    assert sorted(d.event_id for d in Decision.scan()) == sorted(
        _txn(r) for r in payments[:2])
    again = _screen(payments[2:])  # redelivered from the failed record on
    assert again["batchItemFailures"] == [] and again["screened"] == 3
    assert sorted(d.event_id for d in Decision.scan()) == sorted(_txn(r) for r in payments)
    # each payment recorded once as associated data (items are keyed by transaction)
    out_rel = [r for r in Relation.scan() if r.rel_key.startswith("transaction#out#")]
    assert sorted(r.attrs["txn_id"] for r in out_rel) == sorted(_txn(r) for r in payments)



def test_a_malformed_record_does_not_block_the_stream_shard(
        risk_kb: Settings, payments: list[dict[str, Any]]) -> None:
    # ``attributes`` holding JSON that is not an object (a writer's bug) once failed every
    # retry of the batch: the shard stopped behind it.
    payments[1]["dynamodb"]["NewImage"]["attributes"] = {"S": json.dumps("not an object")}
    out = _screen(payments)
    assert out["batchItemFailures"] == [] and out["screened"] == 5


def test_the_paying_phone_reaches_screening(aws: Settings) -> None:
    from paver.risk.service import event_from_transaction_image

    Merchant(merchant_id="M2", partner_id="P1", name="Tea Shop", mcc="5814",
             city="Hangzhou").save()
    record_transaction(TransactionIn(
        idempotency_key="order-phone-1", merchant_id="M2", amount=Decimal("30"),
        from_account="A0001", from_device="D-77", from_ip="2001:db8::7"))
    (rec,) = stream_records(aws)
    e = event_from_transaction_image(rec["dynamodb"]["NewImage"])
    assert (e.from_account, e.from_device, e.from_ip) == ("A0001", "D-77", "2001:db8::7")
    with pytest.raises(TransactionConflict):  # the same key, another phone: not the same payment
        record_transaction(TransactionIn(
            idempotency_key="order-phone-1", merchant_id="M2", amount=Decimal("30"),
            from_account="A0001", from_device="D-78", from_ip="2001:db8::7"))
