"""The one S3 event reader (paver.storage.s3_events), used by ingest and binding."""

from __future__ import annotations

from paver.storage.s3_events import s3_event, s3_records


def test_keys_round_trip_through_the_url_encoding_s3_uses() -> None:
    key = "photos/M1/a b+c/店.jpg"
    event = s3_event("paver-test-photos", key)
    assert event["Records"][0]["s3"]["object"]["key"] != key  # encoded on the wire
    assert s3_records(event) == [("paver-test-photos", key)]


def test_malformed_records_are_skipped_and_the_rest_read() -> None:
    good = s3_event("b", "ingest/x.csv")["Records"][0]
    event = {"Records": [{"s3": {"bucket": {}}}, "not a record", {"s3": None}, good,
                         {"s3": {"bucket": {"name": "b"}, "object": {"key": 7}}}]}
    assert s3_records(event) == [("b", "ingest/x.csv")]
    assert s3_records({}) == []
