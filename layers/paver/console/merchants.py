"""Merchant search: by id, name (English or Chinese) or city, one partner's or everyone's.

Tenant scope is the handler's job: it passes the caller's partner (or merchant) so that a
partner's search runs on its own ``by_partner`` index and never reads another's rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pynamodb.exceptions import DoesNotExist

from paver.accrual.transactions import money
from paver.console.pages import decode_cursor, page
from paver.storage.models import Merchant

MAX_QUERY_CHARS = 64


def summary(m: Merchant) -> dict[str, Any]:
    """What a result row shows (no credential, phone or address)."""
    return {
        "merchant_id": m.merchant_id, "partner_id": m.partner_id, "name": m.name,
        "name_zh": m.name_zh, "city": m.city, "city_zh": m.city_zh, "level": int(m.level or 0),
        "bound": bool(m.bound), "skin": m.skin,
        "totals": {"txn_count": int(m.txn_count or 0), "txn_amount": money(m.txn_amount)},
    }


def _matches(m: Merchant, needle: str) -> bool:
    if not needle:
        return True
    fields = (m.merchant_id, m.name, m.name_zh, m.city, m.city_zh, m.partner_merchant_id)
    return any(needle in (f or "").casefold() for f in fields)


def search(q: str = "", partner_id: str | None = None, merchant_id: str | None = None,
           limit: int = 25, cursor: str | None = None) -> dict[str, Any]:
    """``{"items": [...], "cursor": next-or-None}``, ordered by merchant id within a partner.

    Parameters
    ----------
    q
        Case-insensitive substring of the id, name, Chinese name or city.
    partner_id
        Only this partner's merchants (read through the ``by_partner`` index).
    merchant_id
        Only this merchant (a merchant's own search).
    """
    needle = q.strip().casefold()[:MAX_QUERY_CHARS]
    rows: Iterable[Merchant]
    if merchant_id is not None:
        try:
            rows = [Merchant.get(merchant_id)]
        except DoesNotExist:
            rows = []
        if partner_id is not None:
            rows = [m for m in rows if m.partner_id == partner_id]
        key_fields: tuple[str, ...] = ("merchant_id",)
        start = decode_cursor(cursor, key_fields)
        rows = [m for m in rows if start is None or m.merchant_id > start["merchant_id"]]
    elif partner_id is not None:
        key_fields = ("merchant_id", "partner_id")
        start = decode_cursor(cursor, key_fields)
        cond = Merchant.merchant_id > start["merchant_id"] if start else None
        rows = Merchant.by_partner.query(partner_id, range_key_condition=cond)
    else:
        key_fields = ("merchant_id",)
        start = decode_cursor(cursor, key_fields)
        rows = Merchant.scan(last_evaluated_key=(
            {"merchant_id": {"S": start["merchant_id"]}} if start else None))
    found = list(_first(rows, needle, limit + 1))
    items, nxt = page(found, limit, lambda m: {k: getattr(m, k) for k in key_fields})
    return {"items": [summary(m) for m in items], "cursor": nxt}


def _first(rows: Iterable[Merchant], needle: str, n: int) -> Iterator[Merchant]:
    taken = 0
    for m in rows:
        if _matches(m, needle):
            yield m
            taken += 1
            if taken >= n:
                return
