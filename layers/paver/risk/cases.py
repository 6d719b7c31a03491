"""Case decisions: an analyst confirms, dismisses or escalates a risk alert, exactly once.

Every risky screening decision is an **alert** with a case status: ``open`` until an analyst
decides it — ``confirmed`` (risky, with the scene, which may differ from the one the alert
named), ``dismissed`` (a false positive) or ``escalated`` (for someone else to decide; an
escalated case may still be confirmed or dismissed). Each decision is appended to the alert's
audit trail (who, when, status before and after, scene, note).

Exactly once under retries and concurrent analysts: a decision is written only if the case is
still at the version the analyst's request read (a conditional update). Of two analysts
deciding the same case at once, one wins; the other gets :class:`CaseConflict` with the current
state. A retry of the same request (same analyst, decision, scene and note) finds its own
entry at the head of the trail and returns the case unchanged.

The decided cases are the feedback a knowledge-base rebuild takes in
(:mod:`paver.risk.feedback`): :func:`feedback_rows` lists them in that shape.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from paver.errors import Conflict, InvalidInput, NotFound
from paver.risk.feedback import Feedback, check_feedback
from paver.storage.models import Decision
from paver.storage.registry import bind, condition_failed

#: decision → case status it leads to
OUTCOME: dict[str, str] = {"confirm": "confirmed", "dismiss": "dismissed",
                           "escalate": "escalated"}
OPEN = "open"
#: case statuses a decision may still be taken from
UNDECIDED: tuple[str, ...] = (OPEN, "escalated")
CASE_STATUSES: tuple[str, ...] = (OPEN, "confirmed", "dismissed", "escalated")


class CaseConflict(Conflict):
    """The case moved on since the request read it (another analyst decided first)."""


def case_view(d: Decision) -> dict[str, Any]:
    """An alert's case: status, the scene it was confirmed as, and the audit trail."""
    return {"event_id": d.event_id, "status": d.case_status or OPEN,
            "scene": d.case_scene, "alert_scene": d.scene,
            "version": int(d.case_version or 0), "history": list(d.case_history or [])}


def _load(event_id: str) -> Decision:
    try:
        return Decision.get(event_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"event_id: no alert {event_id!r}") from None


def _same(entry: dict[str, Any], fb: Feedback) -> bool:
    return (entry.get("analyst"), entry.get("decision"), entry.get("scene"),
            entry.get("note")) == (fb.analyst, fb.decision, fb.scene, fb.note)


def decide(event_id: str, decision: str, scene: str | None, analyst: str, note: str = "",
           now: datetime | None = None) -> tuple[dict[str, Any], bool]:
    """Record an analyst's decision on the alert ``event_id``.

    Returns
    -------
    (case, changed)
        The case after the decision; ``changed`` is False for a retry of the decision that
        is already the latest.

    Raises
    ------
    InvalidInput
        A bad decision, scene or analyst (the message names the field).
    NotFound
        No screening decision for ``event_id``.
    CaseConflict
        The event is not an alert, the case is already decided, or another analyst decided
        it first (``current`` holds the case as it is now).
    """
    bind()
    d = _load(event_id)
    if decision.strip().lower() == "confirm" and not (scene or "").strip():
        scene = d.scene  # confirmed as the scene the alert named
    try:
        fb = check_feedback(event_id, decision, scene, analyst, note)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    history = list(d.case_history or [])
    if history and _same(history[-1], fb):
        return case_view(d), False
    if not d.risky:
        raise CaseConflict(f"event_id: {event_id!r} was not flagged: it is no alert",
                           case_view(d))
    before = d.case_status or OPEN
    if before not in UNDECIDED:
        raise CaseConflict(f"status: the case is already {before}", case_view(d))
    version = int(d.case_version or 0)
    after = OUTCOME[fb.decision]
    at = (now or datetime.now(UTC)).isoformat()
    entry = {"analyst": fb.analyst, "at": at, "decision": fb.decision, "before": before,
             "after": after, "scene": fb.scene, "note": fb.note}
    confirmed = fb.scene if fb.decision == "confirm" else None
    condition = (Decision.case_version.does_not_exist() if version == 0
                 else Decision.case_version == version)
    try:
        d.update(actions=[Decision.case_status.set(after),
                          Decision.case_scene.set(confirmed) if confirmed
                          else Decision.case_scene.remove(),
                          Decision.case_version.set(version + 1),
                          Decision.case_history.set([*history, entry])],
                 condition=condition & (Decision.risky == True))  # noqa: E712 (a condition)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        now_d = _load(event_id)
        latest = (now_d.case_history or [None])[-1]
        if latest and _same(latest, fb):  # our own write, retried after a lost reply
            return case_view(now_d), False
        raise CaseConflict("status: another analyst decided this case first",
                           case_view(now_d)) from None
    return case_view(d), True


def feedback_rows(since: datetime | None = None) -> list[Feedback]:
    """Every decided case as feedback for a rebuild (the latest decision of each)."""
    bind()
    out = []
    for d in Decision.scan(Decision.case_version > 0):
        last = (d.case_history or [None])[-1]
        if not last or (since and datetime.fromisoformat(last["at"]) < since):
            continue
        out.append(Feedback(d.event_id, last["decision"], last.get("scene") or (
            d.case_scene if last["decision"] == "confirm" else None), last["analyst"],
            last.get("note") or ""))
    return out
