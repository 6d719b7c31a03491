"""Read views of a merchant: level, totals, binding state and benefits."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist

from paver.accrual.transactions import money
from paver.errors import UnknownMerchant
from paver.storage.models import Benefit, Merchant


def _merchant(merchant_id: str) -> Merchant:
    try:
        return Merchant.get(merchant_id)
    except DoesNotExist as exc:
        raise UnknownMerchant(f"merchant {merchant_id!r} not found") from exc


def _benefits(merchant_id: str) -> list[dict[str, Any]]:
    return [
        {"benefit_id": b.benefit_id, "kind": b.kind, "reason": b.reason,
         "granted_at": b.granted_at.isoformat() if b.granted_at else None}
        for b in Benefit.query(merchant_id)
    ]


def merchant_view(merchant_id: str) -> dict[str, Any]:
    m = _merchant(merchant_id)
    return {
        "merchant_id": m.merchant_id, "partner_id": m.partner_id, "name": m.name,
        "city": m.city, "mcc": m.mcc, "level": int(m.level or 0), "bound": bool(m.bound),
        "skin": m.skin,
        "totals": {"txn_count": int(m.txn_count or 0), "txn_amount": money(m.txn_amount),
                   "active_days": len(m.active_day_set or ())},
        "benefits": _benefits(m.merchant_id),
    }


def benefits_view(merchant_id: str) -> dict[str, Any]:
    m = _merchant(merchant_id)
    return {"merchant_id": m.merchant_id, "benefits": _benefits(m.merchant_id)}
