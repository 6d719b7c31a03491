"""Transactions are recorded idempotently and accrued exactly once, however often replayed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from paver.accrual.accrual import process_stream
from paver.config import Settings
from paver.rollout import service as rollout
from paver.storage.models import Benefit, Code, Merchant, Transaction
from tests.events import stream_records

PAYLOAD = "000201010212261800" + "0" * 40  # any stored payload: the scan ref follows from it


@pytest.fixture
def merchant(aws: Settings) -> Merchant:
    m = Merchant(merchant_id="M1", partner_id="P1", name="Noodle House", mcc="5812",
                 city="Hangzhou")
    m.save()
    return m


def _code(status: str, active_at: str | None = None) -> Code:
    history = [{"status": "issued", "at": "2026-09-01T00:00:00+00:00"}]
    if active_at:
        history.append({"status": "active", "at": active_at})
    code = Code(code_id="code-M1", campaign_id="C1", merchant_id="M1", partner_id="P1",
                payload=PAYLOAD, skin="neutral_default", status=status, history=history)
    code.save()
    return code


@pytest.fixture
def active_code(merchant: Merchant) -> Code:
    """M1's aggregated code, active since 1 October 2026."""
    return _code("active", "2026-10-01T00:00:00+00:00")


def _ago(**delta: float) -> str:
    """An ISO timestamp ``delta`` before now (payments are reported within a window of now)."""
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def _post(api, body: dict):
    return api.http.post("/transactions", body=json.dumps(body),
                         headers={"Content-Type": "application/json"})



def test_post_transaction_is_idempotent(api, merchant: Merchant) -> None:
    body = {"idempotency_key": "order-000001", "merchant_id": "M1", "amount": "12.50",
            "timestamp": _ago(hours=1)}
    first = _post(api, body)
    assert first.status_code == 201
    again = _post(api, body)
    assert again.status_code == 200
    assert json.loads(again.body)["replayed"] is True
    assert json.loads(again.body)["txn_id"] == json.loads(first.body)["txn_id"]
    clash = _post(api, {**body, "amount": "99.00"})
    assert clash.status_code == 409
    assert "idempotency_key" in json.loads(clash.body)["Message"]


@pytest.mark.parametrize(
    ("patch", "field"),
    [({"idempotency_key": None}, "idempotency_key"), ({"amount": "-1"}, "amount"),
     ({"amount": "1.234"}, "amount"), ({"timestamp": "2026-11-01T10:00:00"}, "timestamp"),
     ({"merchant_id": "M/1"}, "merchant_id"), ({"surprise": 1}, "surprise")],
)
def test_bad_transactions_name_the_field(api, merchant: Merchant, patch: dict, field: str) -> None:
    body = {"idempotency_key": "order-000002", "merchant_id": "M1", "amount": "5.00", **patch}
    body = {k: v for k, v in body.items() if v is not None}
    resp = _post(api, body)
    assert resp.status_code == 400
    assert field in json.loads(resp.body)["Message"]


# Stable ids: the values depend on the clock, and pytest-xdist workers must collect the same names.
@pytest.mark.parametrize("timestamp", [
    "0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00",  # the years 1 and 9999
    _ago(days=8), _ago(hours=25), _ago(minutes=-10),  # a week back, over a day, 10 min ahead
], ids=["year-1", "year-9999", "8-days-ago", "25-hours-ago", "10-minutes-ahead"])
def test_backdated_and_future_payments_are_refused(api, merchant: Merchant,
                                                   timestamp: str) -> None:
    resp = _post(api, {"idempotency_key": "order-000009", "merchant_id": "M1", "amount": "5.00",
                       "timestamp": timestamp})
    assert resp.status_code == 400
    assert json.loads(resp.body)["Message"].startswith("timestamp: must lie between")
    assert Transaction.count() == 0


def test_the_reporting_window_is_configurable(api, merchant: Merchant,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    body = {"idempotency_key": "order-000010", "merchant_id": "M1", "amount": "5.00",
            "timestamp": _ago(days=2)}
    assert _post(api, body).status_code == 400
    monkeypatch.setenv("PAVER_TXN_MAX_AGE_S", str(3 * 86400))
    assert _post(api, body).status_code == 201
    assert _post(api, {**body, "idempotency_key": "order-000011",
                       "timestamp": _ago(minutes=-1)}).status_code == 201


@pytest.mark.parametrize(("patch", "field"), [
    ({"currency": "١٥٦"}, "currency"), ({"amount": "١٠٠.٠٠"}, "amount"),  # Arabic-Indic digits
    ({"amount": True}, "amount"), ({"merchant_id": "M١"}, "merchant_id"),
])
def test_codes_and_amounts_take_ascii_digits_only(api, merchant: Merchant, patch: dict,
                                                  field: str) -> None:
    resp = _post(api, {"idempotency_key": "order-000012", "merchant_id": "M1", "amount": "5.00",
                       **patch})
    assert resp.status_code == 400
    assert json.loads(resp.body)["Message"].startswith(f"{field}:")
    assert Transaction.count() == 0


def test_unknown_merchant_is_404(api, merchant: Merchant) -> None:
    resp = _post(api, {"idempotency_key": "order-000003", "merchant_id": "NOPE", "amount": "1"})
    assert resp.status_code == 404


def test_stream_batch_replayed_three_times_counts_once(api, active_code: Code, aws: Settings,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAVER_TXN_MAX_AGE_S", str(4 * 86400))  # payments of three days
    for i in range(12):
        assert _post(api, {"idempotency_key": f"order-1{i:05d}", "merchant_id": "M1",
                           "amount": "500.00", "code_id": "code-M1",
                           "timestamp": _ago(days=i % 3)}).status_code == 201
    records = stream_records(aws)
    assert len(records) == 12
    outcomes = [process_stream(records) for _ in range(3)]
    assert len(outcomes[0].accrued) == 12
    assert [len(o.duplicates) for o in outcomes[1:]] == [12, 12]
    assert all(o.failures == [] for o in outcomes)
    m = Merchant.get("M1")
    assert m.txn_count == 12
    assert Decimal(str(m.txn_amount)) == Decimal("6000")
    assert len(m.active_day_set) == 3
    benefits = {b.benefit_id for b in Benefit.query("M1")}
    assert benefits == {"milestone#first_payment", "milestone#ten_payments",
                        "milestone#amount_5000"}
    view = json.loads(api.http.get("/merchants/M1").body)
    assert view["totals"] == {"txn_count": 12, "txn_amount": "6000.00", "active_days": 3}
    listed = json.loads(api.http.get("/merchants/M1/benefits").body)["benefits"]
    assert len(listed) == 3


def test_a_failing_record_stops_the_batch_and_is_reported_with_the_rest(
        api, active_code: Code, aws: Settings) -> None:
    from paver.accrual.accrual import accrue

    for i in range(4):
        _post(api, {"idempotency_key": f"order-2{i:05d}", "merchant_id": "M1", "amount": "1",
                    "scan_ref": rollout.scan_ref_for(PAYLOAD)})
    records = stream_records(aws)
    poisoned = records[2]["dynamodb"]["NewImage"]["txn_id"]["S"]

    def flaky(txn: dict) -> bool:
        if txn["txn_id"] == poisoned:
            raise RuntimeError("throttled")
        return accrue(txn)

    out = process_stream(records, accrue_fn=flaky)
    # a stream is ordered: Lambda replays it from the failed record, so the batch stops there
    assert out.response() == {"batchItemFailures": [
        {"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in records[2:]]}
    assert Merchant.get("M1").txn_count == 2
    retry = process_stream(records[2:])  # Lambda redelivers from the failed record
    assert len(retry.accrued) == 2 and retry.duplicates == []
    assert Merchant.get("M1").txn_count == 4


def test_records_other_than_inserts_and_garbage_are_skipped(merchant: Merchant) -> None:
    out = process_stream([
        {"eventName": "MODIFY", "dynamodb": {"SequenceNumber": "1"}},
        {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "2", "NewImage": {"x": {}}}},
    ])
    assert out.skipped == ["1", "2"] and out.failures == []


def test_code_id_must_be_the_merchants_and_merchants_cannot_report_payments(
        api, merchant: Merchant) -> None:
    body = {"idempotency_key": "order-300001", "merchant_id": "M1", "amount": "5.00"}
    wrong = _post(api, {**body, "code_id": "code-OTHER"})
    assert wrong.status_code == 400 and "code_id" in json.loads(wrong.body)["Message"]
    through = _post(api, {**body, "code_id": "code-M1"})
    assert through.status_code == 201  # stored, but M1 has no code issued: nothing accrues
    assert json.loads(through.body)["accrues"] is False
    assert json.loads(through.body)["accrual"]["code"] == "no_code_issued"
    as_merchant = api.as_("merchant", "M1").http.post(
        "/transactions", body=json.dumps({**body, "idempotency_key": "order-300002"}),
        headers={"Content-Type": "application/json"})
    assert as_merchant.status_code == 403


def test_reingesting_a_merchant_keeps_totals_binding_and_owner(merchant: Merchant) -> None:
    from paver.accrual.accrual import accrue
    from paver.storage.models import Partner
    from paver.trust.ingest import ingest_records

    for pid in ("P1", "P2"):
        Partner(partner_id=pid, name=f"Bank {pid}", kind="city_bank", region="east",
                guid=f"cn.bank.{pid.lower()}").save()
    accrue({"txn_id": "t1", "merchant_id": "M1", "amount": 7.5,
            "timestamp": "2026-11-01T10:00:00+00:00"})
    Merchant.get("M1").update(actions=[Merchant.bound.set(True), Merchant.level.set(2)])
    row = {"merchant_id": "M1", "name": "Noodle House Renamed", "mcc": "5812",
           "city": "Hangzhou", "region": "east", "level": 0}
    report = ingest_records([row], kind="merchants", source="api", partner_id="P1")
    assert report.accepted == 1, report
    m = Merchant.get("M1")
    assert m.name == "Noodle House Renamed"  # registration data updated ...
    assert (m.txn_count, m.txn_amount, m.bound, m.level) == (1, 7.5, True, 2)  # ... nothing else
    takeover = ingest_records([row], kind="merchants", source="api", partner_id="P2")
    assert takeover.accepted == 0 and Merchant.get("M1").partner_id == "P1"


def test_a_stale_ingest_snapshot_cannot_overwrite_concurrent_accrual(merchant: Merchant) -> None:
    from paver.accrual.accrual import accrue
    from paver.trust import store
    from paver.trust.ingest import MerchantRow

    snapshot = store.get_merchants(["M1"])  # ingest read the merchant ...
    accrue({"txn_id": "t2", "merchant_id": "M1", "amount": 3.0,  # ... a payment lands ...
            "timestamp": "2026-11-02T10:00:00+00:00"})
    row = MerchantRow.model_validate({"merchant_id": "M1", "partner_id": "P1", "name": "Renamed",
                                      "mcc": "5812", "city": "Hangzhou", "level": 0})
    assert store.put_merchants([row], snapshot, "file.csv") == []  # ... then ingest writes
    m = Merchant.get("M1")
    assert m.name == "Renamed" and m.txn_count == 1 and m.txn_amount == 3.0


def test_only_payments_through_the_active_code_accrue(api, merchant: Merchant,
                                                      aws: Settings) -> None:
    """Claim 5 through the API and the stream: stored either way, counted only through the
    merchant's code while it is active; each reply says why."""
    _code("shipped")
    scan = rollout.scan_ref_for(PAYLOAD)
    base = {"merchant_id": "M1", "amount": "100.00"}

    def post(key: str, **extra: str) -> dict:
        resp = _post(api, {**base, "idempotency_key": key, **extra})
        assert resp.status_code == 201, resp.body
        return json.loads(resp.body)

    an_hour_ago = _ago(hours=1)
    shipped = post("order-400001", scan_ref=scan)
    assert (shipped["accrues"], shipped["accrual"]["code"]) == (False, "code_not_active")
    assert "'shipped'" in shipped["accrual"]["reason"]
    assert shipped["code_id"] == "code-M1"  # the scan names the code
    rollout.activate("code-M1", {"attempt_id": "a" * 32, "by": "test"})
    active_at = rollout.active_since(rollout.get_code("code-M1"))
    assert active_at is not None
    before = post("order-400002", code_id="code-M1", timestamp=an_hour_ago)
    assert (before["accrues"], before["accrual"]["code"]) == (False, "code_not_active")
    no_code = post("order-400003", channel="card")
    assert (no_code["accrues"], no_code["accrual"]["code"]) == (False, "not_through_code")
    scanned = post("order-400004", scan_ref=scan)
    assert (scanned["accrues"], scanned["accrual"]["code"]) == (True, "through_active_code")
    by_id = post("order-400005", code_id="code-M1")
    assert by_id["accrues"] is True
    forged = _post(api, {**base, "idempotency_key": "order-400006",
                         "scan_ref": rollout.scan_ref_for(PAYLOAD + "0")})
    assert forged.status_code == 400 and "scan_ref" in json.loads(forged.body)["Message"]
    malformed = _post(api, {**base, "idempotency_key": "order-400007", "scan_ref": "scan-xyz"})
    assert malformed.status_code == 400 and "scan_ref" in json.loads(malformed.body)["Message"]

    out = process_stream(stream_records(aws))
    assert sorted(out.accrued) == sorted([scanned["txn_id"], by_id["txn_id"]])
    assert {n["txn_id"]: n["code"] for n in out.not_accrued} == {
        shipped["txn_id"]: "code_not_active", before["txn_id"]: "code_not_active",
        no_code["txn_id"]: "not_through_code"}
    assert all(n["reason"] for n in out.not_accrued)
    m = Merchant.get("M1")
    assert (m.txn_count, m.txn_amount) == (2, 200)
    assert Transaction.count() == 5  # every payment is stored


def test_the_stream_decides_records_written_without_a_decision(active_code: Code) -> None:
    """A Transactions item written by another path (no ``accrues``) gets the same rule."""

    def record(seq: str, txn_id: str, **extra: dict) -> dict:
        image = {"txn_id": {"S": txn_id}, "merchant_id": {"S": "M1"}, "amount": {"N": "9.5"},
                 "timestamp": {"S": "2026-11-05T08:00:00+00:00"}, **extra}
        return {"eventName": "INSERT", "dynamodb": {"SequenceNumber": seq, "NewImage": image}}

    out = process_stream([
        record("1", "t-plain"),
        record("2", "t-code", code_id={"S": "code-M1"}),
        record("3", "t-other", code_id={"S": "code-M2"}),
        record("4", "t-refused", code_id={"S": "code-M1"}, accrues={"BOOL": False},
               accrual_code={"S": "code_not_active"}, accrual_reason={"S": "shipped"}),
    ])
    assert out.accrued == ["t-code"]
    assert {n["txn_id"]: n["code"] for n in out.not_accrued} == {
        "t-plain": "not_through_code", "t-other": "not_attributable",
        "t-refused": "code_not_active"}
    assert out.failures == []
    assert Merchant.get("M1").txn_count == 1
