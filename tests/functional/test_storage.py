from __future__ import annotations

from typing import Any

from paver.aws import client
from paver.config import BUCKETS, QUEUES, Settings
from paver.storage import registry
from paver.storage.models import ALL_MODELS, Merchant, Partner, Transaction


def test_every_table_bucket_and_queue_is_created(aws: Settings) -> None:
    tables = client("dynamodb", aws).list_tables()["TableNames"]
    assert sorted(tables) == sorted(aws.table_name(registry.LOGICAL_NAMES[m]) for m in ALL_MODELS)
    assert all(t.startswith("paver-test-") for t in tables)
    buckets = {b["Name"] for b in client("s3", aws).list_buckets()["Buckets"]}
    assert buckets == {aws.bucket_name(r) for r in BUCKETS}
    urls = client("sqs", aws).list_queues()["QueueUrls"]
    for role in QUEUES:
        assert any(u.endswith(aws.queue_name(role)) for u in urls)
        assert any(u.endswith(aws.queue_name(f"{role}-dlq")) for u in urls)


def test_create_all_is_idempotent(aws: Settings) -> None:
    again = registry.create_all(aws)
    assert again["tables"] == [] and again["buckets"] == []


def test_by_partner_index_is_queryable(aws: Settings) -> None:
    Partner(partner_id="P1", name="Bank", kind="city_bank", region="east", guid="cn.bank.p1").save()
    for i, pid in enumerate(["P1", "P1", "P2"]):
        Merchant(merchant_id=f"M{i}", partner_id=pid, name=f"Shop {i}", mcc="5812",
                 city="Hangzhou").save()
    got = sorted(m.merchant_id for m in Merchant.by_partner.query("P1"))
    assert got == ["M0", "M1"]


def test_transactions_table_has_a_stream(aws: Settings) -> None:
    desc = client("dynamodb", aws).describe_table(TableName=Transaction.Meta.table_name)["Table"]
    assert desc["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert desc["LatestStreamArn"]


def test_schema_comes_from_the_models() -> None:
    schema = registry.table_schema(Merchant)
    assert schema["KeySchema"] == [{"AttributeName": "merchant_id", "KeyType": "HASH"}]
    assert schema["GlobalSecondaryIndexes"][0]["IndexName"] == "by_partner"
    assert "StreamSpecification" not in schema


def test_condition_failed_tells_a_refused_condition_from_other_errors(aws: Settings) -> None:
    import pytest
    from pynamodb.exceptions import PutError, TransactWriteError
    from pynamodb.transactions import TransactWrite

    from paver.storage.models import IdempotencyRecord

    Partner(partner_id="P1", name="Bank", kind="city_bank", region="east", guid="g").save()
    with pytest.raises(PutError) as put:
        Partner(partner_id="P1", name="Again", kind="city_bank", region="east", guid="g").save(
            condition=Partner.partner_id.does_not_exist())
    assert registry.condition_failed(put.value)
    assert not registry.condition_failed(ValueError("ConditionalCheckFailed"))

    IdempotencyRecord(key="seen").save()
    # Item 1 fails its condition, item 0 does not: the positions must not be confused.
    with (pytest.raises(TransactWriteError) as txn,
          TransactWrite(connection=registry.connection()) as tw):
        tw.save(IdempotencyRecord(key="fresh"), condition=IdempotencyRecord.key.does_not_exist())
        tw.save(IdempotencyRecord(key="seen"), condition=IdempotencyRecord.key.does_not_exist())
    assert registry.condition_failed(txn.value)
    assert registry.condition_failed(txn.value, 1)
    assert not registry.condition_failed(txn.value, 0)


def test_the_app_binds_the_models_before_every_handler(api: Any, aws: Settings) -> None:
    """One binding at the composition root: an HTTP request and an event handler each rebind
    models pointed elsewhere (the core itself never binds)."""
    registry.unbind()
    Merchant.Meta.table_name = "somewhere-else"
    assert api.http.get("/merchants/M1").status_code == 404
    assert Merchant.Meta.table_name == aws.table_name("Merchants")
    registry.unbind()
    Partner.Meta.table_name = "somewhere-else"
    out = api.lambda_.invoke("rescore_partners", api.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[])).payload
    assert "errorMessage" not in out
    assert Partner.Meta.table_name == aws.table_name("Partners")


def test_dedupe_markers_expire_and_claims_do_not(aws: Settings) -> None:
    """Markers carry a TTL the table honours; credential claims live in their own table."""
    from datetime import UTC, datetime

    from paver.storage.models import DEDUPE_TTL, Claim, IdempotencyRecord

    ddb = client("dynamodb", aws)
    described = ddb.describe_time_to_live(TableName=aws.table_name("Idempotency"))
    assert described["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED",
                                                  "AttributeName": "expires_at"}
    claims = ddb.describe_time_to_live(TableName=aws.table_name("Claims"))
    assert claims["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"
    now = datetime(2026, 1, 1, tzinfo=UTC)
    IdempotencyRecord.marker("accrued#T1", now=now).save()
    raw = ddb.get_item(TableName=aws.table_name("Idempotency"), Key={"key": {"S": "accrued#T1"}})
    assert int(raw["Item"]["expires_at"]["N"]) == int((now + DEDUPE_TTL).timestamp())
    Claim(key="uscc#X", merchant_id="M1").save()
    assert Claim.get("uscc#X").merchant_id == "M1"
    assert registry.ttl_attribute(Claim) is None
