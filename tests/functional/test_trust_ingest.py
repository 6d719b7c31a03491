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
from paver.world.partners import generate


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
    assert "unknown merchant" in by_row[6]["reason"]
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
    assert "already registered under partner 'P0001'" in reasons[2]
    assert Merchant.get("P0001-M00001").partner_id == "P0001"


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
    assert Merchant.get("P0003-NEW1").uscc == "whatever-invalid"  # invalid credential is data
