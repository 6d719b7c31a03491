"""The one partial-batch policy (paver.batch): SQS reports each failed message, a stream stops
at the first failure and reports it with every later record, permanent errors never retry."""

from __future__ import annotations

from typing import Any

import pytest

from paver.batch import failures_from, sqs_batch, stream_batch
from paver.errors import InvalidInput, NotFound
from paver.storage.streams import BadStreamRecord


def _msgs(*bodies: str) -> list[dict[str, str]]:
    return [{"messageId": f"m{i}", "body": b} for i, b in enumerate(bodies)]


def _recs(*bodies: str) -> list[dict[str, Any]]:
    return [{"eventName": "INSERT", "body": b, "dynamodb": {"SequenceNumber": str(10 + i)}}
            for i, b in enumerate(bodies)]


def _handler(done: list[str]):
    def handle(rec: Any) -> None:
        body = rec["body"]
        if body == "transient":
            raise RuntimeError("throttled")
        if body == "invalid":
            raise InvalidInput("body: not a message")
        if body == "unreadable":
            raise BadStreamRecord("dynamodb.NewImage: not an object")
        done.append(body)
    return handle


def test_sqs_reports_each_transient_failure_and_does_the_rest() -> None:
    done: list[str] = []
    dropped: list[tuple[str, str]] = []
    out = sqs_batch(_msgs("a", "transient", "invalid", "b", "transient"), _handler(done),
                    what="test", on_permanent=lambda r, e: dropped.append((r["messageId"],
                                                                          str(e))))
    assert out == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m4"}]}
    assert done == ["a", "b"]
    assert dropped == [("m2", "body: not a message")]


def test_sqs_permanent_errors_are_the_callers_and_a_failed_dead_letter_is_retried() -> None:
    def handle(rec: Any) -> None:
        raise NotFound("campaign C1 does not exist")

    def dead_letter_down(rec: Any, exc: Exception) -> None:
        raise RuntimeError("queue unavailable")

    assert sqs_batch(_msgs("x"), handle, what="t") == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]}  # NotFound is not permanent by default
    assert sqs_batch(_msgs("x"), handle, what="t", permanent=(NotFound,)) == {
        "batchItemFailures": []}
    assert sqs_batch(_msgs("x"), handle, what="t", permanent=(NotFound,),
                     on_permanent=dead_letter_down) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]}


def test_stream_stops_at_the_first_failure_and_reports_it_with_the_rest() -> None:
    done: list[str] = []
    skipped: list[str] = []
    recs = _recs("a", "unreadable", "b", "transient", "c", "transient")
    out = stream_batch(recs, _handler(done), what="test",
                       on_permanent=lambda r, e: skipped.append(r["body"]))
    assert out == [{"itemIdentifier": s} for s in ("13", "14", "15")]
    assert done == ["a", "b"] and skipped == ["unreadable"]
    assert stream_batch(_recs("a", "b"), _handler([]), what="test") == []


@pytest.mark.parametrize("index", [0, 2])
def test_failures_from_names_the_record_and_every_later_one(index: int) -> None:
    recs = _recs("a", "b", "c")
    assert failures_from(recs, index) == [{"itemIdentifier": str(10 + i)}
                                          for i in range(index, 3)]
