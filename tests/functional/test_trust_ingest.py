"""S3 / API ingest: per-row errors, whole-file errors, idempotent re-ingest, no partial writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from functions.ingest import handle_s3_event
from paver.aws import client
from paver.config import Settings
from paver.storage.models import Merchant, MerchantMetric, Partner
from paver.trust import ingest
from paver.trust.ingest import ingest_bytes, ingest_records, s3_event
from paver_dev.world.partners import generate


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("world")
    generate(np.random.default_rng(21), 4, 5).write(d)
    return d


def _drop(cfg: Settings, key: str, body: bytes) -> dict:
    bucket = cfg.bucket_name("ingest")
    client("s3", cfg).put_object(Bucket=bucket, Key=key, Body=body)
    result = handle_s3_event(s3_event(bucket, key))
    report = client("s3", cfg).get_object(Bucket=bucket, Key=key + ".report.json")["Body"].read()
    return {"result": result, "report": json.loads(report)}


def _snapshot() -> dict:
    return {
        "partners": sorted(p.to_simple_dict().__repr__() for p in Partner.scan()),
        "merchants": sorted(m.to_simple_dict().__repr__() for m in Merchant.scan()),
        "metrics": sorted(m.to_simple_dict().__repr__() for m in MerchantMetric.scan()),
    }


def _ingest_world(cfg: Settings, world: Path) -> list[dict]:
    return [_drop(cfg, f"ingest/w/{n}", (world / n).read_bytes())
            for n in ("partners.csv", "merchants.csv", "metrics.csv")]


def test_world_files_ingest_via_s3_and_reingest_changes_nothing(aws: Settings,
                                                                world: Path) -> None:
    out = _ingest_world(aws, world)
    for o, rows in zip(out, (4, 20), strict=False):
        assert o["report"]["ok"] and o["report"]["accepted"] == rows
    metrics_rows = out[2]["report"]["rows"]
    assert out[2]["report"]["accepted"] == metrics_rows > 100
    m = Merchant.get("P0001-M00001")
    assert m.name_zh and m.city_zh and m.registration["partner_guid"].startswith("cn.")
    before = _snapshot()
    Merchant("P0001-M00001").update(actions=[Merchant.bound.set(True), Merchant.level.set(3)])
    again = _ingest_world(aws, world)
    assert [o["report"]["accepted"] for o in again] == [o["report"]["accepted"] for o in out]
    after = _snapshot()
    assert after["partners"] == before["partners"] and after["metrics"] == before["metrics"]
    kept = Merchant.get("P0001-M00001")  # binding's state and upgraded level survive re-ingest
    assert kept.bound is True and kept.level == 3


def test_bad_rows_are_reported_with_row_field_and_reason(aws: Settings, world: Path) -> None:
    _ingest_world(aws, world)
    csv = (
        b"merchant_id,month,txn_count,amount,active_days\n"
        b"P0001-M00001,2024-05,10,100.5,3\n"
        b"P0001-M00001,2024-13,10,100,3\n"       # row 2: bad month
        b"P0001-M00002,2024-05,ten,100,3\n"      # row 3: wrong type
        b"P0001-M00003,2024-05,10,-5,3\n"        # row 4: negative amount
        b"P0001-M00004,2024-05,,100,3\n"         # row 5: missing required
        b"NOPE-M1,2024-05,1,1,1\n"               # row 6: unknown merchant
        b"P0001-M00001,2024-05,11,1,1\n"         # row 7: duplicate key in the file
    )
    rep = _drop(aws, "ingest/bad/metrics.csv", csv)["report"]
    assert rep["rows"] == 7 and rep["accepted"] == 1 and rep["rejected"] == 6
    got = {(e["row"], e["field"]) for e in rep["errors"]}
    assert got == {(2, "month"), (3, "txn_count"), (4, "amount"), (5, "txn_count"),
                   (6, "merchant_id"), (7, "merchant_id,month")}
    by_row = {e["row"]: e for e in rep["errors"]}
    assert by_row[4]["reason"] == "Input should be greater than or equal to 0"
    assert by_row[5]["reason"] == "Field required" and by_row[5]["line"] == 6
    assert "unknown merchant 'NOPE-M1'" in by_row[6]["reason"]
    assert MerchantMetric.get("P0001-M00001", "2024-05").amount == 100.5


def test_unknown_partner_and_foreign_merchant_are_refused(aws: Settings, world: Path) -> None:
    _ingest_world(aws, world)
    rows = [
        {"merchant_id": "X-1", "partner_id": "P9999", "name": "Shop", "mcc": "5812",
         "city": "Hangzhou"},
        {"merchant_id": "P0001-M00001", "partner_id": "P0002", "name": "Shop", "mcc": "5812",
         "city": "Hangzhou"},
    ]
    lines = "\n".join(json.dumps(r) for r in rows).encode()
    rep = _drop(aws, "ingest/bad/merchants.jsonl", lines)["report"]
    assert rep["accepted"] == 0 and rep["kind"] == "merchants"
    reasons = {e["row"]: e["reason"] for e in rep["errors"]}
    assert "unknown partner 'P9999'" in reasons[1]
    # another partner's merchant: the reply names no owner (see the existence test below)
    assert "P0001'" not in reasons[2] and "unknown merchant 'P0001-M00001'" in reasons[2]
    assert Merchant.get("P0001-M00001").partner_id == "P0001"


def _reasons(rep) -> list[tuple[str, str]]:
    return [(e.field, e.reason.replace(e.reason.split("'")[1], "<id>")) for e in rep.errors]


def test_not_yours_and_does_not_exist_get_the_same_reply(aws: Settings, world: Path) -> None:
    _ingest_world(aws, world)
    # P0001 names P0003's merchant and a merchant nobody has, in metrics and merchant rows
    metrics = ingest_records([
        {"merchant_id": "P0003-M00001", "month": "2024-05", "txn_count": 1, "amount": 1},
        {"merchant_id": "P0003-M99999", "month": "2024-05", "txn_count": 1, "amount": 1},
    ], kind="metrics", source="api", partner_id="P0001")
    assert metrics.accepted == 0
    (f1, r1), (f2, r2) = _reasons(metrics)
    assert (f1, r1) == (f2, r2) and f1 == "merchant_id" and "P0003'" not in r1
    row = {"name": "Shop", "mcc": "5812", "city": "Wuhan"}
    merchants = ingest_records([{"merchant_id": "P0003-M00001", **row},
                                {"merchant_id": "P0003-M99999", **row}],
                               kind="merchants", source="api", partner_id="P0001")
    assert merchants.accepted == 0 and not Merchant.count("P0003-M99999")
    (f1, r1), (f2, r2) = _reasons(merchants)
    assert (f1, r1) == (f2, r2) and f1 == "merchant_id"
    assert Merchant.get("P0003-M00001").partner_id == "P0003"


def test_a_partner_registers_new_ids_only_in_its_own_namespace(aws: Settings,
                                                               world: Path) -> None:
    _ingest_world(aws, world)
    row = {"name": "Shop", "mcc": "5812", "city": "Wuhan"}
    rep = ingest_records([{"merchant_id": "P0003-M77777", **row},  # squatting P0003's space
                          {"merchant_id": "SHOP-1", **row},  # outside every namespace
                          {"merchant_id": "P0001-M77777", **row}],  # its own: fine
                         kind="merchants", source="api", partner_id="P0001")
    assert rep.accepted == 1 and [e.row for e in rep.errors] == [1, 2]
    assert all("starting with 'P0001-'" in e.reason for e in rep.errors)
    assert Merchant.get("P0001-M77777").partner_id == "P0001"
    assert not Merchant.count("P0003-M77777") and not Merchant.count("SHOP-1")
    # partner ids cannot contain the separator, so a namespace never nests in another's
    bad = ingest_records([{"partner_id": "P0001-X", "name": "Bank", "kind": "city_bank",
                           "region": "east", "guid": "cn.x"}], kind="partners", source="api")
    assert bad.accepted == 0 and bad.errors[0].field == "partner_id"


def test_a_file_of_any_content_gets_its_report(aws: Settings, world: Path) -> None:
    _ingest_world(aws, world)
    deep = "[" * 100_000 + "]" * 100_000
    good = json.dumps({"merchant_id": "P0001-M00001", "month": "2024-06", "txn_count": 2,
                       "amount": 3})
    # nested deeper than the parser's stack: first line, then a later line
    for lines in ([deep, good], [good, deep, good.replace("2024-06", "2024-07")]):
        key = f"ingest/deep/{len(lines)}/metrics.jsonl"
        rep = _drop(aws, key, "\n".join(lines).encode())["report"]
        assert rep["rows"] == len(lines) and rep["accepted"] == len(lines) - 1
        (err,) = rep["errors"]
        assert err["field"] == "(row)" and "nested too deeply" in err["reason"]
    # a header cell over csv's 131,072-character field limit: a whole-file error, reported
    huge = (b"merchant_id,month,txn_count,amount," + b"x" * 200_000 +
            b"\nP0001-M00001,2024-05,1,1,\n")
    rep = _drop(aws, "ingest/huge/header.csv", huge)["report"]
    assert "CSV header" in rep["file_error"] and rep["accepted"] == 0
    # ... and in a data row: that row is refused, the others are ingested
    body = (b"merchant_id,month,txn_count,amount\n"
            b"P0001-M00001,2024-08,1,1\n"
            b"P0001-M00001,2024-09,1," + b"9" * 200_000 + b"\n"
            b"P0001-M00001,2024-10,1,1\n")
    rep = _drop(aws, "ingest/huge/metrics.csv", body)["report"]
    assert (rep["rows"], rep["accepted"]) == (3, 2) and rep["errors"][0]["row"] == 2
    assert "field limit" in rep["errors"][0]["reason"]


def test_whole_file_errors_write_nothing(aws: Settings, world: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _ingest_world(aws, world)
    before = _snapshot()
    big = b"merchant_id,month,txn_count,amount\n" + b"P0001-M00001,2024-01,1,1\n" * 2_100_000
    assert len(big) > 50 * 1024 * 1024
    assert "limit" in (ingest_bytes(big, name="m.csv", source="t").file_error or "")
    monkeypatch.setattr(ingest, "MAX_FILE_BYTES", 1000)
    rep = _drop(aws, "ingest/big/metrics.csv", big[:5000])["report"]
    assert rep["file_error"].startswith("file is 5,000 bytes") and rep["accepted"] == 0
    monkeypatch.undo()
    latin = "merchant_id,month,txn_count,amount\nP0001-M00001,2024-01,1,1\ncafé\n"
    rep = _drop(aws, "ingest/enc/metrics.csv", latin.encode("latin-1"))["report"]
    assert "not UTF-8" in rep["file_error"] and "offset" in rep["file_error"]
    rep = _drop(aws, "ingest/cols/metrics.csv", b"merchant_id,month\nP0001-M00001,2024-01\n")
    assert "missing column(s): txn_count, amount" in rep["report"]["file_error"]
    rep = _drop(aws, "ingest/what/data.txt", b"hello")["report"]
    assert "unknown format" in rep["file_error"]
    assert _snapshot() == before


def test_reports_and_other_keys_do_not_trigger_ingest(aws: Settings) -> None:
    bucket = aws.bucket_name("ingest")
    out = handle_s3_event({"Records": [
        *s3_event(bucket, "ingest/x.csv.report.json")["Records"],
        *s3_event(bucket, "elsewhere/x.csv")["Records"],
    ]})
    assert [f["skipped"] for f in out["files"]] == [True, True]


def test_api_batch_rows_take_the_partner_from_the_url(aws: Settings, world: Path) -> None:
    _ingest_world(aws, world)
    rep = ingest_records([
        {"merchant_id": "P0003-NEW1", "name": "New Shop", "mcc": "5411", "city": "Wuhan",
         "lat": "30.6", "lon": 114.3, "uscc": "whatever-invalid"},
        {"merchant_id": "P0003-NEW2", "partner_id": "P0004", "name": "X", "mcc": "5411",
         "city": "Wuhan"},
        {"merchant_id": "P0003-NEW3", "name": "Y", "mcc": "54", "city": "Wuhan", "lat": 91},
    ], kind="merchants", source="api", partner_id="P0003")
    assert rep.accepted == 1 and rep.rejected == 2
    assert {(e.row, e.field) for e in rep.errors} == {(2, "(row)"), (3, "mcc"), (3, "lat")}
    # an invalid credential is data, stored in the KYB module's normal form
    assert Merchant.get("P0003-NEW1").uscc == "WHATEVERINVALID"
