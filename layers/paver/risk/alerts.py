"""Risk alerts: the stored screening decisions, newest first, and one alert's relation groups.

Reads ``Decisions`` only (plus, for one alert, the payment in ``Transactions`` and the
associated data its relation groups are built from); screening itself lives elsewhere.
A scan with filters serves the console's volumes; a deployment with millions of decisions
would add a ``risky``/``decided_at`` index (noted in the README).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist

from paver.config import Settings
from paver.console.pages import decode_cursor, encode_cursor
from paver.errors import InvalidInput
from paver.risk.cases import case_view, cases_of
from paver.risk.events import check_label
from paver.storage.models import Case, Decision, Transaction

#: ``flagged``/``cleared``: the screening verdict; ``open`` … ``escalated``: flagged events by
#: the analysts' case status (:mod:`paver.risk.cases`); ``all``: every screened event.
STATUSES = ("flagged", "cleared", "all", "open", "confirmed", "dismissed", "escalated")
MAX_LIMIT = 100


class AlertInputError(InvalidInput):
    """A bad filter (the message names the parameter)."""


def _words(d: Decision) -> str:
    """The explanation in one sentence a person can read."""
    ex = d.explanation or {}
    inner = ex.get("explanation") if isinstance(ex.get("explanation"), dict) else ex
    drivers = [r.get("meaning") for r in (inner.get("drivers") or []) if r.get("meaning")]
    scene = d.scene or "no scene"
    head = (f"Looks like {scene} (match degree {float(d.match_degree):.2f})" if d.risky
            else f"Closest to {scene} (match degree {float(d.match_degree):.2f}), not risky")
    return head + (": " + "; ".join(drivers[:3]) if drivers else "") + "."


def alert_view(d: Decision) -> dict[str, Any]:
    ex = d.explanation or {}
    inner = ex.get("explanation") if isinstance(ex.get("explanation"), dict) else ex
    return {
        "event_id": d.event_id, "risky": bool(d.risky), "scene": d.scene,
        "match_degree": round(float(d.match_degree), 4),
        "margin": inner.get("margin"), "threshold": ex.get("threshold"),
        "action": ex.get("action"), "kb_version": d.kb_version,
        "decided_at": d.decided_at.isoformat() if d.decided_at else None,
        "explanation": _words(d),
        "drivers": inner.get("drivers") or [], "top_scenes": inner.get("top_scenes") or [],
        "case": None,
    }


def _with_case(view: dict[str, Any], case: Any) -> dict[str, Any]:
    """An alert's view with its case (flagged events only; see :mod:`paver.risk.cases`)."""
    if view["risky"]:
        c = case_view(view["event_id"], case, view["scene"])
        view["case"] = {k: c[k] for k in ("status", "scene", "version", "history")}
    return view


def parse_time(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise AlertInputError(f"{field}: an ISO-8601 time such as 2026-12-01T00:00:00Z") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def parse_scene(value: str | None) -> str | None:
    """A scene filter as users write it (``"fan-out"``, ``"分散转入"``), checked like a label."""
    if value is None:
        return None
    try:
        return check_label(value)
    except ValueError as exc:
        raise AlertInputError(str(exc), field="scene") from exc


#: The sort key of an undated decision ("-" sorts before every ISO date).
_UNDATED = "-"


def _key(d: Decision) -> tuple[str, str]:
    """An alert's place in the newest-first list: (decision time, event id)."""
    return (d.decided_at.isoformat() if d.decided_at else _UNDATED, d.event_id)


def _after(cursor: str | None) -> tuple[str, str] | None:
    """The key a page resumes after (a bad cursor raises the pages' own PageInputError)."""
    start = decode_cursor(cursor, ("at", "event_id"))
    return None if start is None else (start["at"], start["event_id"])


def list_alerts(status: str = "flagged", scene: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    """Decisions matching the filters, newest first: ``{"items", "cursor", "scenes"}``."""
    if status not in STATUSES:
        raise AlertInputError(f"status: one of {', '.join(STATUSES)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise AlertInputError(f"limit: from 1 to {MAX_LIMIT}")
    cond = None
    if status != "all":
        cond = Decision.risky == (status != "cleared")
    if since is not None:
        c = Decision.decided_at >= since
        cond = c if cond is None else cond & c
    if until is not None:
        c = Decision.decided_at <= until
        cond = c if cond is None else cond & c
    # Keys and sort fields only (the explanations are large); full rows for one page only.
    rows = list(Decision.scan(filter_condition=cond, attributes_to_get=[
        "event_id", "decided_at", "scene", "risky"]))
    scenes = sorted({d.scene for d in rows if d.scene})
    if scene:
        rows = [d for d in rows if d.scene == scene]
    if status in ("open", "confirmed", "dismissed", "escalated"):
        # decided cases are few beside the alerts: one scan of Cases, joined here
        decided = {c.event_id: c.status for c in Case.scan(attributes_to_get=[
            "event_id", "status"])}
        rows = [d for d in rows if decided.get(d.event_id, "open") == status]
    rows.sort(key=_key, reverse=True)
    after = _after(cursor)
    if after is not None:
        rows = [d for d in rows if _key(d) < after]
    keys = rows[:limit]
    nxt = (encode_cursor(dict(zip(("at", "event_id"), _key(keys[-1]), strict=True)))
           if len(rows) > limit else None)
    full = {d.event_id: d for d in Decision.batch_get([d.event_id for d in keys])}
    items = [full[d.event_id] for d in keys if d.event_id in full]
    cases = cases_of([d.event_id for d in items if d.risky])
    return {"items": [_with_case(alert_view(d), cases.get(d.event_id)) for d in items],
            "cursor": nxt, "scenes": scenes, "total": len(rows)}


def get_alert(event_id: str, cfg: Settings | None = None) -> dict[str, Any] | None:
    """One decision with the relation groups of its event (when the payment is stored)."""
    try:
        d = Decision.get(event_id)
    except DoesNotExist:
        return None
    out = _with_case(alert_view(d), cases_of([event_id]).get(event_id) if d.risky else None)
    out["relations"], out["relations_note"] = _relations(event_id, cfg)
    return out


def _relations(event_id: str, cfg: Settings | None) -> tuple[dict[str, Any], str]:
    try:
        txn = Transaction.get(event_id)
    except DoesNotExist:
        return {}, ("relation groups are shown for payments recorded through the API; this "
                    "event was screened in a batch")
    from paver.risk.dynamo_store import DynamoStore
    from paver.risk.relations import RelationBuilder
    from paver.risk.service import event_from_transaction_image

    event = event_from_transaction_image(txn.serialize())
    if event is None:
        return {}, "the payment names no payer account"
    rel = RelationBuilder(DynamoStore(cfg), budget_ms=500).build(event)
    return ({dim: g.to_dict() for dim, g in rel.groups.items()},
            "relation groups as the associated data stands now")
