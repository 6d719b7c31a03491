"""Case decisions: an analyst confirms, dismisses or escalates a risk alert, exactly once.

Every risky screening decision is an **alert** with a case status: ``open`` until an analyst
decides it — ``confirmed`` (risky, with the scene, which may differ from the one the alert
named), ``dismissed`` (a false positive) or ``escalated`` (for someone else to decide; an
escalated case may still be confirmed or dismissed). Each decision is appended to the alert's
audit trail (who, when, status before and after, scene, note).

Cases live in their own table (``Cases``): a re-screen of the event rewrites its screening
decision, never the audit trail. Exactly once under retries and concurrent analysts: a
decision is written only if the case is still at the version the analyst's request read (a
conditional update). Of two analysts
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
from paver.storage.models import Case, Decision
from paver.storage.registry import condition_failed

#: decision → case status it leads to
OUTCOME: dict[str, str] = {"confirm": "confirmed", "dismiss": "dismissed",
                           "escalate": "escalated"}
OPEN = "open"
#: case statuses a decision may still be taken from
UNDECIDED: tuple[str, ...] = (OPEN, "escalated")
CASE_STATUSES: tuple[str, ...] = (OPEN, "confirmed", "dismissed", "escalated")


class CaseConflict(Conflict):
    """The case moved on since the request read it (another analyst decided first)."""


def case_view(event_id: str, case: Case | None, alert_scene: str | None = None
              ) -> dict[str, Any]:
    """An alert's case: status, the scene it was confirmed as, and the audit trail."""
    return {"event_id": event_id, "status": case.status if case else OPEN,
            "scene": case.scene if case else None, "alert_scene": alert_scene,
            "version": int(case.version) if case else 0,
            "history": list(case.history or []) if case else []}


def _case(event_id: str) -> Case | None:
    try:
        return Case.get(event_id, consistent_read=True)
    except DoesNotExist:
        return None


def cases_of(event_ids: list[str]) -> dict[str, Case]:
    """The cases of these alerts (those decided at least once)."""
    return {c.event_id: c for c in Case.batch_get(event_ids)} if event_ids else {}


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
    try:
        alert = Decision.get(event_id, consistent_read=True,
                             attributes_to_get=["event_id", "risky", "scene"])
    except DoesNotExist:
        raise NotFound(f"event_id: no alert {event_id!r}") from None
    if decision.strip().lower() == "confirm" and not (scene or "").strip():
        scene = alert.scene  # confirmed as the scene the alert named
    try:
        fb = check_feedback(event_id, decision, scene, analyst, note)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    case = _case(event_id)
    history = list(case.history or []) if case else []
    if history and _same(history[-1], fb):
        return case_view(event_id, case, alert.scene), False
    if not alert.risky:
        raise CaseConflict(f"event_id: {event_id!r} was not flagged: it is no alert",
                           case_view(event_id, case, alert.scene))
    before = case.status if case else OPEN
    if before not in UNDECIDED:
        raise CaseConflict(f"status: the case is already {before}",
                           case_view(event_id, case, alert.scene))
    version = int(case.version) if case else 0
    after = OUTCOME[fb.decision]
    entry = {"analyst": fb.analyst, "at": (now or datetime.now(UTC)).isoformat(),
             "decision": fb.decision, "before": before, "after": after, "scene": fb.scene,
             "note": fb.note}
    confirmed = fb.scene if fb.decision == "confirm" else None
    target = case or Case(event_id=event_id)
    try:
        target.update(
            actions=[Case.status.set(after),
                     Case.scene.set(confirmed) if confirmed else Case.scene.remove(),
                     Case.version.set(version + 1), Case.history.set([*history, entry])],
            condition=(Case.version.does_not_exist() if version == 0
                       else Case.version == version))
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        now_case = _case(event_id)
        latest = (now_case.history or [None])[-1] if now_case else None
        if latest and _same(latest, fb):  # our own write, retried after a lost reply
            return case_view(event_id, now_case, alert.scene), False
        raise CaseConflict("status: another analyst decided this case first",
                           case_view(event_id, now_case, alert.scene)) from None
    return case_view(event_id, target, alert.scene), True


def feedback_rows(since: datetime | None = None) -> list[Feedback]:
    """Every decided case as feedback for a rebuild (the latest decision of each)."""
    out = []
    for c in Case.scan():
        last = (c.history or [None])[-1]
        if not last or (since and datetime.fromisoformat(last["at"]) < since):
            continue
        out.append(Feedback(c.event_id, last["decision"], last.get("scene"), last["analyst"],
                            last.get("note") or ""))
    return out
