"""One reader of the Transactions stream: accrual and risk screening see the same values."""

from __future__ import annotations

import pytest

from paver.accrual.accrual import _image
from paver.risk.service import event_from_transaction_image
from paver.storage.streams import BadStreamRecord, inserted_item, sequence_number
from tests.events import load_event


def _record() -> dict:
    return load_event("dynamodb_transactions_insert")["Records"][0]


def test_accrual_and_risk_read_one_insert_the_same_way() -> None:
    rec = _record()
    txn = _image(rec)
    event = event_from_transaction_image(rec["dynamodb"]["NewImage"])
    assert txn is not None and event is not None
    assert (txn["txn_id"], txn["merchant_id"], txn["amount"]) == (
        event.txn_id, event.to_account, event.amount) == ("T1", "P0001-M00001", 12.5)
    assert (event.from_device, event.from_ip, txn["accrues"]) == ("D1", "10.0.0.1", True)
    assert sequence_number(rec) == "111"


def test_other_events_are_not_inserts() -> None:
    rec = _record()
    rec["eventName"] = "MODIFY"
    assert inserted_item(rec) is None and _image(rec) is None


@pytest.mark.parametrize("image", [None, {"txn_id": {"Q": "?"}}, "text"])
def test_an_unreadable_insert_is_a_bad_record(image: object) -> None:
    rec = _record()
    rec["dynamodb"]["NewImage"] = image
    with pytest.raises(BadStreamRecord):
        inserted_item(rec)


def test_a_mistyped_field_is_a_bad_record_for_accrual() -> None:
    rec = _record()
    rec["dynamodb"]["NewImage"]["txn_id"] = {"N": "1"}
    with pytest.raises(BadStreamRecord, match="txn_id"):
        _image(rec)
