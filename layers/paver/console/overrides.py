"""An operator's override of a partner selection decision, kept in an audit trail.

The override flips ``Selection.selected`` (so the rollout follows it) and appends who, when,
from what, to what and why to ``Selection.overrides``, in one conditional update: it applies
only if the decision is still what the operator saw. A retried request (same operator, same
target and note as the last entry) answers the stored row without a second entry. Re-running
the selection replaces the decisions, and with them their overrides.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from paver.errors import Conflict, NotFound
from paver.storage.models import Selection
from paver.storage.registry import condition_failed

MAX_NOTE_CHARS = 500


class OverrideNotFound(NotFound):
    """The campaign has no decision for that partner."""


class OverrideConflict(Conflict):
    """The decision already is what the override asks, or changed meanwhile (HTTP 409)."""


def override(campaign_id: str, partner_id: str, selected: bool, note: str,
             by: str) -> dict[str, Any]:
    """Set the partner's decision to ``selected`` with a note; return the audit trail."""
    try:
        row = Selection.get(campaign_id, partner_id, consistent_read=True)
    except DoesNotExist as exc:
        raise OverrideNotFound(
            f"partner {partner_id!r} has no decision in campaign {campaign_id!r}") from exc
    trail = list(row.overrides or [])
    last = trail[-1] if trail else None
    if last and (last.get("by"), last.get("selected"), last.get("note")) == (
            by, selected, note) and bool(row.selected) == selected:
        return _doc(row)  # a retried request: already applied
    if bool(row.selected) == selected:
        raise OverrideConflict(
            f"selected: partner {partner_id!r} already is {'' if selected else 'not '}selected")
    entry = {"at": datetime.now(UTC).isoformat(), "by": by, "selected_before": bool(row.selected),
             "selected": selected, "note": note}
    try:
        row.update(actions=[Selection.selected.set(selected),
                            Selection.overrides.set([*trail, entry])],
                   condition=(Selection.selected == bool(row.selected)))
    except UpdateError as exc:
        if condition_failed(exc):
            raise OverrideConflict("selected: the decision changed meanwhile; reload") from exc
        raise
    return _doc(row)


def _doc(row: Selection) -> dict[str, Any]:
    return {"campaign_id": row.campaign_id, "partner_id": row.partner_id,
            "selected": bool(row.selected), "tier": row.tier,
            "overrides": list(row.overrides or [])}
