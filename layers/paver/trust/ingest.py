"""Ingest partner, merchant and monthly-metric rows from CSV / JSONL files or JSON batches.

Every row is validated with a Pydantic model; good rows are written with batch writes, bad rows
are reported with their row number, field and reason. Keys are natural (``partner_id``,
``merchant_id``, ``merchant_id`` + ``month``), so ingesting the same file twice changes nothing.
A whole-file problem (too big, not UTF-8, not CSV/JSONL, missing columns) rejects the file and
writes nothing.

Re-ingesting a merchant keeps what other parts of Paver wrote on it (binding state, skin,
running totals) and never lowers its level.

Who owns a merchant id: merchant ids are namespaced by partner. A partner registers new
merchants only under ids that start with its own id and a hyphen (``P0001-…``); an existing
merchant is updated only by its own partner. A row that names a merchant the partner does not
own gets the same reply whether the merchant is another partner's or does not exist, so a
batch cannot be used to map who owns which id.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, Literal, TypeVar, cast

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError
from pynamodb.exceptions import PynamoDBException

from paver.errors import InvalidInput
from paver.storage.s3_events import s3_event, s3_records
from paver.trust import MAX_BATCH_ROWS, store
from paver.trust.rows import KEYS, ROW_MODELS, MerchantRow, MetricRow, PartnerRow, Row

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_REPORTED_ERRORS = 1_000
INGEST_PREFIX = "ingest/"
REPORT_SUFFIX = ".report.json"

log = logging.getLogger(__name__)
R = TypeVar("R", bound=Row)
Kind = Literal["partners", "merchants", "metrics"]
#: The row models, re-exported: callers knew them here (their owner is paver.trust.rows).
__all__ = ["MAX_BATCH_ROWS", "ROW_MODELS", "MerchantRow", "MetricRow", "PartnerRow",
           "handle_event", "ingest_bytes", "ingest_records", "ingest_s3_object", "s3_event"]


class IngestFileError(InvalidInput):
    """The file as a whole cannot be ingested (nothing from it was written)."""


def required_columns(kind: str) -> list[str]:
    model = ROW_MODELS[kind]
    return [n for n, f in model.model_fields.items() if f.is_required()]


# ---------------------------------------------------------------------------------------------
# Report


@dataclass
class RowError:
    row: int      # 1-based data row (the first row after a CSV header is 1)
    line: int     # physical line in the file (or position in a JSON batch)
    field: str
    reason: str


@dataclass
class IngestReport:
    """What happened to one file or batch."""

    source: str
    kind: str | None = None
    format: str | None = None
    bytes: int = 0
    sha256: str | None = None
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_not_listed: int = 0
    file_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.file_error is None and self.rejected == 0

    def add_error(self, err: RowError) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(err)
        else:
            self.errors_not_listed += 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d


# ---------------------------------------------------------------------------------------------
# Parsing


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestFileError(
            f"not UTF-8 text: invalid byte {data[exc.start:exc.start + 1]!r} at offset {exc.start}"
            " (save the file as UTF-8)") from exc


def detect_format(name: str, text: str) -> str:
    low = name.lower()
    if low.endswith(".csv"):
        return "csv"
    if low.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    first = text.lstrip()[:1]
    if first == "{":
        return "jsonl"
    raise IngestFileError(f"{name}: unknown format: use a .csv or .jsonl file")


def detect_kind(columns: Iterable[str], name: str = "") -> str:
    """Which table the rows belong to, from their columns (or, failing that, the file name)."""
    cols = set(columns)
    if {"merchant_id", "month"} <= cols:
        return "metrics"
    if {"merchant_id", "mcc"} <= cols:
        return "merchants"
    if {"partner_id", "guid", "kind"} <= cols:
        return "partners"
    base = name.rsplit("/", 1)[-1].lower()
    for kind in ("partners", "merchants", "metrics"):
        if base.startswith(kind):
            return kind
    raise IngestFileError(
        "cannot tell what the rows are: partners need partner_id, guid, kind; merchants need "
        "merchant_id, mcc; metrics need merchant_id, month")


def _clean(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Drop empty cells (so defaults apply and required fields say 'Field required')."""
    out = {}
    for k, v in raw.items():
        if k is None:
            continue
        if isinstance(v, str):
            v = v.strip()
            if v == "":
                continue
        if v is None:
            continue
        out[str(k).strip()] = v
    return out


def iter_rows(text: str, fmt: str) -> Iterator[tuple[int, int, dict[str, Any] | str]]:
    """``(row, line, record or error text)`` for each data row."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        try:
            if not reader.fieldnames:
                raise IngestFileError("the CSV file has no header row")
        except csv.Error as exc:
            raise IngestFileError(f"CSV header: {exc}") from exc
        row = 0
        while True:
            try:
                rec = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a cell over 131,072 characters: this row only
                row += 1
                yield row, reader.line_num, f"not readable as CSV ({exc})"
                continue
            row += 1
            if None in rec:
                yield row, reader.line_num, "more cells than header columns"
                continue
            yield row, reader.line_num, rec
    row = 0
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        row += 1
        yield row, line_no, json_line(line)


def json_line(line: str) -> dict[str, Any] | str:
    """One JSONL line as an object, or the reason it is not one."""
    try:
        rec = json.loads(line)
    except ValueError as exc:
        return f"not valid JSON ({getattr(exc, 'msg', exc)})"
    except RecursionError:  # "[[[[…" deeper than the parser's stack
        return "not valid JSON (nested too deeply)"
    if not isinstance(rec, dict):
        return "a JSON line must be an object"
    return rec


def _csv_columns(text: str) -> list[str]:
    try:
        first = next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error as exc:  # e.g. a header cell over 131,072 characters
        raise IngestFileError(f"CSV header: {exc}") from exc
    return [c.strip() for c in first]


# ---------------------------------------------------------------------------------------------
# Validation and writing


@dataclass
class _Valid(Generic[R]):
    row: int
    line: int
    item: R


def _validate(records: Iterable[tuple[int, int, dict[str, Any] | str]], kind: str,
              report: IngestReport) -> list[_Valid[Row]]:
    model = ROW_MODELS[kind]
    seen: dict[tuple[str, ...], int] = {}
    good: list[_Valid[Row]] = []
    for row, line, rec in records:
        report.rows += 1
        if isinstance(rec, str):
            report.add_error(RowError(row, line, "(row)", rec))
            continue
        try:
            item = model.model_validate(_clean(rec))
        except ValidationError as exc:
            for e in exc.errors():
                fld = ".".join(str(x) for x in e["loc"]) or "(row)"
                report.add_error(RowError(row, line, fld, e["msg"]))
            continue
        key = tuple(str(getattr(item, k)) for k in KEYS[kind])
        if key in seen:
            report.add_error(RowError(row, line, ",".join(KEYS[kind]),
                                      f"duplicate of row {seen[key]} in the same file"))
            continue
        seen[key] = row
        good.append(_Valid(row, line, item))
    return good


def ingest_text(text: str, *, name: str, source: str, kind: str | None = None) -> IngestReport:
    """Validate and store the rows of one decoded file."""
    report = IngestReport(source=source)
    try:
        fmt = detect_format(name, text)
        report.format = fmt
        if not text.strip():
            raise IngestFileError("the file is empty")
        if fmt == "csv":
            cols = _csv_columns(text)
            kind = kind or detect_kind(cols, name)
            missing = [c for c in required_columns(kind) if c not in cols]
            if missing:
                raise IngestFileError(f"{kind} file is missing column(s): {', '.join(missing)}")
        else:
            first = next((json_line(ln) for ln in text.splitlines() if ln.strip()), {})
            kind = kind or detect_kind(first.keys() if isinstance(first, dict) else (), name)
        report.kind = kind
        good = _validate(iter_rows(text, fmt), kind, report)
    except IngestFileError as exc:
        report.file_error = str(exc)
        report.rows = report.accepted = report.rejected = 0
        report.errors = []
        return report
    _store(kind, good, report, source)
    return report


def ingest_bytes(data: bytes, *, name: str, source: str, kind: str | None = None) -> IngestReport:
    """Size and encoding checks, then :func:`ingest_text`."""
    digest = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_FILE_BYTES:
        return IngestReport(source=source, bytes=len(data), sha256=digest,
                            file_error=f"file is {len(data):,} bytes; the limit is "
                                       f"{MAX_FILE_BYTES:,} bytes (split it into smaller files)")
    try:
        text = _decode(data)
    except IngestFileError as exc:
        return IngestReport(source=source, bytes=len(data), sha256=digest, file_error=str(exc))
    report = ingest_text(text, name=name, source=source, kind=kind)
    report.bytes, report.sha256 = len(data), digest
    return report


def ingest_records(records: list[Mapping[str, Any]], *, kind: str, source: str,
                   partner_id: str | None = None) -> IngestReport:
    """Ingest an API batch; rows may omit ``partner_id`` (taken from ``partner_id``)."""
    report = IngestReport(source=source, kind=kind, format="json")
    if len(records) > MAX_BATCH_ROWS:
        report.file_error = f"{len(records)} rows: a batch holds at most {MAX_BATCH_ROWS}"
        return report
    rows: list[tuple[int, int, dict[str, Any] | str]] = []
    for i, rec in enumerate(records, start=1):
        if not isinstance(rec, Mapping):
            rows.append((i, i, "a row must be a JSON object"))
            continue
        rec = dict(rec)
        if partner_id is not None:
            given = rec.get("partner_id")
            if given not in (None, "", partner_id):
                rows.append((i, i, f"partner_id: does not match the URL ({partner_id!r})"))
                continue
            rec["partner_id"] = partner_id
        rows.append((i, i, rec))
    good = _validate(rows, kind, report)
    _store(kind, good, report, source)
    return report


def may_register(partner_id: str, merchant_id: str, owner: str | None) -> bool:
    """May ``partner_id`` write merchant ``merchant_id`` (currently owned by ``owner``)?

    Its own merchants, yes; a new id only inside its namespace (``{partner_id}-…``).
    """
    if owner is not None:
        return owner == partner_id
    return merchant_id.startswith(f"{partner_id}-")


def not_owned(partner_id: str | None, merchant_id: str) -> str:
    """The one reason given for a merchant id the partner does not own (or that is unknown)."""
    if partner_id is None:
        return f"unknown merchant {merchant_id!r} (ingest the merchants file first)"
    return (f"unknown merchant {merchant_id!r} for partner {partner_id!r}: name one of its "
            f"merchants, or register a new one under an id starting with '{partner_id}-'")


def _reject(report: IngestReport, v: _Valid[Any], fld: str, reason: str) -> None:
    report.add_error(RowError(v.row, v.line, fld, reason))


def _store(kind: str, good: list[_Valid[Row]], report: IngestReport, source: str) -> None:
    # _validate built each kind's rows with ROW_MODELS[kind]: the casts say which
    accepted: Sequence[_Valid[Any]]
    if kind == "partners":
        accepted = cast(list[_Valid[PartnerRow]], good)
        existing = store.get_partners([v.item.partner_id for v in accepted])
        store.put_partners([v.item for v in accepted], existing)
    elif kind == "merchants":
        accepted = _store_merchants(cast(list[_Valid[MerchantRow]], good), report, source)
    else:
        accepted = _store_metrics(cast(list[_Valid[MetricRow]], good), report)
    report.accepted = len(accepted)
    report.rejected = report.rows - report.accepted
    report.errors.sort(key=lambda e: (e.row, e.field))


def _store_merchants(good: list[_Valid[MerchantRow]], report: IngestReport,
                     source: str) -> list[_Valid[MerchantRow]]:
    partners = store.get_partners({v.item.partner_id for v in good})
    existing = store.get_merchants([v.item.merchant_id for v in good])
    accepted = []
    for v in good:
        m = v.item
        owner = existing[m.merchant_id].partner_id if m.merchant_id in existing else None
        if m.partner_id not in partners:
            _reject(report, v, "partner_id", f"unknown partner {m.partner_id!r} "
                    "(ingest the partners file first)")
        elif not may_register(m.partner_id, m.merchant_id, owner):
            _reject(report, v, "merchant_id", not_owned(m.partner_id, m.merchant_id))
        else:
            accepted.append(v)
    foreign = set(store.put_merchants([v.item for v in accepted], existing, source))
    for v in accepted:
        if v.item.merchant_id in foreign:
            _reject(report, v, "merchant_id", not_owned(v.item.partner_id, v.item.merchant_id))
    return [v for v in accepted if v.item.merchant_id not in foreign]


def _store_metrics(good: list[_Valid[MetricRow]], report: IngestReport
                   ) -> list[_Valid[MetricRow]]:
    merchants = store.get_merchants({v.item.merchant_id for v in good})
    accepted = []
    for v in good:
        r = v.item
        owner = merchants.get(r.merchant_id)
        if owner is None or (r.partner_id is not None and r.partner_id != owner.partner_id):
            # one reply for "another partner's" and "does not exist"
            _reject(report, v, "merchant_id", not_owned(r.partner_id, r.merchant_id))
        else:
            r.partner_id = owner.partner_id
            accepted.append(v)
    store.put_metrics([v.item for v in accepted])
    return accepted


# ---------------------------------------------------------------------------------------------
# S3


def report_key(key: str) -> str:
    return key + REPORT_SUFFIX


def should_ingest(key: str) -> bool:
    """Only data files under ``ingest/``; never the reports this module writes there."""
    return key.startswith(INGEST_PREFIX) and not key.endswith(REPORT_SUFFIX) and \
        not key.endswith("/")


def ingest_s3_object(bucket: str, key: str, cfg: Any = None) -> IngestReport:
    """Ingest one S3 object and write its report next to it (``KEY.report.json``)."""
    from paver.aws import client

    s3 = client("s3", cfg)
    source = f"s3://{bucket}/{key}"
    head = s3.head_object(Bucket=bucket, Key=key)
    size = int(head["ContentLength"])
    if size > MAX_FILE_BYTES:
        report = IngestReport(source=source, bytes=size,
                              file_error=f"file is {size:,} bytes; the limit is "
                                         f"{MAX_FILE_BYTES:,} bytes (split it into smaller files)")
    else:
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        try:
            report = ingest_bytes(data, name=key, source=source)
        except (BotoCoreError, ClientError, PynamoDBException):
            raise  # AWS said no: transient, the invocation is retried
        except Exception as exc:  # whatever is inside a file, it gets its report
            log.exception("ingest: %s could not be ingested", source)
            report = IngestReport(source=source, bytes=len(data),
                                  sha256=hashlib.sha256(data).hexdigest(),
                                  file_error=f"could not be read ({type(exc).__name__}); "
                                             "nothing from it was written")
    s3.put_object(Bucket=bucket, Key=report_key(key),
                  Body=json.dumps(report.to_dict(), ensure_ascii=False, indent=1).encode("utf-8"),
                  ContentType="application/json")
    return report


def handle_event(event: Mapping[str, Any], cfg: Any = None) -> dict[str, Any]:
    """Ingest every object of an S3 event under ``ingest/`` (reports and other keys skipped)."""
    results: list[dict[str, Any]] = []
    for bucket, key in s3_records(event):
        if not should_ingest(key):
            results.append({"key": key, "skipped": True})
            continue
        report = ingest_s3_object(bucket, key, cfg)
        results.append({"key": key, "report_key": report_key(key), "kind": report.kind,
                        "rows": report.rows, "accepted": report.accepted,
                        "rejected": report.rejected, "file_error": report.file_error})
    return {"files": results}

