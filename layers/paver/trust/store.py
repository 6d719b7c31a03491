"""DynamoDB reads and writes for trust tiering: partners, merchants, metrics, campaigns, selections.

Writes go through PynamoDB batch writes. Bulk reads for scoring use the low-level paginated
``scan``/``query`` and build pandas frames directly (no model object per row).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import UpdateError

from paver.aws import client
from paver.lazy import lazy_module
from paver.storage.models import Campaign, Merchant, MerchantMetric, Partner, Selection
from paver.storage.registry import condition_failed

if TYPE_CHECKING:
    import pandas as pd

    from paver.trust.rows import MerchantRow, MetricRow, PartnerRow
else:  # pandas only when frames are built: not on every cold start (paver.lazy)
    pd = lazy_module("pandas")

_METRIC_FIELDS = ("txn_count", "amount", "active_days", "refunds", "complaints", "chargebacks",
                  "fraud_reports", "risk_hits")
_REG_FIELDS = ("legal_rep", "contact_phone", "address", "location_verified")
#: Counters of risk-scene decisions on the merchant's code payments (paver.trust.risk_feed).
_RISK_FEED_FIELDS = ("risk_alerts", "risk_confirmed")


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(str(i) for i in ids))


def get_partners(ids: Iterable[str]) -> dict[str, Partner]:
    keys = _unique(ids)
    return {p.partner_id: p for p in Partner.batch_get(keys)} if keys else {}


def get_merchants(ids: Iterable[str]) -> dict[str, Merchant]:
    keys = _unique(ids)
    return {m.merchant_id: m for m in Merchant.batch_get(keys)} if keys else {}


def put_partners(rows: Sequence[PartnerRow], existing: dict[str, Partner]) -> None:
    """Create or update partners, keeping attributes other modules own (skins, trust)."""
    with Partner.batch_write() as batch:
        for r in rows:
            p = existing.get(r.partner_id) or Partner(partner_id=r.partner_id)
            p.name, p.kind, p.region, p.guid = r.name, r.kind, r.region, r.guid
            profile = dict(p.profile or {})
            profile.update({k: v for k, v in {
                "name_zh": r.name_zh, "city": r.city,
                "onboarded": r.onboarded.isoformat() if r.onboarded else None,
            }.items() if v is not None})
            p.profile = profile or None
            batch.save(p)


def put_merchants(rows: Sequence[MerchantRow], existing: dict[str, Merchant],
                  source: str) -> list[str]:
    """Create or update merchants' registration data; return the ids refused as foreign.

    New merchants are batch-written. An existing merchant is changed with one conditional
    ``UpdateItem`` that sets only registration attributes and requires the same partner: binding
    state, level, skin and running totals written meanwhile by binding or accrual are never
    overwritten by a stale copy, and a merchant cannot move to another partner.
    """
    foreign: list[str] = []
    new = [r for r in rows if r.merchant_id not in existing]
    with Merchant.batch_write() as batch:
        for r in new:
            m = Merchant(merchant_id=r.merchant_id, partner_id=r.partner_id, level=r.level)
            for attr, value in _registration(r, source).items():
                setattr(m, attr, value)
            batch.save(m)
    for r in rows:
        if r.merchant_id not in existing:
            continue
        actions = [getattr(Merchant, attr).set(value) if value is not None
                   else getattr(Merchant, attr).remove()
                   for attr, value in _registration(r, source).items()]
        try:
            Merchant(r.merchant_id).update(
                actions=actions, condition=Merchant.partner_id == r.partner_id)
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
            foreign.append(r.merchant_id)
    return foreign


def _registration(r: MerchantRow, source: str) -> dict[str, Any]:
    """The attributes a merchant file owns (nothing that binding or accrual writes)."""
    reg = {k: getattr(r, k) for k in _REG_FIELDS if getattr(r, k) is not None}
    if r.partner_guid:
        reg["partner_guid"] = r.partner_guid
    return {
        "name": r.name, "name_zh": r.name_zh, "mcc": r.mcc, "city": r.city,
        "city_zh": r.city_zh, "region": r.region, "lat": r.lat, "lon": r.lon, "uscc": r.uscc,
        "partner_merchant_id": r.partner_merchant_id,
        "registered_at": r.registered_at.isoformat() if r.registered_at else None,
        "registration": reg or None, "source": source,
    }


def put_metrics(rows: Sequence[MetricRow]) -> None:
    with MerchantMetric.batch_write() as batch:
        for r in rows:
            batch.save(MerchantMetric(
                merchant_id=r.merchant_id, month=r.month, partner_id=r.partner_id,
                **{f: getattr(r, f) for f in _METRIC_FIELDS}))


# ---------------------------------------------------------------------------------------------
# Frames for scoring


@dataclass
class Frames:
    partners: pd.DataFrame
    merchants: pd.DataFrame
    metrics: pd.DataFrame


def _value(av: dict[str, Any]) -> Any:
    if "S" in av:
        return av["S"]
    if "N" in av:
        n = av["N"]
        return float(n) if any(c in n for c in ".eE") else int(n)
    if "BOOL" in av:
        return av["BOOL"]
    if "NULL" in av:
        return None
    if "L" in av:
        return [_value(x) for x in av["L"]]
    if "M" in av:
        return {k: _value(v) for k, v in av["M"].items()}
    if "SS" in av:
        return list(av["SS"])
    return None


def _items(op: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    ddb = client("dynamodb")
    for page in ddb.get_paginator(op).paginate(**kwargs):
        for item in page.get("Items", []):
            yield {k: _value(v) for k, v in item.items()}


def _partner_frame(items: Iterable[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for it in items:
        prof = json.loads(it["profile"]) if isinstance(it.get("profile"), str) else {}
        rows.append({"partner_id": it["partner_id"], "name": it.get("name"),
                     "kind": it.get("kind"), "region": it.get("region"), "guid": it.get("guid"),
                     "onboarded": (prof or {}).get("onboarded")})
    cols = ["partner_id", "name", "kind", "region", "guid", "onboarded"]
    return pd.DataFrame(rows, columns=cols)


def _merchant_frame(items: Iterable[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for it in items:
        reg = json.loads(it["registration"]) if isinstance(it.get("registration"), str) else {}
        reg = reg or {}
        rows.append({
            "merchant_id": it["merchant_id"], "partner_id": it.get("partner_id"),
            "name": it.get("name"), "name_zh": it.get("name_zh"), "mcc": it.get("mcc"),
            "city": it.get("city"), "region": it.get("region"), "lat": it.get("lat"),
            "lon": it.get("lon"), "uscc": it.get("uscc"), "level": it.get("level"),
            "registered_at": it.get("registered_at"),
            **{k: reg.get(k) for k in _REG_FIELDS},
            **{k: it.get(k, 0) for k in _RISK_FEED_FIELDS},
        })
    cols = ["merchant_id", "partner_id", "name", "name_zh", "mcc", "city", "region", "lat", "lon",
            "uscc", "level", "registered_at", *_REG_FIELDS, *_RISK_FEED_FIELDS]
    return pd.DataFrame(rows, columns=cols)


def _metric_frame(items: Iterable[dict[str, Any]]) -> pd.DataFrame:
    cols = ["merchant_id", "partner_id", "month", *_METRIC_FIELDS]
    rows = [[it.get(c, 0 if c in _METRIC_FIELDS else None) for c in cols] for it in items]
    return pd.DataFrame(rows, columns=cols)


def load_frames(partner_ids: Sequence[str] | None = None) -> Frames:
    """Partners, their merchants and metrics as frames (all partners when ``partner_ids`` is
    ``None``: three scans; otherwise the ``by_partner`` index and one query per merchant)."""
    if partner_ids is None:
        partners = _partner_frame(_items("scan", TableName=Partner.Meta.table_name))
        merchants = _merchant_frame(_items("scan", TableName=Merchant.Meta.table_name))
        metrics = _metric_frame(_items("scan", TableName=MerchantMetric.Meta.table_name))
        return Frames(partners, merchants, metrics)
    ids = _unique(partner_ids)
    partners = _partner_frame(
        {"partner_id": p.partner_id, "name": p.name, "kind": p.kind, "region": p.region,
         "guid": p.guid, "profile": json.dumps(p.profile) if p.profile else None}
        for p in get_partners(ids).values())
    m_items: list[dict[str, Any]] = []
    for pid in ids:
        m_items.extend(_items("query", TableName=Merchant.Meta.table_name, IndexName="by_partner",
                              KeyConditionExpression="partner_id = :p",
                              ExpressionAttributeValues={":p": {"S": pid}}))
    merchants = _merchant_frame(m_items)
    k_items: list[dict[str, Any]] = []
    for mid in merchants["merchant_id"]:
        k_items.extend(_items("query", TableName=MerchantMetric.Meta.table_name,
                              KeyConditionExpression="merchant_id = :m",
                              ExpressionAttributeValues={":m": {"S": mid}}))
    return Frames(partners, merchants, _metric_frame(k_items))


# ---------------------------------------------------------------------------------------------
# Campaigns, selections, partner scores


def now() -> datetime:
    return datetime.now(UTC)


def save_campaign(campaign: Campaign) -> Campaign:
    campaign.save()
    return campaign


def get_campaign(campaign_id: str) -> Campaign | None:
    try:
        return Campaign.get(campaign_id)
    except Campaign.DoesNotExist:
        return None


def get_partner(partner_id: str) -> Partner | None:
    try:
        return Partner.get(partner_id)
    except Partner.DoesNotExist:
        return None


def replace_selections(campaign_id: str, selections: Sequence[Selection]) -> None:
    """Store a campaign's decisions, removing decisions of partners no longer present."""
    keep = {s.partner_id for s in selections}
    stale = [s for s in Selection.query(campaign_id) if s.partner_id not in keep]
    with Selection.batch_write() as batch:
        for s in stale:
            batch.delete(s)
        for s in selections:
            batch.save(s)


def get_selections(campaign_id: str) -> list[Selection]:
    return list(Selection.query(campaign_id))


def save_partner_trust(docs: dict[str, dict[str, Any]]) -> int:
    """Write each partner's latest score document (``Partner.trust``) by update."""
    n = 0
    for pid, doc in docs.items():
        try:
            Partner(partner_id=pid).update(actions=[Partner.trust.set(doc)],
                                           condition=Partner.partner_id.exists())
            n += 1
        except UpdateError as exc:  # a partner deleted meanwhile: skip it
            if not condition_failed(exc):
                raise
    return n
