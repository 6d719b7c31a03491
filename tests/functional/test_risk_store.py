"""The DynamoDB associated-data store counts each event's device and IP use exactly once."""

from __future__ import annotations

from paver.config import Settings
from paver.risk.dynamo_store import DynamoStore
from paver.risk.events import TransferEvent
from paver.storage.models import Relation


def _uses(node: str, key: str) -> int:
    return int(Relation.get(node, key).uses)


def test_retried_event_counts_device_use_once(aws: Settings) -> None:
    store = DynamoStore(aws)
    event = TransferEvent(txn_id="T1", ts=1_700_000_000.0, from_account="A000001",
                          to_account="A000002", amount=10.0, from_device="D1", to_device="D2",
                          from_ip="10.0.0.1", to_ip="10.0.0.2")
    for _ in range(3):  # the stream redelivers; the API is retried
        store.record_transfer(event)
    assert _uses("acct:A000001", "device#D1") == 1
    assert _uses("device:D2", "account#A000002") == 1
    assert _uses("ip:10.0.0.1", "account#A000001") == 1
    store.record_transfer(TransferEvent(txn_id="T2", ts=1_700_000_100.0,
                                        from_account="A000001", to_account="A000003",
                                        amount=5.0, from_device="D1"))
    assert _uses("acct:A000001", "device#D1") == 2
    out = [r.rel_key for r in Relation.query("acct:A000001")]
    assert sum(k.startswith("transaction#out#") for k in out) == 2


def test_self_transfer_from_one_device_is_recorded(aws: Settings) -> None:
    store = DynamoStore(aws)
    store.record_transfer(TransferEvent(txn_id="T9", ts=1_700_000_000.0, from_account="A000007",
                                        to_account="A000007", amount=1.0, from_device="D7",
                                        to_device="D7", from_ip="10.0.0.7", to_ip="10.0.0.7"))
    assert _uses("acct:A000007", "device#D7") == 1
