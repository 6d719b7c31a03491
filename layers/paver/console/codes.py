"""Listing a campaign's (or a partner's) aggregated codes, page by page."""

from __future__ import annotations

import itertools
from typing import Any

from paver.console.pages import decode_cursor, page
from paver.rollout.service import allowed_skins, code_id_for, code_view
from paver.storage.models import Code, Merchant, Partner


def list_codes(campaign_id: str | None, partner_id: str | None, limit: int = 25,
               cursor: str | None = None) -> dict[str, Any]:
    """``{"items": [code views], "cursor": …}`` ordered by code id.

    With a campaign the ``by_campaign`` index is read (filtered to ``partner_id`` if given);
    with only a partner its merchants' codes are read through ``by_partner``; with neither,
    every code (table order, for the operator).
    """
    start = decode_cursor(cursor, ("code_id",))
    if campaign_id is not None:
        cond = Code.code_id > start["code_id"] if start else None
        flt = Code.partner_id == partner_id if partner_id is not None else None
        rows = list(Code.by_campaign.query(campaign_id, range_key_condition=cond,
                                           filter_condition=flt, limit=limit + 1))
    elif partner_id is not None:
        mid_start = start["code_id"].removeprefix("code-") if start else None
        cond = Merchant.merchant_id > mid_start if mid_start else None
        rows = []
        ids: list[str] = []
        for m in Merchant.by_partner.query(partner_id, range_key_condition=cond,
                                           attributes_to_get=["merchant_id"]):
            ids.append(code_id_for(m.merchant_id))
            if len(ids) >= 100:
                rows.extend(Code.batch_get(ids))
                ids = []
                if len(rows) > limit:
                    break
        if ids and len(rows) <= limit:
            rows.extend(Code.batch_get(ids))
        rows.sort(key=lambda c: c.code_id)
    else:  # every code (the operator's view), in table order
        rows = list(itertools.islice(Code.scan(last_evaluated_key=(
            {"code_id": {"S": start["code_id"]}} if start else None)), limit + 1))
    items, nxt = page(rows, limit, lambda c: {"code_id": c.code_id})
    partners = {p.partner_id: p for p in Partner.batch_get({c.partner_id for c in items})}
    return {"items": [{**code_view(c), "skins": (allowed_skins(partners[c.partner_id])
                                                  if c.partner_id in partners else [c.skin])}
                      for c in items], "cursor": nxt}
