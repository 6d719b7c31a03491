"""Local event sources: deliver SQS, DynamoDB-stream and S3 events to the app's own handlers.

In AWS, Lambda's event source mappings poll the rollout queue and the Transactions stream, and
S3 invokes the ingest and binding functions. ``paver serve`` has no Lambda service, so this
module plays that part against the embedded (or configured) AWS: one thread per source polls
and calls the **same** handler the deployment wires, with the same batch semantics:

- SQS: a batch of up to ``batch_size`` messages; the messages a handler names in
  ``batchItemFailures`` stay in the queue (visible again after a short delay, then
  redelivered), the others are deleted; a handler that raises leaves the whole batch.
- DynamoDB stream: batches per shard from ``TRIM_HORIZON``; a reported failure replays the
  batch from the lowest failed sequence number (at most ``MAX_STREAM_RETRIES`` times, then the
  record is skipped and logged, as Lambda's ``MaximumRetryAttempts`` does).
- S3: the bucket notifies a local queue (moto implements S3 → SQS notifications, for presigned
  POST uploads too), and the queue's S3 events are handed to the function as Lambda would.

Handlers are passed in (resolved from the Chalice app by the caller), so this core never
imports the handler modules.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paver.aws import client
from paver.config import Settings

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]
IDLE_WAIT_S = 0.5
RETRY_VISIBILITY_S = 2  # a failed message is redelivered after this (Lambda: the queue's timeout)
MAX_STREAM_RETRIES = 10


@dataclass(frozen=True)
class SqsSource:
    """An SQS event source mapping: queue name → handler."""

    name: str
    queue: str
    handler: Handler
    batch_size: int = 10


@dataclass(frozen=True)
class StreamSource:
    """A DynamoDB stream event source mapping: table → handler."""

    name: str
    table: str
    handler: Handler
    batch_size: int = 100


@dataclass(frozen=True)
class S3Trigger:
    """An S3 notification: objects created in ``bucket`` under ``prefix`` → function."""

    name: str
    bucket: str
    prefix: str
    suffixes: tuple[str, ...]
    handler: Handler


@dataclass
class _Context:
    """The parts of a Lambda context object handlers may read."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: f"local-{time.time_ns()}")

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class PumpStats:
    """What each source delivered (read by tests and the shutdown log line)."""

    delivered: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, delivered: int, failed: int) -> None:
        self.delivered[name] = self.delivered.get(name, 0) + delivered
        self.failed[name] = self.failed.get(name, 0) + failed


def _failed_ids(result: Any) -> set[str]:
    if not isinstance(result, Mapping):
        return set()
    return {str(f.get("itemIdentifier")) for f in result.get("batchItemFailures") or []}


class EventPump:
    """Polls every source on its own daemon thread until :meth:`stop`."""

    def __init__(self, cfg: Settings, sqs: Sequence[SqsSource] = (),
                 streams: Sequence[StreamSource] = (), s3: Sequence[S3Trigger] = (),
                 stream_start: str = "TRIM_HORIZON") -> None:
        """``stream_start``: where new shard iterators begin (``LATEST`` skips records that
        were already handled, e.g. by the demo's own stages)."""
        self.cfg = cfg
        self.sqs, self.streams, self.s3 = list(sqs), list(streams), list(s3)
        self.stream_start = stream_start
        #: set once every stream source holds its first shard iterators
        self.streams_ready = threading.Event()
        self._pending_streams = len(self.streams)
        self._lock = threading.Lock()
        if not self.streams:
            self.streams_ready.set()
        self.stats = PumpStats()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> EventPump:
        for src in self.sqs:
            url = client("sqs", self.cfg).get_queue_url(QueueName=src.queue)["QueueUrl"]
            self._spawn(f"sqs:{src.name}", self._run_sqs, src.name, url, src.handler,
                        src.batch_size, False)
        for trig in self.s3:
            url = self._notify_queue(trig)
            self._spawn(f"s3:{trig.name}", self._run_sqs, trig.name, url, trig.handler, 10, True)
        for stream in self.streams:
            self._spawn(f"stream:{stream.name}", self._run_stream, stream)
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop polling; wait up to ``timeout_s`` in all for batches in flight (the threads are
        daemons: a batch still running is cut off with the process, and redelivered as Lambda
        would after a timeout)."""
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]
        if self._threads:
            log.warning("event pump: %d sources still busy at shutdown", len(self._threads))

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        t = threading.Thread(target=self._guard, args=(name, target, *args), name=name,
                             daemon=True)
        t.start()
        self._threads.append(t)

    def _guard(self, name: str, target: Callable[..., None], *args: Any) -> None:
        while not self._stop.is_set():
            try:
                target(*args)
                return
            except Exception:  # the endpoint went away or hiccupped: back off, poll again
                if self._stop.is_set():
                    return
                log.exception("event pump: %s failed; polling again", name)
                self._stop.wait(2.0)

    # ------------------------------------------------------------------ SQS (and S3 via SQS)
    def _notify_queue(self, trig: S3Trigger) -> str:
        """A local queue the bucket notifies for this trigger's keys (created idempotently)."""
        sqs = client("sqs", self.cfg)
        url = sqs.create_queue(QueueName=f"{self.cfg.prefix}-local-s3-{trig.name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        s3 = client("s3", self.cfg)
        current = s3.get_bucket_notification_configuration(Bucket=trig.bucket)
        configs = [c for c in current.get("QueueConfigurations", []) if c["QueueArn"] != arn]
        for suffix in trig.suffixes:
            rules = [{"Name": "prefix", "Value": trig.prefix}]
            if suffix:
                rules.append({"Name": "suffix", "Value": suffix})
            configs.append({"QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
                            "Filter": {"Key": {"FilterRules": rules}}})
        s3.put_bucket_notification_configuration(
            Bucket=trig.bucket, NotificationConfiguration={"QueueConfigurations": configs})
        return url

    def _run_sqs(self, name: str, url: str, handler: Handler, batch_size: int,
                 s3_events: bool) -> None:
        sqs = client("sqs", self.cfg)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        while not self._stop.is_set():
            msgs = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=min(batch_size, 10), WaitTimeSeconds=1,
                AttributeNames=["All"]).get("Messages", [])
            if not msgs:
                continue
            if s3_events:
                done, failed = self._deliver_s3(name, handler, msgs)
            else:
                done, failed = self._deliver_sqs(name, handler, msgs, arn)
            if done:
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done)])
            for m in failed:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                              VisibilityTimeout=RETRY_VISIBILITY_S)
            self.stats.add(name, len(done), len(failed))

    def _deliver_sqs(self, name: str, handler: Handler, msgs: list[dict[str, Any]],
                     arn: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"], "attributes": m.get("Attributes", {}),
                    "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs", "eventSourceARN": arn,
                    "awsRegion": self.cfg.region} for m in msgs]
        try:
            failures = _failed_ids(handler({"Records": records}, _Context(name)))
        except Exception:
            log.exception("event pump: %s raised; the whole batch returns to the queue", name)
            return [], msgs
        return ([m for m in msgs if m["MessageId"] not in failures],
                [m for m in msgs if m["MessageId"] in failures])

    def _deliver_s3(self, name: str, handler: Handler, msgs: list[dict[str, Any]]
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Each message carries one S3 event; the function is invoked once per event."""
        done, failed = [], []
        for m in msgs:
            try:
                event = json.loads(m["Body"])
            except ValueError:
                log.error("event pump: %s: notification is not JSON; dropped", name)
                done.append(m)
                continue
            if not isinstance(event, dict) or not event.get("Records"):
                done.append(m)  # e.g. s3:TestEvent
                continue
            try:
                handler(event, _Context(name))
                done.append(m)
            except Exception:  # S3 → Lambda is asynchronous: the invocation is retried
                log.exception("event pump: %s raised; notification retried", name)
                failed.append(m)
        return done, failed

    # ------------------------------------------------------------------ DynamoDB streams
    def _run_stream(self, src: StreamSource) -> None:
        ddb, streams = client("dynamodb", self.cfg), client("dynamodbstreams", self.cfg)
        arn = ddb.describe_table(TableName=src.table)["Table"]["LatestStreamArn"]
        iterators: dict[str, str | None] = {}
        retries: dict[str, int] = {}
        start: str | None = self.stream_start  # the shards there now; later ones: from the top
        while not self._stop.is_set():
            for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
                sid = shard["ShardId"]
                if sid not in iterators:
                    iterators[sid] = streams.get_shard_iterator(
                        StreamArn=arn, ShardId=sid,
                        ShardIteratorType=start or "TRIM_HORIZON")["ShardIterator"]
            if start is not None:
                self._stream_started()
            start = None
            busy = False
            for sid, it in list(iterators.items()):
                if it is None or self._stop.is_set():
                    continue
                page = streams.get_records(ShardIterator=it, Limit=src.batch_size)
                records = [_lambda_record(r, arn) for r in page["Records"]]
                if not records:
                    iterators[sid] = page.get("NextShardIterator")
                    continue
                busy = True
                replay = self._deliver_stream(src, records, retries)
                if replay is None:
                    iterators[sid] = page.get("NextShardIterator")
                else:
                    seq, kind = replay
                    iterators[sid] = streams.get_shard_iterator(
                        StreamArn=arn, ShardId=sid, ShardIteratorType=kind,
                        SequenceNumber=seq)["ShardIterator"]
            if not busy:
                self._stop.wait(IDLE_WAIT_S)

    def _stream_started(self) -> None:
        with self._lock:
            self._pending_streams -= 1
            if self._pending_streams <= 0:
                self.streams_ready.set()

    def _deliver_stream(self, src: StreamSource, records: list[dict[str, Any]],
                        retries: dict[str, int]) -> tuple[str, str] | None:
        """Deliver one batch; ``None`` to move on, or where to replay from."""
        seqs = [r["dynamodb"]["SequenceNumber"] for r in records]
        try:
            failures = _failed_ids(src.handler({"Records": records}, _Context(src.name)))
        except Exception:
            log.exception("event pump: %s raised; the batch is replayed", src.name)
            failures = {seqs[0]}
        failures &= set(seqs)
        self.stats.add(src.name, len(records) - len(failures), len(failures))
        if not failures:
            return None
        first = min(failures, key=lambda s: seqs.index(s))
        retries[first] = retries.get(first, 0) + 1
        if retries[first] > MAX_STREAM_RETRIES:
            log.error("event pump: %s: record %s failed %d times; skipped", src.name, first,
                      MAX_STREAM_RETRIES)
            return first, "AFTER_SEQUENCE_NUMBER"
        self._stop.wait(min(0.2 * 2 ** retries[first], 5.0))
        return first, "AT_SEQUENCE_NUMBER"


def _lambda_record(r: dict[str, Any], arn: str) -> dict[str, Any]:
    """A Streams API record in the shape Lambda delivers (epoch seconds, source ARN)."""
    rec = {**r, "eventSourceARN": arn}
    ddb = dict(rec.get("dynamodb") or {})
    t = ddb.get("ApproximateCreationDateTime")
    if isinstance(t, datetime):
        ddb["ApproximateCreationDateTime"] = t.timestamp()
    rec["dynamodb"] = ddb
    return rec


def sources_from_app(app: Any, cfg: Settings,
                     s3_triggers: Mapping[str, tuple[str, str, Iterable[str]]]
                     ) -> tuple[list[SqsSource], list[StreamSource], list[S3Trigger]]:
    """The event sources a Chalice app declares, with the handlers it registered.

    Parameters
    ----------
    app
        The :class:`chalice.Chalice` app (its ``event_sources`` and ``pure_lambda_functions``).
    cfg
        Where the queues, tables and buckets live.
    s3_triggers
        Bucket role → (function name, key prefix, key suffixes), as the deployment wires them.
    """
    from paver.storage.registry import LOGICAL_NAMES

    sqs: list[SqsSource] = []
    streams: list[StreamSource] = []
    for src in app.event_sources:
        kind = type(src).__name__
        handler = app.handler_map[src.name]
        if kind == "SQSEventConfig":
            sqs.append(SqsSource(src.name, src.queue, handler, int(src.batch_size or 10)))
        elif kind == "DynamoDBEventConfig":
            logical = next((n for n in LOGICAL_NAMES.values() if f"-{n}/" in src.stream_arn),
                           None)
            if logical is None:
                log.warning("event pump: no table of ours behind %s; skipped", src.name)
                continue
            streams.append(StreamSource(src.name, cfg.table_name(logical), handler,
                                        int(src.batch_size or 100)))
    functions = {f.name: app.handler_map[f.name] for f in app.pure_lambda_functions}
    s3 = [S3Trigger(fn, cfg.bucket_name(role), prefix, tuple(suffixes), functions[fn])
          for role, (fn, prefix, suffixes) in s3_triggers.items() if fn in functions]
    return sqs, streams, s3
