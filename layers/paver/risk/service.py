"""What the HTTP handlers and the stream handler call: screen, build, list scenes.

Everything here runs against the bound AWS (DynamoDB ``Relations``/``Accounts`` for associated
data, S3 + ``RiskScenes`` for the knowledge base, ``Decisions`` for verdicts). The knowledge
base and the compiled scene rules are cached per process; the ``latest`` pointer is re-read at
most every :data:`LATEST_TTL_S` seconds.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from botocore.exceptions import ClientError

from paver.config import Settings, settings
from paver.errors import InvalidInput, NotFound, PaverError
from paver.risk.events import TransferEvent, parse_timestamp
from paver.risk.kb import KBError, KnowledgeBase, NoKnowledgeBase
from paver.risk.matcher import Matcher
from paver.risk.scenes import SceneRules
from paver.risk.screening import Screener, batch_features, build_kb_from_rows, load_dataset

log = logging.getLogger(__name__)
LATEST_TTL_S = 30.0
#: Decision status of a payment screened against a knowledge base, and of one that arrived
#: before any knowledge base existed (kept, with its associated data, not silently skipped).
SCREENED, UNSCREENED_NO_KB = "screened", "unscreened_no_kb"


class RiskInputError(InvalidInput):
    """The request cannot be screened or built from (the message names the field)."""


class DatasetNotFound(NotFound):
    """A dataset key names no object (maps to 404; the message names the field)."""


_lock = threading.Lock()
_rules: SceneRules | None = None
_matchers: dict[str, Matcher] = {}
_latest: tuple[float, str | None] = (0.0, None)
_shadow: tuple[float, str | None] = (0.0, None)


def rules() -> SceneRules:
    global _rules
    if _rules is None:
        _rules = SceneRules.load()
    return _rules


def reset_cache() -> None:
    """Forget the cached knowledge bases and the latest/shadow pointers (tests, after a build
    or a promotion)."""
    global _latest, _shadow
    with _lock:
        _matchers.clear()
        _latest = (0.0, None)
        _shadow = (0.0, None)


def shadow_matcher(cfg: Settings | None = None) -> Matcher | None:
    """The matcher of the version running in shadow (pointer cached like the latest)."""
    global _shadow
    from paver.risk.versions import shadow_version

    try:
        ts, v = _shadow
        if ts == 0.0 or time.monotonic() - ts > LATEST_TTL_S:
            v = shadow_version(cfg)
            _shadow = (time.monotonic(), v)
        return matcher(v, cfg) if v else None
    except Exception:  # a shadow run never holds up the active screening
        log.exception("risk screening: shadow version unavailable; screening without it")
        return None


def matcher(version: str | None = None, cfg: Settings | None = None) -> Matcher:
    """The matcher of a knowledge-base version (default: the latest), cached."""
    global _latest
    from paver.risk.aws_kb import S3KBRepository

    repo = S3KBRepository(cfg)
    if version is None:
        ts, v = _latest
        if v is None or time.monotonic() - ts > LATEST_TTL_S:
            v = repo.latest()
            _latest = (time.monotonic(), v)
        if v is None:
            raise NoKnowledgeBase("no knowledge base has been built yet (POST /risk/scenes/build)")
        version = v
    with _lock:
        m = _matchers.get(version)
    if m is None:
        m = Matcher(repo.load(version), rules())
        m.warm_rules()  # every verdict asked of the engine once, not on the request path
        with _lock:
            _matchers[version] = m
    return m


def _decision_row(d: Mapping[str, Any]) -> Any:
    from paver.storage.models import Decision

    expl = {k: v for k, v in d.items() if k not in (
        "event_id", "status", "risky", "scene", "match_degree", "kb_version", "relations",
        "shadow")}
    unscreened = d.get("status") == UNSCREENED_NO_KB
    return Decision(
        event_id=d["event_id"], status=d.get("status", SCREENED),
        risky=None if unscreened else bool(d["risky"]), scene=d.get("scene"),
        match_degree=None if unscreened else float(d["match_degree"]),
        kb_version=d.get("kb_version"), explanation=expl, decided_at=datetime.now(UTC),
        shadow=d.get("shadow"),
    )


def unscreened_decision(event_id: str, why: str) -> dict[str, Any]:
    """The decision of a payment that could not be screened because no knowledge base existed."""
    return {"event_id": event_id, "status": UNSCREENED_NO_KB, "risky": None, "scene": None,
            "match_degree": None, "kb_version": None,
            "reason": f"not screened: {why}; its associated data is recorded, so payments "
                      "screened once a knowledge base exists see it"}


def save_decisions(decisions: Iterable[Mapping[str, Any]]) -> int:
    """Store decisions in ``Decisions`` with batch writes; returns how many."""
    from paver.storage.models import Decision

    n = 0
    with Decision.batch_write() as batch:
        for d in decisions:
            batch.save(_decision_row(d))
            n += 1
    return n


def screen_event(event: Mapping[str, Any], cfg: Settings | None = None,
                 budget_ms: float | None = None, record: bool = True,
                 with_relations: bool = True) -> dict[str, Any]:
    """Record one event's associated data, screen it, store and return the decision.

    Raises
    ------
    RiskInputError
        The event is malformed.
    NoKnowledgeBase
        No knowledge base exists yet.
    """
    from paver.risk.dynamo_store import DynamoStore

    try:
        e = TransferEvent.from_mapping(event)
    except (KeyError, TypeError, ValueError) as exc:
        raise RiskInputError(str(exc)) from None
    m = matcher(cfg=cfg)
    store = DynamoStore(cfg)
    budget = (cfg or settings()).risk_budget_ms if budget_ms is None else budget_ms
    screener = Screener(m, store, budget_ms=budget)
    t0 = time.perf_counter()
    decision = screener.screen_event(e, record=record, with_relations=with_relations)
    decision["storage"] = {"queries": store.queries,
                           "ms": round((time.perf_counter() - t0) * 1e3, 1)}
    save_decisions([decision])
    return decision


def _dataset_from_s3(transactions_key: str, labels_key: str, cfg: Settings, d: Path,
                     bucket_role: str = "ingest") -> Any:
    """Download a labelled dataset (and the side files beside it) into ``d`` and load it."""
    from paver.aws import client

    s3 = client("s3", cfg)
    bucket = cfg.bucket_name(bucket_role)
    prefix = transactions_key.rsplit("/", 1)[0] + "/" if "/" in transactions_key else ""
    for fld, key, name in (("transactions_key", transactions_key, "transactions.csv"),
                           ("labels_key", labels_key, "labels.csv")):
        try:
            s3.download_file(bucket, key, str(d / name))
        except ClientError as exc:
            missing = exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey")
            kind = DatasetNotFound if missing else RiskInputError
            raise kind(f"{fld}: cannot read s3://{bucket}/{key} ({exc})") from None
        except Exception as exc:
            raise RiskInputError(f"{fld}: cannot read s3://{bucket}/{key} ({exc})") from None
    for side in ("accounts.csv", "devices.csv", "contacts.csv"):
        with contextlib.suppress(Exception):  # optional files
            s3.download_file(bucket, prefix + side, str(d / side))
    try:
        return load_dataset(d / "transactions.csv", d / "labels.csv", d)
    except PaverError:
        raise
    except ValueError as exc:  # the caller's files do not make a dataset: theirs to fix
        raise RiskInputError(str(exc)) from exc


def build_kb(transactions_key: str, labels_key: str, cfg: Settings | None = None,
             seed: int = 0, bucket_role: str = "ingest", feedback: bool = False,
             activate: bool = True) -> dict[str, Any]:
    """Build and store a new knowledge-base version from CSV files in S3.

    ``transactions_key`` / ``labels_key`` are keys in the ``ingest`` bucket; side files
    (``accounts.csv``, ``devices.csv``, ``contacts.csv``) next to the transactions key are used
    when present. The previous versions stay readable. With ``feedback``, the analysts' stored
    case decisions on events of the dataset are taken in (:mod:`paver.risk.feedback`).
    Transactions neither labelled nor decided are no samples.
    """
    from paver.config import settings
    from paver.risk.feedback import with_decisions

    cfg = cfg or settings()
    with tempfile.TemporaryDirectory() as tmp:
        ds = _dataset_from_s3(transactions_key, labels_key, cfg, Path(tmp), bucket_role)
        decisions = _stored_feedback(set(ds.table.txn_id)) if feedback else {}
        ds, rows = with_decisions(ds, decisions)  # unlabelled rows are no samples
        try:
            kb = build_dataset_kb(ds, rows=rows, cfg=cfg, seed=seed,
                                  meta={"feedback_decisions": len(decisions)},
                                  activate=activate)
        except PaverError:
            raise
        except ValueError as exc:  # the caller's files do not make a dataset: theirs to fix
            raise RiskInputError(str(exc)) from exc
    return {"version": kb.version, "active": activate, "scenes": kb.scene_summary(),
            "meta": kb.meta}


def backtest_versions(transactions_key: str, labels_key: str, versions: list[str],
                      since: datetime | None = None, until: datetime | None = None,
                      cfg: Settings | None = None) -> dict[str, Any]:
    """``paver risk backtest`` for stored versions over a time window of a labelled dataset
    in S3 (retrospective features; flagged normals count against their scene)."""
    from paver.config import settings
    from paver.risk.aws_kb import S3KBRepository
    from paver.risk.backtest import backtest
    from paver.risk.feedback import labelled_rows

    cfg = cfg or settings()
    repo = S3KBRepository(cfg)
    known = set(repo.versions())
    for v in versions:
        if v not in known:
            raise NotFound(f"versions: no knowledge-base version {v!r}")
    kbs = {v: repo.load(v) for v in versions}
    with tempfile.TemporaryDirectory() as tmp:
        ds = _dataset_from_s3(transactions_key, labels_key, cfg, Path(tmp))
        rows = labelled_rows(ds.table.txn_id, ds.labels)
        ts = ds.table.ts[rows]
        keep = np.ones(len(rows), dtype=bool)
        if since is not None:
            keep &= ts >= since.timestamp()
        if until is not None:
            keep &= ts <= until.timestamp()
        rows = rows[keep]
        if not len(rows):
            raise RiskInputError("from: no labelled event of the dataset in the window")
        X, _ = batch_features(ds)
        out = backtest(ds, X, kbs, rules(), rows, "retrospective")
    out["window"] = {"from": since.isoformat() if since else None,
                     "to": until.isoformat() if until else None}
    return out


def _stored_feedback(txn_ids: set[str]) -> dict[str, Any]:
    """The analysts' latest decision on each of these events (stored cases)."""
    from paver.risk.cases import feedback_rows

    return {f.txn_id: f for f in feedback_rows() if f.txn_id in txn_ids}


def build_dataset_kb(ds: Any, rows: np.ndarray | None = None, cfg: Settings | None = None,
                     seed: int = 0, features: np.ndarray | None = None,
                     meta: dict[str, Any] | None = None, activate: bool = True
                     ) -> KnowledgeBase:
    """Build a knowledge base from (rows of) a loaded dataset and store it in S3 + RiskScenes."""
    from paver.risk.aws_kb import S3KBRepository

    X = features if features is not None else batch_features(ds)[0]
    idx = np.arange(len(ds.table)) if rows is None else rows
    kb = build_kb_from_rows(X, ds, idx, rules(), seed=seed)
    if meta:
        kb.meta = {**kb.meta, **meta}
    S3KBRepository(cfg).save(kb, rules(), activate=activate)
    reset_cache()
    return kb


def list_scenes(version: str | None = None, cfg: Settings | None = None) -> dict[str, Any]:
    """Scenes of a knowledge-base version (default latest) with their rules metadata."""
    from paver.risk.aws_kb import S3KBRepository

    repo = S3KBRepository(cfg)
    v = version or repo.latest()
    rows = repo.scenes(v) if v else []
    r = rules()
    for row in rows:
        row.update(r.meta(row["scene"]))
        spec = r.spec.scenes.get(row["scene"])
        row["description"] = spec.description if spec else ""
    return {"kb_version": v, "versions": repo.versions(), "scenes": rows}


# ---------------------------------------------------------------------------------------------
# DynamoDB stream of Transactions (code payments)


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    return v


def event_from_transaction_image(image: Mapping[str, Any]) -> TransferEvent | None:
    """A code payment (``Transactions`` NEW_IMAGE, DynamoDB JSON) → event, or ``None``.

    The payer is ``from_account``; the receiver is the merchant. Devices and IPs are taken
    from the ``attributes`` JSON when present. Payments without a payer are not screened.
    """
    import json

    from paver.storage.streams import plain_item

    item = {k: _plain(v) for k, v in plain_item(image).items()}
    if not item.get("from_account"):
        return None
    attrs = item.get("attributes") or {}
    if isinstance(attrs, str):
        try:
            attrs = json.loads(attrs)
        except ValueError:
            attrs = {}
    if not isinstance(attrs, dict):  # a malformed record must not block the stream's shard
        attrs = {}
    ts = item.get("timestamp")
    return TransferEvent(
        txn_id=str(item["txn_id"]),
        ts=parse_timestamp(ts) if isinstance(ts, str) else time.time(),
        from_account=str(item["from_account"]), to_account=str(item["merchant_id"]),
        amount=float(item.get("amount") or 0.0), currency=str(item.get("currency") or ""),
        channel=str(item.get("channel") or "qr"),
        from_device=attrs.get("from_device"), to_device=attrs.get("to_device"),
        from_ip=attrs.get("from_ip"), to_ip=attrs.get("to_ip"),
    )


def screen_stream_records(records: Iterable[Mapping[str, Any]], cfg: Settings | None = None,
                          budget_ms: float | None = None) -> dict[str, Any]:
    """Screen every INSERT of a Transactions stream batch; report failures for retry.

    The batch policy of :mod:`paver.batch`: processing stops at the first failure, which is
    reported with every record after it (Lambda replays the stream from there); an unreadable
    record is skipped. Screening is idempotent (items and decisions are keyed by transaction
    id), so when storing the batch's decisions fails, the batch is replayed from the first
    record that had one.

    A payment that arrives before any knowledge base exists is not skipped: its associated
    data is recorded and a decision with status ``unscreened_no_kb`` says why it has no
    verdict.

    Returns
    -------
    dict
        ``{"batchItemFailures": [{"itemIdentifier": seq}], "screened": n, "skipped": n,
        "unscreened_no_kb": n, "risky": n}`` (``skipped``: records that are not payments to
        screen, such as updates and payments without a payer)
    """
    from paver.batch import failures_from, stream_batch
    from paver.risk.dynamo_store import DynamoStore

    records = list(records)
    counts = {"screened": 0, "skipped": 0, "unscreened_no_kb": 0, "risky": 0}
    first: Mapping[str, Any] | None = None  # the first record with a decision to store
    decisions: list[dict[str, Any]] = []
    m: Matcher | None = None
    no_kb: str | None = None
    store = DynamoStore(cfg)

    def screen(rec: Mapping[str, Any]) -> None:
        nonlocal first, m, no_kb
        if rec.get("eventName") != "INSERT" or "NewImage" not in (rec.get("dynamodb") or {}):
            counts["skipped"] += 1
            return
        e = event_from_transaction_image(rec["dynamodb"]["NewImage"])
        if e is None:
            counts["skipped"] += 1
            return
        if m is None and no_kb is None:
            try:
                m = matcher(cfg=cfg)
            except KBError as exc:  # none yet, or unusable: recorded unscreened
                no_kb = str(exc)
                log.warning("risk screening: %s; payments recorded as unscreened", exc)
        if m is None:
            store.record_transfer(e)
            decisions.append(unscreened_decision(e.txn_id, no_kb or "no knowledge base"))
            counts["unscreened_no_kb"] += 1
        else:
            sc = Screener(m, store,
                          budget_ms=(cfg or settings()).risk_budget_ms
                          if budget_ms is None else budget_ms,
                          shadow=shadow_matcher(cfg))
            d = sc.screen_event(e, record=True, with_relations=False)
            decisions.append(d)
            counts["screened"] += 1
            counts["risky"] += int(d["risky"])
        first = rec if first is None else first

    def unreadable(rec: Mapping[str, Any], exc: Exception) -> None:
        counts["skipped"] += 1

    failures = stream_batch(records, screen, what="risk screening", on_permanent=unreadable)
    if decisions:
        try:
            save_decisions(decisions)
        except Exception:
            log.exception("risk screening: storing decisions failed; batch reported for retry")
            # every decision of the batch is lost: replay from the first record that had one
            failures = failures_from(records, next(
                i for i, r in enumerate(records) if r is first))
    return {"batchItemFailures": failures, **counts}
