"""Adding each transaction to its merchant's running totals exactly once (stream handler logic).

One DynamoDB transaction writes a processed marker (``attribute_not_exists``) and the atomic
``ADD`` of the counters: a redelivered record fails the marker's condition and adds nothing.

Only payments through the merchant's active aggregated code accrue (claim 5): the decision
recorded with the payment (``accrues``) is followed; a record written without one is decided
here by the same rule (:func:`paver.accrual.attribution.attribute`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from paver.accrual.attribution import AttributionError, attribute
from paver.accrual.milestones import grant_milestones
from paver.batch import stream_batch
from paver.storage.models import IdempotencyRecord, Merchant
from paver.storage.registry import condition_failed, connection
from paver.storage.streams import BadStreamRecord, inserted_item, sequence_number

log = logging.getLogger(__name__)


#: A stream record that is not a transaction insert we can read (never retried).
BadRecord = BadStreamRecord


@dataclass
class AccrualOutcome:
    accrued: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # payments stored but not counted: {"txn_id", "code", "reason"}
    not_accrued: list[dict[str, str]] = field(default_factory=list)
    benefits: list[str] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)

    def response(self) -> dict[str, list[dict[str, str]]]:
        return {"batchItemFailures": self.failures}


def _image(record: dict[str, Any]) -> dict[str, Any] | None:
    """The new image of an INSERT as the fields accrual uses, or None for other events."""
    item = inserted_item(record)
    if item is None:
        return None
    missing = [k for k in ("txn_id", "merchant_id", "timestamp")
               if not isinstance(item.get(k), str)]
    if missing or not isinstance(item.get("amount"), Decimal):
        raise BadRecord(f"dynamodb.NewImage: unreadable transaction (missing or mistyped: "
                        f"{', '.join(missing) or 'amount'})")
    accrues = item.get("accrues")
    return {
        "txn_id": item["txn_id"], "merchant_id": item["merchant_id"],
        "amount": float(item["amount"]), "timestamp": item["timestamp"],
        "code_id": _text(item.get("code_id")), "scan_ref": _text(item.get("scan_ref")),
        "accrues": accrues if isinstance(accrues, bool) else None,
        "accrual_code": _text(item.get("accrual_code")),
        "accrual_reason": _text(item.get("accrual_reason")),
    }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _not_accrued(txn: dict[str, Any]) -> dict[str, str] | None:
    """Why a payment does not count (None when it does)."""
    if txn["accrues"] is True:
        return None
    if txn["accrues"] is False:
        return {"txn_id": txn["txn_id"], "code": txn["accrual_code"] or "not_accrued",
                "reason": txn["accrual_reason"] or ""}
    try:  # written without a decision: apply the rule now
        paid_at = datetime.fromisoformat(txn["timestamp"]).astimezone(UTC)
        how = attribute(txn["merchant_id"], txn["code_id"], txn["scan_ref"], paid_at)
    except (AttributionError, ValueError) as exc:
        return {"txn_id": txn["txn_id"], "code": "not_attributable", "reason": str(exc)}
    return None if how.accrues else {"txn_id": txn["txn_id"], **how.to_dict()}


def accrue(txn: dict[str, Any]) -> bool:
    """Add one transaction to its merchant's totals; False when it was already added."""
    day = datetime.fromisoformat(txn["timestamp"]).astimezone(UTC).date().isoformat()
    try:
        with TransactWrite(connection=connection()) as tw:
            tw.save(IdempotencyRecord.marker(f"accrued#{txn['txn_id']}"),
                    condition=IdempotencyRecord.key.does_not_exist())
            tw.update(Merchant(txn["merchant_id"]), actions=[
                Merchant.txn_count.add(1),
                Merchant.txn_amount.add(txn["amount"]),
                Merchant.active_day_set.add({day}),
            ], condition=Merchant.merchant_id.exists())
    except TransactWriteError as exc:
        if condition_failed(exc, 0):
            return False  # the marker exists: counted before
        if condition_failed(exc, 1):
            # Not retryable: no redelivery will make the merchant exist.
            raise BadRecord(f"merchant {txn['merchant_id']!r} does not exist") from exc
        raise
    return True


def totals(merchant_id: str) -> dict[str, Any]:
    m = Merchant.get(merchant_id, consistent_read=True)
    return {"txn_count": int(m.txn_count or 0), "txn_amount": float(m.txn_amount or 0),
            "active_days": len(m.active_day_set or ()), "level": int(m.level or 0)}


def _already_counted(records: list[dict[str, Any]]) -> set[str]:
    ids = []
    for rec in records:
        try:
            item = inserted_item(rec)
        except BadStreamRecord:
            continue  # unreadable records are reported by the main loop
        if item is not None and isinstance(item.get("txn_id"), str):
            ids.append(item["txn_id"])
    if not ids:
        return set()
    try:
        found = IdempotencyRecord.batch_get([f"accrued#{t}" for t in dict.fromkeys(ids)])
        return {r.key.removeprefix("accrued#") for r in found}
    except Exception:  # the pre-check is an optimisation: on failure, let the guard decide
        log.warning("accrual: marker pre-check failed; relying on conditional writes")
        return set()


def process_stream(records: Iterable[dict[str, Any]],
                   accrue_fn: Callable[[dict[str, Any]], bool] = accrue) -> AccrualOutcome:
    """Accrue every INSERT of a Transactions stream batch, in order, under the batch policy of
    :mod:`paver.batch` (an unreadable record is skipped; a transient failure stops the batch
    and reports that record and every later one).

    Markers already present are read in one batch first, so a redelivered batch costs one read
    instead of a failed transaction per record; the transaction's condition stays the guard.
    """
    out = AccrualOutcome()
    # merchant → sequence numbers of its records counted now or before: a redelivered record
    # may be one whose commit answer or milestone grant was lost, so milestones are evaluated
    # again (each is granted once)
    touched: dict[str, list[str]] = {}
    records = list(records)
    counted = _already_counted(records)

    def accrue_one(rec: Mapping[str, Any]) -> None:
        txn = _image(rec)
        if txn is None:
            out.skipped.append(sequence_number(rec))
            return
        refused = _not_accrued(txn)
        if refused is not None:
            out.not_accrued.append(refused)
            return
        if txn["txn_id"] in counted:
            out.duplicates.append(txn["txn_id"])
        elif accrue_fn(txn):
            out.accrued.append(txn["txn_id"])
        else:
            out.duplicates.append(txn["txn_id"])
        touched.setdefault(txn["merchant_id"], []).append(sequence_number(rec))

    out.failures = stream_batch(records, accrue_one, what="accrual",
                                on_permanent=lambda rec, _: out.skipped.append(
                                    sequence_number(rec)))
    for mid in sorted(touched):
        try:
            out.benefits.extend(f"{mid}:{b}" for b in grant_milestones(mid, totals(mid)))
        except Exception:
            # Totals are already counted (the retry finds them as duplicates); report the
            # merchant's records so the redelivery evaluates its milestones again.
            log.exception("accrual: milestone evaluation failed for a merchant; reported for "
                          "retry")
            out.failures.extend({"itemIdentifier": seq} for seq in touched[mid])
    return out
