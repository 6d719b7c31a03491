"""The two halves talk: risk-scene decisions on a partner's merchants feed its risk dimension.

Every decision the risk screening stored on a code payment (``Decisions``, keyed by the
payment's ``txn_id``) is counted once on the merchant that was paid: screened, alert (risky),
and confirmed case (an investigator confirmed the alert: the decision's explanation carries
``case.status == "confirmed"``). The trust features add alerts to the partner's risk-scene
hits and confirmed cases to its fraud reports (:func:`paver.trust.features.partner_features`),
so a partner whose merchants launder money scores lower on risk at the next rescore.

Decisions are read only through the ``Decision`` storage model (the risk module owns them);
the counters are atomic ``ADD``s guarded by a once-per-decision marker, so a feed that is
interrupted or run twice counts nothing twice. A watermark (with an overlap) bounds the scan to
the decisions taken since the previous feed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from paver.config import Settings
from paver.storage.models import Decision, IdempotencyRecord, Merchant, Transaction
from paver.storage.registry import condition_failed, connection

log = logging.getLogger(__name__)

WATERMARK_KEY = "riskfeed#watermark"
#: Decisions stored a little before the previous feed finished may land after its scan.
OVERLAP = timedelta(hours=1)
_BATCH = 100


@dataclass
class FeedResult:
    decisions: int = 0  # decisions read
    fed: int = 0  # newly counted on a merchant
    alerts: int = 0
    confirmed: int = 0
    not_code_payments: int = 0  # transfers between accounts: no merchant to charge them to

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def is_confirmed(decision: Decision) -> bool:
    """An alert an investigator confirmed (``explanation.case.status == "confirmed"``)."""
    case = (decision.explanation or {}).get("case")
    return bool(decision.risky) and isinstance(case, dict) and case.get("status") == "confirmed"


def _watermark() -> datetime | None:
    try:
        at = (IdempotencyRecord.get(WATERMARK_KEY, consistent_read=True).result or {}).get("at")
    except DoesNotExist:
        return None
    return datetime.fromisoformat(at) if at else None


def _count(merchant_id: str, marker: str, actions: list[Any]) -> bool:
    """Apply ``actions`` to the merchant once per ``marker``; False when counted before (or
    the merchant is gone)."""
    try:
        with TransactWrite(connection=connection()) as tw:
            tw.save(IdempotencyRecord.marker(marker),
                    condition=IdempotencyRecord.key.does_not_exist())
            tw.update(Merchant(merchant_id), actions=actions,
                      condition=Merchant.merchant_id.exists())
    except TransactWriteError as exc:
        if condition_failed(exc, 0):
            return False
        if condition_failed(exc, 1):
            log.warning("risk feed: a decided payment's merchant no longer exists")
            return False
        raise
    return True


def feed_decisions(decisions: Iterable[Decision]) -> FeedResult:
    """Count each decision on the merchant its code payment went to (once per decision)."""
    out = FeedResult()
    pending = list(decisions)
    out.decisions = len(pending)
    for i in range(0, len(pending), _BATCH):
        chunk = pending[i:i + _BATCH]
        paid = {t.txn_id: t.merchant_id for t in Transaction.batch_get(
            [d.event_id for d in chunk], attributes_to_get=["txn_id", "merchant_id"])}
        for d in chunk:
            merchant_id = paid.get(d.event_id)
            if merchant_id is None:
                out.not_code_payments += 1
                continue
            risky = bool(d.risky)
            if _count(merchant_id, f"riskfed#{d.event_id}", [
                    Merchant.risk_screened.add(1), Merchant.risk_alerts.add(int(risky))]):
                out.fed += 1
                out.alerts += int(risky)
            # a confirmation may arrive after the alert was fed: its own marker
            if is_confirmed(d) and _count(merchant_id, f"riskconfirmed#{d.event_id}",
                                          [Merchant.risk_confirmed.add(1)]):
                out.confirmed += 1
    return out


def feed_new_decisions(cfg: Settings | None = None) -> FeedResult:
    """Feed the decisions stored since the previous feed (all of them the first time)."""
    started = datetime.now(UTC)
    since = _watermark()
    cond = None if since is None else Decision.decided_at >= since - OVERLAP
    result = feed_decisions(Decision.scan(filter_condition=cond))
    # no expires_at: the watermark is state, not a dedupe marker (it must never expire)
    IdempotencyRecord(key=WATERMARK_KEY, created_at=started,
                      result={"at": started.isoformat()}).save()
    return result
