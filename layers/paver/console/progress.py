"""Benefits with the progress toward each milestone of ``rules/benefits.yaml``."""

from __future__ import annotations

from typing import Any

from paver.accrual.merchants import UnknownMerchant
from paver.accrual.milestones import load_policy
from paver.ruleengine import Condition
from paver.storage.models import Benefit, Merchant


def _ratio(cond: Condition, facts: dict[str, float]) -> float:
    """How far ``facts`` are toward ``cond`` (1.0 = holds); comparisons other than
    ``gte``/``gt`` count as 0 or 1."""
    if cond.all is not None:
        return min((_ratio(c, facts) for c in cond.all), default=1.0)
    if cond.any is not None:
        return max((_ratio(c, facts) for c in cond.any), default=0.0)
    have = float(facts.get(cond.field or "", 0.0))
    if cond.op in ("gte", "gt") and isinstance(cond.value, int | float) and cond.value > 0:
        return max(0.0, min(1.0, have / float(cond.value)))
    compare = {"eq": have == cond.value, "ne": have != cond.value,
               "lt": have < cond.value if cond.op == "lt" else False,
               "lte": have <= cond.value if cond.op == "lte" else False,
               "in": have in (cond.value or []) if cond.op == "in" else False}
    return 1.0 if compare.get(str(cond.op), False) else 0.0


def _leaves(cond: Condition) -> list[Condition]:
    if cond.all is not None or cond.any is not None:
        return [leaf for c in (cond.all or cond.any or []) for leaf in _leaves(c)]
    return [cond]


def milestones(merchant: Merchant, granted: set[str]) -> list[dict[str, Any]]:
    """Each milestone: its benefit, whether granted, progress 0-1 and what is still missing."""
    policy, _ = load_policy()
    facts = {"txn_count": float(merchant.txn_count or 0),
             "txn_amount": float(merchant.txn_amount or 0),
             "active_days": float(len(merchant.active_day_set or ())),
             "level": float(merchant.level or 0)}
    out = []
    for rule in policy.milestones:
        done = f"milestone#{rule.name}" in granted
        progress = 1.0 if done else round(_ratio(rule.when, facts), 3)
        targets = [{"field": leaf.field, "have": facts.get(leaf.field or "", 0.0),
                    "need": leaf.value} for leaf in _leaves(rule.when)
                   if leaf.op in ("gte", "gt")]
        out.append({"milestone": rule.name, "benefit": rule.effect.get("benefit"),
                    "reason": rule.reason, "granted": done, "progress": progress,
                    "targets": targets})
    return out


def milestones_view(merchant_id: str) -> dict[str, Any]:
    """``{"merchant_id", "milestones"}`` for a stored merchant."""
    try:
        m = Merchant.get(merchant_id)
    except Merchant.DoesNotExist as exc:
        raise UnknownMerchant(f"merchant {merchant_id!r} not found") from exc
    granted = {b.benefit_id for b in Benefit.query(merchant_id, attributes_to_get=["benefit_id"])}
    return {"merchant_id": merchant_id, "milestones": milestones(m, granted)}
